/*
 * curl_client - the reference SSE client, on libcurl: the write callback feeds the sse
 * parser, the header callback checks each response head; every SSE decision (accept or
 * refuse a response, back-off, Last-Event-ID) is the library's.
 *
 *   curl_client http://127.0.0.1:8080/dates
 *   curl_client --json --comments --max-events 10 http://127.0.0.1:8080/dates
 *   curl_client -X POST -H 'Authorization: Bearer T' -H 'Content-Type: application/json' \
 *               --data '{"q":1}' --last-event-id 41 https://example.com/stream
 *   curl_client --http2 --insecure https://localhost:8443/dates
 *
 * Options
 *   -H, --header 'Name: value'  extra request header (repeatable); replaces our Accept,
 *                               Cache-Control or Content-Type when it names one of them
 *   -X, --method M              request method (default GET, or POST with a body)
 *   --data S, --data-file F     request body (F: up to 16 MiB), sent on every reconnect,
 *                               with Content-Type text/plain unless -H gives one
 *   --last-event-id ID          sent as Last-Event-ID on the first request, as if received
 *   --retry-ms N                reconnection time until the server sends retry (3000)
 *   --read-timeout-ms N         no byte at all (not even a comment) for N ms: drop the
 *                               connection and reconnect (default 60000; 0 = never)
 *   --max-redirs N              redirects followed per request (default 20, as fetch)
 *   --max-event-bytes N         largest event data kept (default 16 MiB); a larger event is
 *                               dropped and reported, the stream goes on
 *   --max-head-bytes N          response head, and chunked trailers, per request (default
 *                               65536); more is a failed connection
 *   --max-events N              exit 0 after N events
 *   --comments                  report comment lines too
 *   --json                      JSON lines on stdout, in the order received:
 *                               {"kind":"event","event":{"type":..,"data":..,"id":..}}
 *                               {"kind":"comment","comment":..}  {"kind":"error","error":..}
 *   --http2, --insecure         HTTP/2 (prior knowledge over http://, ALPN over https://);
 *                               skip certificate checks
 * Text output (without --json): one line per event, type TAB id TAB data, and with
 * --comments ":" TAB text per comment (LF, CR, TAB and backslash written \n, \r, \t, \\).
 * Errors go to stderr (with --json also to stdout). SIGUSR1: drop the connection and
 * reconnect at once, with Last-Event-ID.
 * Exit: 0 after --max-events events or on HTTP 204; 1 on a response not to retry (after
 * redirects: a status other than 200 that sse_status_retryable does not list, or a
 * Content-Type that is not text/event-stream); 2 on bad usage.
 *
 * Reconnection: at the end of the body, on a network error, a malformed response, a
 * retryable status (408, 429, 500, 502-504; Retry-After honoured) or the read timeout, wait
 * sse_reconnect_delay (the server's retry; backing off, with jitter, while attempts fail:
 * bring no event, or end within a second) and send the request again, with Last-Event-ID.
 * Redirects (301, 302, 303, 307, 308) are followed up to --max-redirs hops, and only the
 * final response is judged; a redirect without Location is that final response (a
 * failure). libcurl sends Authorization and Cookie headers only to the origin (scheme,
 * host, port) they were given for. Every reconnection goes to the URL given on the command
 * line, not to a redirect's target: the spec's "reestablish the connection" fetches the
 * EventSource's request again, made from the constructor's URL (which the url attribute
 * keeps), so the redirect is followed anew each time and a temporary one never becomes
 * permanent.
 * Limit: curl keeps a method set with -X other than POST (e.g. REPORT) across a 303, where
 * fetch would switch to GET.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKOFF_MS    30000
#define MAX_BODY_FILE     (16L << 20)
#define MAX_RETRY_AFTER_S 3600 /* a longer Retry-After is read as an hour */
#define SHORT_LIVED_MS    1000 /* a connection ended sooner counts as a failure */

enum outcome {
    RETRY,   /* reconnect after the reconnection time */
    RESTART, /* reconnect at once (SIGUSR1) */
    DONE,
    FATAL
};

