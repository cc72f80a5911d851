/*
 * sse_server - a broadcast Server-Sent Events server: POSIX sockets, poll(), one thread,
 * no dependency but sse.
 *
 *   sse_server --port 8080              then open http://127.0.0.1:8080/ in a browser,
 *                                       or: sse_client http://127.0.0.1:8080/dates
 *   options: --port P (0: any free port; the bound one is printed), --interval-ms MS
 *            (default 1000), --history N (frames kept for resume, default 64),
 *            --retry-ms MS (the retry: sent at connection start, default 1000)
 *   It prints "listening on http://127.0.0.1:PORT/" and stops cleanly on SIGINT/SIGTERM.
 *
 * What it shows
 *   GET /       a demo page: EventSource('/dates') showing the server's date live, the last
 *               event id and a log of the connection's states.
 *   GET /dates  the stream: SSE_HTTP_HEADERS, a "retry:" frame, then one event per interval
 *               (data: the tick's UTC date, id: the tick number) and ": keep-alive" after
 *               15 s without any frame.
 *   Broadcast   every frame is encoded once (sse_encode) into a ring of the last N frames.
 *               A client is only a position in that ring (next frame, bytes of it sent):
 *               writev() sends it the ring's bytes, nothing is copied or encoded per client.
 *   Slow client the ring is the only per-client output queue (with a kernel send buffer
 *               capped by SO_SNDBUF), so it is bounded; a client more than N/2 frames
 *               behind (N while it still replays missed frames) is disconnected with a
 *               reset (its queued bytes are dropped at once), the others never wait for
 *               it; it comes back with Last-Event-ID, usually still inside the ring.
 *
 * Ids: tick k is the k-th interval since 2024-01-01T00:00:00Z (wall clock) and its data is
 * the date of that instant, so frame k depends on k alone. On start the server rebuilds the
 * ring for the last N ticks from the clock: a server killed and restarted with the same
 * --interval-ms and --history continues the sequence, and a client that reconnects within
 * N intervals receives every event exactly once.
 *
 * Resume (request header Last-Event-ID = L; the ring holds ids O..T, T the newest sent):
 *   none, not a decimal number, or L > T   live events only (after T);
 *   O-1 <= L <= T                         ids L+1..T are replayed from the ring, then live;
 *   L < O-1 (older than the ring)         ids L+1..O-1 are lost: the client first receives
 *                                         an event of type "gap" with data "L+1 O-1" (the
 *                                         lost range, no id field), then the whole ring
 *                                         O..T, then live events.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define EPOCH_MS     1704067200000LL /* 2024-01-01T00:00:00Z */
#define KEEPALIVE_MS 15000
#define FRAME_CAP    128  /* "id: <20 digits>\ndata: <24-byte date>\n\n" fits */
#define REQUEST_CAP  4096 /* larger request headers get 431 */
#define HEAD_CAP     512  /* per-client bytes: response headers, retry, gap, keep-alive */
#define IOV_BATCH    64
#define SNDBUF       32768 /* kernel send buffer per stream (Linux doubles it) */

static const char page[] =
    "<!doctype html>\n<meta charset=utf-8>\n<title>sse: server date</title>\n"
    "<h1 id=date>connecting...</h1>\n<p>last event id: <code id=last-id>none</code></p>\n"
    "<pre id=log></pre>\n<script>\n"
    "const log = (s) => { document.getElementById('log').textContent +=\n"
    "    new Date().toISOString() + ' ' + s + '\\n'; };\n"
    "const es = new EventSource('/dates');\n"
    "es.onopen = () => log('open');\n"
    "es.onerror = () => log(es.readyState === EventSource.CONNECTING ? 'error, reconnecting'\n"
    "                                                                 : 'error, closed');\n"
    "es.onmessage = (e) => {\n"
    "    document.getElementById('date').textContent = e.data;\n"
    "    document.getElementById('last-id').textContent = e.lastEventId;\n"
    "};\n"
    "es.addEventListener('gap', (e) => log('missed events ' + e.data));\n"
    "</script>\n";

struct frame {
    size_t len;
    char bytes[FRAME_CAP];
};

enum state {
    READING,
    STREAMING,
    RESPONDING /* send head and body, then close */
};
#define RESET 2

