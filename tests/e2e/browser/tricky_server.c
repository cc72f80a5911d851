/*
 * tricky_server - a tiny HTTP/1.1 server for the real-browser test (browser_test.mjs).
 *
 *   tricky_server [--port N] [--retry-ms N] [--max-seconds N]
 *
 * Prints "listening on http://127.0.0.1:PORT/" once bound (--port 0: any free port) and
 * serves, on 127.0.0.1 only:
 *   GET /        a page that opens new EventSource('/tricky') and records every dispatch
 *                as {type, data, lastEventId} in window.__events
 *   GET /tricky  first connection: every frame of STREAM below, each written by
 *                sse_encode, then the connection is dropped (retry is set small first);
 *                later connections: the REPLAY frames, then the stream is held open
 *   GET /frames  both frame lists as JSON, so the test computes the expected dispatches
 *                from the very frames that were encoded
 *   GET /seen    JSON: for each /tricky connection, the Last-Event-ID and Accept request
 *                headers it carried (null when absent)
 * It exits by itself after --max-seconds (default 120), or on SIGTERM / SIGINT.
 * C99 + POSIX, one thread, poll(); every write is small and blocking.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A field set from a string literal, NUL bytes included. */
#define LIT(field, s) .field = s, .field##_len = sizeof(s) - 1

#define MAX_CLIENTS  32
#define MAX_REQUEST  16384
#define MAX_SEEN     16
#define LONG_LINES   300
#define SEEN_VAL_CAP 512

static const char LONG_MARK[] = "long";

/* The first connection's frames, in order. The long multi-line frame gets its data in
 * main(); every retry value is set from --retry-ms. */
static sse_frame STREAM[] = {
    { LIT(comment, "tricky stream: every frame below is written by sse_encode") },
    { .has_retry = 1, .retry = 200 }, /* retry only: no dispatch */
    { LIT(data, "plain") },
    { LIT(data, "line 1\nline 2\nline 3") },
    { LIT(data, "cr\rinside") },
    { LIT(data, "crlf\r\ninside") },
    { LIT(data, "mixed\r\nCRLF\rCR\nLF") },
    { LIT(data, "two CR\r\rin a row") },
    { LIT(data, "LF CR\n\ris two line ends") },
    { LIT(data, "") },
    { LIT(data, "\n") },
    { LIT(data, "\r\n\r\n") },
    { LIT(data, "ends with LF\n") },
    { LIT(data, "ends with CR\r") },
    { LIT(data, "ends with CRLF\r\n") },
    { LIT(data, "\nstarts with LF") },
    { LIT(comment, "a comment between frames") },
    { LIT(data, "h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac") },
    { LIT(data, "emoji \xf0\x9f\x98\x80 and U+2028 [\xe2\x80\xa8] and U+0085 [\xc2\x85]") },
    { LIT(data, "\xef\xbb\xbf"
                "BOM not at stream start stays, \xef\xbb\xbf also inside") },
    { LIT(data, "  two leading spaces") },
    { LIT(data, "\tleading tab") },
    { LIT(data, "key: value: with colons") },
    { LIT(data, "data: looks like a field\nevent: not a type\nid: not an id") },
    { LIT(data, "nul\0byte") },
    { LIT(comment, "multi-line\ncomment\r\nwith CR LF\rand CR") },
    { LIT(type, "greeting"), LIT(data, "hello from a named event") },
    { LIT(type, "update"), LIT(data, "multi\nline\r\nnamed") },
    { LIT(type, "\xc3\xabvent-\xe2\x9c\x93"), LIT(data, "non-ASCII event type") },
    { LIT(type, "message"), LIT(data, "explicit message type") },
    { LIT(type, ""), LIT(data, "empty event type is message") },
    { LIT(type, "greeting") }, /* type but no data: no dispatch, type reset */
    { LIT(data, "after a type-only frame") },
    { LIT(id, "1"), LIT(data, "first id") },
    { LIT(data, "keeps id 1") },
    { LIT(comment, "keep-alive") },
    { LIT(id, "2") }, /* id only: no dispatch, but the last event ID becomes "2" */
    { LIT(data, "after id-only frame") },
    { LIT(id, ""), LIT(data, "empty id resets") },
    { LIT(data, "still no id") },
    { LIT(id, " \xc3\xaf\x64-\xe2\x9c\x93 3"), LIT(type, "update"),
      LIT(data, "non-ASCII id with a leading space") },
    { LIT(comment, "before a frame with everything"), LIT(type, "greeting"), LIT(id, "4"),
      .has_retry = 1, .retry = 200, LIT(data, "comment, type, id, retry\nand data") },
    { .data = LONG_MARK }, /* LONG_LINES lines, filled in main() */
    { LIT(id, "") },       /* id only, empty: resets the last event ID */
    { LIT(data, "no id again") },
    { LIT(id, "7: x \xc3\xaf\x64 \xe2\x9c\x93"), LIT(type, "last"),
      LIT(data, "last event before the drop; its id goes back as Last-Event-ID") },
    { LIT(comment, "dropping the connection now") },
};
#define N_STREAM (sizeof STREAM / sizeof STREAM[0])