struct client {
    CURL *curl;
    CURLM *multi;
    sse_parser parser;
    char storage[65536]; /* piece mode: type and id up to 4095 bytes, data unlimited */
    char *ev;            /* the event being received, grown up to max_event */
    size_t ev_len, ev_cap, max_event;
    int ev_over;                       /* this event passed max_event: drop it at its end */
    size_t head_bytes, max_head;       /* response head and trailer bytes this request */
    int want_status;                   /* the next header line must be a status line */
    int location;                      /* this head has a non-empty Location */
    unsigned long long retry_after_ms; /* the last head's Retry-After, 0 when none */
    long status;                       /* of the last head */
    long max_events, events, events_now;
    int json, comments;
    long long last_byte_ms; /* monotonic time of the last byte received */
    enum outcome outcome;   /* why a callback aborted the transfer */
    char why[256];          /* and what to report */
    int refused;            /* the final head was refused: the body is the error's text */
    char error[512];        /* the start of that body, shown with the error */
    size_t error_len;
};

static int restart_pipe[2] = { -1, -1 };

static void on_sigusr1(int sig)
{
    int saved = errno;
    (void)sig;
    if (write(restart_pipe[1], "r", 1) < 0) {
        /* full pipe: a restart is already pending */
    }
    errno = saved;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- output: text lines or JSON lines ----------------------------------------------- */

static void put_text(const char *s, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == '\\') {
            putchar('\\');
            ch = ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't' : '\\';
        }
        putchar(ch);
    }
}

/* A JSON string. The parser repairs UTF-8 (no SSE_OPT_RAW), so only quotes, backslashes
 * and control characters (NUL included) need escapes. */
static void put_json(const char *s, size_t len)
{
    size_t i;
    putchar('"');
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            printf("\\%c", ch);
        } else if (ch == '\n') {
            fputs("\\n", stdout);
        } else if (ch < 0x20) {
            printf("\\u%04x", ch);
        } else {
            putchar(ch);
        }
    }
    putchar('"');
}

static void report_error(struct client *cl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "curl_client: %s\n", msg);
    if (cl->json) {
        fputs("{\"kind\":\"error\",\"error\":", stdout);
        put_json(msg, strlen(msg));
        fputs("}\n", stdout);
        fflush(stdout);
    }
}

static void print_event(struct client *cl, const sse_event *ev, const char *data, size_t len)
{
    if (cl->json) {
        fputs("{\"kind\":\"event\",\"event\":{\"type\":", stdout);
        put_json(ev->type, ev->type_len);
        fputs(",\"data\":", stdout);
        put_json(data, len);
        fputs(",\"id\":", stdout);
        put_json(ev->id, ev->id_len);
        fputs("}}\n", stdout);
    } else {
        printf("%s\t%s\t", ev->type, ev->id);
        put_text(data, len);
        putchar('\n');
    }
    fflush(stdout);
}

static void print_comment(struct client *cl, const char *text, size_t len)
{
    if (cl->json) {
        fputs("{\"kind\":\"comment\",\"comment\":", stdout);
        put_json(text, len);
        fputs("}\n", stdout);
    } else {
        fputs(":\t", stdout);
        put_text(text, len);
        putchar('\n');
    }
    fflush(stdout);
}

/* ---- SSE: records from the parser (piece mode) --------------------------------------- */

/* Appends a piece of the current event's data, growing the buffer up to max_event. */
static void keep_piece(struct client *cl, const char *data, size_t len)
{
    if (cl->ev_over || len == 0) {
        return;
    }
    if (len > cl->max_event - cl->ev_len) {
        cl->ev_over = 1;
        return;
    }
    if (cl->ev_len + len > cl->ev_cap) {
        size_t cap = cl->ev_cap ? cl->ev_cap : 4096;
        char *p;
        while (cap < cl->ev_len + len) {
            cap = cap > cl->max_event / 2 ? cl->max_event : cap * 2;
        }
        if ((p = realloc(cl->ev, cap)) == NULL) {
            cl->ev_over = 1; /* reported as dropped at the event's end */
            return;
        }
        cl->ev = p;
        cl->ev_cap = cap;
    }
    memcpy(cl->ev + cl->ev_len, data, len);
    cl->ev_len += len;
}