struct client {
    int fd;
    enum state state;
    int dead; /* to be closed: 1, or RESET */
    char *in; /* request bytes while READING, freed after */
    size_t in_len;
    char head[HEAD_CAP];
    size_t head_len, head_off;
    const char *body; /* RESPONDING: static body after head */
    size_t body_len, body_off;
    uint64_t next;      /* STREAMING: id of the next ring frame to send */
    uint64_t live_from; /* ids from here on were live when sent; before: replayed */
    size_t next_off;    /* bytes of that frame already sent */
};

struct server {
    unsigned interval_ms, history, max_lag;
    struct frame *ring; /* frame k lives in ring[k % history] */
    uint64_t newest;    /* ring holds newest - history + 1 .. newest */
    int64_t last_send_ms;
    char retry[64]; /* the encoded retry frame */
    size_t retry_len;
    struct client **c;
    size_t n, cap;
    int paused; /* out of file descriptors: stop accepting until a client leaves */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t tick_at(const struct server *s, int64_t ms)
{
    return (uint64_t)(ms - EPOCH_MS) / s->interval_ms;
}

/* Encodes tick id into its ring slot: the frame depends on id alone. */
static void make_frame(struct server *s, uint64_t id)
{
    struct frame *fr = &s->ring[id % s->history];
    int64_t ms = EPOCH_MS + (int64_t)(id * s->interval_ms);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char date[32], ids[24];
    sse_frame f = { 0 };
    sse_error err;

    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(date + 19, sizeof date - 19, ".%03dZ", (int)(ms % 1000));
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    f.id = ids;
    f.id_len = strlen(ids);
    f.data = date;
    f.data_len = strlen(date);
    err = sse_encode(fr->bytes, sizeof fr->bytes, &f, &fr->len);
    if (err != SSE_OK) {
        fprintf(stderr, "sse_server: sse_encode: %s\n", sse_strerror(err));
        exit(1);
    }
}

/* ---- output ------------------------------------------------------------------------- */

static int has_output(const struct server *s, const struct client *c)
{
    return c->head_off < c->head_len || c->body_off < c->body_len ||
           (c->state == STREAMING && c->next <= s->newest);
}

static void consume(struct server *s, struct client *c, size_t n)
{
    size_t k = c->head_len - c->head_off < n ? c->head_len - c->head_off : n;
    c->head_off += k;
    n -= k;
    k = c->body_len - c->body_off < n ? c->body_len - c->body_off : n;
    c->body_off += k;
    n -= k;
    while (n > 0) {
        size_t rest = s->ring[c->next % s->history].len - c->next_off;
        if (n < rest) {
            c->next_off += n;
            return;
        }
        n -= rest;
        c->next++;
        c->next_off = 0;
    }
}

/* Writes what the socket takes: the client's own bytes, then ring frames from c->next.
 * Returns -1 when the client must be closed (error, or a plain response fully sent). */
static int flush(struct server *s, struct client *c)
{
    while (has_output(s, c)) {
        struct iovec iov[IOV_BATCH];
        int n = 0;
        size_t total = 0;
        ssize_t w;
        uint64_t id;
        if (c->head_off < c->head_len) {
            iov[n].iov_base = c->head + c->head_off;
            iov[n++].iov_len = c->head_len - c->head_off;
        }
        if (c->body_off < c->body_len) {
            iov[n].iov_base = (void *)(c->body + c->body_off);
            iov[n++].iov_len = c->body_len - c->body_off;
        }
        for (id = c->next; c->state == STREAMING && id <= s->newest && n < IOV_BATCH; id++) {
            struct frame *fr = &s->ring[id % s->history];
            size_t off = id == c->next ? c->next_off : 0;
            iov[n].iov_base = fr->bytes + off;
            iov[n++].iov_len = fr->len - off;
        }
        for (w = 0; w < n; w++) {
            total += iov[w].iov_len;
        }
        w = writev(c->fd, iov, n);
        if (w < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        }
        consume(s, c, (size_t)w);
        if ((size_t)w < total) {
            return 0; /* socket full: poll tells when to go on */
        }
    }
    return c->state == RESPONDING ? -1 : 0;
}

/* ---- requests ----------------------------------------------------------------------- */

static void respond(struct client *c, const char *status, const char *type, const char *body)
{
    c->state = RESPONDING;
    c->body = body;
    c->body_len = strlen(body);
    c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                   "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                                   "Connection: close\r\n\r\n",
                                   status, type, c->body_len);
}

