/*
 * dates_feed.h - the demo feed the example servers share: ticks, ids, frames, ring, resume
 * rules, the demo page; each server file shows only its transport (sse_server.c: sockets
 * and poll; mhd_server.c: libmicrohttpd; h2_server.c: nghttp2 and TLS).
 *
 * Header-only: static inline functions (an unused one costs nothing and warns nowhere) and
 * a string macro. C99 + POSIX: include it after defining _POSIX_C_SOURCE 200809L.
 *
 * Ticks and ids
 *   Tick k is the k-th interval (--interval-ms) since 2024-01-01T00:00:00Z on the wall clock.
 *   Its frame is "id: k" and "data: <that instant as 2024-01-01T00:00:00.000Z>", so frame k
 *   depends on k alone: a server restarted with the same --interval-ms and --history
 *   continues the sequence, and a client that reconnects within --history intervals
 *   receives every event exactly once.
 * Ring
 *   The frames of the last --history ticks, each encoded once (sse_encode): tick k lives in
 *   ring[k % history]. feed_ring_init rebuilds it from the clock at start, as a previous run
 *   sent it; feed_ring_advance adds the ticks that fell due. (mhd_server keeps no ring: it
 *   encodes the frames of each connection with feed_encode_tick.)
 * Frames every stream gets
 *   first the retry frame "retry: --retry-ms"; ": keep-alive" after --keepalive-ms
 *   without any frame.
 * Resume (request header Last-Event-ID = L; the ring holds ids O..T, T the newest tick)
 *   none, not a decimal number, or L > T   live events only (after T);
 *   O-1 <= L <= T                         ids L+1..T are replayed from the ring, then live;
 *   L < O-1 (older than the ring)         ids L+1..O-1 are lost: the client first receives
 *                                         an event of type "gap" with data "L+1 O-1" (the
 *                                         lost range, no id field), then the whole ring
 *                                         O..T, then live events.
 * Demo page
 *   FEED_PAGE(html, js): EventSource('/dates?tag=T') showing the events live, the
 *   connection's state, a chart of events per second, and a button asking the server to
 *   drop the connection (GET /drop?tag=T) to show the resume; html and js are a
 *   server's additions.
 * Options
 *   feed_option takes --interval-ms MS (default 1000), --history N (default 64) and
 *   --retry-ms MS (default 1000) and --keepalive-ms MS (default 15000: the comment
 *   ": keep-alive" after that long without a frame); limits_number (server_limits.h) reads
 *   any other numeric option.
 */
#ifndef DATES_FEED_H
#define DATES_FEED_H

#include "server_limits.h"
#include "sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FEED_EPOCH_MS     1704067200000LL /* 2024-01-01T00:00:00Z */
#define FEED_KEEPALIVE_MS 15000 /* default of --keepalive-ms */
#define FEED_FRAME_CAP    128 /* "id: <20 digits>\ndata: <24-byte date>\n\n" fits */

/* The demo page, a string literal (no external script, style or font: it works offline).
 * html is inserted after the "last event id" line, js after the $() and log() helpers
 * (both "" for none). The page opens /dates?tag=T, T random per page load; its "Drop my
 * connection" button requests /drop?tag=T, which a server may offer (sse_server does) to
 * close that stream, so the browser's reconnect and Last-Event-ID resume can be watched.
 * Elements: #state, #date (latest data), #last-id, #count, #reconnects, #missing (ids
 * that never arrived), #drop, #chart (events per second), #events, #log. Page plus
 * additions stay under 4095 bytes, C99's minimum string literal (-Wpedantic warns). */
