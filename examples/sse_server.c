/*
 * sse_server - a broadcast Server-Sent Events server: POSIX sockets, poll(), one thread,
 * no dependency but sse.
 *
 *   sse_server --port 8080              then open http://127.0.0.1:8080/ in a browser,
 *                                       or: sse_client http://127.0.0.1:8080/dates
 *   options: --port P (0: any free port; the bound one is printed), --interval-ms MS
 *            (default 1000), --history N (frames kept for resume, default 64),
 *            --retry-ms MS (the retry: sent at connection start, default 1000),
 *            --keepalive-ms MS (": keep-alive" after that long without a frame, default
 *            15000), and the limits of server_limits.h: --idle-timeout-ms (5000),
 *            --head-timeout-ms (10000), --max-conns (10000)
 *   It prints "listening on http://127.0.0.1:PORT/" and stops cleanly on SIGINT/SIGTERM.
 *
 * What it shows
 *   GET /       a demo page: EventSource('/dates?tag=T') showing the events live, the
 *               connection's state, events per second, and a "drop my connection" button.
 *   GET /drop?tag=T  closes the stream opened as /dates?tag=T (T: 1-32 characters, random
 *               per page): the browser reconnects and resumes with Last-Event-ID.
 *   GET /dates  the stream: SSE_HTTP_HEADERS, a "retry:" frame, then one event per interval
 *               (data: the tick's UTC date, id: the tick number) and ": keep-alive" after
 *               --keepalive-ms without any frame.
 *   Limits      server_limits.h: a connection silent for --idle-timeout-ms is closed, one
 *               whose head is not complete after --head-timeout-ms gets 408, a head with a
 *               NUL, bare CR or bare LF gets 400, one over 4 KiB 431, connections over
 *               --max-conns (or beyond the descriptors) 503. A plain response not taken
 *               by the peer within --head-timeout-ms is reset. Each poll round reads at
 *               most 4 KiB per connection and writes at most what its socket takes.
 *   Broadcast   every frame is encoded once (sse_encode) into a ring of the last N frames.
 *               A client is only a position in that ring (next frame, bytes of it sent):
 *               writev() sends it the ring's bytes, nothing is copied or encoded per client.
 *   Slow client the ring is the only per-client output queue (with a kernel send buffer
 *               capped by SO_SNDBUF), so it is bounded; a client more than N/2 frames
 *               behind (N while it still replays missed frames) is disconnected with a
 *               reset (its queued bytes are dropped at once), the others never wait for
 *               it; it comes back with Last-Event-ID, usually still inside the ring.
 *
 * Ids, frames, the ring, the resume rules (Last-Event-ID; a "gap" event when it is older
 * than the ring) and the demo page are the feed all example servers share: dates_feed.h.
 * This file is the transport: sockets, poll(), HTTP/1.1.
 */
#define _POSIX_C_SOURCE 200809L

#include "dates_feed.h"
#include "server_limits.h"

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
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define REQUEST_CAP 4096 /* larger request headers get 431 */
#define HEAD_CAP    512  /* per-client bytes: response headers, retry, gap, keep-alive */
#define IOV_BATCH   64
#define SNDBUF      32768 /* kernel send buffer per stream (Linux doubles it) */

static const char page[] = FEED_PAGE("", "");

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
    char tag[33];       /* STREAMING: T of /dates?tag=T, for /drop; "" when none */
    int64_t born;       /* accept time, limits_now_ms() */
    int64_t deadline;   /* READING, RESPONDING: closed at this time (limits_now_ms) */
};

