/*
 * h2_server - the broadcast Server-Sent Events server of sse_server, over HTTP/2 (libnghttp2)
 * and TLS (OpenSSL): one thread, poll(), nonblocking sockets.
 *
 *   h2_server --port 8080                 h2c (HTTP/2 over plain TCP, prior knowledge):
 *                                         curl --http2-prior-knowledge http://127.0.0.1:8080/dates
 *                                         nghttp http://127.0.0.1:8080/dates
 *   h2_server --port 8443 --cert c.pem --key k.pem
 *                                         TLS; ALPN picks h2 when the client offers it,
 *                                         HTTP/1.1 otherwise: open https://127.0.0.1:8443/
 *                                         in a browser, or curl_client --http2 --insecure
 *                                         https://127.0.0.1:8443/dates
 *   A test certificate: openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1
 *                       -days 1 -keyout k.pem -out c.pem
 *   options: --port P (0: any free port; the bound one is printed), --interval-ms MS
 *            (default 1000), --history N (frames kept for resume, default 64), --retry-ms MS
 *            (default 1000), --max-streams N (SETTINGS_MAX_CONCURRENT_STREAMS, default
 *            1000), --cert FILE --key FILE (TLS), -v (log connections and requests),
 *            --keepalive-ms MS (": keep-alive" after that long without a frame, default
 *            15000), and the limits of server_limits.h: --idle-timeout-ms (5000),
 *            --head-timeout-ms (10000), --max-conns (10000).
 *   It prints "listening on http://127.0.0.1:PORT/" (https:// with --cert) and stops cleanly
 *   on SIGINT/SIGTERM (GOAWAY to every HTTP/2 connection), printing the peak stream counts.
 *
 * What it shows
 *   GET /         the demo page of sse_server: EventSource('/dates') with the live date.
 *   GET /test7    ?n=N (default 10): opens N EventSources to /dates and counts those that
 *                 received an event. Over HTTP/2 all N share one connection; over HTTP/1.1
 *                 a browser opens at most 6 connections per host, so the seventh stalls.
 *   GET /dates    the stream, as sse_server's: same ids, dates, retry, gap and resume.
 *   HTTP/2        each EventSource is one HTTP/2 stream; its response headers are only
 *                 content-type: text/event-stream and cache-control: no-cache (HTTP/2
 *                 forbids the Connection header of SSE_HTTP_HEADERS). Its DATA frames carry
 *                 frames that sse_encode wrote once per event into a ring shared by every
 *                 stream: a stream is only a position in that ring.
 *   Flow control  nghttp2 asks a stream's data provider for bytes only while the stream has
 *                 window. A provider with nothing new returns NGHTTP2_ERR_DEFERRED and is
 *                 resumed at the next tick, so a stream whose reader stopped (no
 *                 WINDOW_UPDATE) just falls behind in the ring while the others go on; once
 *                 it is history/2 frames behind it is reset (RST_STREAM CANCEL) and its
 *                 EventSource comes back with Last-Event-ID.
 *   Plain port    a connection starting with the HTTP/2 preface is h2c; anything else is
 *                 served as HTTP/1.1, like sse_server (with SSE_HTTP_HEADERS).
 *   Limits        server_limits.h: until its first request is complete (the TLS handshake,
 *                 the HTTP/2 preface and HEADERS included) a connection has
 *                 --idle-timeout-ms for its first byte and --head-timeout-ms in all, then
 *                 it is closed (plain HTTP/1.1: 408 first). A malformed HTTP/1.1 head (NUL,
 *                 bare CR or LF) gets 400, one over 4 KiB 431; connections over --max-conns
 *                 or beyond the descriptors 503 on the plain port, a close on TLS. A plain
 *                 response the peer does not take within --head-timeout-ms is closed.
 *   Fairness      each poll round reads at most READ_CAP bytes of a connection and writes
 *                 at most FLUSH_FILLS * OUT_LOW, so a flooding peer (ignored frames, PINGs)
 *                 delays the other connections' events by one round, not until it stops.
 *
 * Ids, frames, the ring, the resume rules and the demo page are sse_server's, from the feed
 * the example servers share (dates_feed.h); this file is the transport: sockets, poll(),
 * nghttp2, OpenSSL, and HTTP/1.1 for what is not HTTP/2.
 */
#define _POSIX_C_SOURCE 200809L

#include "dates_feed.h"
#include "server_limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_CAP 4096  /* HTTP/1.1: larger request headers get 431 */
#define PRE_CAP     256   /* per-stream bytes before ring frames: head, retry, gap, keep-alive */
#define OUT_LOW     16384 /* serialize HTTP/2 frames until this many bytes wait for the socket */
#define READ_CAP    16384 /* bytes read per connection per poll round */
#define FLUSH_FILLS 8     /* OUT_LOW fills written per connection per poll round */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"; /* RFC 9113, 3.4 */