static void start_stream(struct server *s, struct client *c, const char *last_id, size_t len)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n" SSE_HTTP_HEADERS "\r\n";
    uint64_t oldest = s->newest + 1 - s->history, last = 0;
    size_t i;
    int sndbuf = SNDBUF;
    int numeric = last_id != NULL && len > 0 && len <= 19;

    for (i = 0; numeric && i < len; i++) {
        numeric = last_id[i] >= '0' && last_id[i] <= '9';
        last = last * 10 + (uint64_t)(last_id[i] - '0');
    }
    /* The kernel's send buffer is a per-client queue too, and Linux lets it grow to
     * megabytes: a client would stall for minutes before its lag showed. Cap it. */
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    c->state = STREAMING;
    memcpy(c->head, head, sizeof head - 1);
    memcpy(c->head + sizeof head - 1, s->retry, s->retry_len);
    c->head_len = sizeof head - 1 + s->retry_len;
    c->next = c->live_from = s->newest + 1; /* default: live events only */
    if (numeric && last + 1 >= oldest && last <= s->newest) {
        c->next = last + 1; /* replay last+1 .. newest from the ring */
    } else if (numeric && last + 1 < oldest) {
        char lost[48];
        sse_frame f = { 0 };
        size_t n;
        f.type = "gap";
        f.type_len = 3;
        f.data = lost;
        f.data_len =
            (size_t)snprintf(lost, sizeof lost, "%llu %llu", (unsigned long long)(last + 1),
                             (unsigned long long)(oldest - 1));
        if (sse_encode(c->head + c->head_len, sizeof c->head - c->head_len, &f, &n) == SSE_OK) {
            c->head_len += n;
        }
        c->next = oldest;
    }
}

/* Handles a complete request in c->in. */
static void route(struct server *s, struct client *c)
{
    char *line = c->in, *end, *path, *sp;
    const char *last_id = NULL;
    size_t last_len = 0;

    end = strstr(line, "\r\n");
    *end = '\0';
    path = strchr(line, ' ');
    sp = path ? strchr(path + 1, ' ') : NULL;
    if (path == NULL || sp == NULL) {
        respond(c, "400 Bad Request", "text/plain", "bad request\n");
        return;
    }
    *path++ = '\0';
    *sp = '\0';
    path[strcspn(path, "?")] = '\0';
    /* headers: only Last-Event-ID matters here */
    for (line = end + 2; *line != '\r' && *line != '\0'; line = end + 2) {
        end = strstr(line, "\r\n");
        if (strncasecmp(line, "Last-Event-ID:", 14) == 0) {
            last_id = line + 14;
            while (*last_id == ' ' || *last_id == '\t') {
                last_id++;
            }
            last_len = (size_t)(end - last_id);
            while (last_len > 0 &&
                   (last_id[last_len - 1] == ' ' || last_id[last_len - 1] == '\t')) {
                last_len--;
            }
        }
    }
    if (strcmp(c->in, "GET") != 0) {
        respond(c, "405 Method Not Allowed", "text/plain", "only GET\n");
    } else if (strcmp(path, "/") == 0) {
        respond(c, "200 OK", "text/html; charset=utf-8", page);
    } else if (strcmp(path, "/dates") == 0) {
        start_stream(s, c, last_id, last_len);
    } else {
        respond(c, "404 Not Found", "text/plain", "not found\n");
    }
}

/* Reads what arrived. Returns -1 when the client must be closed. */
static int on_readable(struct server *s, struct client *c)
{
    char sink[512];
    ssize_t r;

    if (c->state != READING) { /* nothing more is expected: watch for EOF, drop the rest */
        r = read(c->fd, sink, sizeof sink);
        return r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) ? -1 : 0;
    }
    r = read(c->fd, c->in + c->in_len, REQUEST_CAP - 1 - c->in_len);
    if (r <= 0) {
        return r == 0 || (errno != EAGAIN && errno != EINTR) ? -1 : 0;
    }
    c->in_len += (size_t)r;
    c->in[c->in_len] = '\0';
    if (strstr(c->in, "\r\n\r\n") != NULL) {
        route(s, c);
    } else if (c->in_len == REQUEST_CAP - 1) {
        respond(c, "431 Request Header Fields Too Large", "text/plain", "too large\n");
    } else {
        return 0;
    }
    free(c->in);
    c->in = NULL;
    return flush(s, c);
}