static int on_event(void *user, const sse_event *ev)
{
    struct client *cl = user;

    switch (ev->kind) {
    case SSE_KIND_EVENT:
        if (ev->flags & SSE_FLAG_FIRST) {
            cl->ev_len = 0;
            cl->ev_over = 0;
        }
        if ((ev->flags & SSE_FLAG_FIRST) && (ev->flags & SSE_FLAG_LAST)) {
            if (ev->data_len > cl->max_event) {
                cl->ev_over = 1;
            } else {
                print_event(cl, ev, ev->data, ev->data_len); /* whole: no copy */
            }
        } else {
            keep_piece(cl, ev->data, ev->data_len);
            if (ev->flags & SSE_FLAG_LAST && !cl->ev_over) {
                print_event(cl, ev, cl->ev, cl->ev_len);
            }
        }
        if (!(ev->flags & SSE_FLAG_LAST)) {
            return 0;
        }
        if (cl->ev_over) {
            report_error(cl, "event over %zu bytes dropped (--max-event-bytes)", cl->max_event);
            return 0;
        }
        cl->events_now++;
        return ++cl->events == cl->max_events; /* non-zero stops the parser */
    case SSE_KIND_COMMENT:
        if (cl->comments) {
            print_comment(cl, ev->data, ev->data_len);
        }
        return 0;
    case SSE_KIND_DROPPED: report_error(cl, "event dropped: %s", sse_strerror(ev->error)); return 0;
    case SSE_KIND_RETRY:        /* the parser keeps it for sse_reconnect_delay() */
    case SSE_KIND_ID: return 0; /* only with SSE_OPT_ID_RECORDS, not set */
    }
    return 0;
}

/* ---- HTTP: heads, bodies, one request -------------------------------------------------- */

static size_t abort_with(struct client *cl, enum outcome o, const char *why)
{
    cl->outcome = o;
    snprintf(cl->why, sizeof cl->why, "%s", why);
    return 0; /* anything but the length given aborts the transfer */
}

/* "HTTP/1.1 200 OK": a version, one space, exactly three digits, then a space or the end.
 * libcurl reads "HTTP/1.1 2000" as 200. */
static int status_line_ok(const char *line, size_t len)
{
    size_t i = 5, digits;
    if (len < 5 || memcmp(line, "HTTP/", 5) != 0) {
        return 0;
    }
    while (i < len && ((line[i] >= '0' && line[i] <= '9') || line[i] == '.')) {
        i++;
    }
    if (i >= len || line[i++] != ' ') {
        return 0;
    }
    for (digits = 0; digits < 3; digits++, i++) {
        if (i >= len || line[i] < '0' || line[i] > '9') {
            return 0;
        }
    }
    return i < len && (line[i] == ' ' || line[i] == '\r' || line[i] == '\n');
}

/* Retry-After in delta-seconds ("120"), in ms, at most MAX_RETRY_AFTER_S; 0 for an
 * HTTP-date or anything else (the back-off alone then decides). */
static unsigned long long retry_after_ms(const char *v, size_t len)
{
    unsigned long long s = 0;
    size_t i = strspn(v, " \t");
    if (i >= len || v[i] < '0' || v[i] > '9') {
        return 0;
    }
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
        s = s < MAX_RETRY_AFTER_S ? s * 10 + (unsigned)(v[i] - '0') : s;
    }
    return (s < MAX_RETRY_AFTER_S ? s : MAX_RETRY_AFTER_S) * 1000;
}

/* Called once per header line of every head (1xx, redirects, the final one), with "\r\n"
 * ending each head, and for chunked trailers after the body. Returning anything but
 * size * n aborts the transfer. */