/* sse_server's demo page, plus the protocol the browser used (h2 or http/1.1). */
static const char page[] =
    FEED_PAGE("<p>protocol: <code id=proto></code></p>\n",
              "const nav = performance.getEntriesByType('navigation')[0];\n"
              "document.getElementById('proto').textContent = nav ? nav.nextHopProtocol : '?';\n");

/* window.received counts the sources that got an event; window.sources holds them. */
static const char test_page[] =
    "<!doctype html>\n<meta charset=utf-8>\n<title>sse: N EventSources</title>\n"
    "<h1><span id=count>0</span> of <span id=total>?</span> EventSources received an event</h1>\n"
    "<p>protocol: <code id=proto></code></p>\n<ol id=list></ol>\n<script>\n"
    "const n = Number(new URLSearchParams(location.search).get('n')) || 10;\n"
    "const nav = performance.getEntriesByType('navigation')[0];\n"
    "document.getElementById('proto').textContent = nav ? nav.nextHopProtocol : '?';\n"
    "document.getElementById('total').textContent = n;\n"
    "window.received = 0;\n"
    "window.sources = [];\n"
    "for (let i = 0; i < n; i++) {\n"
    "    const li = document.createElement('li');\n"
    "    li.textContent = 'connecting';\n"
    "    document.getElementById('list').appendChild(li);\n"
    "    const es = new EventSource('/dates');\n"
    "    let got = false;\n"
    "    es.onopen = () => { if (!got) li.textContent = 'open'; };\n"
    "    es.onmessage = (e) => {\n"
    "        if (!got) {\n"
    "            got = true;\n"
    "            document.getElementById('count').textContent = ++window.received;\n"
    "        }\n"
    "        li.textContent = 'event ' + e.lastEventId + ': ' + e.data;\n"
    "    };\n"
    "    window.sources.push(es);\n"
    "}\n"
    "</script>\n";

enum route {
    PAGE,
    TEST_PAGE,
    DATES,
    NOT_FOUND,
    BAD_METHOD,
    BAD_REQUEST, /* HTTP/1.1 head with a NUL, bare CR or bare LF */
    TOO_LARGE    /* HTTP/1.1 head over REQUEST_CAP */
};
enum proto {
    HANDSHAKE,
    SNIFF,
    HTTP1,
    HTTP2
};

struct conn;

/* One response: an HTTP/2 stream, or the one response of an HTTP/1.1 connection. */
struct stream {
    struct conn *conn;
    struct stream *prev, *next; /* the connection's streams */
    int32_t id;                 /* HTTP/2 stream id; 0 on HTTP/1.1 */
    int is_get, sse, deferred, reset;
    int has_last;  /* request had a numeric Last-Event-ID */
    uint64_t last; /* its value */
    char path[16]; /* up to '?', truncated: longer paths are 404 anyway */
    char pre[PRE_CAP];
    size_t pre_len, pre_off;
    const char *body; /* static response body */
    size_t body_len, body_off;
    uint64_t pos;   /* sse: id of the next ring frame to send */
    size_t pos_off; /* bytes of that frame already sent */
};

struct server;

struct conn {
    struct server *srv;
    int fd, dead, want_write, close_when_sent;
    int more_in;      /* a read filled READ_CAP (or TLS holds bytes): read again next round */
    int served;       /* a request was complete: no more head deadline */
    int64_t deadline; /* limits_now_ms() time to close it: the head, or a plain response */
    int64_t born;
    unsigned long num; /* for the log */
    SSL *ssl;          /* NULL: plain TCP */
    enum proto proto;
    char *in; /* SNIFF and HTTP1: request bytes until the request is complete */
    size_t in_len;
    unsigned char *out; /* bytes waiting for the socket */
    size_t out_len, out_off, out_cap;
    nghttp2_session *h2;
    struct stream *streams;
    size_t nstreams;
};

