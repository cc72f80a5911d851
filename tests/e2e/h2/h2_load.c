/*
 * h2_load - a bounded HTTP/2 load client for examples/h2_server: C connections (h2c, prior
 * knowledge) to 127.0.0.1:PORT, S concurrent GET /dates streams on each, every stream's
 * DATA fed to its own sse parser. It stops by itself: when every stream has received
 * --events events (exit 0) or after --timeout seconds (exit 1).
 *
 *   h2_load --port P [--connections 10] [--streams 100] [--events 5] [--timeout 30]
 *           [--pid SERVER_PID] [--stall] [--last-event-id L] [--dump DIR]
 *
 * Checks: status 200, content-type text/event-stream, each stream's ids consecutive (no
 * gap, no duplicate). With --pid it reads the server's VmRSS (/proc/PID/status) before
 * connecting and once every stream has its events, and prints the difference per stream.
 * --stall: the first stream of the first connection never gives window back (no
 * WINDOW_UPDATE for it, initial window 256 bytes): every other stream must still get its
 * events, and the server must reset the stalled one (RST_STREAM CANCEL) once it falls
 * behind its history.
 * --last-event-id L: sent with every request. --dump DIR: each stream's body bytes, as
 * received, go to DIR/stream_K.txt (K = 1..C*S).
 * Prints "h2_load: ..." lines; the last is "h2_load: 1 passed, 0 failed" or "0 passed,
 * 1 failed".
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STALL_WINDOW 256

struct stream {
    int32_t id;
    int status, ct_ok, closed, stalled;
    uint32_t close_code;
    long events, bad;
    uint64_t last;
    int have_last;
    FILE *dump;
    sse_parser parser;
    char storage[256];
};

struct conn {
    int fd;
    nghttp2_session *h2;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long vm_rss_kb(long pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}

static int on_event(void *user, const sse_event *ev)
{
    struct stream *st = user;
    uint64_t id = 0;
    size_t i;
    if (ev->kind != SSE_KIND_EVENT) {
        return 0;
    }
    for (i = 0; i < ev->id_len; i++) {
        id = id * 10 + (uint64_t)(ev->id[i] - '0');
    }
    if (st->have_last && id != st->last + 1) {
        st->bad++;
    }
    st->last = id;
    st->have_last = 1;
    st->events++;
    return 0;
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct conn *c = user;
    ssize_t w = write(c->fd, data, len);
    (void)session;
    (void)flags;
    if (w < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                   ? NGHTTP2_ERR_WOULDBLOCK
                   : NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return w;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    struct stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    (void)flags;
    (void)user;
    if (st == NULL) {
        return 0;
    }
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        st->status = atoi((const char *)value);
    } else if (namelen == 12 && memcmp(name, "content-type", 12) == 0) {
        st->ct_ok = sse_check_response(200, (const char *)value, valuelen) == SSE_OK;
    } else if (namelen == 10 && memcmp(name, "connection", 10) == 0) {
        st->bad++; /* forbidden in HTTP/2 (nghttp2 would reject it before us anyway) */
    }
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    struct stream *st = nghttp2_session_get_stream_user_data(session, id);
    (void)flags;
    (void)user;
    if (st == NULL) {
        return 0;
    }
    sse_parser_feed(&st->parser, data, len, on_event, st);
    if (st->dump != NULL) {
        fwrite(data, 1, len, st->dump);
    }
    if (st->stalled) { /* the connection's window goes back, this stream's never does */
        nghttp2_session_consume_connection(session, len);
    } else {
        nghttp2_session_consume(session, id, len);
    }
    return 0;
}

static int on_close(nghttp2_session *session, int32_t id, uint32_t code, void *user)
{
    struct stream *st = nghttp2_session_get_stream_user_data(session, id);
    (void)user;
    if (st != NULL) {
        st->closed = 1;
        st->close_code = code;
    }
    return 0;
}