#define FEED_PAGE(html, js)                                                                       \
    "<!doctype html>\n"                                                                           \
    "<meta charset=utf-8>\n"                                                                      \
    "<title>sse: live events</title>\n"                                                           \
    "<style>\n"                                                                                   \
    "body{margin:0;background:#f3f4f7;color:#1c2230;font:15px/1.45 system-ui,sans-serif}\n"       \
    "main{max-width:760px;margin:28px auto;padding:0 16px}\n"                                     \
    "h1{font-size:21px;margin:0}\n"                                                               \
    ".k{color:#5a6375;font-size:13px}\n"                                                          \
    ".c{background:#fff;border:1px solid #dde1e8;border-radius:10px;padding:12px "                \
    "16px;margin:14px 0}\n"                                                                       \
    ".r{display:flex;align-items:center;gap:14px}\n"                                              \
    "code,pre,ol,#date{font-family:ui-monospace,monospace}\n"                                     \
    "#state{font-weight:600;padding:2px "                                                         \
    "12px;border-radius:99px;background:#fff1d6;color:#8a5a00}\n"                                 \
    "#state.open{background:#dcf5e3;color:#17672f}\n"                                             \
    "#date{font-size:28px;font-weight:600;margin:8px 0 0}\n"                                      \
    "button{margin-left:auto;font:inherit;padding:6px 14px;border-radius:8px;border:1px solid "   \
    "#b42b2b;background:#fff;color:#b42b2b;cursor:pointer}\n"                                     \
    "canvas{width:100%;height:100px}\n"                                                           \
    "ol,pre{list-style:none;margin:6px 0 "                                                        \
    "0;padding:0;font-size:12px;max-height:180px;overflow:auto}\n"                                \
    ".gap{color:#b42b2b}\n"                                                                       \
    "</style>\n"                                                                                  \
    "<main>\n"                                                                                    \
    "<h1>Server-Sent Events, live</h1>\n"                                                         \
    "<div class=k>Events of <code>/dates</code> as the browser's <code>EventSource</code> gets "  \
    "them</div>\n"                                                                                \
    "<div class=c><div class=r><span id=state>connecting</span>\n"                                \
    "<span class=k>events <b id=count>0</b> &middot; reconnects <b id=reconnects>0</b> &middot; " \
    "missing ids <b id=missing>0</b></span>\n"                                                    \
    "<button id=drop>Drop my connection</button></div>\n"                                         \
    "<div id=date>waiting for the first event</div>\n"                                            \
    "<div class=k>last event id <code id=last-id>none</code></div>\n" html "</div>\n"             \
    "<div class=c><div class=k>events per second, last 60 s</div><canvas "                        \
    "id=chart></canvas></div>\n"                                                                  \
    "<div class=c><div class=k>events, newest first</div><ol id=events></ol></div>\n"             \
    "<div class=c><div class=k>connection log</div><pre id=log></pre></div>\n"                    \
    "</main>\n"                                                                                   \
    "<script>\n"                                                                                  \
    "const $ = (id) => document.getElementById(id), hz = new Map();\n"                            \
    "const log = (s) => { $('log').prepend(new Date().toISOString().slice(11, 23) + ' ' + s + "   \
    "'\\n'); };\n" js "const tag = crypto.getRandomValues(new Uint32Array(2)).join('-');\n"       \
    "const es = new EventSource('/dates?tag=' + tag);\n"                                          \
    "let last = null, n = 0, opens = 0, missing = 0;\n"                                           \
    "const state = (s) => { $('state').textContent = $('state').className = s; };\n"              \
    "es.onopen = () => {\n"                                                                       \
    "  state('open');\n"                                                                          \
    "  $('reconnects').textContent = opens++;\n"                                                  \
    "  log(opens > 1 ? 'open again, with Last-Event-ID: ' + last + '; the server replays after "  \
    "it' : 'open');\n"                                                                            \
    "};\n"                                                                                        \
    "es.onerror = () => {\n"                                                                      \
    "  state(es.readyState === EventSource.CONNECTING ? 'reconnecting' : 'closed');\n"            \
    "  log('connection lost: ' + $('state').textContent);\n"                                      \
    "};\n"                                                                                        \
    "es.onmessage = (e) => {\n"                                                                   \
    "  const id = Number(e.lastEventId), li = document.createElement('li');\n"                    \
    "  if (last !== null && id !== last + 1) {\n"                                                 \
    "    missing += id - last - 1;\n"                                                             \
    "    li.className = 'gap';\n"                                                                 \
    "  }\n"                                                                                       \
    "  li.textContent = e.lastEventId + '  ' + e.data;\n"                                         \
    "  $('events').prepend(li);\n"                                                                \
    "  if (n > 99) $('events').lastChild.remove();\n"                                             \
    "  last = id;\n"                                                                              \
    "  $('count').textContent = ++n;\n"                                                           \
    "  $('missing').textContent = missing;\n"                                                     \
    "  $('date').textContent = e.data;\n"                                                         \
    "  $('last-id').textContent = e.lastEventId;\n"                                               \
    "  const s = Math.floor(Date.now() / 1000);\n"                                                \
    "  hz.set(s, (hz.get(s) || 0) + 1);\n"                                                        \
    "};\n"                                                                                        \
    "es.addEventListener('gap', (e) => log('lost ids (older than the server keeps): ' + "         \
    "e.data));\n"                                                                                 \
    "$('drop').onclick = () => {\n"                                                               \
    "  log('asking the server to drop this connection');\n"                                       \
    "  fetch('/drop?tag=' + tag).then((r) => r.ok || log('no drop: HTTP ' + r.status),\n"         \
    "                                 (err) => log('no drop: ' + err.message));\n"                \
    "};\n"                                                                                        \
    "setInterval(() => {\n"                                                                       \
    "  const c = $('chart'), w = c.width = c.clientWidth, h = c.height = c.clientHeight;\n"       \
    "  const g = c.getContext('2d'), now = Math.floor(Date.now() / 1000);\n"                      \
    "  let max = 1;\n"                                                                            \
    "  for (let i = 0; i < 60; i++) max = Math.max(max, hz.get(now - i) || 0);\n"                 \
    "  g.fillStyle = '#2d5fd0';\n"                                                                \
    "  for (let i = 0; i < 60; i++) {\n"                                                          \
    "    const v = (h - 14) * (hz.get(now - 59 + i) || 0) / max;\n"                               \
    "    g.fillRect(i * w / 60 + 1, h - v, w / 60 - 2, v);\n"                                     \
    "  }\n"                                                                                       \
    "  g.fillText(max + ' per second', 2, 10);\n"                                                 \
    "  hz.delete(now - 60);\n"                                                                    \
    "}, 250);\n"                                                                                  \
    "</script>\n"