struct server {
    struct feed feed; /* options, ring, retry and keep-alive frames */
    struct limits lim;
    unsigned max_lag, max_streams;
    int verbose;
    int64_t last_send_ms;
    SSL_CTX *tls;
    nghttp2_session_callbacks *cbs;
    struct conn **c;
    size_t n, cap, sse_streams, peak_streams, peak_conn_streams;
    unsigned long accepted;
    int paused; /* out of file descriptors: stop accepting until a connection closes */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- streams: the bytes of one response ---------------------------------------------- */

static int stream_has_output(const struct server *s, const struct stream *st)
{
    return st->pre_off < st->pre_len || st->body_off < st->body_len ||
           (st->sse && st->pos <= s->feed.newest);
}

/* Copies the stream's next bytes into buf (at most cap): its own bytes (head, retry, gap,
 * keep-alive), a static body, then ring frames from st->pos. Returns the count. */
static size_t stream_read(const struct server *s, struct stream *st, void *buf, size_t cap)
{
    char *out = buf;
    size_t n = 0, k;

    k = st->pre_len - st->pre_off < cap ? st->pre_len - st->pre_off : cap;
    memcpy(out, st->pre + st->pre_off, k);
    st->pre_off += k;
    n += k;
    if (st->pre_off == st->pre_len) {
        st->pre_off = st->pre_len = 0;
    }
    k = st->body_len - st->body_off < cap - n ? st->body_len - st->body_off : cap - n;
    if (k > 0) { /* an event stream has no body: st->body is NULL */
        memcpy(out + n, st->body + st->body_off, k);
        st->body_off += k;
        n += k;
    }
    while (st->sse && n < cap && st->pos <= s->feed.newest) {
        const struct feed_frame *fr = feed_frame_of(&s->feed, st->pos);
        k = fr->len - st->pos_off < cap - n ? fr->len - st->pos_off : cap - n;
        memcpy(out + n, fr->bytes + st->pos_off, k);
        n += k;
        st->pos_off += k;
        if (st->pos_off == fr->len) {
            st->pos++;
            st->pos_off = 0;
        }
    }
    return n;
}

/* Makes st an event stream: the retry frame, then where Last-Event-ID says. */
static void start_stream(struct server *s, struct stream *st)
{
    st->sse = 1;
    st->pos = feed_resume(&s->feed, s->feed.newest, st->has_last, st->last, st->pre, sizeof st->pre,
                          &st->pre_len);
    if (++s->sse_streams > s->peak_streams) {
        s->peak_streams = s->sse_streams;
    }
}

static void set_path(struct stream *st, const char *v, size_t len)
{
    size_t i;
    for (i = 0; i < len && i < sizeof st->path - 1 && v[i] != '?'; i++) {
        st->path[i] = v[i];
    }
    st->path[i] = '\0';
}

static void set_last_id(struct stream *st, const char *v, size_t len)
{
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
        len--;
    }
    st->has_last = feed_last_id(v, len, &st->last);
}

static enum route route_of(const struct stream *st)
{
    if (!st->is_get) {
        return BAD_METHOD;
    }
    if (strcmp(st->path, "/") == 0) {
        return PAGE;
    }
    if (strcmp(st->path, "/test7") == 0) {
        return TEST_PAGE;
    }
    return strcmp(st->path, "/dates") == 0 ? DATES : NOT_FOUND;
}

static const char *status_of(enum route r)
{
    return r == BAD_METHOD    ? "405"
           : r == NOT_FOUND   ? "404"
           : r == BAD_REQUEST ? "400"
           : r == TOO_LARGE   ? "431"
                              : "200";
}

static const char *reason_of(enum route r)
{
    return r == BAD_METHOD    ? "Method Not Allowed"
           : r == NOT_FOUND   ? "Not Found"
           : r == BAD_REQUEST ? "Bad Request"
           : r == TOO_LARGE   ? "Request Header Fields Too Large"
                              : "OK";
}

/* Sets a static response body; returns its content type. */
static const char *set_body(struct stream *st, enum route r)
{
    st->body = r == PAGE          ? page
               : r == TEST_PAGE   ? test_page
               : r == NOT_FOUND   ? "not found\n"
               : r == BAD_REQUEST ? "malformed request head\n"
               : r == TOO_LARGE   ? "too large\n"
                                  : "only GET\n";
    st->body_len = strlen(st->body);
    return r == PAGE || r == TEST_PAGE ? "text/html; charset=utf-8" : "text/plain";
}

static struct stream *stream_new(struct conn *c, int32_t id)
{
    struct stream *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    st->conn = c;
    st->id = id;
    st->next = c->streams;
    if (c->streams != NULL) {
        c->streams->prev = st;
    }
    c->streams = st;
    if (++c->nstreams > c->srv->peak_conn_streams) {
        c->srv->peak_conn_streams = c->nstreams;
    }
    return st;
}

static void stream_free(struct conn *c, struct stream *st)
{
    if (st->prev != NULL) {
        st->prev->next = st->next;
    } else {
        c->streams = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    }
    c->nstreams--;
    if (st->sse) {
        c->srv->sse_streams--;
    }
    free(st);
}

/* ---- HTTP/2 (nghttp2) ---------------------------------------------------------------- */