/* ---- connections -------------------------------------------------------------------- */

static void sweep(struct server *s)
{
    size_t i;
    for (i = s->n; i-- > 0;) {
        struct client *c = s->c[i];
        if (c->dead) {
            if (c->dead == RESET) { /* drop the queued bytes now: no lingering orphan */
                struct linger lg = { 1, 0 };
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            close(c->fd);
            free(c->in);
            free(c);
            s->c[i] = s->c[--s->n];
            s->paused = 0;
        }
    }
}

static void accept_all(struct server *s, int lfd)
{
    for (;;) {
        int one = 1, fd = accept(lfd, NULL, NULL);
        struct client *c;
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                fprintf(stderr, "sse_server: accept: %s\n", strerror(errno));
                s->paused = 1;
            }
            return;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        if (c != NULL) {
            c->in = malloc(REQUEST_CAP);
        }
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 64;
            struct client **grown = realloc(s->c, cap * sizeof *grown);
            if (grown != NULL) {
                s->c = grown;
                s->cap = cap;
            }
        }
        if (c == NULL || c->in == NULL || s->n == s->cap) {
            if (c != NULL) {
                free(c->in);
            }
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        s->c[s->n++] = c;
    }
}

/* Adds the frames that fell due and sends them. A client whose backlog exceeds max_lag
 * frames after the write (the whole ring while it replays) is disconnected: it slows
 * nobody down and resumes with Last-Event-ID. */
static void broadcast(struct server *s, int64_t now)
{
    uint64_t due = tick_at(s, now);
    size_t i;

    if (due - s->newest > s->history) { /* clock jumped: skip what no ring can hold */
        s->newest = due - s->history;
    }
    while (s->newest < due) {
        make_frame(s, ++s->newest);
    }
    for (i = 0; i < s->n; i++) {
        struct client *c = s->c[i];
        if (c->state != STREAMING) {
            continue;
        }
        if (s->newest + 1 - c->next > s->history) {
            c->dead = RESET; /* its next frame left the ring */
        } else if (flush(s, c) < 0) {
            c->dead = 1;
        } else if (c->next >= c->live_from && s->newest + 1 - c->next > s->max_lag) {
            fprintf(stderr, "sse_server: client %d is %llu events behind, disconnecting\n", c->fd,
                    (unsigned long long)(s->newest + 1 - c->next));
            c->dead = RESET;
        }
    }
    s->last_send_ms = now;
}

static void keep_alive(struct server *s, int64_t now)
{
    static const char comment[] = "keep-alive";
    char frame[32];
    size_t len, i;
    sse_frame f = { 0 };

    f.comment = comment;
    f.comment_len = sizeof comment - 1;
    sse_encode(frame, sizeof frame, &f, &len); /* ": keep-alive\n", encoded once */
    for (i = 0; i < s->n; i++) {
        struct client *c = s->c[i];
        if (c->state == STREAMING && !has_output(s, c)) {
            memcpy(c->head, frame, len);
            c->head_len = len;
            c->head_off = 0;
            if (flush(s, c) < 0) {
                c->dead = 1;
            }
        }
    }
    s->last_send_ms = now;
}