/* Later connections' frames. */
static const sse_frame REPLAY[] = {
    { LIT(comment, "replay after reconnect") },
    { LIT(id, "8"), LIT(data, "replayed 8") },
    { LIT(id, "9"), LIT(type, "greeting"), LIT(data, "replayed 9\nsecond line") },
};
#define N_REPLAY (sizeof REPLAY / sizeof REPLAY[0])

typedef struct client {
    int fd;
    int streaming; /* held-open event stream: input is only watched for EOF */
    size_t len;
    char req[MAX_REQUEST + 1];
} client;

typedef struct seen_conn {
    int has_last_id, has_accept;
    char last_id[SEEN_VAL_CAP];
    char accept[SEEN_VAL_CAP];
} seen_conn;

static volatile sig_atomic_t stop_flag;
static seen_conn seen[MAX_SEEN];
static size_t n_seen, n_tricky;
static char long_data[LONG_LINES * 48];

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Writes all of buf; returns 0, or -1 when the peer is gone. */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A growable string for the JSON and HTML bodies. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const void *s, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + len + 1 > cap) {
            cap *= 2;
        }
        b->p = realloc(b->p, cap);
        if (b->p == NULL) {
            fputs("tricky_server: out of memory\n", stderr);
            exit(1);
        }
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void buf_str(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* A JSON string of len bytes of UTF-8 text; also safe inside an HTML <script>. */
static void buf_json(buf *b, const char *s, size_t len)
{
    size_t i;
    buf_add(b, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&') {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            buf_add(b, esc, 6);
        } else {
            buf_add(b, &s[i], 1);
        }
    }
    buf_add(b, "\"", 1);
}

static void buf_json_field(buf *b, const char *name, const char *s, size_t len, int comma)
{
    buf_str(b, comma ? ",\"" : "\"");
    buf_str(b, name);
    buf_str(b, "\":");
    if (s == NULL) {
        buf_str(b, "null");
    } else {
        buf_json(b, s, len);
    }
}

static void buf_frames(buf *b, const sse_frame *f, size_t n)
{
    size_t i;
    buf_str(b, "[");
    for (i = 0; i < n; i++) {
        char num[32];
        buf_str(b, i ? ",\n{" : "\n{");
        buf_json_field(b, "comment", f[i].comment, f[i].comment_len, 0);
        buf_json_field(b, "type", f[i].type, f[i].type_len, 1);
        buf_json_field(b, "id", f[i].id, f[i].id_len, 1);
        buf_json_field(b, "data", f[i].data, f[i].data_len, 1);
        if (f[i].has_retry) {
            snprintf(num, sizeof num, ",\"retry\":%llu", (unsigned long long)f[i].retry);
        } else {
            snprintf(num, sizeof num, ",\"retry\":null");
        }
        buf_str(b, num);
        buf_str(b, "}");
    }
    buf_str(b, "]");
}

static int send_body(int fd, const char *status, const char *ctype, const buf *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %lu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, ctype, (unsigned long)body->len);
    if (write_all(fd, head, (size_t)n) != 0) {
        return -1;
    }
    return write_all(fd, body->p, body->len);
}