/* The data provider: nghttp2 calls it when the stream may send (it has window). */
static ssize_t on_read(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                       uint32_t *flags, nghttp2_data_source *source, void *user)
{
    struct conn *c = user;
    struct stream *st = source->ptr;
    size_t n;

    (void)session;
    (void)id;
    if (st->reset) {
        return NGHTTP2_ERR_DEFERRED; /* RST_STREAM is queued: send nothing more */
    }
    n = stream_read(c->srv, st, buf, length);
    if (!st->sse && st->body_off == st->body_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        st->deferred = 1; /* nothing new: wake_stream() resumes it at the next tick */
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void wake_stream(struct stream *st)
{
    if (st->deferred && !st->reset) {
        st->deferred = 0;
        nghttp2_session_resume_data(st->conn->h2, st->id);
    }
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct stream *st;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    st = stream_new(user, frame->hd.stream_id);
    if (st == NULL) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets this stream only */
    }
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, st);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    struct stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    const char *v = (const char *)value;

    (void)flags;
    (void)user;
    if (st == NULL || frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    /* nghttp2 has checked the names: lowercase, pseudo-headers first */
    if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        st->is_get = valuelen == 3 && memcmp(v, "GET", 3) == 0;
    } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        set_path(st, v, valuelen);
    } else if (namelen == 13 && memcmp(name, "last-event-id", 13) == 0) {
        set_last_id(st, v, valuelen);
    }
    return 0;
}

#define NV(name, value)                                                         \
    {                                                                           \
        (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1, strlen(value), \
            NGHTTP2_NV_FLAG_NONE                                                \
    }

static void respond_h2(struct conn *c, struct stream *st)
{
    enum route r = route_of(st);
    const char *type = SSE_CONTENT_TYPE;
    nghttp2_data_provider dp;

    c->served = 1;
    if (r == DATES) {
        start_stream(c->srv, st);
    } else {
        type = set_body(st, r);
    }
    {
        /* no Connection header: HTTP/2 forbids it (RFC 9113, 8.2.2) */
        nghttp2_nv nv[] = { NV(":status", status_of(r)), NV("content-type", type),
                            NV("cache-control", "no-cache") };
        dp.source.ptr = st;
        dp.read_callback = on_read;
        nghttp2_submit_response(c->h2, st->id, nv, sizeof nv / sizeof nv[0], &dp);
    }
    if (c->srv->verbose) {
        fprintf(stderr, "h2_server: conn %lu h2 stream %d: %s %s last-event-id %lld -> %s\n",
                c->num, (int)st->id, st->is_get ? "GET" : "(not GET)", st->path,
                st->has_last ? (long long)st->last : -1LL, status_of(r));
    }
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    struct stream *st;
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) { /* the request is complete */
        st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (st != NULL) {
            respond_h2(user, st);
        }
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user)
{
    struct stream *st = nghttp2_session_get_stream_user_data(session, id);
    (void)error_code;
    if (st != NULL) {
        stream_free(user, st);
    }
    return 0;
}

static int start_h2(struct conn *c)
{
    nghttp2_settings_entry iv[1];
    iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[0].value = c->srv->max_streams;
    if (nghttp2_session_server_new(&c->h2, c->srv->cbs, c) != 0) {
        return -1;
    }
    c->proto = HTTP2;
    return nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1) == 0 ? 0 : -1;
}

/* ---- HTTP/1.1 ------------------------------------------------------------------------ */

/* Reads the request line and Last-Event-ID of a complete, well-formed head into st. */
static enum route h1_parse(struct stream *st, char *line)
{
    char *end = strstr(line, "\r\n"), *path, *sp;

    *end = '\0';
    path = strchr(line, ' ');
    sp = path ? strchr(path + 1, ' ') : NULL;
    if (path != NULL && sp != NULL) {
        st->is_get = path - line == 3 && memcmp(line, "GET", 3) == 0;
        set_path(st, path + 1, (size_t)(sp - path - 1));
    }
    for (line = end + 2; *line != '\r' && *line != '\0'; line = end + 2) {
        end = strstr(line, "\r\n");
        if (strncasecmp(line, "Last-Event-ID:", 14) == 0) {
            set_last_id(st, line + 14, (size_t)(end - line - 14));
        }
    }
    return route_of(st);
}

/* Handles the request in c->in once its head is complete (as sse_server does); from: the
 * bytes of c->in it has scanned before. */