struct feed_frame {
    size_t len;
    char bytes[FEED_FRAME_CAP];
};

struct feed {
    const char *prog; /* for messages: "sse_server: ..." */
    unsigned interval_ms, history, retry_ms, keepalive_ms;
    char retry[64], keepalive[32]; /* encoded by feed_setup */
    size_t retry_len, keepalive_len;
    struct feed_frame *ring; /* feed_ring_init: tick k lives in ring[k % history] */
    uint64_t newest;         /* the ring holds newest - history + 1 .. newest */
};

/* ---- options ------------------------------------------------------------------------ */

static inline void feed_defaults(struct feed *f, const char *prog)
{
    memset(f, 0, sizeof *f);
    f->prog = prog;
    f->interval_ms = 1000;
    f->history = 64;
    f->retry_ms = 1000;
    f->keepalive_ms = FEED_KEEPALIVE_MS;
}

/* Takes argv[*i] and its value when it is one of the feed's options; returns 1 then, or 0
 * for any other argument. */
static inline int feed_option(struct feed *f, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--interval-ms") == 0) {
        f->interval_ms = limits_number(f->prog, argc, argv, i, 1, 3600000);
    } else if (strcmp(argv[*i], "--history") == 0) {
        f->history = limits_number(f->prog, argc, argv, i, 2, 1000000);
    } else if (strcmp(argv[*i], "--retry-ms") == 0) {
        f->retry_ms = limits_number(f->prog, argc, argv, i, 0, 3600000);
    } else if (strcmp(argv[*i], "--keepalive-ms") == 0) {
        f->keepalive_ms = limits_number(f->prog, argc, argv, i, 1, 3600000);
    } else {
        return 0;
    }
    return 1;
}

/* Encodes the retry frame ("retry: N\n\n") and the keep-alive (": keep-alive\n") once:
 * call it after the options. */
static inline void feed_setup(struct feed *f)
{
    sse_frame r = { 0 }, k = { 0 };
    r.has_retry = 1;
    r.retry = f->retry_ms;
    sse_encode(f->retry, sizeof f->retry, &r, &f->retry_len);
    k.comment = "keep-alive";
    k.comment_len = 10;
    sse_encode(f->keepalive, sizeof f->keepalive, &k, &f->keepalive_len);
}

/* ---- ticks and frames --------------------------------------------------------------- */

static inline int64_t feed_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The tick that is due at wall-clock time ms. */
static inline uint64_t feed_tick_at(const struct feed *f, int64_t ms)
{
    return (uint64_t)(ms - FEED_EPOCH_MS) / f->interval_ms;
}

/* When to wake up next: the time tick next falls due, or the keep-alive for a stream that
 * last sent at last_send_ms, whichever comes first. */
static inline int64_t feed_next_due(const struct feed *f, uint64_t next, int64_t last_send_ms)
{
    int64_t tick_ms = FEED_EPOCH_MS + (int64_t)(next * f->interval_ms);
    int64_t keepalive_ms = last_send_ms + f->keepalive_ms;
    return keepalive_ms < tick_ms ? keepalive_ms : tick_ms;
}