static int connect_to(unsigned port)
{
    struct sockaddr_in sa;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("h2_load: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

int main(int argc, char **argv)
{
    unsigned port = 0, nconn = 10, nstream = 100, stall = 0, timeout_s = 30;
    long want = 5, pid = 0, rss_before = -1, rss_after = -1;
    size_t i, j, total, done = 0;
    struct conn *conns;
    struct stream *streams;
    struct pollfd *pfd;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    char authority[32];
    const char *dump = NULL, *last_id = "";
    int64_t deadline;
    int a, ok = 1;

    for (a = 1; a < argc; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : "";
        if (strcmp(argv[a], "--port") == 0) {
            port = (unsigned)atoi(v), a++;
        } else if (strcmp(argv[a], "--connections") == 0) {
            nconn = (unsigned)atoi(v), a++;
        } else if (strcmp(argv[a], "--streams") == 0) {
            nstream = (unsigned)atoi(v), a++;
        } else if (strcmp(argv[a], "--events") == 0) {
            want = atol(v), a++;
        } else if (strcmp(argv[a], "--timeout") == 0) {
            timeout_s = (unsigned)atoi(v), a++;
        } else if (strcmp(argv[a], "--pid") == 0) {
            pid = atol(v), a++;
        } else if (strcmp(argv[a], "--last-event-id") == 0) {
            last_id = v, a++;
        } else if (strcmp(argv[a], "--dump") == 0) {
            dump = v, a++;
        } else if (strcmp(argv[a], "--stall") == 0) {
            stall = 1;
        } else {
            port = 0;
            break;
        }
    }
    if (port == 0 || nconn == 0 || nstream == 0) {
        fprintf(stderr, "usage: h2_load --port P [--connections C] [--streams S] [--events E] "
                        "[--timeout SEC] [--pid SERVER_PID] [--stall] [--last-event-id L] "
                        "[--dump DIR]\n");
        return 2;
    }
    total = (size_t)nconn * nstream;
    conns = calloc(nconn, sizeof *conns);
    streams = calloc(total, sizeof *streams);
    pfd = calloc(nconn, sizeof *pfd);
    if (conns == NULL || streams == NULL || pfd == NULL) {
        return 1;
    }
    snprintf(authority, sizeof authority, "127.0.0.1:%u", port);
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1); /* on_data gives window back */

    if (pid > 0) {
        rss_before = vm_rss_kb(pid);
    }
    for (i = 0; i < nconn; i++) {
        struct conn *c = &conns[i];
        nghttp2_settings_entry iv[2];
        iv[0].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
        iv[0].value = 0;
        iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
        iv[1].value = stall && i == 0 ? STALL_WINDOW : 65535;
        c->fd = connect_to(port);
        nghttp2_session_client_new2(&c->h2, cbs, c, opt);
        nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2);
        for (j = 0; j < nstream; j++) {
            struct stream *st = &streams[i * nstream + j];
            nghttp2_nv nv[] = {
                { (uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE },
                { (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE },
                { (uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
                  NGHTTP2_NV_FLAG_NONE },
                { (uint8_t *)":path", (uint8_t *)"/dates", 5, 6, NGHTTP2_NV_FLAG_NONE },
                { (uint8_t *)"accept", (uint8_t *)"text/event-stream", 6, 17,
                  NGHTTP2_NV_FLAG_NONE },
                { (uint8_t *)"last-event-id", (uint8_t *)last_id, 13, strlen(last_id),
                  NGHTTP2_NV_FLAG_NONE },
            };
            size_t nnv = sizeof nv / sizeof nv[0] - (*last_id == '\0');
            sse_parser_init(&st->parser, st->storage, sizeof st->storage, 0);
            st->stalled = stall && i == 0 && j == 0;
            if (dump != NULL) {
                char path[4096];
                snprintf(path, sizeof path, "%s/stream_%zu.txt", dump, i * nstream + j + 1);
                if ((st->dump = fopen(path, "w")) == NULL) {
                    perror(path);
                    return 1;
                }
            }
            st->id = nghttp2_submit_request(c->h2, NULL, nv, nnv, NULL, st);
            if (st->id < 0) {
                fprintf(stderr, "h2_load: submit: %s\n", nghttp2_strerror(st->id));
                return 1;
            }
        }
        pfd[i].fd = c->fd;
    }

    deadline = now_ms() + (int64_t)timeout_s * 1000;
    while (now_ms() < deadline) {
        int stalled_reset = 0;
        for (i = 0; i < nconn; i++) {
            nghttp2_session_send(conns[i].h2);
            pfd[i].events =
                (short)(POLLIN | (nghttp2_session_want_write(conns[i].h2) ? POLLOUT : 0));
        }
        if (poll(pfd, nconn, 100) < 0) {
            break;
        }
        for (i = 0; i < nconn; i++) {
            uint8_t buf[16384];
            ssize_t r;
            while (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                r = read(conns[i].fd, buf, sizeof buf);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    fprintf(stderr, "h2_load: connection %zu closed by the server\n", i);
                    ok = 0;
                    deadline = 0;
                    break;
                }
                if (r < 0) {
                    break;
                }
                if (nghttp2_session_mem_recv(conns[i].h2, buf, (size_t)r) < 0) {
                    fprintf(stderr, "h2_load: HTTP/2 error on connection %zu\n", i);
                    return 1;
                }
            }
        }
        for (done = 0, i = 0; i < total; i++) {
            if (streams[i].stalled) {
                stalled_reset = streams[i].closed;
            } else if (streams[i].events >= want) {
                done++;
            }
        }
        if (done == total - stall && (!stall || stalled_reset)) {
            break;
        }
    }
    if (pid > 0) {
        rss_after = vm_rss_kb(pid); /* every stream still open */
    }

    for (i = 0; i < total; i++) {
        struct stream *st = &streams[i];
        if (st->status != 200 || !st->ct_ok || st->bad > 0 ||
            (!st->stalled && (st->events < want || st->closed))) {
            if (ok) {
                fprintf(stderr,
                        "h2_load: stream %zu (id %d): status %d, content-type %s, "
                        "%ld events, %ld gaps or duplicates, %s\n",
                        i, (int)st->id, st->status, st->ct_ok ? "ok" : "wrong", st->events, st->bad,
                        st->closed ? "closed" : "open");
            }
            ok = 0;
        }
        if (st->stalled) {
            printf("h2_load: stalled stream: %ld events before its window ran out, then %s\n",
                   st->events,
                   !st->closed                        ? "still open (not reset)"
                   : st->close_code == NGHTTP2_CANCEL ? "reset by the server (CANCEL)"
                                                      : "closed with another code");
            ok = ok && st->closed && st->close_code == NGHTTP2_CANCEL && st->events < want;
        }
    }
    printf("h2_load: %u connections x %u streams: %zu of %zu streams received >= %ld events "
           "each, ids consecutive%s\n",
           nconn, nstream, done, total - stall, want, stall ? " (one stalled stream apart)" : "");
    if (pid > 0 && rss_before > 0 && rss_after > 0) {
        printf("h2_load: server VmRSS %ld kB before, %ld kB with %zu open streams: "
               "%.2f kB per stream\n",
               rss_before, rss_after, total, (double)(rss_after - rss_before) / (double)total);
    }
    for (i = 0; i < total; i++) {
        if (streams[i].dump != NULL) {
            fclose(streams[i].dump);
        }
    }
    for (i = 0; i < nconn; i++) {
        nghttp2_session_del(conns[i].h2);
        close(conns[i].fd);
    }
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    free(conns);
    free(streams);
    free(pfd);
    printf("h2_load: %d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