static int h1_input(struct conn *c, size_t from)
{
    struct stream *st;
    enum route r;
    long head_end;

    if (c->streams != NULL) {
        c->in_len = 0; /* one request per connection: the rest is dropped */
        return 0;
    }
    c->in[c->in_len] = '\0';
    head_end = limits_head_end(c->in, c->in_len, from);
    if (head_end == 0 && c->in_len < REQUEST_CAP - 1) {
        return 0;
    }
    if ((st = stream_new(c, 0)) == NULL) {
        return -1;
    }
    c->served = 1;
    r = head_end > 0 ? h1_parse(st, c->in) : head_end < 0 ? BAD_REQUEST : TOO_LARGE;
    if (r == DATES) {
        static const char head[] = "HTTP/1.1 200 OK\r\n" SSE_HTTP_HEADERS "\r\n";
        feed_append(st->pre, sizeof st->pre, &st->pre_len, head, sizeof head - 1);
        start_stream(c->srv, st);
    } else {
        const char *type = set_body(st, r);
        st->pre_len = (size_t)snprintf(st->pre, sizeof st->pre,
                                       "HTTP/1.1 %s %s\r\nContent-Type: %s\r\n"
                                       "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                       status_of(r), reason_of(r), type, st->body_len);
        c->close_when_sent = 1;
        c->deadline = limits_now_ms() + c->srv->lim.head_ms; /* a peer that never reads */
    }
    if (c->srv->verbose) {
        fprintf(stderr, "h2_server: conn %lu http/1.1: %s %s last-event-id %lld -> %s\n", c->num,
                st->is_get ? "GET" : "(not GET)", st->path,
                st->has_last ? (long long)st->last : -1LL, status_of(r));
    }
    c->in_len = 0;
    return 0;
}

/* ---- connections: bytes in and out, plain or TLS ------------------------------------- */

/* Returns the bytes written, 0 when the socket takes nothing now, -1 on error. */
static ssize_t tx_write(struct conn *c, const void *buf, size_t len)
{
    int w;
    if (c->ssl == NULL) {
        ssize_t n = write(c->fd, buf, len);
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        }
        return n;
    }
    w = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (w > 0) {
        return w;
    }
    switch (SSL_get_error(c->ssl, w)) {
    case SSL_ERROR_WANT_WRITE: c->want_write = 1; return 0;
    case SSL_ERROR_WANT_READ: return 0;
    default: return -1;
    }
}

/* Returns the bytes read, 0 when none are there now, -1 at the end or on error. */
static ssize_t tx_read(struct conn *c, void *buf, size_t cap)
{
    int r;
    if (c->ssl == NULL) {
        ssize_t n = read(c->fd, buf, cap);
        if (n < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        }
        return n == 0 ? -1 : n;
    }
    r = SSL_read(c->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (r > 0) {
        return r;
    }
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: return 0;
    case SSL_ERROR_WANT_WRITE: c->want_write = 1; return 0;
    default: return -1; /* close_notify, reset, or a TLS error */
    }
}

static int reserve(struct conn *c, size_t len)
{
    if (c->out_cap - c->out_len < len) {
        size_t cap = c->out_len + len > 2 * c->out_cap ? c->out_len + len : 2 * c->out_cap;
        unsigned char *grown = realloc(c->out, cap);
        if (grown == NULL) {
            return -1;
        }
        c->out = grown;
        c->out_cap = cap;
    }
    return 0;
}

/* Fills c->out with what the connection has to send next. */
static int fill(struct conn *c)
{
    if (c->proto == HTTP2) {
        while (c->out_len < OUT_LOW) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(c->h2, &data); /* frames, one at a time */
            if (n < 0 || (n > 0 && reserve(c, (size_t)n) < 0)) {
                return -1;
            }
            if (n == 0) {
                break;
            }
            memcpy(c->out + c->out_len, data, (size_t)n);
            c->out_len += (size_t)n;
        }
    } else if (c->proto == HTTP1 && c->streams != NULL) {
        if (reserve(c, OUT_LOW) < 0) {
            return -1;
        }
        c->out_len = stream_read(c->srv, c->streams, c->out, OUT_LOW);
    }
    return 0;
}

/* Sends what the socket takes, FLUSH_FILLS buffers at most (then want_write: poll says
 * when to go on). Returns -1 when the connection must be closed (an error, a plain
 * response fully sent, or an HTTP/2 session that is over). */
