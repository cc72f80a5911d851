/*
 * sse_relay - reads one upstream event stream and re-serves it to many clients: POSIX
 * sockets, poll(), one thread, no dependency but sse. Events of any size pass through in
 * pieces; the relay's memory does not grow with them.
 *
 *   sse_relay --port 8081 http://127.0.0.1:8080/dates
 *   then: sse_client http://127.0.0.1:8081/       (any GET path serves the stream)
 *
 * Options (defaults in brackets)
 *   --port P                0: any free port; the bound one is printed [8081]
 *   --queue-kb K            upstream is read only while every client has less than K KiB
 *                           waiting [256]
 *   --stall-ms MS           a client that holds upstream back this long is cut [10000]
 *   --keepalive-ms MS       ": keep-alive" after MS without output, between events [15000]
 *   --upstream-timeout-ms MS  connect, response head, or silence from upstream [60000]
 *   and the limits every server of this directory enforces (server_limits.h):
 *   --idle-timeout-ms MS    a connection that sends nothing is closed after MS [5000]
 *   --head-timeout-ms MS    the request head must be complete within MS, else 408 [10000]
 *   --max-conns N           connections beyond N get 503 and are closed [10000, lowered to
 *                           what RLIMIT_NOFILE allows]; out of descriptors, a reserve one
 *                           answers 503 too, so accept() never spins
 *   a request head with a NUL, a bare CR or a bare LF gets 400, one over 4 KiB 431, a
 *   method other than GET 405; a plain answer the peer does not take within
 *   --head-timeout-ms is reset. Each poll round reads at most 4 KiB per client.
 * It prints "listening on http://127.0.0.1:PORT/" and stops cleanly on SIGINT/SIGTERM.
 * Exit status: 0 on a signal or when upstream answers 204 (stop), 1 when upstream's
 * answer must not be retried (sse_check_response, sse_status_retryable), 2 on bad usage.
 *
 * The path of a record (parser in piece mode, 4 KiB of storage; types and ids up to 255
 * bytes): FIRST piece -> sse_writer_begin; each piece -> sse_writer_data; LAST ->
 * sse_writer_fields (the type and id, final only now) and sse_writer_end; a retry or
 * comment inside an event -> sse_writer_fields, outside -> sse_encode; an id-only block
 * (SSE_OPT_ID_RECORDS) -> sse_encode of the id. Each record is encoded once into one
 * output buffer that every client reads from its own offset; upstream is read only
 * while every client is less than --queue-kb behind, so a slow client slows upstream
 * down for at most --stall-ms, then it is cut (reset) and the others go on.
 *
 * An event cut off after some of its pieces went out (upstream closed or timed out in
 * the middle of it, or its type or id was too long and the parser dropped it): pieces
 * cannot be recalled, and ending the frame would deliver a wrong event. So every client
 * that received a piece of it is sent the bytes before the cut and then closed without
 * the frame's end: its EventSource discards the partial event, exactly as upstream's own
 * clients would, and reconnects with Last-Event-ID. A client that connects while an
 * event is in flight is held (no response yet) until that event ends, so nobody starts
 * in the middle of one.
 *
 * Joining and resuming: there is no history. A new client first gets the relay's retry
 * (if upstream sent one) and the last event ID (an id-only block), so it resumes from
 * the right place if it reconnects. A client whose Last-Event-ID differs from the
 * relay's gets one event of type "gap" whose data is the id it sent: events after it may
 * be missing.
 *
 * Upstream is read as sse_client reads it (http_client.h, shared with it): a strict
 * "HTTP/1.x NNN" status line, interim 1xx heads skipped, Content-Type and Content-Length
 * singletons, Transfer-Encoding exactly "chunked" or absent, the body cut at its
 * Content-Length. A head that breaks these rules is final (exit 1), like a bad status; a
 * bad chunk byte ends the connection after the events decoded before it are relayed, and
 * the relay reconnects. No redirects: give the relay the final URL. The poll loop and
 * slow-client reset follow sse_server.c.
 */
#define _POSIX_C_SOURCE 200809L

