/*
 * sse_client - an EventSource-like client: POSIX sockets, HTTP/1.1, no dependency but sse.
 *
 *   sse_client http://127.0.0.1:8080/dates
 *   sse_client --max-events 10 http://127.0.0.1:8080/dates
 *
 * Prints each event on stdout as one line: type TAB id TAB data, where data's LF, CR, TAB
 * and backslash are written \n, \r, \t and \\. Failures are one line on stderr.
 *
 * What it shows
 *   - the request: Accept: text/event-stream, Cache-Control: no-cache, and Last-Event-ID
 *     (sse_last_id_header) once an id is known;
 *   - the response: a status other than 200 or a Content-Type whose essence is not
 *     text/event-stream (sse_check_response) fails without retrying; 204 means stop;
 *     bodies with Transfer-Encoding: chunked are decoded, others are read as they come;
 *   - reconnection: at the end of the body or on an error, wait the reconnection time
 *     (sse_parser_retry), doubled after each attempt that brought no event, up to 30 s
 *     (or the server's retry if larger); reset the parser for the new connection
 *     (sse_parser_finish keeps the last event ID), and resume.
 * Exit status: 0 after --max-events events or on HTTP 204 ("stop reconnecting" is a normal
 * end), 1 on a failure that must not be retried (bad status, bad Content-Type, bad URL),
 * 2 on bad usage. Only http:// URLs: for https use curl_client.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_BACKOFF_MS 30000
#define IDLE_TIMEOUT_S 60 /* servers send keep-alive comments well within this */

enum outcome {
    RETRY,
    DONE,
    FATAL
};

struct url {
    char host[256], port[8], path[2048];
};

struct client {
    sse_parser parser;
    char storage[65536]; /* events up to 48 KiB of data */
    long max_events, events, events_now;
};

/* Chunked transfer coding, decoded in place. */
struct chunked {
    enum {
        SIZE,
        EXT,
        SIZE_LF,
        DATA,
        DATA_CR,
        DATA_LF,
        TRAILER,
        TRAILER_LF,
        END
    } state;
    unsigned long long left;
    int line_empty;
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

static int parse_url(const char *s, struct url *u)
{
    const char *host, *end, *path;
    size_t hl;

    if (strncmp(s, "http://", 7) != 0) {
        return -1;
    }
    host = s + 7;
    path = host + strcspn(host, "/?#");
    strcpy(u->port, "80");
    if (*host == '[') { /* [IPv6]:port */
        end = memchr(host, ']', (size_t)(path - host));
        if (end == NULL) {
            return -1;
        }
        host++;
        hl = (size_t)(end - host);
        end++;
    } else {
        end = memchr(host, ':', (size_t)(path - host));
        end = end ? end : path;
        hl = (size_t)(end - host);
    }
    if (hl == 0 || hl >= sizeof u->host || (*end == ':' && (size_t)(path - end) > sizeof u->port)) {
        return -1;
    }
    memcpy(u->host, host, hl);
    u->host[hl] = '\0';
    if (*end == ':') {
        memcpy(u->port, end + 1, (size_t)(path - end - 1));
        u->port[path - end - 1] = '\0';
    }
    if (strlen(path) + 2 > sizeof u->path) {
        return -1;
    }
    snprintf(u->path, sizeof u->path, "%s%s", *path == '/' ? "" : "/", path);
    return 0;
}

static int connect_to(const struct url *u)
{
    struct addrinfo hints, *res, *ai;
    struct timeval tv;
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
    tv.tv_sec = IDLE_TIMEOUT_S;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
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

/* Finds header name in the header block; returns its value (spaces trimmed) or NULL. */
static const char *header(const char *head, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const char *line = strstr(head, "\r\n");

    for (; line != NULL && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        const char *v = line + 2, *end = strstr(v, "\r\n");
        if (strncasecmp(v, name, nl) == 0 && v[nl] == ':') {
            v += nl + 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }
            *len = (size_t)(end - v);
            return v;
        }
    }
    return NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes buf[0..len) in place (the output is never longer than the input) and returns
 * the decoded length, or -1 on a malformed body. ck->state is END after the last chunk. */
static long dechunk(struct chunked *ck, char *buf, size_t len)
{
    size_t i = 0, out = 0;

    while (i < len && ck->state != END) {
        char c = buf[i];
        switch (ck->state) {
        case SIZE:
            if (hexval(c) >= 0 && ck->left < (1ULL << 56)) {
                ck->left = ck->left * 16 + (unsigned)hexval(c);
            } else if (c == ';' || c == ' ' || c == '\t') {
                ck->state = EXT; /* chunk extensions are ignored */
            } else if (c == '\r') {
                ck->state = SIZE_LF;
            } else if (c == '\n') {
                ck->state = ck->left ? DATA : TRAILER;
            } else {
                return -1;
            }
            i++;
            break;
        case EXT:
        case SIZE_LF:
            if (c == '\n') {
                ck->state = ck->left ? DATA : TRAILER;
                ck->line_empty = 1;
            } else if (ck->state == SIZE_LF) {
                return -1;
            }
            i++;
            break;
        case DATA: {
            size_t n = len - i < ck->left ? len - i : (size_t)ck->left;
            memmove(buf + out, buf + i, n);
            out += n;
            i += n;
            ck->left -= n;
            if (ck->left == 0) {
                ck->state = DATA_CR;
            }
            break;
        }
        case DATA_CR:
        case DATA_LF:
            if (c == '\n') {
                ck->state = SIZE;
            } else if (c != '\r' || ck->state == DATA_LF) {
                return -1;
            } else {
                ck->state = DATA_LF;
            }
            i++;
            break;
        case TRAILER: /* trailer lines, then an empty line */
        case TRAILER_LF:
            if (c == '\n') {
                if (ck->line_empty) {
                    ck->state = END;
                }
                ck->line_empty = 1;
            } else if (c != '\r') {
                ck->line_empty = 0;
            }
            i++;
            break;
        case END: break;
        }
    }
    return (long)out;
}

/* One connection: request, response head, body. */
static enum outcome run(struct client *cl, const struct url *u)
{
    char buf[16384], req[4096];
    size_t have = 0, idlen = 0, ctlen = 0, telen = 0;
    const char *body, *ct, *te;
    struct chunked ck;
    int fd, status, chunked, ipv6 = strchr(u->host, ':') != NULL;
    long n;

    if ((fd = connect_to(u)) < 0) {
        return RETRY;
    }
    n = snprintf(req, sizeof req,
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
    if (send_all(fd, req, (size_t)n + idlen + 2) < 0) {
        fprintf(stderr, "sse_client: send: %s\n", strerror(errno));
        close(fd);
        return RETRY;
    }

    /* Response head, up to the empty line. */
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0) {
            fprintf(stderr, "sse_client: %s before the response head\n",
                    r == 0 ? "connection closed" : strerror(errno));
            close(fd);
            return RETRY;
        }
        have += (size_t)r;
        buf[have] = '\0';
        if ((body = strstr(buf, "\r\n\r\n")) != NULL) {
            body += 4;
            break;
        }
        if (have == sizeof buf - 1) {
            fprintf(stderr, "sse_client: response head too large, not retrying\n");
            close(fd);
            return FATAL;
        }
    }
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
        fprintf(stderr, "sse_client: not an HTTP response, not retrying\n");
        close(fd);
        return FATAL;
    }
    ct = header(buf, "Content-Type", &ctlen);
    switch (sse_check_response(status, ct, ctlen)) {
    case SSE_OK: break;
    case SSE_ERR_NO_CONTENT:
        fprintf(stderr, "sse_client: HTTP 204, the server asks us to stop\n");
        close(fd);
        return DONE;
    case SSE_ERR_CONTENT_TYPE:
        fprintf(stderr, "sse_client: Content-Type %.*s is not text/event-stream, not retrying\n",
                ct ? (int)ctlen : 6, ct ? ct : "(none)");
        close(fd);
        return FATAL;
    default:
        fprintf(stderr, "sse_client: HTTP %d, not retrying\n", status);
        close(fd);
        return FATAL;
    }
    te = header(buf, "Transfer-Encoding", &telen);
    chunked = te != NULL && telen >= 7 && strncasecmp(te + telen - 7, "chunked", 7) == 0;
    memset(&ck, 0, sizeof ck);