static int flush(struct conn *c)
{
    int fills = 0;
    if (c->proto == HANDSHAKE) {
        return 0; /* handshake() alone drives the socket until then */
    }
    c->want_write = 0;
    for (;;) {
        if (c->out_off < c->out_len) {
            ssize_t w = tx_write(c, c->out + c->out_off, c->out_len - c->out_off);
            if (w <= 0) {
                return (int)w; /* 0: the socket is full, poll says when to go on */
            }
            c->out_off += (size_t)w;
            continue;
        }
        c->out_off = c->out_len = 0;
        if (++fills > FLUSH_FILLS) {
            c->want_write = 1; /* the others' turn */
            return 0;
        }
        if (fill(c) < 0) {
            return -1;
        }
        if (c->out_len == 0) {
            break;
        }
    }
    if (c->proto == HTTP1 && c->close_when_sent) {
        return -1;
    }
    if (c->proto == HTTP2 && !nghttp2_session_want_read(c->h2) &&
        !nghttp2_session_want_write(c->h2)) {
        return -1;
    }
    return 0;
}

static int handshake(struct conn *c)
{
    int r = SSL_do_handshake(c->ssl);
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;

    c->want_write = 0;
    if (r != 1) {
        switch (SSL_get_error(c->ssl, r)) {
        case SSL_ERROR_WANT_READ: return 0;
        case SSL_ERROR_WANT_WRITE: c->want_write = 1; return 0;
        default: return -1;
        }
    }
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    if (c->srv->verbose) {
        fprintf(stderr, "h2_server: conn %lu TLS %s, ALPN %.*s\n", c->num, SSL_get_version(c->ssl),
                alpn_len ? (int)alpn_len : 4, alpn_len ? (const char *)alpn : "none");
    }
    if (alpn_len == 2 && memcmp(alpn, "h2", 2) == 0) {
        return start_h2(c);
    }
    c->proto = HTTP1;
    return 0;
}

/* Takes bytes that arrived. */
static int on_bytes(struct conn *c, const char *data, size_t len)
{
    if (c->proto == HTTP2) {
        return nghttp2_session_mem_recv(c->h2, (const uint8_t *)data, len) < 0 ? -1 : 0;
    }
    size_t take = len < REQUEST_CAP - 1 - c->in_len ? len : REQUEST_CAP - 1 - c->in_len;
    size_t from = c->proto == HTTP1 ? c->in_len : 0; /* bytes h1_input scanned before */

    memcpy(c->in + c->in_len, data, take);
    c->in_len += take;
    if (c->proto == SNIFF) { /* plain port: the HTTP/2 preface means h2c */
        size_t k = c->in_len < sizeof preface - 1 ? c->in_len : sizeof preface - 1;
        if (memcmp(c->in, preface, k) != 0) {
            c->proto = HTTP1;
        } else if (k < sizeof preface - 1) {
            return 0; /* too early to tell */
        } else {
            if (c->srv->verbose) {
                fprintf(stderr, "h2_server: conn %lu h2c (prior knowledge)\n", c->num);
            }
            /* what did not fit in c->in follows it: HTTP/2 frames, none dropped */
            if (start_h2(c) < 0 ||
                nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->in, c->in_len) < 0 ||
                nghttp2_session_mem_recv(c->h2, (const uint8_t *)data + take, len - take) < 0) {
                return -1;
            }
            c->in_len = 0;
            return 0;
        }
    }
    return h1_input(c, from);
}

/* One read per poll round: a peer that keeps the socket full gets its next turn after
 * everybody else's (more_in), not before. */
static int on_readable(struct conn *c)
{
    char buf[READ_CAP];
    ssize_t r;

    c->more_in = 0;
    if (c->proto == HANDSHAKE) {
        if (handshake(c) < 0) {
            return -1;
        }
        if (c->proto == HANDSHAKE) {
            return 0; /* more round trips to go */
        }
    }
    r = tx_read(c, buf, sizeof buf);
    if (r < 0) {
        return -1;
    }
    if (r > 0 && !c->served) {
        c->deadline = limits_deadline(&c->srv->lim, c->born, 1);
    }
    if (r > 0 && on_bytes(c, buf, (size_t)r) < 0) {
        return -1;
    }
    /* a full read may have left more; TLS may hold decrypted bytes poll cannot see */
    c->more_in = (size_t)r == sizeof buf || (c->ssl != NULL && SSL_pending(c->ssl) > 0);
    return flush(c);
}