#include "http_client.h"
#include "server_limits.h"
#include "sse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STORAGE_CAP    4096  /* parser storage: types and ids up to 255 bytes */
#define READ_CAP       16384 /* upstream bytes per read (and per feed) */
#define UP_HEAD_CAP    16384 /* upstream response head */
#define REQUEST_CAP    4096  /* client request head; larger gets 431 */
#define HEAD_CAP       1024  /* per client: response head, retry, id, gap notice */
#define MAX_BACKOFF_MS 30000
#define SNDBUF         131072 /* kernel send buffer per client (Linux doubles it); 32 KiB,
                                 below two 64 KiB loopback segments, took 8.2 s instead
                                 of 0.01 s for 16 MB */

enum cstate {
    READING,    /* request head arriving */
    WAITING,    /* accepted, held until the event in flight ends */
    STREAMING,  /* reading the output buffer */
    CLOSING,    /* sending up to end, then closed */
    RESPONDING  /* an error status: head, then closed */
};
#define RESET 2

struct client {
    int fd;
    enum cstate state;
    int dead;                   /* to be closed: 1, or RESET */
    int64_t born;               /* accept time, limits_now_ms() */
    int64_t deadline;           /* READING, RESPONDING: closed at this time */
    int64_t since;              /* STREAMING, CLOSING: when it began holding upstream */
    char in[REQUEST_CAP];
    size_t in_len;
    const char *last_id;        /* WAITING: its Last-Event-ID (in `in`), or NULL */
    size_t last_id_len;
    char head[HEAD_CAP];
    size_t head_len, head_off;
    size_t pos, end;            /* next output byte to send; CLOSING: where to stop */
};

enum ustate {
    U_IDLE,       /* waiting to reconnect at u_at */
    U_CONNECTING, /* non-blocking connect */
    U_HEAD,       /* request sent, reading the response head */
    U_BODY,
    U_STOPPED     /* 204 or a failure not to retry: clients are served out, then exit */
};

