/*
 * scale_client - many event-stream connections from one thread (poll), each with its own
 * sse_parser, that reconnect with Last-Event-ID and check what they receive. Used by the
 * failure test (tests/scale/failover.sh) and the benchmark (tests/bench/scale/run.sh).
 *
 *   scale_client --port P --topics a,b,c --connections N --events E
 *                [--timeout-s S] [--progress] [--ticks MS]
 *
 * Connection i reads GET /streams/<topic (i / 3) mod the number of topics> (HTTP/1.0: a proxy
 * answers without chunked encoding) from 127.0.0.1:P. Each event's data must be
 * "<seq>" or "<seq> <unix microseconds at publish>": seq counts 0, 1, 2... per topic. A
 * connection must receive every seq from 0 to E-1 exactly once and in order; a jump is
 * allowed only right after an event of type "gap" (it is reported as lost events). On
 * EOF or error it reconnects after 100 ms with the parser's Last-Event-ID.
 * --ticks MS reads examples/sse_server (--interval-ms MS) instead, GET /dates: the seq is
 * the event id, the first one any, its publish time the tick's due time (dates_feed.h),
 * and a connection is complete after E events (--topics is then ignored).
 * With --progress it prints "connected N" once all N connections have had their 200
 * response (the gateway sends it once the stream position is fixed), and "progress N" every 200 ms:
 * N is the smallest count of events any connection has received. At the end it prints one summary
 * line; latency figures (publish to receive, from the stamps) when the data carried them. Exit 0
 * when every connection received all E events with no duplicate, reordering or loss; 1 otherwise
 * (each problem printed, up to 20).
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUCKET_US 50 /* latency histogram: 50 us buckets up to 10 s */
#define BUCKETS   200000

enum state {
    IDLE, /* waiting to (re)connect */
    HEAD,
    STREAM
};

struct conn {
    int fd;
    enum state state;
    const char *topic;
    char head[2048];
    size_t head_len;
    sse_parser p;
    char storage[1024];
    uint64_t next;   /* the seq expected next */
    long count;      /* events received */
    int after_gap;   /* the last event was a gap */
    double retry_at; /* IDLE: when to connect */
    int streamed;    /* got a 200 head at least once */
};

static struct {
    unsigned port;
    long events, tick_ms;
    long problems, lost, gaps, reconnects, delivered;
    unsigned long *hist;
    long stamped;
    size_t connected;
    double first_at, last_at;
} g;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void problem(const struct conn *c, const char *what, uint64_t seq)
{
    if (g.problems++ < 20) {
        fprintf(stderr, "scale_client: %s: %s seq %llu, expected %llu\n", c->topic, what,
                (unsigned long long)seq, (unsigned long long)c->next);
    }
}

static int on_event(void *user, const sse_event *ev)
{
    struct conn *c = user;
    unsigned long long seq;
    long long stamp;
    char buf[64];
    size_t n;
    int fields;

    if (ev->kind != SSE_KIND_EVENT) {
        return 0;
    }
    if (strcmp(ev->type, "gap") == 0) {
        c->after_gap = 1;
        g.gaps++;
        return 0;
    }
    if (g.tick_ms > 0) { /* sse_server: id k is the tick due at EPOCH + k * interval */
        fields = sscanf(ev->id, "%llu", &seq) == 1 ? 2 : 0;
        stamp = (1704067200000LL + (long long)seq * g.tick_ms) * 1000;
        if (c->count == 0) {
            c->next = seq;
        }
    } else {
        n = ev->data_len < sizeof buf - 1 ? ev->data_len : sizeof buf - 1;
        memcpy(buf, ev->data, n);
        buf[n] = '\0';
        fields = sscanf(buf, "%llu %lld", &seq, &stamp);
    }
    if (fields < 1) {
        problem(c, "unreadable data", 0);
        return 0;
    }
    c->count++;
    if (seq < c->next) {
        problem(c, "duplicate or reordered", seq);
    } else {
        if (seq > c->next) {
            if (!c->after_gap) {
                problem(c, "missing events before", seq);
            }
            g.lost += (long)(seq - c->next);
        }
        c->next = seq + 1;
    }
    c->after_gap = 0;
    g.delivered++;
    g.last_at = now_s();
    if (g.first_at == 0) {
        g.first_at = g.last_at;
    }
    if (fields == 2) {
        int64_t us = wall_us() - stamp;
        long b = us < 0 ? 0 : us / BUCKET_US;
        g.hist[b < BUCKETS ? b : BUCKETS - 1]++;
        g.stamped++;
    }
    return 0;
}

static void drop(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->state = IDLE;
    c->retry_at = now_s() + 0.1;
    sse_parser_reconnect(&c->p);
    g.reconnects++;
}

static void start(struct conn *c)
{
    struct sockaddr_in sa;
    char req[512], hdr[300];
    size_t hl = 0;
    int len;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)g.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        drop(c);
        return;
    }
    if (sse_last_id_header(&c->p, hdr, sizeof hdr, &hl) != SSE_OK) {
        hl = 0;
    }
    len = snprintf(req, sizeof req, "GET %s%s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s%s\r\n",
                   g.tick_ms > 0 ? "/dates" : "/streams/", g.tick_ms > 0 ? "" : c->topic,
                   hl > 0 ? hdr : "", hl > 0 ? "\r\n" : "");
    if (write(c->fd, req, (size_t)len) != len) {
        drop(c);
        return;
    }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    c->state = HEAD;
    c->head_len = 0;
}