static void conn_close(struct server *s, struct conn *c)
{
    if (c->h2 != NULL) {
        nghttp2_session_del(c->h2); /* calls no callback: free our streams below */
    }
    while (c->streams != NULL) {
        stream_free(c, c->streams);
    }
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    if (s->verbose) {
        fprintf(stderr, "h2_server: conn %lu closed\n", c->num);
    }
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static void sweep(struct server *s)
{
    size_t i;
    for (i = s->n; i-- > 0;) {
        if (s->c[i]->dead) {
            conn_close(s, s->c[i]);
            s->c[i] = s->c[--s->n];
            s->paused = 0;
        }
    }
}

static void accept_all(struct server *s, int lfd)
{
    for (;;) {
        int one = 1, fd = limits_accept(&s->lim, lfd, s->n, s->tls == NULL, &s->paused);
        struct conn *c;
        if (fd < 0) {
            return;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (s->n == s->cap) {
            size_t cap = s->cap ? 2 * s->cap : 64;
            struct conn **grown = realloc(s->c, cap * sizeof *grown);
            if (grown != NULL) {
                s->c = grown;
                s->cap = cap;
            }
        }
        c = calloc(1, sizeof *c);
        if (c != NULL) {
            c->srv = s;
            c->fd = fd;
            c->num = ++s->accepted;
            c->born = limits_now_ms();
            c->deadline = limits_deadline(&s->lim, c->born, 0);
            c->proto = s->tls ? HANDSHAKE : SNIFF;
            c->in = malloc(REQUEST_CAP);
            if (c->in != NULL && s->tls != NULL && (c->ssl = SSL_new(s->tls)) != NULL) {
                SSL_set_fd(c->ssl, fd);
                SSL_set_accept_state(c->ssl);
            }
        }
        if (c == NULL || c->in == NULL || (s->tls != NULL && c->ssl == NULL) || s->n == s->cap) {
            if (c != NULL) {
                free(c->in);
                free(c);
            }
            close(fd);
            continue;
        }
        if (s->verbose) {
            fprintf(stderr, "h2_server: conn %lu accepted\n", c->num);
        }
        s->c[s->n++] = c;
    }
}

/* Closes the connections whose deadline passed: no first byte, no complete first request
 * (plain HTTP/1.1 gets 408), a plain response the peer does not take. Returns the earliest
 * deadline still ahead, or later. */
static int64_t expire(struct server *s, int64_t mono, int64_t later)
{
    size_t i;
    for (i = 0; i < s->n; i++) {
        struct conn *c = s->c[i];
        if (c->dead || (c->served && !c->close_when_sent)) {
            continue;
        }
        if (mono < c->deadline) {
            later = c->deadline < later ? c->deadline : later;
            continue;
        }
        if (!c->served && c->ssl == NULL && c->proto != HTTP2 && c->in_len > 0) {
            limits_answer(c->fd, "408 Request Timeout");
        }
        c->dead = 1;
    }
    return later;
}

/* ---- ticks --------------------------------------------------------------------------- */

/* Adds the frames that fell due and wakes every stream. A stream max_lag frames behind is
 * reset (HTTP/2: its reader stopped, flow control held it back) or its connection closed
 * (the socket itself is stuck); the client resumes with Last-Event-ID. */
static void broadcast(struct server *s, int64_t now)
{
    uint64_t newest;
    size_t i;

    feed_ring_advance(&s->feed, now);
    newest = s->feed.newest;
    for (i = 0; i < s->n; i++) {
        struct conn *c = s->c[i];
        struct stream *st;
        for (st = c->streams; st != NULL && !c->dead; st = st->next) {
            if (!st->sse || st->reset) {
                continue;
            }
            if (newest + 1 - st->pos <= s->max_lag) {
                if (c->proto == HTTP2) {
                    wake_stream(st);
                }
                continue;
            }
            fprintf(stderr, "h2_server: conn %lu stream %d is %llu events behind, %s\n", c->num,
                    (int)st->id, (unsigned long long)(newest + 1 - st->pos),
                    c->proto == HTTP2 && c->out_off == c->out_len ? "resetting it"
                                                                  : "closing the connection");
            if (c->proto == HTTP2 && c->out_off == c->out_len) {
                st->reset = 1;
                nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
            } else {
                c->dead = 1;
            }
        }
        if (!c->dead && flush(c) < 0) {
            c->dead = 1;
        }
    }
    s->last_send_ms = now;
}

static void keep_alive(struct server *s, int64_t now)
{
    size_t i;
    for (i = 0; i < s->n; i++) {
        struct conn *c = s->c[i];
        struct stream *st;
        for (st = c->streams; st != NULL; st = st->next) {
            if (st->sse && !st->reset && !stream_has_output(s, st)) {
                feed_append(st->pre, sizeof st->pre, &st->pre_len, s->feed.keepalive,
                            s->feed.keepalive_len);
                if (c->proto == HTTP2) {
                    wake_stream(st);
                }
            }
        }
        if (flush(c) < 0) {
            c->dead = 1;
        }
    }
    s->last_send_ms = now;
}

/* ---- set-up -------------------------------------------------------------------------- */

/* ALPN: h2 when the client offers it, else http/1.1 (server preference order). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned inlen, void *arg)
{
    static const unsigned char ours[] = "\x02h2\x08http/1.1";
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK; /* no common protocol: go on without ALPN (HTTP/1.1) */
    }
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *tls_context(const char *cert, const char *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr, "h2_server: TLS set-up with %s and %s failed:\n", cert, key);
        ERR_print_errors_fp(stderr);
        exit(1);
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* nonblocking writes may be partial and retried from a moved buffer */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    return ctx;
}