struct relay {
    /* options */
    struct limits lim;      /* --idle-timeout-ms, --head-timeout-ms, --max-conns */
    size_t queue;
    int64_t stall_ms, keepalive_ms, upstream_ms;
    int paused;             /* out of file descriptors: not accepting until a client leaves */
    /* upstream */
    struct url url;
    enum ustate ustate;
    int ufd, exit_status;
    int64_t u_at;           /* U_IDLE: reconnect time; else: deadline of the current wait */
    unsigned failures;
    long events_now;        /* whole events from the current upstream connection */
    struct http_body body;  /* U_BODY: its framing */
    char uhead[UP_HEAD_CAP];
    size_t uhead_len;
    sse_parser parser;
    char storage[STORAGE_CAP];
    sse_writer writer;
    int frame_open;         /* an event's pieces are going out */
    int has_retry;          /* upstream sent a retry: passed on to new clients */
    /* output: every client reads from its own offset */
    char *out;
    size_t out_len, out_cap;
    int64_t last_out_ms;
    /* clients */
    struct client **c;
    size_t n, cap;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- output buffer ------------------------------------------------------------------ */

/* Room for need more bytes at the end of the output, or NULL when memory runs out. */
static char *reserve(struct relay *r, size_t need)
{
    if (need > r->out_cap - r->out_len) {
        size_t cap = r->out_cap ? r->out_cap : 65536;
        char *grown;
        while (cap - r->out_len < need) {
            cap *= 2;
        }
        grown = realloc(r->out, cap);
        if (grown == NULL) {
            return NULL;
        }
        r->out = grown;
        r->out_cap = cap;
    }
    return r->out + r->out_len;
}

/* Every client that received a piece of the open frame gets the bytes written so far and
 * is then closed without the frame's end: its parser discards the partial event. */
static void cut_frame(struct relay *r, const char *why)
{
    size_t i, cut = 0;
    for (i = 0; i < r->n; i++) {
        struct client *c = r->c[i];
        if (c->state == STREAMING) {
            c->state = CLOSING;
            c->end = r->out_len;
            cut++;
        }
    }
    fprintf(stderr, "sse_relay: event cut off (%s): %zu clients closed, they reconnect\n", why,
            cut);
    memset(&r->writer, 0, sizeof r->writer); /* no frame open: ready for begin */
    r->frame_open = 0;
}

/* ---- upstream records -> output ----------------------------------------------------- */

static int on_record(void *user, const sse_event *ev)
{
    struct relay *r = user;
    sse_frame f = { 0 };
    size_t len = 0;
    char *dst;
    sse_error err = SSE_OK;

    if (ev->kind == SSE_KIND_DROPPED) {
        fprintf(stderr, "sse_relay: upstream item dropped: %s\n", sse_strerror(ev->error));
        if ((ev->flags & SSE_FLAG_LAST) && r->frame_open) {
            cut_frame(r, sse_strerror(ev->error));
        }
        return 0;
    }
    if (ev->kind == SSE_KIND_EVENT && !(ev->flags & SSE_FLAG_FIRST) && !r->frame_open) {
        return 0; /* the rest of an event already cut off (out of memory) */
    }
    if (ev->kind == SSE_KIND_EVENT && (ev->flags & SSE_FLAG_LAST)) {
        if (strcmp(ev->type, "message") != 0) { /* "message" is what no type means */
            f.type = ev->type;
            f.type_len = ev->type_len;
        }
        if (ev->flags & SSE_FLAG_HAS_ID) {
            f.id = ev->id;
            f.id_len = ev->id_len;
        }
    } else if (ev->kind == SSE_KIND_RETRY) {
        f.has_retry = 1;
        f.retry = ev->retry;
        r->has_retry = 1;
    } else if (ev->kind == SSE_KIND_COMMENT) {
        f.comment = ev->data;
        f.comment_len = ev->data_len;
    } else if (ev->kind == SSE_KIND_ID) {
        f.id = ev->id;
        f.id_len = ev->id_len;
    }
    /* Up to four calls below (begin, data, fields, end), each within one bound. */
    dst = reserve(r, 4 * SSE_FRAME_MAX(f.comment_len, f.type_len, f.id_len, ev->data_len));
    if (dst == NULL) {
        fprintf(stderr, "sse_relay: out of memory\n");
        if (r->frame_open) {
            cut_frame(r, "out of memory");
        }
        return 0;
    }
    if (ev->kind != SSE_KIND_EVENT) {
        err = r->frame_open ? sse_writer_fields(&r->writer, &f, dst, r->out_cap - r->out_len, &len)
                            : sse_encode(dst, r->out_cap - r->out_len, &f, &len);
    } else {
        size_t part = 0;
        if (ev->flags & SSE_FLAG_FIRST) {
            sse_frame none = { 0 };
            err = sse_writer_begin(&r->writer, &none, dst, r->out_cap - r->out_len, &part);
            r->frame_open = err == SSE_OK;
            len += part;
        }
        if (err == SSE_OK) {
            err = sse_writer_data(&r->writer, ev->data, ev->data_len, dst + len,
                                  r->out_cap - r->out_len - len, &part);
            len += part;
        }
        if (err == SSE_OK && (ev->flags & SSE_FLAG_LAST)) {
            err = sse_writer_fields(&r->writer, &f, dst + len, r->out_cap - r->out_len - len,
                                    &part);
            len += part;
            if (err == SSE_OK) {
                err = sse_writer_end(&r->writer, dst + len, r->out_cap - r->out_len - len, &part);
                len += part;
                r->frame_open = 0;
                r->events_now++;
            }
        }
    }
    if (err != SSE_OK) { /* an id with NUL never reaches us: the parser ignores it */
        fprintf(stderr, "sse_relay: cannot write a record: %s\n", sse_strerror(err));
        if (r->frame_open) {
            cut_frame(r, sse_strerror(err));
        }
        return 0;
    }
    r->out_len += len;
    return 0;
}

/* ---- clients -------------------------------------------------------------------------- */

static size_t out_end(const struct relay *r, const struct client *c)
{
    return c->state == CLOSING ? c->end : c->state == STREAMING ? r->out_len : 0;
}

static int has_output(const struct relay *r, const struct client *c)
{
    return c->head_off < c->head_len || c->pos < out_end(r, c);
}

/* Writes what the socket takes: the client's own head bytes, then the shared output.
 * Returns -1 when the client must be closed (error, or everything it is owed was sent
 * by a CLOSING or RESPONDING client). */
static int flush(struct relay *r, struct client *c)
{
    while (has_output(r, c)) {
        int own = c->head_off < c->head_len;
        const char *from = own ? c->head + c->head_off : r->out + c->pos;
        size_t len = own ? c->head_len - c->head_off : out_end(r, c) - c->pos;
        ssize_t w = write(c->fd, from, len);
        if (w < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        }
        if (own) {
            c->head_off += (size_t)w;
        } else {
            c->pos += (size_t)w;
        }
        if ((size_t)w < len) {
            return 0; /* socket full: poll tells when to go on */
        }
    }
    return c->state == CLOSING || c->state == RESPONDING ? -1 : 0;
}

static void respond(struct relay *r, struct client *c, const char *status)
{
    c->state = RESPONDING;
    c->deadline = limits_now_ms() + r->lim.head_ms; /* a peer that never reads is reset */
    c->head_len = (size_t)snprintf(c->head, sizeof c->head,
                                   "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: "
                                   "%zu\r\nConnection: close\r\n\r\n%s\n",
                                   status, strlen(status) + 1, status);
    c->head_off = 0;
}

/* A WAITING client starts at a frame boundary: the head, then retry and last event ID
 * (and a "gap" event when its Last-Event-ID is not the relay's), then live output. */
static void start_stream(struct relay *r, struct client *c)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n" SSE_HTTP_HEADERS "\r\n";
    size_t id_len, len = 0;
    const char *id = sse_parser_last_id(&r->parser, &id_len);
    sse_frame f = { 0 };
    sse_error err;
    int sndbuf = SNDBUF;