static size_t on_header(char *line, size_t size, size_t n, void *user)
{
    struct client *cl = user;
    size_t len = size * n;
    char *ct = NULL;

    cl->last_byte_ms = now_ms();
    cl->head_bytes += len;
    if (cl->head_bytes > cl->max_head) {
        return abort_with(cl, RETRY, "response head or trailers too large (--max-head-bytes)");
    }
    if (cl->want_status) {
        if (!status_line_ok(line, len)) {
            return abort_with(cl, RETRY, "malformed status line");
        }
        cl->want_status = 0;
        cl->location = 0;
        cl->retry_after_ms = 0;
        return len;
    }
    if (len > 2 || (line[0] != '\r' && line[0] != '\n')) {
        if (len > 9 && strncasecmp(line, "location:", 9) == 0) {
            cl->location = strspn(line + 9, " \t\r\n") < len - 9; /* not empty */
        } else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
            cl->retry_after_ms = retry_after_ms(line + 12, len - 12);
        }
        return len; /* a header or trailer line; the empty line ends a head */
    }
    curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &cl->status);
    if (cl->status / 100 == 1) { /* 100 Continue, 103 Early Hints: the real head follows */
        cl->want_status = 1;
        return len;
    }
    if (cl->location && (cl->status == 301 || cl->status == 302 || cl->status == 303 ||
                         cl->status == 307 || cl->status == 308)) {
        cl->want_status = 1; /* fetch's redirect statuses: libcurl follows the Location */
        return len;
    }
    curl_easy_getinfo(cl->curl, CURLINFO_CONTENT_TYPE, &ct);
    switch (sse_check_response((int)cl->status, ct, ct ? strlen(ct) : 0)) {
    case SSE_OK: return len;
    case SSE_ERR_NO_CONTENT: return abort_with(cl, DONE, "HTTP 204, the server asks us to stop");
    case SSE_ERR_CONTENT_TYPE:
        snprintf(cl->why, sizeof cl->why, "Content-Type %s is not text/event-stream, not retrying",
                 ct ? ct : "(none)");
        cl->outcome = FATAL;
        cl->refused = 1; /* read the start of the body: it says what went wrong */
        return len;
    default:
        if (sse_status_retryable((int)cl->status)) { /* 429, 503...: back off and retry */
            snprintf(cl->why, sizeof cl->why, "HTTP %ld, retrying", cl->status);
            cl->outcome = RETRY;
        } else {
            snprintf(cl->why, sizeof cl->why, "HTTP %ld, not retrying", cl->status);
            cl->outcome = FATAL;
        }
        cl->refused = 1;
        return len;
    }
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct client *cl = user;
    cl->last_byte_ms = now_ms();
    if (cl->refused) { /* an error body: keep its start, stop reading once that is full */
        size_t room = sizeof cl->error - cl->error_len, k = size * n < room ? size * n : room;
        memcpy(cl->error + cl->error_len, data, k);
        cl->error_len += k;
        return cl->error_len < sizeof cl->error ? size * n : 0;
    }
    if (sse_parser_feed(&cl->parser, data, size * n, on_event, cl) == SSE_ERR_STOPPED) {
        return abort_with(cl, DONE, "");
    }
    return size * n;
}

/* 1 when a restart was signalled (the pipe is drained). */
static int restart_requested(int timeout_ms)
{
    struct pollfd pfd;
    char buf[64];
    pfd.fd = restart_pipe[0];
    pfd.events = POLLIN;
    if (poll(&pfd, 1, timeout_ms) <= 0) {
        return 0;
    }
    while (read(restart_pipe[0], buf, sizeof buf) > 0) {
    }
    return 1;
}

/* Waits ms milliseconds; a restart signal cuts the wait short. */
static void wait_or_restart(unsigned long long ms)
{
    long long until = now_ms() + (long long)(ms > 1000000000ULL ? 1000000000ULL : ms);
    long long left;
    while ((left = until - now_ms()) > 0) {
        if (restart_requested((int)(left > 1000000 ? 1000000 : left))) {
            return;
        }
    }
}

enum ending {
    ENDED,     /* body ended or transfer failed: outcome and why say which */
    TIMED_OUT, /* --read-timeout-ms */
    RESTARTED  /* SIGUSR1 */
};

/* One request, run until it ends, times out, or a restart is signalled. */
static enum ending transfer(struct client *cl, long read_timeout_ms, CURLcode *rc)
{
    struct curl_waitfd wake;
    int running = 1;