static void readable(struct conn *c)
{
    char buf[16384];
    ssize_t r = read(c->fd, buf, sizeof buf);
    const char *body = buf;
    size_t len;

    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
            drop(c);
        }
        return;
    }
    len = (size_t)r;
    if (c->state == HEAD) {
        char *end;
        size_t take =
            len < sizeof c->head - 1 - c->head_len ? len : sizeof c->head - 1 - c->head_len;
        memcpy(c->head + c->head_len, buf, take);
        c->head_len += take;
        c->head[c->head_len] = '\0';
        end = strstr(c->head, "\r\n\r\n");
        if (end == NULL) {
            if (c->head_len == sizeof c->head - 1) {
                drop(c);
            }
            return;
        }
        if (strncmp(c->head, "HTTP/1.1 200", 12) != 0 &&
            strncmp(c->head, "HTTP/1.0 200", 12) != 0) {
            drop(c); /* 502/503 from a proxy while a gateway is down: try again */
            return;
        }
        body = buf + (take - (c->head_len - (size_t)(end + 4 - c->head)));
        len = (size_t)(buf + len - body);
        c->state = STREAM;
        if (!c->streamed) {
            c->streamed = 1;
            g.connected++;
        }
    }
    sse_parser_feed(&c->p, body, len, on_event, c);
}

static double percentile(double q)
{
    long want = (long)((double)g.stamped * q), seen = 0, b;
    for (b = 0; b < BUCKETS; b++) {
        seen += (long)g.hist[b];
        if (seen > want) {
            return (double)(b * BUCKET_US + BUCKET_US / 2) / 1000.0;
        }
    }
    return 10000.0;
}

int main(int argc, char **argv)
{
    const char *topics[64];
    size_t ntopics = 0, n = 1000, i, done;
    double timeout = 60, t0, next_progress = 0;
    int progress = 0, announced = 0, a;
    char *list = NULL;
    struct conn *c;
    struct pollfd *pfd;

    for (a = 1; a + 1 < argc || (a < argc && strcmp(argv[a], "--progress") == 0); a++) {
        if (strcmp(argv[a], "--progress") == 0) {
            progress = 1;
        } else if (strcmp(argv[a], "--port") == 0) {
            g.port = (unsigned)atoi(argv[++a]);
        } else if (strcmp(argv[a], "--topics") == 0) {
            list = argv[++a];
        } else if (strcmp(argv[a], "--connections") == 0) {
            n = (size_t)atol(argv[++a]);
        } else if (strcmp(argv[a], "--events") == 0) {
            g.events = atol(argv[++a]);
        } else if (strcmp(argv[a], "--ticks") == 0) {
            g.tick_ms = atol(argv[++a]);
        } else if (strcmp(argv[a], "--timeout-s") == 0) {
            timeout = atof(argv[++a]);
        } else {
            break;
        }
    }
    if (a != argc || g.port == 0 || list == NULL || n == 0 || g.events <= 0) {
        fprintf(stderr, "usage: scale_client --port P --topics a,b,c --connections N --events E "
                        "[--timeout-s S] [--progress]\n");
        return 2;
    }
    for (list = strtok(list, ","); list != NULL && ntopics < 64; list = strtok(NULL, ",")) {
        topics[ntopics++] = list;
    }
    c = calloc(n, sizeof *c);
    pfd = calloc(n, sizeof *pfd);
    g.hist = calloc(BUCKETS, sizeof *g.hist);
    if (c == NULL || pfd == NULL || g.hist == NULL) {
        return 1;
    }
    for (i = 0; i < n; i++) {
        c[i].topic = topics[(i / 3) % ntopics]; /* not i % n: round robin would pair them */
        c[i].fd = -1;
        sse_parser_init(&c[i].p, c[i].storage, sizeof c[i].storage, 0);
        start(&c[i]);
    }
    g.reconnects = 0;
    t0 = now_s();
    for (;;) {
        double t = now_s();
        long least = g.events;
        for (i = 0, done = 0; i < n; i++) {
            if (c[i].state == IDLE && t >= c[i].retry_at) {
                start(&c[i]);
            }
            least = c[i].count < least ? c[i].count : least;
            done += c[i].count >= g.events;
            pfd[i].fd = c[i].state == IDLE ? -1 : c[i].fd;
            pfd[i].events = POLLIN;
        }
        if (progress && g.connected == n && !announced) {
            printf("connected %zu\n", n); /* every position is fixed: publish now */
            fflush(stdout);
            announced = 1;
        }
        if (progress && t >= next_progress) {
            printf("progress %ld\n", least);
            fflush(stdout);
            next_progress = t + 0.2;
        }
        if (done == n || t - t0 > timeout) {
            break;
        }
        if (poll(pfd, (nfds_t)n, 50) < 0 && errno != EINTR) {
            perror("scale_client: poll");
            return 1;
        }
        for (i = 0; i < n; i++) {
            if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                readable(&c[i]);
            }
        }
    }
    for (i = 0, done = 0; i < n; i++) {
        done += c[i].count >= g.events;
    }
    printf("scale_client: %zu of %zu connections complete, %ld events delivered in %.2f s "
           "(%.0f events/s), %ld reconnects, %ld gap events, %ld events lost, %ld problems",
           done, n, g.delivered, g.last_at - g.first_at,
           g.last_at > g.first_at ? (double)g.delivered / (g.last_at - g.first_at) : 0.0,
           g.reconnects, g.gaps, g.lost, g.problems);
    if (g.stamped > 0) {
        printf(", latency p50 %.2f ms p99 %.2f ms", percentile(0.50), percentile(0.99));
    }
    printf("\n");
    free(c); /* freed, so that a leak checker has nothing to report */
    free(pfd);
    free(g.hist);
    return done == n && g.problems == 0 && g.lost == 0 ? 0 : 1;
}