    /* The kernel's send buffer is a per-client queue too, and Linux lets it grow to
     * megabytes: a client would stall for minutes before its lag showed. Cap it. */
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    memcpy(c->head, head, sizeof head - 1);
    c->head_len = sizeof head - 1;
    f.has_retry = r->has_retry;
    f.retry = sse_parser_retry(&r->parser);
    if (c->last_id == NULL ? id_len > 0
                           : c->last_id_len != id_len || memcmp(c->last_id, id, id_len) != 0) {
        f.id = id; /* the relay's last event ID, "" included, when the client's differs */
        f.id_len = id_len;
    }
    if (c->last_id != NULL && f.id != NULL) {
        f.type = "gap";
        f.type_len = 3;
        f.data = c->last_id; /* events after this id may be missing */
        f.data_len = c->last_id_len;
    }
    /* The id and Last-Event-ID hold at most STORAGE_CAP / 16 - 1 and REQUEST_CAP bytes:
     * SSE_FRAME_MAX of those can exceed HEAD_CAP, so a refusal is answered, not ignored. */
    err = sse_encode(c->head + c->head_len, sizeof c->head - c->head_len, &f, &len);
    if (err != SSE_OK) {
        respond(r, c, "431 Request Header Fields Too Large");
        return;
    }
    c->head_len += len;
    c->head_off = 0;
    c->state = STREAMING;
    c->pos = r->out_len;
    c->since = 0;
}

/* Handles a complete request head in c->in (NUL-terminated). */
static void route(struct relay *r, struct client *c)
{
    char *line = c->in, *end = strstr(line, "\r\n");

    if (strncmp(line, "GET ", 4) != 0) {
        respond(r, c, "405 Method Not Allowed");
        return;
    }
    for (line = end + 2; *line != '\r' && *line != '\0'; line = end + 2) {
        end = strstr(line, "\r\n");
        if (strncasecmp(line, "Last-Event-ID:", 14) == 0) {
            const char *v = line + 14;
            size_t len;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            len = (size_t)(end - v);
            while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
                len--;
            }
            c->last_id = v;
            c->last_id_len = len;
        }
    }
    c->state = WAITING; /* started by the main loop when no event is in flight */
}

/* Reads what arrived: one read per poll round. Returns -1 when the client must be closed. */
static int on_readable(struct relay *r, struct client *c)
{
    enum limits_head h;

    if (c->state != READING) { /* nothing more is expected: watch for EOF, drop the rest */
        return limits_discard(c->fd);
    }
    h = limits_read_head(c->fd, c->in, &c->in_len, sizeof c->in);
    c->deadline = limits_deadline(&r->lim, c->born, c->in_len > 0);
    if (h == LIMITS_HEAD_GONE) {
        return -1;
    } else if (h == LIMITS_HEAD_BAD) {
        respond(r, c, "400 Bad Request");
    } else if (h == LIMITS_HEAD_DONE) {
        route(r, c);
    } else if (h == LIMITS_HEAD_LARGE) {
        respond(r, c, "431 Request Header Fields Too Large");
    }
    return 0;
}

