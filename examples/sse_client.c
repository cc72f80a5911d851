/*
 * sse_client - an EventSource-like client: POSIX sockets, HTTP/1.1, no dependency but sse.
 *
 *   sse_client http://127.0.0.1:8080/dates
 *   sse_client --max-events 10 --read-timeout-ms 45000 http://127.0.0.1:8080/dates
 *
 * Prints each event on stdout as one line: type TAB id TAB data, where data's LF, CR, TAB
 * and backslash are written \n, \r, \t and \\. Failures are one line on stderr.
 *
 * What it shows
 *   - the request: Accept: text/event-stream, Cache-Control: no-cache, and Last-Event-ID
 *     (sse_last_id_header) once an id is known;
 *   - the response: a status other than 200 or a Content-Type whose essence is not
 *     text/event-stream (sse_check_response) fails without retrying; 204 means stop;
 *     bodies with Transfer-Encoding: chunked are decoded, others are read as they come
 *     (up to Content-Length when there is one: then the body has ended);
 *   - HTTP done strictly (RFC 9110, 9112): the status line is "HTTP/1.x NNN" and three
 *     digits, nothing else; interim 1xx responses (103 Early Hints) are skipped, 101 fails;
 *     Transfer-Encoding must be exactly "chunked", any other coding fails; Content-Type and
 *     Content-Length are singletons: repeated with different values, the response fails
 *     (identical repeats are one value); a bad chunk header ends the connection after the
 *     events decoded before it;
 *   - redirects as EventSource follows them (Fetch): 301, 302, 303, 307 and 308 with a
 *     Location (http:// only), at most 20 in a row; each reconnection starts again from
 *     the URL given on the command line, as the WHATWG text reads: "reestablish the
 *     connection" fetches the EventSource's request, made once from that URL, and
 *     follows the redirects anew. This client sends no Authorization and no cookies, so
 *     nothing is carried to another origin;
 *   - --read-timeout-ms (default 60000): a connection that brings no byte, not even a
 *     comment, for that long is dropped and the client reconnects; the response head
 *     must be complete within that time too;
 *   - reconnection: at the end of the body or on an error, wait the reconnection time
 *     (sse_parser_retry), doubled after each attempt that brought no event, up to 30 s
 *     (or the server's retry if larger); reset the parser for the new connection
 *     (sse_parser_finish keeps the last event ID), and resume.
 * Exit status: 0 after --max-events events or on HTTP 204 ("stop reconnecting" is a normal
 * end), 1 on a failure that must not be retried (bad status, bad Content-Type, bad URL),
 * 2 on bad usage. Only http:// URLs (a redirect to https:// is a failure): for https use
 * curl_client.
 */
#define _POSIX_C_SOURCE 200809L

#include "http_client.h"
#include "sse.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKOFF_MS 30000
#define MAX_REDIRECTS  20 /* Fetch's limit */

enum outcome {
    RETRY,
    DONE,
    FATAL,
    REDIRECT /* to the URL run() wrote to *next */
};

struct client {
    sse_parser parser;
    char storage[65536]; /* events up to 48 KiB of data */
    long max_events, events, events_now;
    unsigned read_timeout_ms; /* --read-timeout-ms */
};

static int on_event(void *user, const sse_event *ev)
{
    struct client *cl = user;
    size_t i;

    if (ev->kind == SSE_KIND_DROPPED) {
        fprintf(stderr, "sse_client: event dropped: %s\n", sse_strerror(ev->error));
        return 0;
    }
    if (ev->kind != SSE_KIND_EVENT) {
        return 0; /* a retry field: the parser keeps it for sse_parser_retry() */
    }
    printf("%s\t%s\t", ev->type, ev->id);
    for (i = 0; i < ev->data_len; i++) {
        char ch = ev->data[i];
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == '\\') {
            putchar('\\');
            ch = ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't' : '\\';
        }
        putchar(ch);
    }
    putchar('\n');
    fflush(stdout);
    cl->events_now++;
    return ++cl->events == cl->max_events; /* non-zero stops the parser */
}

static int connect_to(const struct url *u)
{
    struct addrinfo hints, *res, *ai;
    int fd = -1, rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "sse_client: %s: %s\n", u->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        rc = errno;
        if (fd >= 0) {
            close(fd);
        }
        fd = -1;
        errno = rc;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "sse_client: connect to %s:%s: %s\n", u->host, u->port, strerror(errno));
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Resolves a Location value against u into next. Returns 0, or -1 when it is not an
 * http:// URL this client can follow (another scheme, a control byte or space). */
