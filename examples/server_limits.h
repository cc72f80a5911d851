/*
 * server_limits.h - what an internet-facing poll() server owes every connection before its
 * request is read, shared by sse_server.c, h2_server.c, sse_relay.c and redis_gateway.c
 * (and meant for any server of this directory that reads its own request heads), with the
 * loopback listener they open (limits_listen) and the numeric flag reader (limits_number):
 *
 *   --idle-timeout-ms MS  no byte within MS of the connect: closed silently (default 5000)
 *   --head-timeout-ms MS  no complete request head within MS of the connect: 408 and close
 *                         (default 10000); a slowloris head dribbled a byte at a time ends
 *                         here, however steadily it dribbles
 *   --max-conns N         open connections; one more is answered 503 and closed at once
 *                         (default 10000, lowered to what RLIMIT_NOFILE allows after
 *                         LIMITS_FD_RESERVE descriptors)
 *   a malformed head      a NUL byte, a bare CR or a bare LF: 400 and close (RFC 9112, 2.2
 *                         lets a server reject a bare CR; we reject the bare LF as well)
 *   out of descriptors    one descriptor (/dev/null) is held in reserve: on EMFILE it is
 *                         closed, the waiting connection accepted, answered 503 and closed,
 *                         the reserve reopened. accept() never spins on a full backlog.
 *
 * Header-only, static functions; C99 + POSIX: include it after _POSIX_C_SOURCE 200809L.
 */
#ifndef SERVER_LIMITS_H
#define SERVER_LIMITS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LIMITS_FD_RESERVE 16 /* stdio, listener, the reserve, libraries' own descriptors */
#define LIMITS_USAGE "[--idle-timeout-ms MS] [--head-timeout-ms MS] [--max-conns N]"

struct limits {
    const char *prog;
    unsigned idle_ms, head_ms, max_conns;
    int spare_fd; /* held in reserve for the EMFILE answer; -1 while in use */
};

static inline void limits_defaults(struct limits *l, const char *prog)
{
    l->prog = prog;
    l->idle_ms = 5000;
    l->head_ms = 10000;
    l->max_conns = 10000;
    l->spare_fd = -1;
}

/* Reads the number after option argv[*i] (min..max) and steps over it, or exits with a
 * message when it is missing or out of range: every numeric flag of these servers. */
static inline unsigned limits_number(const char *prog, int argc, char **argv, int *i, unsigned min,
                                     unsigned max)
{
    char *end;
    unsigned long v = *i + 1 < argc ? strtoul(argv[*i + 1], &end, 10) : 0;
    if (*i + 1 >= argc || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s needs a number from %u to %u\n", prog, argv[*i], min, max);
        exit(2);
    }
    ++*i;
    return (unsigned)v;
}

/* Takes argv[*i] and its value when it is one of the limits' options; returns 1 then. */
static inline int limits_option(struct limits *l, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--idle-timeout-ms") == 0) {
        l->idle_ms = limits_number(l->prog, argc, argv, i, 1, 3600000);
    } else if (strcmp(argv[*i], "--head-timeout-ms") == 0) {
        l->head_ms = limits_number(l->prog, argc, argv, i, 1, 3600000);
    } else if (strcmp(argv[*i], "--max-conns") == 0) {
        l->max_conns = limits_number(l->prog, argc, argv, i, 1, 1000000);
    } else {
        return 0;
    }
    return 1;
}

/* Raises the soft descriptor limit to the hard one, lowers max_conns to fit under it, and
 * opens the reserve descriptor. Call once after the options. */
static inline void limits_setup(struct limits *l)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur <= LIMITS_FD_RESERVE) {
            fprintf(stderr, "%s: only %llu file descriptors allowed\n", l->prog,
                    (unsigned long long)rl.rlim_cur);
            exit(1);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur - LIMITS_FD_RESERVE < l->max_conns) {
            l->max_conns = (unsigned)(rl.rlim_cur - LIMITS_FD_RESERVE);
            fprintf(stderr, "%s: %llu file descriptors allowed: at most %u connections\n",
                    l->prog, (unsigned long long)rl.rlim_cur, l->max_conns);
        }
    }
    l->spare_fd = open("/dev/null", O_RDONLY);
}

/* Opens the nonblocking listener on 127.0.0.1:port (0: any free port), prints
 * "listening on SCHEME://127.0.0.1:PORT/" on stdout (tests wait for that line), or exits
 * with a message. */