/* Encodes f with sse_encode (size query, then the write) and sends it. */
static int send_frame(int fd, const sse_frame *f)
{
    size_t need = 0, len = 0;
    char *out;
    int rc;
    sse_error err = sse_encode(NULL, 0, f, &need);
    if (err != SSE_OK) {
        fprintf(stderr, "tricky_server: sse_encode size query: %s\n", sse_strerror(err));
        exit(1);
    }
    out = malloc(need ? need : 1);
    if (out == NULL) {
        fputs("tricky_server: out of memory\n", stderr);
        exit(1);
    }
    err = sse_encode(out, need, f, &len);
    if (err != SSE_OK || len != need) {
        fprintf(stderr, "tricky_server: sse_encode: %s (len %lu, size query said %lu)\n",
                sse_strerror(err), (unsigned long)len, (unsigned long)need);
        exit(1);
    }
    rc = write_all(fd, out, len);
    free(out);
    return rc;
}

/* Finds header name (ASCII case-insensitive) in a request; NULL when absent. The value,
 * trimmed of spaces and tabs, is copied into out (cut at cap - 1 bytes). */
static const char *find_header(const char *req, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = strstr(req, "\r\n");
    while (line != NULL && line[2] != '\r' && line[2] != '\0') {
        const char *p = line + 2, *end = strstr(p, "\r\n");
        size_t i;
        int match = end != NULL && (size_t)(end - p) > nlen && p[nlen] == ':';
        for (i = 0; match && i < nlen; i++) {
            char a = p[i], c = name[i];
            if (a >= 'A' && a <= 'Z') {
                a = (char)(a - 'A' + 'a');
            }
            if (c >= 'A' && c <= 'Z') {
                c = (char)(c - 'A' + 'a');
            }
            match = a == c;
        }
        if (match) {
            const char *v = p + nlen + 1;
            size_t len;
            while (v < end && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }
            len = (size_t)(end - v);
            if (len > cap - 1) {
                len = cap - 1;
            }
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
        line = end;
    }
    return NULL;
}

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>sse tricky stream</title><link rel=\"icon\" href=\"data:,\">\n"
    "<style>body{font:14px system-ui,sans-serif;margin:1.5em}"
    "li{font-family:monospace;white-space:pre-wrap;margin:2px 0}"
    ".t{color:#06c}.i{color:#888}</style></head>\n<body>\n"
    "<h1>sse tricky stream</h1>\n<p id=\"status\">connecting</p>\n<ol id=\"log\"></ol>\n"
    "<script>\n'use strict';\nconst TYPES = ";

static const char PAGE_TAIL[] =
    ";\n"
    "window.__events = [];\nwindow.__opens = 0;\nwindow.__errors = 0;\n"
    "const log = document.getElementById('log');\n"
    "const status = document.getElementById('status');\n"
    "const es = new EventSource('/tricky');\n"
    "function record(e) {\n"
    "  window.__events.push({type: e.type, data: e.data, lastEventId: e.lastEventId});\n"
    "  const li = document.createElement('li');\n"
    "  li.innerHTML = '<span class=t></span> <span class=i></span> <span class=d></span>';\n"
    "  li.children[0].textContent = e.type;\n"
    "  li.children[1].textContent = '[' + e.lastEventId + ']';\n"
    "  li.children[2].textContent = JSON.stringify(e.data);\n"
    "  log.appendChild(li);\n"
    "}\n"
    "for (const t of TYPES) es.addEventListener(t, record);\n"
    "es.addEventListener('open', () => {\n"
    "  window.__opens++; status.textContent = 'open (' + window.__opens + ')'; });\n"
    "es.addEventListener('error', () => {\n"
    "  window.__errors++; status.textContent = 'reconnecting (' + window.__errors + ')'; });\n"
    "</script>\n</body></html>\n";

static int send_page(int fd)
{
    buf b = { 0 };
    size_t i, j;
    int rc;
    buf_str(&b, PAGE_HEAD);
    buf_str(&b, "[\"message\"");
    for (i = 0; i < N_STREAM + N_REPLAY; i++) {
        const sse_frame *f = i < N_STREAM ? &STREAM[i] : &REPLAY[i - N_STREAM];
        int dup = f->type == NULL || f->type_len == 0 ||
                  (f->type_len == 7 && memcmp(f->type, "message", 7) == 0);
        for (j = 0; j < i && !dup; j++) {
            const sse_frame *g = j < N_STREAM ? &STREAM[j] : &REPLAY[j - N_STREAM];
            dup = g->type != NULL && g->type_len == f->type_len &&
                  memcmp(g->type, f->type, f->type_len) == 0;
        }
        if (!dup) {
            buf_str(&b, ",");
            buf_json(&b, f->type, f->type_len);
        }
    }
    buf_str(&b, "]");
    buf_str(&b, PAGE_TAIL);
    rc = send_body(fd, "200 OK", "text/html; charset=utf-8", &b);
    free(b.p);
    return rc;
}

static int send_frames_json(int fd)
{
    buf b = { 0 };
    int rc;
    buf_str(&b, "{\"stream\":");
    buf_frames(&b, STREAM, N_STREAM);
    buf_str(&b, ",\n\"replay\":");
    buf_frames(&b, REPLAY, N_REPLAY);
    buf_str(&b, "}\n");
    rc = send_body(fd, "200 OK", "application/json", &b);
    free(b.p);
    return rc;
}

static int send_seen(int fd)
{
    buf b = { 0 };
    size_t i;
    int rc;
    char num[64];
    snprintf(num, sizeof num, "{\"tricky_requests\":%lu,\"connections\":[",
             (unsigned long)n_tricky);
    buf_str(&b, num);
    for (i = 0; i < n_seen; i++) {
        const seen_conn *s = &seen[i];
        buf_str(&b, i ? ",{" : "{");
        buf_json_field(&b, "last_event_id", s->has_last_id ? s->last_id : NULL, strlen(s->last_id),
                       0);
        buf_json_field(&b, "accept", s->has_accept ? s->accept : NULL, strlen(s->accept), 1);
        buf_str(&b, "}");
    }
    buf_str(&b, "]}\n");
    rc = send_body(fd, "200 OK", "application/json", &b);
    free(b.p);
    return rc;
}

/* Serves /tricky; returns 1 to keep the connection open as a stream, 0 to close it. */
static int serve_tricky(client *c)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n" SSE_HTTP_HEADERS "\r\n";
    size_t i;
    if (n_seen < MAX_SEEN) {
        seen_conn *s = &seen[n_seen++];
        s->has_last_id =
            find_header(c->req, "Last-Event-ID", s->last_id, sizeof s->last_id) != NULL;
        s->has_accept = find_header(c->req, "Accept", s->accept, sizeof s->accept) != NULL;
    }
    if (write_all(c->fd, head, sizeof head - 1) != 0) {
        return 0;
    }
    if (n_tricky++ == 0) {
        for (i = 0; i < N_STREAM; i++) {
            if (send_frame(c->fd, &STREAM[i]) != 0) {
                return 0;
            }
        }
        return 0; /* the drop: the browser reconnects after the retry time */
    }
    for (i = 0; i < N_REPLAY; i++) {
        if (send_frame(c->fd, &REPLAY[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Handles one complete request; returns 1 to keep the connection open. */
static int serve(client *c)
{
    char path[256];
    buf none = { 0 };
    const char *sp = strchr(c->req, ' ');
    size_t n = 0;
    if (strncmp(c->req, "GET ", 4) != 0 || sp == NULL) {
        buf_str(&none, "only GET\n");
        send_body(c->fd, "405 Method Not Allowed", "text/plain", &none);
        free(none.p);
        return 0;
    }
    for (sp++; sp[n] != ' ' && sp[n] != '\r' && sp[n] != '\0' && n < sizeof path - 1; n++) {
        path[n] = sp[n];
    }
    path[n] = '\0';
    if (strcmp(path, "/") == 0) {
        send_page(c->fd);
    } else if (strcmp(path, "/tricky") == 0) {
        return serve_tricky(c);
    } else if (strcmp(path, "/frames") == 0) {
        send_frames_json(c->fd);
    } else if (strcmp(path, "/seen") == 0) {
        send_seen(c->fd);
    } else {
        buf_str(&none, "not found\n");
        send_body(c->fd, "404 Not Found", "text/plain", &none);
        free(none.p);
    }
    return 0;
}

static void close_client(client *c)
{
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    c->fd = -1;
}

static void fill_long_frame(void)
{
    size_t len = 0;
    int i;
    for (i = 1; i <= LONG_LINES; i++) {
        len += (size_t)snprintf(long_data + len, sizeof long_data - len,
                                "%s%03d: a long event, line %d of %d", i > 1 ? "\n" : "", i, i,
                                LONG_LINES);
    }
    for (i = 0; i < (int)N_STREAM; i++) {
        if (STREAM[i].data == LONG_MARK) {
            STREAM[i].data = long_data;
            STREAM[i].data_len = len;
        }
    }
}

static unsigned long arg_num(const char *opt, const char *s)
{
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(s ? s : "", &end, 10);
    if (s == NULL || *s == '\0' || *end != '\0' || errno != 0) {
        fprintf(stderr, "tricky_server: %s needs a number\n", opt);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static client clients[MAX_CLIENTS];
    struct pollfd pfd[MAX_CLIENTS + 1];
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    unsigned long port = 0, retry_ms = 200, max_seconds = 120;
    time_t deadline;
    int lfd, one = 1, i;
    struct sigaction sa;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0) {
            port = arg_num(argv[i], argv[i + 1]);
            i++;
        } else if (strcmp(argv[i], "--retry-ms") == 0) {
            retry_ms = arg_num(argv[i], argv[i + 1]);
            i++;
        } else if (strcmp(argv[i], "--max-seconds") == 0) {
            max_seconds = arg_num(argv[i], argv[i + 1]);
            i++;
        } else {
            fprintf(stderr, "usage: tricky_server [--port N] [--retry-ms N] [--max-seconds N]\n");
            return 2;
        }
    }
    if (port > 65535) {
        fputs("tricky_server: bad port\n", stderr);
        return 2;
    }
    fill_long_frame();
    for (i = 0; i < (int)N_STREAM; i++) {
        STREAM[i].retry = retry_ms;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("tricky_server: socket");
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 16) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("tricky_server: bind/listen");
        return 1;
    }
    printf("listening on http://127.0.0.1:%u/\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);

    for (i = 0; i < MAX_CLIENTS; i++) {
        clients[i].fd = -1;
    }
    deadline = time(NULL) + (time_t)max_seconds;
    while (!stop_flag && time(NULL) < deadline) {
        int n;
        pfd[0].fd = lfd;
        pfd[0].events = POLLIN;
        for (i = 0; i < MAX_CLIENTS; i++) {
            pfd[i + 1].fd = clients[i].fd;
            pfd[i + 1].events = POLLIN;
            pfd[i + 1].revents = 0;
        }
        n = poll(pfd, MAX_CLIENTS + 1, 250);
        if (n < 0 && errno != EINTR) {
            perror("tricky_server: poll");
            return 1;
        }
        if (n <= 0) {
            continue;
        }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            for (i = 0; fd >= 0 && i < MAX_CLIENTS && clients[i].fd >= 0; i++) {
            }
            if (fd >= 0 && i == MAX_CLIENTS) {
                close(fd);
            } else if (fd >= 0) {
                clients[i].fd = fd;
                clients[i].streaming = 0;
                clients[i].len = 0;
            }
        }
        for (i = 0; i < MAX_CLIENTS; i++) {
            client *c = &clients[i];
            ssize_t got;
            if (c->fd < 0 || pfd[i + 1].fd != c->fd ||
                !(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            if (c->streaming) {
                char sink[512];
                if (read(c->fd, sink, sizeof sink) <= 0) {
                    close_client(c);
                }
                continue;
            }
            got = read(c->fd, c->req + c->len, MAX_REQUEST - c->len);
            if (got <= 0) {
                close_client(c);
                continue;
            }
            c->len += (size_t)got;
            c->req[c->len] = '\0';
            if (strstr(c->req, "\r\n\r\n") != NULL) {
                c->streaming = serve(c);
                if (!c->streaming) {
                    close_client(c);
                }
            } else if (c->len == MAX_REQUEST) {
                close_client(c);
            }
        }
    }
    for (i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i].fd >= 0) {
            close_client(&clients[i]);
        }
    }
    close(lfd);
    return 0;
}