static int resolve(const struct url *u, const char *loc, size_t len, struct url *next)
{
    char abs[2400];
    int ipv6 = strchr(u->host, ':') != NULL;
    size_t i, colon = strcspn(loc, ":/?#");

    len = strcspn(loc, "#") < len ? strcspn(loc, "#") : len; /* no fragment on the wire */
    for (i = 0; i < len; i++) {
        if ((unsigned char)loc[i] <= ' ' || loc[i] == 0x7f) {
            return -1;
        }
    }
    if (len > 2000) {
        return -1;
    }
    if (len >= 7 && strncasecmp(loc, "http://", 7) == 0) {
        snprintf(abs, sizeof abs, "http://%.*s", (int)len - 7, loc + 7);
    } else if (colon < len && loc[colon] == ':') {
        return -1; /* https: or another scheme */
    } else if (len >= 2 && loc[0] == '/' && loc[1] == '/') {
        snprintf(abs, sizeof abs, "http:%.*s", (int)len, loc);
    } else {
        /* an absolute path, or a path relative to the current one's directory */
        int dir = loc[0] == '/' ? 0 : (int)(strrchr(u->path, '/') - u->path) + 1;
        snprintf(abs, sizeof abs, "http://%s%s%s:%s%.*s%.*s", ipv6 ? "[" : "", u->host,
                 ipv6 ? "]" : "", u->port, dir, u->path, (int)len, loc);
    }
    return parse_url(abs, next);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what arrives within ms. Returns the count, 0 at the end of the stream, -1 on an
 * error (errno), -2 when ms passed without a byte. */
static long read_within(int fd, char *buf, size_t cap, int64_t ms)
{
    struct pollfd p;
    ssize_t r;
    int n;

    p.fd = fd;
    p.events = POLLIN;
    do {
        n = poll(&p, 1, ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        return -2;
    }
    do {
        r = n < 0 ? -1 : read(fd, buf, cap);
    } while (r < 0 && errno == EINTR);
    return (long)r;
}

/* Sends the request for u: the path, Accept, Cache-Control and Last-Event-ID. */
static int send_request(struct client *cl, int fd, const struct url *u)
{
    char req[4096];
    size_t idlen = 0;
    int ipv6 = strchr(u->host, ':') != NULL;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nAccept: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\n",
                     u->path, ipv6 ? "[" : "", u->host, ipv6 ? "]" : "", u->port);

    /* "Last-Event-ID: <id>" (or nothing), then CR LF, then the empty line */
    if (sse_last_id_header(&cl->parser, req + n, sizeof req - (size_t)n - 4, &idlen) != SSE_OK) {
        idlen = 0; /* an id too long for this buffer: resume without it */
    }
    if (idlen > 0) {
        memcpy(req + n + idlen, "\r\n", 2);
        idlen += 2;
    }
    memcpy(req + n + idlen, "\r\n", 2);
    return send_all(fd, req, (size_t)n + idlen + 2);
}

/* Reads the final response head into buf (cap bytes) within cl->read_timeout_ms,
 * skipping interim 1xx responses (http_head). Returns its status and sets *body (the bytes
 * after the head start there) and *have (the bytes in buf); or, after printing why, -1
 * (retry) or -2 (fatal). */
static int read_head(struct client *cl, int fd, char *buf, size_t cap, char **body, size_t *have)
{
    int64_t deadline = now_ms() + cl->read_timeout_ms;
    int status;

    buf[*have] = '\0';
    while ((status = http_head(buf, have, body)) == 0) {
        long r;
        if (*have == cap - 1) {
            fprintf(stderr, "sse_client: response head too large, not retrying\n");
            return -2;
        }
        r = read_within(fd, buf + *have, cap - 1 - *have, deadline - now_ms());
        if (r <= 0) {
            fprintf(stderr, "sse_client: %s before the end of the response head\n",
                    r == 0    ? "connection closed"
                    : r == -2 ? "read timeout"
                              : strerror(errno));
            return -1;
        }
        *have += (size_t)r;
        buf[*have] = '\0';
    }
    if (status < 0) {
        fprintf(stderr, "sse_client: not an HTTP/1.x status line, not retrying\n");
        return -2;
    }
    return status;
}

/* One connection: request, response head, body. A redirect's target goes to *next. */
static enum outcome run(struct client *cl, const struct url *u, struct url *next)
{
    char buf[16384], why[160];
    size_t have = 0, ctlen = 0, loclen = 0;
    const char *ct = NULL, *loc = NULL, *bad;
    char *body = NULL;
    struct http_body hb;
    int fd, status, has_ct;

    if ((fd = connect_to(u)) < 0) {
        return RETRY;
    }
    if (send_request(cl, fd, u) < 0) {
        fprintf(stderr, "sse_client: send: %s\n", strerror(errno));
        close(fd);
        return RETRY;
    }
    status = read_head(cl, fd, buf, sizeof buf, &body, &have);
    if (status < 0) {
        close(fd);
        return status == -1 ? RETRY : FATAL;
    }
    if ((status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
        header(buf, "Location", &loc, &loclen) == 1 && resolve(u, loc, loclen, next) == 0) {
        close(fd);
        return REDIRECT; /* a 3xx without a usable Location is final: it fails below */
    }
    has_ct = header(buf, "Content-Type", &ct, &ctlen);
    if (has_ct < 0) {
        fprintf(stderr, "sse_client: two different Content-Type headers, not retrying\n");
        close(fd);
        return FATAL;
    }
    switch (sse_check_response(status, ct, ctlen)) {
    case SSE_OK: break;
    case SSE_ERR_NO_CONTENT:
        fprintf(stderr, "sse_client: HTTP 204, the server asks us to stop\n");
        close(fd);
        return DONE;
    case SSE_ERR_CONTENT_TYPE:
        fprintf(stderr, "sse_client: Content-Type %.*s is not text/event-stream, not retrying\n",
                has_ct ? (int)ctlen : 6, has_ct ? ct : "(none)");
        close(fd);
        return FATAL;
    default:
        fprintf(stderr, "sse_client: HTTP %d, not retrying\n", status);
        close(fd);
        return FATAL;
    }
    if ((bad = http_body_begin(&hb, buf, why)) != NULL) {
        fprintf(stderr, "sse_client: %s, not retrying\n", bad);
        close(fd);
        return FATAL;
    }

    /* Body: bytes after the head first, then what arrives, until its end, an error, or
     * --read-timeout-ms without a byte. */
    have -= (size_t)(body - buf);
    memmove(buf, body, have);
    for (;;) {
        long r;
        size_t n = http_body_take(&hb, buf, have);
        if (sse_parser_feed(&cl->parser, buf, n, on_event, cl) == SSE_ERR_STOPPED) {
            close(fd); /* on_event: --max-events reached */
            return DONE;
        }
        if (hb.state == BAD) {
            fprintf(stderr, "sse_client: bad chunked encoding\n");
            break;
        }
        if (hb.state == END) {
            fprintf(stderr, "sse_client: end of stream\n");
            break;
        }
        r = read_within(fd, buf, sizeof buf, cl->read_timeout_ms);
        if (r <= 0) {
            fprintf(stderr, "sse_client: %s\n",
                    r == 0    ? "end of stream"
                    : r == -2 ? "read timeout: no byte, not even a comment"
                              : strerror(errno));
            break;
        }
        have = (size_t)r;
    }
    close(fd);
    return RETRY;
}

static void sleep_ms(unsigned long long ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
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

int main(int argc, char **argv)
{
    static struct client cl;
    struct url origin, u, next;
    unsigned failures = 0, hops = 0;
    const char *url = NULL;
    int a;

    cl.max_events = -1;
    cl.read_timeout_ms = 60000;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--max-events") == 0 && a + 1 < argc) {
            cl.max_events = atol(argv[++a]);
        } else if (strcmp(argv[a], "--read-timeout-ms") == 0 && a + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++a], &end, 10);
            if (*end != '\0' || v < 1 || v > 3600000) {
                fprintf(stderr, "sse_client: --read-timeout-ms needs 1 to 3600000\n");
                return 2;
            }
            cl.read_timeout_ms = (unsigned)v;
        } else if (argv[a][0] != '-' && url == NULL) {
            url = argv[a];
        } else {
            url = NULL;
            break;
        }
    }
    if (url == NULL) {
        fprintf(stderr, "usage: sse_client [--max-events N] [--read-timeout-ms MS] "
                        "http://host[:port]/path\n");
        return 2;
    }
    if (parse_url(url, &origin) < 0) {
        fprintf(stderr, "sse_client: bad URL %s (only http://host[:port]/path)\n", url);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sse_parser_init(&cl.parser, cl.storage, sizeof cl.storage, 0);

    u = origin;
    for (;;) {
        unsigned long long base, delay;
        int64_t started = now_ms();
        enum outcome o;

        cl.events_now = 0;
        o = run(&cl, &u, &next);
        if (o == REDIRECT) {
            if (++hops > MAX_REDIRECTS) {
                fprintf(stderr, "sse_client: more than %d redirects, not retrying\n",
                        MAX_REDIRECTS);
                return 1;
            }
            u = next;
            continue;
        }
        if (o != RETRY) {
            return o == DONE ? 0 : 1;
        }
        /* Same source, new connection: keeps the last event ID and the retry time. It
         * starts from the URL given, and follows the redirects anew. */
        u = origin;
        hops = 0;
        sse_parser_finish(&cl.parser, on_event, &cl);
        /* a success: an event, and open for at least the floor (sse.h) */
        failures = cl.events_now > 0 && now_ms() - started >= SSE_RECONNECT_FLOOR_MS
                       ? 0
                       : failures + 1;
        base = sse_reconnect_delay(&cl.parser, failures, MAX_BACKOFF_MS, 0);
        delay = sse_reconnect_delay(&cl.parser, failures, MAX_BACKOFF_MS, random32());
        fprintf(stderr, "sse_client: reconnecting in %llu ms (+%llu ms jitter)\n", base,
                delay - base);
        sleep_ms(delay);
    }
}
