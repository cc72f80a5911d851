/*
 * load_client - opens many concurrent event-stream connections from one thread (poll),
 * one sse_parser per connection, and checks that every connection receives the same
 * consecutive ids.
 *
 *   load_client --port P [--path /dates] [--connections 1000] [--events 100]
 *               [--stall K] [--server-pid PID] [--timeout-s 50]
 *
 * It connects all connections, waits until each has its 200 head and a first event, then
 * takes T = the largest first id: every connection must receive T .. T+events-1 with no
 * gap, duplicate or reordering (consecutive ids from its first on). With --server-pid it
 * prints the server's VmRSS before connecting and once all are connected. --stall K adds
 * K connections with a tiny receive buffer that never read: the server must disconnect
 * them (EOF, checked at the end) while the others get everything in time.
 * Exit status 0 when all checks pass.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state {
    CONNECTING,
    HEAD,
    STREAM,
    STALLED,
    CLOSED
};

struct conn {
    int fd;
    enum state state;
    int stalled;
    char head[1024];
    size_t head_len;
    sse_parser p;
    char storage[512];
    int have_first;
    uint64_t first, last;
    long events;
    int errors;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(long pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = atol(line + 6);
        }
    }
    fclose(f);
    return kib;
}

static int on_event(void *user, const sse_event *ev)
{
    struct conn *c = user;
    uint64_t id = 0;
    size_t i;

    if (ev->kind != SSE_KIND_EVENT) {
        return 0;
    }
    for (i = 0; i < ev->id_len; i++) {
        id = id * 10 + (uint64_t)(ev->id[i] - '0');
    }
    if (c->have_first && id != c->last + 1) {
        if (c->errors++ < 3) {
            fprintf(stderr, "load_client: fd %d: id %llu after %llu\n", c->fd,
                    (unsigned long long)id, (unsigned long long)c->last);
        }
    }
    if (!c->have_first) {
        c->have_first = 1;
        c->first = id;
    }
    c->last = id;
    c->events++;
    return 0;
}

/* Reads what is there. Returns -1 when the connection ended or failed. */
static int on_readable(struct conn *c)
{
    char buf[8192];
    ssize_t r = read(c->fd, buf, sizeof buf);
    char *body;

    if (r <= 0) {
        return r < 0 && errno == EAGAIN ? 0 : -1;
    }
    if (c->state == STREAM) {
        sse_parser_feed(&c->p, buf, (size_t)r, on_event, c);
        return 0;
    }
    if ((size_t)r > sizeof c->head - 1 - c->head_len) {
        return -1;
    }
    memcpy(c->head + c->head_len, buf, (size_t)r);
    c->head_len += (size_t)r;
    c->head[c->head_len] = '\0';
    if ((body = strstr(c->head, "\r\n\r\n")) == NULL) {
        return 0;
    }
    if (strncmp(c->head, "HTTP/1.1 200", 12) != 0) {
        fprintf(stderr, "load_client: %.40s\n", c->head);
        return -1;
    }
    c->state = STREAM;
    body += 4;
    sse_parser_feed(&c->p, body, c->head_len - (size_t)(body - c->head), on_event, c);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    struct rlimit rl;
    struct conn *cs;
    struct pollfd *pfd;
    long n = 1000, stall = 0, events = 100, pid = 0, rss0 = -1, rss1 = -1, i, total, delivered;
    double timeout = 50, t0, t_all = 0, t_end = 0;
    const char *path = "/dates";
    unsigned port = 0;
    char req[256];
    size_t req_len;
    int a, failed = 0;
    uint64_t window = 0;

    for (a = 1; a + 1 < argc; a += 2) {
        if (strcmp(argv[a], "--port") == 0) {
            port = (unsigned)atoi(argv[a + 1]);
        } else if (strcmp(argv[a], "--path") == 0) {
            path = argv[a + 1];
        } else if (strcmp(argv[a], "--connections") == 0) {
            n = atol(argv[a + 1]);
        } else if (strcmp(argv[a], "--events") == 0) {
            events = atol(argv[a + 1]);
        } else if (strcmp(argv[a], "--stall") == 0) {
            stall = atol(argv[a + 1]);
        } else if (strcmp(argv[a], "--server-pid") == 0) {
            pid = atol(argv[a + 1]);
        } else if (strcmp(argv[a], "--timeout-s") == 0) {
            timeout = atof(argv[a + 1]);
        } else {
            break;
        }
    }
    if (a != argc || port == 0 || n < 1 || events < 1 || stall < 0) {
        fprintf(stderr, "usage: load_client --port P [--path /dates] [--connections N] "
                        "[--events M] [--stall K] [--server-pid PID] [--timeout-s S]\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    total = n + stall;
    cs = calloc((size_t)total, sizeof *cs);
    pfd = calloc((size_t)total, sizeof *pfd);
    if (cs == NULL || pfd == NULL) {
        return 1;
    }
    if (pid > 0) {
        rss0 = rss_kib(pid);
    }
    req_len = (size_t)snprintf(req, sizeof req,
                               "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                               "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n",
                               path, port);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    t0 = now_s();
    for (i = 0; i < total; i++) {
        struct conn *c = &cs[i];
        c->stalled = i >= n;
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        if (c->fd < 0) {
            fprintf(stderr, "load_client: socket %ld: %s\n", i, strerror(errno));
            return 1;
        }
        if (c->stalled) { /* a tiny window, so the server's queue fills fast */
            int small = 1024;
            setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        }
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
            fprintf(stderr, "load_client: connect %ld: %s\n", i, strerror(errno));
            return 1;
        }
        sse_parser_init(&c->p, c->storage, sizeof c->storage, 0);
    }

    for (;;) {
        long streaming = 0, with_first = 0, finished = 0;
        uint64_t max_first = 0;

        for (i = 0; i < n; i++) {
            struct conn *c = &cs[i];
            streaming += c->state == STREAM;
            with_first += c->have_first;
            if (c->have_first && c->first > max_first) {
                max_first = c->first;
            }
        }
        if (streaming == n && t_all == 0) {
            t_all = now_s();
            if (pid > 0) {
                rss1 = rss_kib(pid);
            }
        }
        if (with_first == n && window == 0) {
            window = max_first;
        }
        for (i = 0; window && i < n; i++) {
            finished += cs[i].last >= window + (uint64_t)events - 1;
        }
        if (window && finished == n) {
            t_end = now_s();
            break;
        }
        for (i = 0; i < total; i++) {
            struct conn *c = &cs[i];
            pfd[i].fd = c->state == STALLED || c->state == CLOSED ? -1 : c->fd;
            pfd[i].events = c->state == CONNECTING ? POLLOUT : POLLIN;
        }
        if (now_s() - t0 > timeout) {
            fprintf(stderr, "load_client: timeout: %ld of %ld streaming, %ld of %ld done\n",
                    streaming, n, finished, n);
            return 1;
        }
        if (poll(pfd, (nfds_t)total, 100) < 0) {
            continue;
        }
        for (i = 0; i < total; i++) {
            struct conn *c = &cs[i];
            if (pfd[i].revents == 0 || pfd[i].fd < 0) {
                continue;
            }
            if (c->state == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0 || write(c->fd, req, req_len) != (ssize_t)req_len) {
                    fprintf(stderr, "load_client: connection %ld: %s\n", i,
                            strerror(err ? err : errno));
                    return 1;
                }
                c->state = c->stalled ? STALLED : HEAD;
            } else if (on_readable(c) < 0) {
                fprintf(stderr, "load_client: connection %ld closed by the server\n", i);
                c->state = CLOSED;
                return 1;
            }
        }
    }

    delivered = 0;
    for (i = 0; i < n; i++) {
        delivered += cs[i].events;
        if (cs[i].errors > 0 || cs[i].first > window) {
            failed = 1;
        }
    }
    printf("load: %ld connections established in %.2f s; each received ids %llu..%llu in "
           "order: %s\n",
           n, t_all - t0, (unsigned long long)window,
           (unsigned long long)(window + (uint64_t)events - 1), failed ? "NO" : "yes");
    printf("load: %ld events delivered in %.2f s since all were connected: %.0f events/s\n",
           delivered, t_end - t_all, (double)delivered / (t_end - t_all));
    if (rss0 > 0 && rss1 > 0) {
        printf("load: server VmRSS %ld KiB before, %ld KiB with %ld connections: %.2f KiB per "
               "connection\n",
               rss0, rss1, n + stall, (double)(rss1 - rss0) / (double)(n + stall));
    }

    /* Stalled connections: the server must have closed them; drain to see the EOF. */
    for (i = n; i < total; i++) {
        struct conn *c = &cs[i];
        double t = now_s();
        char buf[65536];
        ssize_t r = 1;
        fcntl(c->fd, F_SETFL, 0);
        while (r != 0 && now_s() - t < 5) {
            struct pollfd one;
            one.fd = c->fd;
            one.events = POLLIN;
            if (poll(&one, 1, 1000) <= 0) {
                break;
            }
            r = read(c->fd, buf, sizeof buf);
            if (r < 0) {
                break; /* ECONNRESET: closed too */
            }
        }
        if (r > 0 || (r != 0 && errno != ECONNRESET)) {
            fprintf(stderr, "load_client: stalled connection %ld was not disconnected\n", i);
            failed = 1;
        }
    }
    if (stall > 0) {
        printf("load: %ld stalled connections: %s\n", stall,
               failed ? "NOT all disconnected" : "all disconnected by the server");
    }
    for (i = 0; i < total; i++) {
        close(cs[i].fd);
    }
    free(cs);
    free(pfd);
    return failed;
}