    wake.fd = restart_pipe[0];
    wake.events = CURL_WAIT_POLLIN;
    curl_multi_add_handle(cl->multi, cl->curl);
    cl->last_byte_ms = now_ms();
    for (;;) {
        CURLMsg *msg;
        int left, wait_ms = 1000;

        curl_multi_perform(cl->multi, &running);
        while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                *rc = msg->data.result;
                running = 0;
            }
        }
        if (!running) {
            break;
        }
        if (read_timeout_ms > 0) {
            long long idle = now_ms() - cl->last_byte_ms;
            if (idle >= read_timeout_ms) {
                curl_multi_remove_handle(cl->multi, cl->curl);
                return TIMED_OUT;
            }
            wait_ms = (int)(read_timeout_ms - idle < wait_ms ? read_timeout_ms - idle : wait_ms);
        }
        wake.revents = 0;
        curl_multi_poll(cl->multi, &wake, 1, wait_ms, NULL);
        if (wake.revents && restart_requested(0)) {
            curl_multi_remove_handle(cl->multi, cl->curl);
            return RESTARTED;
        }
    }
    curl_multi_remove_handle(cl->multi, cl->curl);
    return ENDED;
}

/* Request headers: ours unless the user gave the same name, the user's, Last-Event-ID. */
static struct curl_slist *request_headers(const struct client *cl, char **user, int n_user,
                                          int has_body)
{
    static const char *const ours[] = { "Accept: text/event-stream", "Cache-Control: no-cache",
                                        "Content-Type: text/plain" };
    struct curl_slist *h = NULL;
    char line[8192];
    size_t len = 0;
    int i, j;

    for (i = 0; i < 3; i++) {
        size_t name_len = (size_t)(strchr(ours[i], ':') - ours[i]);
        int given = i == 2 && !has_body;
        for (j = 0; j < n_user && !given; j++) {
            given = strncasecmp(user[j], ours[i], name_len + 1) == 0;
        }
        if (!given) {
            h = curl_slist_append(h, ours[i]);
        }
    }
    for (j = 0; j < n_user; j++) {
        h = curl_slist_append(h, user[j]);
    }
    if (sse_last_id_header(&cl->parser, line, sizeof line, &len) == SSE_OK && len > 0) {
        h = curl_slist_append(h, line); /* "Last-Event-ID: <id>" */
    }
    return h;
}

/* The kept start of an error body as one line of text (controls become spaces). */
static const char *error_text(struct client *cl)
{
    size_t i, n = cl->error_len < sizeof cl->error ? cl->error_len : sizeof cl->error - 1;
    for (i = 0; i < n; i++) {
        if ((unsigned char)cl->error[i] < 0x20 || cl->error[i] == 0x7f) {
            cl->error[i] = ' ';
        }
    }
    while (n > 0 && cl->error[n - 1] == ' ') {
        n--;
    }
    cl->error[n] = '\0';
    return n ? cl->error : "(no body)";
}

/* One connection: send the request, judge the head, feed the body. */
static enum outcome run(struct client *cl, char **user, int n_user, int has_body,
                        long read_timeout_ms)
{
    struct curl_slist *headers = request_headers(cl, user, n_user, has_body);
    CURLcode rc = CURLE_OK;
    enum ending end;

    curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, headers);
    cl->outcome = RETRY;
    cl->why[0] = '\0';
    cl->head_bytes = 0;
    cl->want_status = 1;
    cl->retry_after_ms = 0;
    cl->refused = 0;
    cl->error_len = 0;
    end = transfer(cl, read_timeout_ms, &rc);
    curl_slist_free_all(headers);
    if (end == RESTARTED) {
        fprintf(stderr, "curl_client: restart requested\n");
        return RESTART;
    }
    if (cl->refused) { /* ended, or stalled in the error body: the verdict stands */
        report_error(cl, "%s: %s", cl->why, error_text(cl));
        return cl->outcome;
    }
    if (end == TIMED_OUT) {
        report_error(cl, "no byte for %ld ms (--read-timeout-ms), reconnecting", read_timeout_ms);
        return RETRY;
    }
    if (cl->outcome == DONE) {
        if (cl->why[0]) {
            fprintf(stderr, "curl_client: %s\n", cl->why);
        }
        return DONE;
    }
    if (cl->why[0]) {
        report_error(cl, "%s", cl->why);
    } else {
        report_error(cl, "%s", rc == CURLE_OK ? "end of stream" : curl_easy_strerror(rc));
    }
    return cl->outcome;
}