/* Encodes tick id's frame into out (at most cap bytes; *len = its size): "id: <id>" and
 * "data: <its date>". Returns sse_encode's status. */
static inline sse_error feed_encode_tick(const struct feed *f, uint64_t id, char *out, size_t cap,
                                         size_t *len)
{
    int64_t ms = FEED_EPOCH_MS + (int64_t)(id * f->interval_ms);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char date[32], ids[24];
    sse_frame fr = { 0 };

    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(date + 19, sizeof date - 19, ".%03dZ", (int)(ms % 1000));
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    fr.id = ids;
    fr.id_len = strlen(ids);
    fr.data = date;
    fr.data_len = strlen(date);
    return sse_encode(out, cap, &fr, len);
}

/* Appends bytes to out[*len..cap) when they fit whole; otherwise leaves out alone. */
static inline void feed_append(char *out, size_t cap, size_t *len, const char *bytes, size_t n)
{
    if (n <= cap - *len) {
        memcpy(out + *len, bytes, n);
        *len += n;
    }
}

/* ---- ring --------------------------------------------------------------------------- */

static inline const struct feed_frame *feed_frame_of(const struct feed *f, uint64_t id)
{
    return &f->ring[id % f->history];
}

/* Encodes tick id into its ring slot. */
static inline void feed_ring_put(struct feed *f, uint64_t id)
{
    struct feed_frame *fr = &f->ring[id % f->history];
    sse_error err = feed_encode_tick(f, id, fr->bytes, sizeof fr->bytes, &fr->len);
    if (err != SSE_OK) {
        fprintf(stderr, "%s: sse_encode: %s\n", f->prog, sse_strerror(err));
        exit(1);
    }
}

/* Allocates the ring and fills it with the last history ticks due at now, as a previous
 * run sent them. Returns 0, or -1 when out of memory. */
static inline int feed_ring_init(struct feed *f, int64_t now)
{
    uint64_t id;
    f->ring = malloc(f->history * sizeof *f->ring);
    if (f->ring == NULL) {
        return -1;
    }
    f->newest = feed_tick_at(f, now);
    if (f->newest < f->history) {
        f->newest = f->history; /* only with a huge interval: ids start above the ring */
    }
    for (id = f->newest + 1 - f->history; id <= f->newest; id++) {
        feed_ring_put(f, id);
    }
    return 0;
}

/* Adds the ticks that fell due by now to the ring. */
static inline void feed_ring_advance(struct feed *f, int64_t now)
{
    uint64_t due = feed_tick_at(f, now);
    if (due - f->newest > f->history) { /* clock jumped: skip what no ring can hold */
        f->newest = due - f->history;
    }
    while (f->newest < due) {
        feed_ring_put(f, ++f->newest);
    }
}

/* ---- resume ------------------------------------------------------------------------- */

/* Reads a Last-Event-ID header value (v, len; the transport has stripped the whitespace
 * around it). Returns 1 and sets *last when it is a decimal number of 1 to 19 digits; else
 * 0 (then the stream is live only). */
static inline int feed_last_id(const char *v, size_t len, uint64_t *last)
{
    uint64_t n = 0;
    size_t i;
    if (len == 0 || len > 19) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return 0;
        }
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    *last = n;
    return 1;
}

/* Starts an event stream by the resume rules (see the top), newest being the newest tick
 * sent: appends to out[*len..cap) the retry frame and, when last is older than the ring,
 * the "gap" event. has_last: the request had a numeric Last-Event-ID, last its value.
 * Returns the id of the first tick to send: newest + 1 means live events only. */
static inline uint64_t feed_resume(const struct feed *f, uint64_t newest, int has_last,
                                   uint64_t last, char *out, size_t cap, size_t *len)
{
    uint64_t oldest = newest + 1 - f->history;

    feed_append(out, cap, len, f->retry, f->retry_len);
    if (has_last && last + 1 >= oldest && last <= newest) {
        return last + 1; /* replay last+1 .. newest */
    }
    if (has_last && last + 1 < oldest) {
        char lost[48];
        sse_frame g = { 0 };
        size_t n;
        g.type = "gap";
        g.type_len = 3;
        g.data = lost;
        g.data_len =
            (size_t)snprintf(lost, sizeof lost, "%llu %llu", (unsigned long long)(last + 1),
                             (unsigned long long)(oldest - 1));
        if (sse_encode(out + *len, cap - *len, &g, &n) == SSE_OK) {
            *len += n;
        }
        return oldest;
    }
    return newest + 1;
}

#endif /* DATES_FEED_H */