static void sweep(struct relay *r)
{
    size_t i;
    for (i = r->n; i-- > 0;) {
        struct client *c = r->c[i];
        if (c->dead) {
            if (c->dead == RESET) { /* drop the queued bytes now: no lingering orphan */
                struct linger lg = { 1, 0 };
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            close(c->fd);
            free(c);
            r->c[i] = r->c[--r->n];
            r->paused = 0;
        }
    }
}

static void accept_all(struct relay *r, int lfd, int64_t now)
{
    for (;;) {
        int one = 1, fd = limits_accept(&r->lim, lfd, r->n, 1, &r->paused);
        struct client *c;
        if (fd < 0) {
            return;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (r->n == r->cap) {
            size_t cap = r->cap ? 2 * r->cap : 64;
            struct client **grown = realloc(r->c, cap * sizeof *grown);
            if (grown != NULL) {
                r->c = grown;
                r->cap = cap;
            }
        }
        c = r->n < r->cap ? calloc(1, sizeof *c) : NULL;
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->born = now;
        c->deadline = limits_deadline(&r->lim, now, 0);
        r->c[r->n++] = c;
    }
}

/* Output every client has sent is dropped; returns the bytes the furthest-behind
 * STREAMING client still has to take. */
static size_t compact(struct relay *r)
{
    size_t i, low = r->out_len;
    for (i = 0; i < r->n; i++) {
        const struct client *c = r->c[i];
        if ((c->state == STREAMING || c->state == CLOSING) && c->pos < low) {
            low = c->pos;
        }
    }
    if (low > 0) {
        memmove(r->out, r->out + low, r->out_len - low);
        r->out_len -= low;
        for (i = 0; i < r->n; i++) {
            struct client *c = r->c[i];
            if (c->state == STREAMING || c->state == CLOSING) {
                c->pos -= low;
                c->end = c->end > low ? c->end - low : 0;
            }
        }
    }
    low = 0;
    for (i = 0; i < r->n; i++) {
        const struct client *c = r->c[i];
        if (c->state == STREAMING && r->out_len - c->pos > low) {
            low = r->out_len - c->pos;
        }
    }
    return low;
}

/* Deadlines: idle before the request, request head (408), plain answers the peer does not
 * take, slow readers; keep-alive. Returns the earliest of them still ahead (or later). */
static int64_t timers(struct relay *r, int64_t now, int64_t later)
{
    size_t i;
    for (i = 0; i < r->n; i++) {
        struct client *c = r->c[i];
        if (c->dead) {
            continue;
        }
        if ((c->state == READING || c->state == RESPONDING) && now < c->deadline) {
            later = c->deadline < later ? c->deadline : later;
        } else if (c->state == RESPONDING) {
            c->dead = RESET;
        } else if (c->state == READING && c->in_len == 0) {
            c->dead = 1; /* never said anything: just close */
        } else if (c->state == READING) {
            respond(r, c, "408 Request Timeout");
        } else if (c->state == STREAMING || c->state == CLOSING) {
            /* stalled: holding upstream back, or owed its last bytes before the close */
            size_t owed = out_end(r, c) - c->pos + c->head_len - c->head_off;
            if (owed == 0 || (c->state == STREAMING && owed < r->queue)) {
                c->since = 0;
            } else if (c->since == 0) {
                c->since = now;
            } else if (now - c->since >= r->stall_ms) {
                fprintf(stderr, "sse_relay: client %d stalled for %lld ms, %zu bytes behind: "
                                "cut off\n",
                        c->fd, (long long)(now - c->since), owed);
                c->dead = RESET;
            }
        }
    }
    if (!r->frame_open && now - r->last_out_ms >= r->keepalive_ms) {
        sse_frame f = { 0 };
        size_t len;
        char *dst;
        SSE_FIELD_STR(f.comment, "keep-alive");
        dst = reserve(r, SSE_FRAME_MAX(f.comment_len, 0, 0, 0));
        if (dst != NULL && sse_encode(dst, r->out_cap - r->out_len, &f, &len) == SSE_OK) {
            r->out_len += len;
        }
        r->last_out_ms = now;
    }
    if (!r->frame_open && r->last_out_ms + r->keepalive_ms < later) {
        later = r->last_out_ms + r->keepalive_ms; /* none inside an event: no wake-up either */
    }
    return later;
}

/* ---- upstream ------------------------------------------------------------------------- */

/* The connection ended or failed: an event in flight is cut, and the next attempt is
 * scheduled with back-off (sse_reconnect_delay, jittered). */
static void upstream_retry(struct relay *r, int64_t now, const char *why)
{
    uint64_t delay;

    if (r->ufd >= 0) {
        close(r->ufd);
        r->ufd = -1;
    }
    if (r->ustate == U_BODY) {
        sse_parser_finish(&r->parser, on_record, r); /* keeps last event ID and retry */
        if (r->frame_open) {
            cut_frame(r, "upstream ended inside an event");
        }
    }
    r->failures = r->events_now > 0 ? 0 : r->failures + 1;
    r->events_now = 0;
    delay = sse_reconnect_delay(&r->parser, r->failures, MAX_BACKOFF_MS,
                                ((uint32_t)rand() << 16) ^ (uint32_t)rand());
    fprintf(stderr, "sse_relay: upstream: %s; reconnecting in %llu ms\n", why,
            (unsigned long long)delay);
    r->ustate = U_IDLE;
    r->u_at = now + (int64_t)delay;
}

/* Upstream said stop (204) or failed for good: no more upstream; clients get what they
 * are owed, then the relay exits with status. */
static void upstream_stop(struct relay *r, int status, const char *why)
{
    size_t i;

    fprintf(stderr, "sse_relay: upstream: %s, not retrying\n", why);
    if (r->ufd >= 0) {
        close(r->ufd);
        r->ufd = -1;
    }
    r->ustate = U_STOPPED;
    r->exit_status = status;
    for (i = 0; i < r->n; i++) {
        struct client *c = r->c[i];
        if (c->state == STREAMING) {
            c->state = CLOSING;
            c->end = r->out_len;
        } else if (c->state != CLOSING) {
            c->dead = 1;
        }
    }
}

static void upstream_connect(struct relay *r, int64_t now)
{
    struct addrinfo hints, *res;
    int fd = -1, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(r->url.host, r->url.port, &hints, &res); /* blocks: use an IP or a
                                                                   fast resolver */
    if (rc != 0) {
        upstream_retry(r, now, gai_strerror(rc));
        return;
    }
    fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ||
        (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        rc = errno;
        freeaddrinfo(res);
        if (fd >= 0) {
            close(fd);
        }
        upstream_retry(r, now, strerror(rc));
        return;
    }
    freeaddrinfo(res);
    r->ufd = fd;
    r->ustate = U_CONNECTING;
    r->u_at = now + r->upstream_ms;
}

/* Connected (or failed): sends the request, with Last-Event-ID once an id is known. */
static void upstream_connected(struct relay *r, int64_t now)
{
    char req[4096];
    size_t idlen = 0;
    int err = 0, ipv6 = strchr(r->url.host, ':') != NULL, n;
    socklen_t el = sizeof err;

    if (getsockopt(r->ufd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
        upstream_retry(r, now, strerror(err ? err : errno));
        return;
    }
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nAccept: text/event-stream\r\n"
                 "Cache-Control: no-cache\r\n",
                 r->url.path, ipv6 ? "[" : "", r->url.host, ipv6 ? "]" : "", r->url.port);
    /* "Last-Event-ID: <id>" (or nothing), CR LF, then the empty line; the id holds at
     * most 255 bytes, so it always fits here */
    if (sse_last_id_header(&r->parser, req + n, sizeof req - (size_t)n - 4, &idlen) == SSE_OK &&
        idlen > 0) {
        memcpy(req + n + idlen, "\r\n", 2);
        idlen += 2;
    }
    memcpy(req + (size_t)n + idlen, "\r\n", 2);
    if (write(r->ufd, req, (size_t)n + idlen + 2) != (ssize_t)((size_t)n + idlen + 2)) {
        upstream_retry(r, now, "cannot send the request");
        return;
    }
    r->ustate = U_HEAD;
    r->uhead_len = 0;
    r->u_at = now + r->upstream_ms;
}

/* Body bytes (still chunk-coded when chunked) into the parser; records go to output. */
static void upstream_body(struct relay *r, char *buf, size_t len, int64_t now)
{
    size_t n = http_body_take(&r->body, buf, len), before = r->out_len;

    /* the events decoded before a bad chunk byte go out first */
    sse_parser_feed(&r->parser, buf, n, on_record, r); /* on_record never stops */
    if (r->out_len != before) {
        r->last_out_ms = now;
    }
    r->u_at = now + r->upstream_ms;
    if (r->body.state == BAD) {
        upstream_retry(r, now, "bad chunked encoding");
    } else if (r->body.state == END) {
        upstream_retry(r, now, "end of stream");
    }
}

/* The response head (http_head: strict status line, 1xx heads skipped), then
 * sse_check_response and the body's framing decide. */
static void upstream_head(struct relay *r, int64_t now)
{
    char why[160], *body = NULL;
    const char *ct = NULL, *bad;
    size_t ctlen = 0;
    int status = http_head(r->uhead, &r->uhead_len, &body);

    if (status == 0) {
        if (r->uhead_len == sizeof r->uhead - 1) {
            upstream_stop(r, 1, "response head too large");
        }
        return;
    }
    if (status < 0) {
        upstream_stop(r, 1, "not an HTTP/1.x status line");
        return;
    }
    if (header(r->uhead, "Content-Type", &ct, &ctlen) < 0) {
        upstream_stop(r, 1, "two different Content-Type headers");
        return;
    }
    snprintf(why, sizeof why, "HTTP %d", status);
    switch (sse_check_response(status, ct, ctlen)) {
    case SSE_OK: break;
    case SSE_ERR_NO_CONTENT: upstream_stop(r, 0, "HTTP 204, the server asks us to stop"); return;
    case SSE_ERR_CONTENT_TYPE: upstream_stop(r, 1, "Content-Type is not text/event-stream"); return;
    default:
        if (sse_status_retryable(status)) {
            upstream_retry(r, now, why);
        } else {
            upstream_stop(r, 1, why);
        }
        return;
    }
    if ((bad = http_body_begin(&r->body, r->uhead, why)) != NULL) {
        upstream_stop(r, 1, bad);
        return;
    }
    r->ustate = U_BODY;
    fprintf(stderr, "sse_relay: upstream: streaming\n");
    upstream_body(r, body, r->uhead_len - (size_t)(body - r->uhead), now);
}

static void upstream_readable(struct relay *r, int64_t now)
{
    char buf[READ_CAP];
    ssize_t got;

    if (r->ustate == U_HEAD) {
        got = read(r->ufd, r->uhead + r->uhead_len, sizeof r->uhead - 1 - r->uhead_len);
    } else {
        got = read(r->ufd, buf, sizeof buf);
    }
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    if (got <= 0) {
        upstream_retry(r, now, got == 0 ? "end of stream" : strerror(errno));
        return;
    }
    if (r->ustate == U_HEAD) {
        r->uhead_len += (size_t)got;
        r->uhead[r->uhead_len] = '\0';
        upstream_head(r, now);
    } else {
        upstream_body(r, buf, (size_t)got, now);
    }
}

/* ---- main loop ------------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr, "usage: sse_relay [--port P] [--queue-kb K] [--stall-ms MS] [--keepalive-ms MS]\n"
                    "         [--upstream-timeout-ms MS] " LIMITS_USAGE "\n"
                    "         http://host[:port]/path\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct relay r;
    unsigned port = 8081, queue_kb = 256;
    struct sigaction sa;
    struct pollfd *pfd = NULL;
    size_t npfd = 0, i;
    const char *url = NULL;
    int lfd, a;

    limits_defaults(&r.lim, "sse_relay");
    r.stall_ms = 10000;
    r.keepalive_ms = 15000;
    r.upstream_ms = 60000;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--port") == 0) {
            port = limits_number("sse_relay", argc, argv, &a, 0, 65535);
        } else if (strcmp(argv[a], "--queue-kb") == 0) {
            queue_kb = limits_number("sse_relay", argc, argv, &a, 1, 1048576);
        } else if (strcmp(argv[a], "--stall-ms") == 0) {
            r.stall_ms = limits_number("sse_relay", argc, argv, &a, 1, 3600000);
        } else if (strcmp(argv[a], "--keepalive-ms") == 0) {
            r.keepalive_ms = limits_number("sse_relay", argc, argv, &a, 1, 3600000);
        } else if (strcmp(argv[a], "--upstream-timeout-ms") == 0) {
            r.upstream_ms = limits_number("sse_relay", argc, argv, &a, 1, 3600000);
        } else if (limits_option(&r.lim, argc, argv, &a)) {
            continue;
        } else if (argv[a][0] != '-' && url == NULL) {
            url = argv[a];
        } else {
            return usage();
        }
    }
    if (url == NULL) {
        return usage();
    }
    if (parse_url(url, &r.url) < 0) {
        fprintf(stderr, "sse_relay: bad URL %s (only http://host[:port]/path)\n", url);
        return 2;
    }
    r.queue = (size_t)queue_kb * 1024;
    r.ufd = -1;
    sse_parser_init(&r.parser, r.storage, sizeof r.storage, SSE_OPT_PIECES | SSE_OPT_COMMENTS |
                                                                SSE_OPT_ID_RECORDS);
    srand((unsigned)time(NULL) ^ (unsigned)getpid()); /* jitter of the back-off only */

    limits_setup(&r.lim); /* one fd per client: as many as the hard limit allows */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    lfd = limits_listen("sse_relay", port, "http");
    r.last_out_ms = limits_now_ms();
    r.u_at = r.last_out_ms; /* connect at once */

    while (!stop && !(r.ustate == U_STOPPED && r.n == 0)) {
        int64_t now = limits_now_ms(), timeout;
        size_t n = 0, behind;
        short uev = 0;

        if (r.ustate == U_IDLE && now >= r.u_at) {
            upstream_connect(&r, now);
        } else if (r.ustate != U_IDLE && r.ustate != U_STOPPED && now >= r.u_at) {
            upstream_retry(&r, now, "timed out");
        }
        timeout = timers(&r, now, now + 1000) - now; /* stalls are checked each second */
        for (i = 0; i < r.n; i++) {
            struct client *c = r.c[i];
            if (c->state == WAITING && !r.frame_open) {
                start_stream(&r, c);
            }
            if (!c->dead && flush(&r, c) < 0) {
                c->dead = 1;
            }
        }
        sweep(&r);
        behind = compact(&r);
        if (r.ustate == U_CONNECTING) {
            uev = POLLOUT;
        } else if (r.ustate == U_HEAD || (r.ustate == U_BODY && behind < r.queue)) {
            uev = POLLIN;
        } else if (r.ustate == U_BODY) {
            r.u_at = now + r.upstream_ms; /* held back by a client, not upstream's silence */
        }
        if (r.ustate != U_STOPPED && r.u_at - now < timeout) {
            timeout = r.u_at - now;
        }
        timeout = timeout < 0 ? 0 : timeout;

        if (npfd < r.n + 2) {
            npfd = 2 * (r.n + 2);
            free(pfd);
            pfd = malloc(npfd * sizeof *pfd);
            if (pfd == NULL) {
                fprintf(stderr, "sse_relay: out of memory\n");
                return 1;
            }
        }
        pfd[n].fd = r.ustate == U_STOPPED || r.paused ? -1 : lfd; /* poll ignores a negative fd */
        pfd[n++].events = POLLIN;
        pfd[n].fd = uev ? r.ufd : -1;
        pfd[n++].events = uev;
        for (i = 0; i < r.n; i++) {
            pfd[n].fd = r.c[i]->fd;
            pfd[n++].events = (short)(POLLIN | (has_output(&r, r.c[i]) ? POLLOUT : 0));
        }
        if (poll(pfd, (nfds_t)n, (int)timeout) < 0) {
            continue; /* EINTR: a signal */
        }
        now = limits_now_ms();
        for (i = 0; i < r.n; i++) { /* pfd[i + 2] belongs to r.c[i] */
            struct client *c = r.c[i];
            short re = pfd[i + 2].revents;
            if (((re & (POLLIN | POLLHUP | POLLERR)) && on_readable(&r, c) < 0) ||
                ((re & POLLOUT) && flush(&r, c) < 0)) {
                c->dead = 1;
            }
        }
        if (pfd[1].revents && r.ustate == U_CONNECTING) {
            upstream_connected(&r, now);
        } else if (pfd[1].revents && (r.ustate == U_HEAD || r.ustate == U_BODY)) {
            upstream_readable(&r, now);
        }
        sweep(&r);
        if (pfd[0].revents & POLLIN) {
            accept_all(&r, lfd, now);
        }
    }

    fprintf(stderr, "sse_relay: shutting down, closing %zu connections\n", r.n);
    for (i = 0; i < r.n; i++) {
        r.c[i]->dead = 1;
    }
    sweep(&r);
    if (r.ufd >= 0) {
        close(r.ufd);
    }
    close(lfd);
    if (r.lim.spare_fd >= 0) {
        close(r.lim.spare_fd);
    }
    free(r.c);
    free(r.out);
    free(pfd);
    return r.exit_status;
}