/* ---- setup and the reconnection loop ----------------------------------------------- */

static char *read_file(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (*len = ftell(f)) < 0 || *len > MAX_BODY_FILE ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)*len + 1)) == NULL ||
        fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    if (f != NULL) {
        fclose(f);
    }
    return buf;
}

/* The reconnection time until the server sends retry: the parser takes it the one way it
 * takes any, from a retry field, fed before the first connection. */
static void seed_retry(struct client *cl, long retry_ms)
{
    char line[64];
    int n = snprintf(line, sizeof line, "retry: %ld\n", retry_ms);
    sse_parser_feed(&cl->parser, line, (size_t)n, on_event, cl);
    sse_parser_reconnect(&cl->parser); /* the stream proper starts now: BOM stripping armed */
}

/* 32 random bits for the back-off's jitter (0, no jitter, if /dev/urandom fails). */
static uint32_t random32(void)
{
    uint32_t r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f != NULL) {
        if (fread(&r, sizeof r, 1, f) != 1) {
            r = 0;
        }
        fclose(f);
    }
    return r;
}

static long num_arg(const char *s, int *bad)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0) {
        *bad = 1;
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: curl_client [-H 'Name: value']... [-X METHOD] [--data S | --data-file F]\n"
            "         [--last-event-id ID] [--retry-ms N] [--read-timeout-ms N] [--max-redirs N]\n"
            "         [--max-event-bytes N] [--max-head-bytes N] [--max-events N] [--comments]\n"
            "         [--json] [--http2] [--insecure] URL\n");
}

/* The command line. */
struct options {
    const char *url, *method, *last_id, *body_file;
    char *body;
    long body_len, read_timeout_ms, max_redirs, retry_ms;
    int http2, insecure, n_headers;
    char *headers[256];
};

/* Fills o and cl's limits from argv; 0, or -1 on bad usage. */
static int parse_args(int argc, char **argv, struct options *o, struct client *cl)
{
    int a, bad = 0;

    o->read_timeout_ms = 60000;
    o->max_redirs = 20;
    o->retry_ms = -1;
    cl->max_events = -1;
    cl->max_event = (size_t)16 << 20;
    cl->max_head = 65536;
    for (a = 1; a < argc && !bad; a++) {
        const char *f = argv[a];
        int has_val = a + 1 < argc;
        if ((!strcmp(f, "-H") || !strcmp(f, "--header")) && has_val && o->n_headers < 256) {
            o->headers[o->n_headers++] = argv[++a];
            bad = strchr(argv[a], ':') == NULL;
        } else if ((!strcmp(f, "-X") || !strcmp(f, "--method")) && has_val) {
            o->method = argv[++a];
        } else if (!strcmp(f, "--data") && has_val) {
            o->body = argv[++a];
            o->body_len = (long)strlen(o->body);
        } else if (!strcmp(f, "--data-file") && has_val) {
            o->body_file = argv[++a];
        } else if (!strcmp(f, "--last-event-id") && has_val) {
            o->last_id = argv[++a];
        } else if (!strcmp(f, "--retry-ms") && has_val) {
            o->retry_ms = num_arg(argv[++a], &bad);
        } else if (!strcmp(f, "--read-timeout-ms") && has_val) {
            o->read_timeout_ms = num_arg(argv[++a], &bad);
        } else if (!strcmp(f, "--max-redirs") && has_val) {
            o->max_redirs = num_arg(argv[++a], &bad);
        } else if (!strcmp(f, "--max-event-bytes") && has_val) {
            cl->max_event = (size_t)num_arg(argv[++a], &bad);
        } else if (!strcmp(f, "--max-head-bytes") && has_val) {
            cl->max_head = (size_t)num_arg(argv[++a], &bad);
        } else if (!strcmp(f, "--max-events") && has_val) {
            cl->max_events = num_arg(argv[++a], &bad);
        } else if (!strcmp(f, "--comments")) {
            cl->comments = 1;
        } else if (!strcmp(f, "--json")) {
            cl->json = 1;
        } else if (!strcmp(f, "--http2")) {
            o->http2 = 1;
        } else if (!strcmp(f, "--insecure")) {
            o->insecure = 1;
        } else if (f[0] != '-' && o->url == NULL) {
            o->url = f;
        } else {
            bad = 1;
        }
    }
    return bad || o->url == NULL || (o->body != NULL && o->body_file != NULL) ? -1 : 0;
}