struct server {
    struct feed feed; /* options, ring, retry and keep-alive frames */
    struct limits lim;
    unsigned max_lag;
    int64_t last_send_ms;
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

/* ---- output ------------------------------------------------------------------------- */

static int has_output(const struct server *s, const struct client *c)
{
    return c->head_off < c->head_len || c->body_off < c->body_len ||
           (c->state == STREAMING && c->next <= s->feed.newest);
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
        size_t rest = feed_frame_of(&s->feed, c->next)->len - c->next_off;
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
        for (id = c->next; c->state == STREAMING && id <= s->feed.newest && n < IOV_BATCH; id++) {
            const struct feed_frame *fr = feed_frame_of(&s->feed, id);
            size_t off = id == c->next ? c->next_off : 0;
            iov[n].iov_base = (void *)(fr->bytes + off);
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

static void respond(struct server *s, struct client *c, const char *status, const char *type,
                    const char *body)
{
    c->state = RESPONDING;
    c->deadline = limits_now_ms() + s->lim.head_ms; /* a peer that never reads is reset */
    c->body = body;
    c->body_len = strlen(body);
    c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                   "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                                   "Connection: close\r\n\r\n",
                                   status, type, c->body_len);
}

/* Makes c an event stream: the head, the retry frame, then where Last-Event-ID says. */
static void start_stream(struct server *s, struct client *c, int has_last, uint64_t last)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n" SSE_HTTP_HEADERS "\r\n";
    int sndbuf = SNDBUF;

    /* The kernel's send buffer is a per-client queue too, and Linux lets it grow to
     * megabytes: a client would stall for minutes before its lag showed. Cap it. */
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    c->state = STREAMING;
    memcpy(c->head, head, sizeof head - 1);
    c->head_len = sizeof head - 1;
    c->live_from = s->feed.newest + 1;
    c->next = feed_resume(&s->feed, s->feed.newest, has_last, last, c->head, sizeof c->head,
                          &c->head_len);
}

/* GET /drop?tag=T: closes the streams opened as /dates?tag=T (the demo page's button). */
static void drop(struct server *s, struct client *c, const char *tag)
{
    size_t i, n = 0;
    for (i = 0; *tag != '\0' && i < s->n; i++) {
        if (s->c[i]->state == STREAMING && strcmp(s->c[i]->tag, tag) == 0) {
            s->c[i]->dead = 1;
            n++;
        }
    }
    respond(s, c, n ? "200 OK" : "404 Not Found", "text/plain", n ? "dropped\n" : "no such stream\n");
}

/* Handles a complete request in c->in. */
static void route(struct server *s, struct client *c)
{
    char *line = c->in, *end, *path, *sp, *query;
    const char *last_id = NULL, *tag;
    size_t last_len = 0;
    uint64_t last = 0;
    int has_last;

    end = strstr(line, "\r\n");
    *end = '\0';
    path = strchr(line, ' ');
    sp = path ? strchr(path + 1, ' ') : NULL;
    if (path == NULL || sp == NULL) {
        respond(s, c, "400 Bad Request", "text/plain", "bad request\n");
        return;
    }
    *path++ = '\0';
    *sp = '\0';
    query = strchr(path, '?');
    if (query != NULL) {
        *query++ = '\0';
    }
    tag = query != NULL && strncmp(query, "tag=", 4) == 0 && strlen(query + 4) < sizeof c->tag
              ? query + 4
              : ""; /* none, or too long to be one */
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
    has_last = last_id != NULL && feed_last_id(last_id, last_len, &last);
    if (strcmp(c->in, "GET") != 0) {
        respond(s, c, "405 Method Not Allowed", "text/plain", "only GET\n");
    } else if (strcmp(path, "/") == 0) {
        respond(s, c, "200 OK", "text/html; charset=utf-8", page);
    } else if (strcmp(path, "/dates") == 0) {
        strcpy(c->tag, tag);
        start_stream(s, c, has_last, last);
    } else if (strcmp(path, "/drop") == 0) {
        drop(s, c, tag);
    } else {
        respond(s, c, "404 Not Found", "text/plain", "not found\n");
    }
}

/* Reads what arrived: one read per poll round. Returns -1 when the client must be closed. */
static int on_readable(struct server *s, struct client *c)
{
    enum limits_head h;

    if (c->state != READING) { /* nothing more is expected: watch for EOF, drop the rest */
        return limits_discard(c->fd);
    }
    h = limits_read_head(c->fd, c->in, &c->in_len, REQUEST_CAP);
    c->deadline = limits_deadline(&s->lim, c->born, c->in_len > 0);
    if (h == LIMITS_HEAD_GONE) {
        return -1;
    } else if (h == LIMITS_HEAD_BAD) {
        respond(s, c, "400 Bad Request", "text/plain", "malformed request head\n");
    } else if (h == LIMITS_HEAD_DONE) {
        route(s, c);
    } else if (h == LIMITS_HEAD_LARGE) {
        respond(s, c, "431 Request Header Fields Too Large", "text/plain", "too large\n");
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
        int one = 1, fd = limits_accept(&s->lim, lfd, s->n, 1, &s->paused);
        struct client *c;
        if (fd < 0) {
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
        c->born = limits_now_ms();
        c->deadline = limits_deadline(&s->lim, c->born, 0);
        s->c[s->n++] = c;
    }
}

/* Adds the frames that fell due and sends them. A client whose backlog exceeds max_lag
 * frames after the write (the whole ring while it replays) is disconnected: it slows
 * nobody down and resumes with Last-Event-ID. */
static void broadcast(struct server *s, int64_t now)
{
    uint64_t newest;
    size_t i;

    feed_ring_advance(&s->feed, now);
    newest = s->feed.newest;
    for (i = 0; i < s->n; i++) {
        struct client *c = s->c[i];
        if (c->state != STREAMING) {
            continue;
        }
        if (newest + 1 - c->next > s->feed.history) {
            c->dead = RESET; /* its next frame left the ring */
        } else if (flush(s, c) < 0) {
            c->dead = 1;
        } else if (c->next >= c->live_from && newest + 1 - c->next > s->max_lag) {
            fprintf(stderr, "sse_server: client %d is %llu events behind, disconnecting\n", c->fd,
                    (unsigned long long)(newest + 1 - c->next));
            c->dead = RESET;
        }
    }
    s->last_send_ms = now;
}

/* Closes the connections whose deadline passed: silent ones, unfinished heads (408), plain
 * responses the peer does not take. Returns the earliest deadline still ahead (or later). */
static int64_t expire(struct server *s, int64_t mono, int64_t later)
{
    size_t i;
    for (i = 0; i < s->n; i++) {
        struct client *c = s->c[i];
        if (c->dead || c->state == STREAMING) {
            continue;
        }
        if (mono < c->deadline) {
            later = c->deadline < later ? c->deadline : later;
        } else if (c->state == RESPONDING) {
            c->dead = RESET;
        } else if (c->in_len == 0) {
            c->dead = 1; /* said nothing: nobody to answer */
        } else {
            respond(s, c, "408 Request Timeout", "text/plain", "request head too slow\n");
            free(c->in);
            c->in = NULL;
            c->deadline = mono; /* one try: the next round resets it if still unsent */
            if (flush(s, c) < 0) {
                c->dead = 1;
            }
        }
    }
    return later;
}

static void keep_alive(struct server *s, int64_t now)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        struct client *c = s->c[i];
        if (c->state == STREAMING && !has_output(s, c)) {
            memcpy(c->head, s->feed.keepalive, s->feed.keepalive_len);
            c->head_len = s->feed.keepalive_len;
            c->head_off = 0;
            if (flush(s, c) < 0) {
                c->dead = 1;
            }
        }
    }
    s->last_send_ms = now;
}