static void usage(void)
{
    fprintf(stderr, "usage: h2_server [--port P] [--interval-ms MS] [--history N] "
                    "[--retry-ms MS] [--max-streams N] [--cert FILE --key FILE] [-v]\n"
                    "       [--keepalive-ms MS] " LIMITS_USAGE "\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct server s;
    struct sigaction sa;
    struct pollfd *pfd = NULL;
    size_t npfd = 0, i;
    unsigned port = 8080;
    const char *cert = NULL, *key = NULL;
    int lfd, a;

    memset(&s, 0, sizeof s);
    feed_defaults(&s.feed, "h2_server");
    limits_defaults(&s.lim, "h2_server");
    s.max_streams = 1000;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--port") == 0) {
            port = limits_number("h2_server", argc, argv, &a, 0, 65535);
        } else if (strcmp(argv[a], "--max-streams") == 0) {
            s.max_streams = limits_number("h2_server", argc, argv, &a, 1, 1000000);
        } else if (strcmp(argv[a], "--cert") == 0 && a + 1 < argc) {
            cert = argv[++a];
        } else if (strcmp(argv[a], "--key") == 0 && a + 1 < argc) {
            key = argv[++a];
        } else if (strcmp(argv[a], "-v") == 0) {
            s.verbose = 1;
        } else if (!feed_option(&s.feed, argc, argv, &a) &&
                   !limits_option(&s.lim, argc, argv, &a)) {
            usage();
        }
    }
    if ((cert == NULL) != (key == NULL)) {
        usage();
    }
    s.max_lag = s.feed.history / 2;
    if (cert != NULL) {
        s.tls = tls_context(cert, key);
    }

    limits_setup(&s.lim); /* one fd per connection: as many as the hard limit allows */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an EPIPE from write, not a signal */

    if (nghttp2_session_callbacks_new(&s.cbs) != 0) {
        return 1;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(s.cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(s.cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(s.cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(s.cbs, on_stream_close);

    feed_setup(&s.feed);
    s.last_send_ms = feed_now_ms();
    if (feed_ring_init(&s.feed, s.last_send_ms) < 0) { /* rebuilt from the clock */
        return 1;
    }
    lfd = limits_listen("h2_server", port, s.tls != NULL ? "https" : "http");

    while (!stop) {
        int64_t now = feed_now_ms(), mono, later, timeout;
        size_t n = 0;
        int more_in = 0;

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
            struct conn *c = s.c[i];
            pfd[n].fd = c->fd;
            pfd[n++].events =
                (short)(POLLIN | (c->out_off < c->out_len || c->want_write ? POLLOUT : 0));
            more_in |= c->more_in;
        }
        if (poll(pfd, (nfds_t)n, more_in ? 0 : (int)timeout) < 0) {
            continue; /* EINTR: a signal, or time to tick */
        }
        for (i = 0; i < s.n; i++) { /* pfd[i + 1] belongs to s.c[i] */
            struct conn *c = s.c[i];
            short re = pfd[i + 1].revents;
            if ((re & (POLLIN | POLLHUP | POLLERR)) || (re && c->proto == HANDSHAKE) ||
                c->more_in) {
                c->dead = on_readable(c) < 0;
            } else if ((re & POLLOUT) && flush(c) < 0) {
                c->dead = 1;
            }
        }
        sweep(&s);
        if (pfd[0].revents & POLLIN) {
            accept_all(&s, lfd);
        }
    }

    fprintf(stderr,
            "h2_server: shutting down, closing %zu connections; peak: %zu event streams, "
            "%zu streams on one connection\n",
            s.n, s.peak_streams, s.peak_conn_streams);
    for (i = 0; i < s.n; i++) { /* GOAWAY, then a last try to send it */
        struct conn *c = s.c[i];
        if (c->proto == HTTP2) {
            nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
            flush(c);
        }
        if (c->ssl != NULL && c->proto != HANDSHAKE) {
            SSL_shutdown(c->ssl);
        }
        c->dead = 1;
    }
    sweep(&s);
    close(lfd);
    if (s.lim.spare_fd >= 0) {
        close(s.lim.spare_fd);
    }
    nghttp2_session_callbacks_del(s.cbs);
    SSL_CTX_free(s.tls); /* NULL is fine */
    free(s.c);
    free(s.feed.ring);
    free(pfd);
    return 0;
}