/* The transfer options that stay the same for every connection. */
static void configure(struct client *cl, const struct options *o)
{
    CURL *c = cl->curl;
    curl_easy_setopt(c, CURLOPT_URL, o->url);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, cl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, cl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, o->max_redirs);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (o->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, o->body);
    }
    if (o->method != NULL && (o->body == NULL || strcmp(o->method, "POST") != 0)) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, o->method); /* POST: 303 goes to GET */
    }
    if (o->http2) {
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                         strncmp(o->url, "https:", 6) == 0
                             ? (long)CURL_HTTP_VERSION_2TLS
                             : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    }
    if (o->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

int main(int argc, char **argv)
{
    static struct client cl;
    static struct options o;
    unsigned failures = 0;
    struct sigaction sa;
    sse_error err;

    /* First of all, so that an early SIGUSR1 restarts rather than kills. */
    if (pipe(restart_pipe) != 0 || fcntl(restart_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(restart_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
        perror("curl_client: pipe");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    if (parse_args(argc, argv, &o, &cl) != 0) {
        usage();
        return 2;
    }
    if (o.body_file != NULL && (o.body = read_file(o.body_file, &o.body_len)) == NULL) {
        fprintf(stderr, "curl_client: cannot read %s (or over 16 MiB)\n", o.body_file);
        return 2;
    }
    sse_parser_init(&cl.parser, cl.storage, sizeof cl.storage,
                    SSE_OPT_PIECES | (cl.comments ? SSE_OPT_COMMENTS : 0u));
    if (o.retry_ms >= 0) {
        seed_retry(&cl, o.retry_ms);
    }
    if (o.last_id != NULL &&
        (err = sse_parser_set_last_id(&cl.parser, o.last_id, strlen(o.last_id))) != SSE_OK) {
        fprintf(stderr, "curl_client: --last-event-id: %s\n", sse_strerror(err));
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (cl.curl = curl_easy_init()) == NULL ||
        (cl.multi = curl_multi_init()) == NULL) {
        fprintf(stderr, "curl_client: cannot initialise libcurl\n");
        return 1;
    }
    configure(&cl, &o);

    for (;;) {
        unsigned long long base, delay;
        long long started = now_ms();
        enum outcome out;

        cl.events_now = 0;
        out = run(&cl, o.headers, o.n_headers, o.body != NULL, o.read_timeout_ms);
        if (out == RESTART) {
            sse_parser_reconnect(&cl.parser); /* the pending event goes, silently */
            continue;
        }
        if (out != RETRY) {
            curl_multi_cleanup(cl.multi);
            curl_easy_cleanup(cl.curl);
            curl_global_cleanup();
            free(cl.ev);
            if (o.body_file != NULL) {
                free(o.body);
            }
            return out == DONE ? 0 : 1;
        }
        /* Same source, new connection: keeps the last event ID and the retry time; a
         * pending event is discarded, as the spec says. */
        sse_parser_finish(&cl.parser, on_event, &cl);
        /* A failure: no event, or a connection gone within a second (a server that sends
         * "retry: 0", an event and closes must not get a reconnection loop: 2,575
         * connections a second before this rule, 3 in 4 s with it). */
        failures = cl.events_now > 0 && now_ms() - started >= SHORT_LIVED_MS ? 0 : failures + 1;
        base = sse_reconnect_delay(&cl.parser, failures, MAX_BACKOFF_MS, 0);
        delay = sse_reconnect_delay(&cl.parser, failures, MAX_BACKOFF_MS, random32());
        if (cl.retry_after_ms > base) {
            base = delay = cl.retry_after_ms; /* 429 or 503 with Retry-After */
        }
        fprintf(stderr, "curl_client: reconnecting in %llu ms (+%llu ms jitter)\n", base,
                delay - base);
        wait_or_restart(delay);
    }
}