int main(int argc, char **argv)
{
    struct server s;
    struct sigaction sa;
    struct pollfd *pfd = NULL;
    size_t npfd = 0, i;
    unsigned port = 8080;
    int lfd, a;

    memset(&s, 0, sizeof s);
    feed_defaults(&s.feed, "sse_server");
    limits_defaults(&s.lim, "sse_server");
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--port") == 0) {
            port = limits_number("sse_server", argc, argv, &a, 0, 65535);
        } else if (!feed_option(&s.feed, argc, argv, &a) &&
                   !limits_option(&s.lim, argc, argv, &a)) {
            fprintf(stderr, "usage: sse_server [--port P] [--interval-ms MS] [--history N] "
                            "[--retry-ms MS] [--keepalive-ms MS] " LIMITS_USAGE "\n");
            return 2;
        }
    }
    s.max_lag = s.feed.history / 2;
    limits_setup(&s.lim); /* one fd per client: as many as the hard limit allows */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an EPIPE from writev, not a signal */

    feed_setup(&s.feed);
    s.last_send_ms = feed_now_ms();
    if (feed_ring_init(&s.feed, s.last_send_ms) < 0) { /* rebuilt from the clock */
        return 1;
    }
    lfd = limits_listen("sse_server", port, "http");

    while (!stop) {
        int64_t now = feed_now_ms(), mono, later, timeout;
        size_t n = 0;

        if (feed_tick_at(&s.feed, now) > s.feed.newest) {
            broadcast(&s, now);
        } else if (now - s.last_send_ms >= s.feed.keepalive_ms) {
            keep_alive(&s, now);
        }
        mono = limits_now_ms();
        later = expire(&s, mono, mono + 1000);
        sweep(&s);
        timeout = feed_next_due(&s.feed, s.feed.newest + 1, s.last_send_ms) - now;
        timeout = timeout > later - mono ? later - mono : timeout;
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
    if (s.lim.spare_fd >= 0) {
        close(s.lim.spare_fd);
    }
    free(s.c);
    free(s.feed.ring);
    free(pfd);
    return 0;
}