static inline int limits_listen(const char *prog, unsigned port, const char *scheme)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        fprintf(stderr, "%s: port %u: %s\n", prog, port, strerror(errno));
        exit(1);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    printf("listening on %s://127.0.0.1:%u/\n", scheme, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

/* A monotonic clock for deadlines, in ms. */
static inline int64_t limits_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When a connection accepted at born_ms must be cut if its head is still not complete:
 * got_bytes says whether any byte of it arrived. */
static inline int64_t limits_deadline(const struct limits *l, int64_t born_ms, int got_bytes)
{
    unsigned ms = got_bytes || l->idle_ms > l->head_ms ? l->head_ms : l->idle_ms;
    return born_ms + ms;
}

/* Scans a request head (len bytes), from byte from on: the caller passes the length it
 * had at the previous call, so a head that arrives a byte at a time is scanned once, not
 * once per byte. Returns its length through the blank line when it is complete; 0 when
 * more bytes are needed; -1 when it is malformed (a NUL, a CR not followed by LF, an LF
 * not preceded by CR). */
static inline long limits_head_end(const char *in, size_t len, size_t from)
{
    size_t i;
    for (i = from > 0 ? from - 1 : 0; i < len; i++) { /* a CR that ended the last bytes */
        if (in[i] == '\0' || (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) ||
            (in[i] == '\r' && i + 1 < len && in[i + 1] != '\n')) {
            return -1;
        }
        if (in[i] == '\n' && i >= 3 && in[i - 2] == '\n') {
            return (long)(i + 1);
        }
    }
    return 0;
}

enum limits_head {
    LIMITS_HEAD_MORE,  /* not complete yet, or nothing arrived */
    LIMITS_HEAD_DONE,  /* complete: in holds it through its blank line, then a NUL */
    LIMITS_HEAD_BAD,   /* malformed (limits_head_end): answer 400 */
    LIMITS_HEAD_LARGE, /* cap - 1 bytes and still not complete: answer 431 */
    LIMITS_HEAD_GONE   /* the peer closed or the read failed: close */
};

/* One read of a request head from fd into in (cap bytes; *len of them read so far, then a
 * NUL), checked as it arrives. */
static inline enum limits_head limits_read_head(int fd, char *in, size_t *len, size_t cap)
{
    ssize_t r = read(fd, in + *len, cap - 1 - *len);
    long end;
    if (r <= 0) {
        return r == 0 || (errno != EAGAIN && errno != EINTR) ? LIMITS_HEAD_GONE : LIMITS_HEAD_MORE;
    }
    *len += (size_t)r;
    in[*len] = '\0';
    end = limits_head_end(in, *len, *len - (size_t)r);
    if (end != 0) {
        return end < 0 ? LIMITS_HEAD_BAD : LIMITS_HEAD_DONE;
    }
    return *len == cap - 1 ? LIMITS_HEAD_LARGE : LIMITS_HEAD_MORE;
}

/* Reads and drops what a connection sends after its request (nothing more is expected):
 * returns -1 at its EOF or on an error, when it must be closed. */
static inline int limits_discard(int fd)
{
    char sink[512];
    ssize_t r = read(fd, sink, sizeof sink);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) ? -1 : 0;
}

/* Sends a complete HTTP/1.1 answer with no body but its status line to a connection
 * that sent no request yet (or an incomplete one), and ends the sending side; the caller
 * closes fd. The request bytes that already arrived are read first: closing with unread
 * input would send RST, and the peer could lose the answer. */
static inline void limits_answer(int fd, const char *status)
{
    char sink[4096], msg[160];
    int n = snprintf(msg, sizeof msg,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, strlen(status) + 1, status);
    (void)!recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    (void)!send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
}

static inline void limits_turn_away(int fd, int refuse_503)
{
    if (refuse_503) {
        limits_answer(fd, "503 Service Unavailable");
    }
    close(fd);
}

/* Accepts the next connection on the nonblocking listener lfd, nconns connections being
 * open now. Returns its descriptor; or -1 when none is waiting, or when out of descriptors
 * with no reserve left (then *paused is set: stop polling lfd until a connection closes).
 * Connections over max_conns, and those that found no descriptor, get 503 (refuse_503
 * nonzero; else just a close: a TLS port cannot answer in plain text) and are not
 * returned. */
static inline int limits_accept(struct limits *l, int lfd, size_t nconns, int refuse_503,
                                int *paused)
{
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && l->spare_fd >= 0) {
            close(l->spare_fd);
            l->spare_fd = -1;
            fd = accept(lfd, NULL, NULL);
            if (fd >= 0) {
                fprintf(stderr, "%s: out of file descriptors: 503\n", l->prog);
                limits_turn_away(fd, refuse_503);
            }
            l->spare_fd = open("/dev/null", O_RDONLY);
            continue;
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                fprintf(stderr, "%s: accept: %s\n", l->prog, strerror(errno));
                *paused = 1;
            }
            return -1;
        }
        if (nconns < l->max_conns) {
            return fd;
        }
        limits_turn_away(fd, refuse_503);
    }
}

#endif /* SERVER_LIMITS_H */