static int listen_on(unsigned port)
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
        fprintf(stderr, "sse_server: port %u: %s\n", port, strerror(errno));
        exit(1);
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    printf("listening on http://127.0.0.1:%u/\n", (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    return fd;
}

static unsigned arg(int argc, char **argv, int *i, unsigned min, unsigned max)
{
    char *end;
    unsigned long v = *i + 1 < argc ? strtoul(argv[*i + 1], &end, 10) : 0;
    if (*i + 1 >= argc || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "sse_server: %s needs a number from %u to %u\n", argv[*i], min, max);
        exit(2);
    }
    ++*i;
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    struct server s;
    struct sigaction sa;
    struct rlimit rl;
    struct pollfd *pfd = NULL;
    size_t npfd = 0, i;
    unsigned port = 8080, retry_ms = 1000;
    sse_frame rf = { 0 };
    int lfd, a;
    uint64_t id;

    memset(&s, 0, sizeof s);
    s.interval_ms = 1000;
    s.history = 64;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--port") == 0) {
            port = arg(argc, argv, &a, 0, 65535);
        } else if (strcmp(argv[a], "--interval-ms") == 0) {
            s.interval_ms = arg(argc, argv, &a, 1, 3600000);
        } else if (strcmp(argv[a], "--history") == 0) {
            s.history = arg(argc, argv, &a, 2, 1000000);
        } else if (strcmp(argv[a], "--retry-ms") == 0) {
            retry_ms = arg(argc, argv, &a, 0, 3600000);
        } else {
            fprintf(stderr, "usage: sse_server [--port P] [--interval-ms MS] [--history N] "
                            "[--retry-ms MS]\n");
            return 2;
        }
    }
    s.max_lag = s.history / 2;

    /* One fd per client: allow as many as the hard limit does. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an EPIPE from writev, not a signal */

    rf.has_retry = 1;
    rf.retry = retry_ms;
    sse_encode(s.retry, sizeof s.retry, &rf, &s.retry_len); /* "retry: N\n\n" */

    /* Rebuild the ring from the clock: the last `history` ticks, as a previous run sent. */
    s.ring = malloc(s.history * sizeof *s.ring);
    if (s.ring == NULL) {
        return 1;
    }
    s.last_send_ms = now_ms();
    s.newest = tick_at(&s, s.last_send_ms);
    if (s.newest < s.history) {
        s.newest = s.history; /* only with a huge interval: ids start above the ring */
    }
    for (id = s.newest + 1 - s.history; id <= s.newest; id++) {
        make_frame(&s, id);
    }
    lfd = listen_on(port);

    while (!stop) {
        int64_t now = now_ms(), next_tick, timeout;
        size_t n = 0;

        if (tick_at(&s, now) > s.newest) {
            broadcast(&s, now);
        } else if (now - s.last_send_ms >= KEEPALIVE_MS) {
            keep_alive(&s, now);
        }
        sweep(&s);
        next_tick = EPOCH_MS + (int64_t)((s.newest + 1) * s.interval_ms);
        timeout = next_tick - now;
        if (s.last_send_ms + KEEPALIVE_MS - now < timeout) {
            timeout = s.last_send_ms + KEEPALIVE_MS - now;
        }
        timeout = timeout < 0 ? 0 : timeout > 1000 ? 1000 : timeout;

        if (npfd < s.n + 1) {
            npfd = 2 * (s.n + 1);
            free(pfd);
            pfd = malloc(npfd * sizeof *pfd);
            if (pfd == NULL) {
                return 1;
            }
        }
        pfd[n].fd = s.paused ? -1 : lfd; /* poll ignores a negative fd */
        pfd[n++].events = POLLIN;
        for (i = 0; i < s.n; i++) {
            pfd[n].fd = s.c[i]->fd;
            pfd[n++].events = (short)(POLLIN | (has_output(&s, s.c[i]) ? POLLOUT : 0));
        }
        if (poll(pfd, (nfds_t)n, (int)timeout) < 0) {
            continue; /* EINTR: a signal, or time to tick */
        }
        for (i = 0; i < s.n; i++) { /* pfd[i + 1] belongs to s.c[i] */
            struct client *c = s.c[i];
            short re = pfd[i + 1].revents;
            if (((re & (POLLIN | POLLHUP | POLLERR)) && on_readable(&s, c) < 0) ||
                ((re & POLLOUT) && flush(&s, c) < 0)) {
                c->dead = 1;
            }
        }
        sweep(&s);
        if (pfd[0].revents & POLLIN) {
            accept_all(&s, lfd);
        }
    }

    fprintf(stderr, "sse_server: shutting down, closing %zu connections\n", s.n);
    for (i = 0; i < s.n; i++) {
        s.c[i]->dead = 1;
    }
    sweep(&s);
    close(lfd);
    free(s.c);
    free(s.ring);
    free(pfd);
    return 0;
}