    /* Body: bytes after the head first, then what read() brings, until EOF or an error. */
    have -= (size_t)(body - buf);
    memmove(buf, body, have);
    for (;;) {
        ssize_t r;
        sse_error err;
        n = chunked ? dechunk(&ck, buf, have) : (long)have;
        if (n < 0) {
            fprintf(stderr, "sse_client: bad chunked encoding\n");
            break;
        }
        err = sse_parser_feed(&cl->parser, buf, (size_t)n, on_event, cl);
        if (err == SSE_ERR_STOPPED) { /* on_event: --max-events reached */
            close(fd);
            return DONE;
        }
        if (chunked && ck.state == END) {
            fprintf(stderr, "sse_client: end of stream\n");
            break;
        }
        r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) {
            have = 0;
            continue;
        }
        if (r <= 0) {
            fprintf(stderr, "sse_client: %s\n", r == 0 ? "end of stream" : strerror(errno));
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

int main(int argc, char **argv)
{
    static struct client cl;
    struct url u;
    unsigned failures = 0;
    const char *url = NULL;
    int a;

    cl.max_events = -1;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--max-events") == 0 && a + 1 < argc) {
            cl.max_events = atol(argv[++a]);
        } else if (argv[a][0] != '-' && url == NULL) {
            url = argv[a];
        } else {
            url = NULL;
            break;
        }
    }
    if (url == NULL) {
        fprintf(stderr, "usage: sse_client [--max-events N] http://host[:port]/path\n");
        return 2;
    }
    if (parse_url(url, &u) < 0) {
        fprintf(stderr, "sse_client: bad URL %s (only http://host[:port]/path)\n", url);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sse_parser_init(&cl.parser, cl.storage, sizeof cl.storage, 0);

    for (;;) {
        unsigned long long delay;
        enum outcome o;

        cl.events_now = 0;
        o = run(&cl, &u);
        if (o != RETRY) {
            return o == DONE ? 0 : 1;
        }
        /* Same source, new connection: keeps the last event ID and the retry time. */
        sse_parser_finish(&cl.parser, on_event, &cl);
        failures = cl.events_now > 0 ? 0 : failures + 1;
        delay = sse_reconnect_delay(&cl.parser, failures, MAX_BACKOFF_MS, 0);
        fprintf(stderr, "sse_client: reconnecting in %llu ms\n", delay);
        sleep_ms(delay);
    }
}
