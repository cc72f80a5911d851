/*
 * curl_client - an EventSource-like client on libcurl: the write callback feeds the sse
 * parser, the header callback checks the status and the Content-Type.
 *
 *   curl_client http://127.0.0.1:8080/dates
 *   curl_client --max-events 10 http://127.0.0.1:8080/dates
 *   curl_client --http2 --insecure https://localhost:8443/dates
 *
 * Options: --max-events N (exit after N events), --http2 (HTTP/2: prior knowledge over
 * http://, negotiated by ALPN over https://), --insecure (skip certificate checks).
 * Output and exit status as sse_client: one line per event, type TAB id TAB data (LF, CR,
 * TAB and backslash in data written \n, \r, \t, \\); 0 after --max-events events or on
 * HTTP 204, 1 on a failure that must not be retried (status not 200, Content-Type not
 * text/event-stream), 2 on bad usage.
 *
 * Reconnection: at the end of the body or on a transfer error, wait the reconnection time
 * (sse_reconnect_delay: the server's retry, doubled after each attempt that brought no
 * event, up to 30 s or the server's retry if larger); sse_parser_finish readies the parser for the new connection
 * and keeps the last event ID, sent back as Last-Event-ID (sse_last_id_header).
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_BACKOFF_MS 30000
#define IDLE_TIMEOUT_S 60 /* servers send keep-alive comments well within this */

enum outcome {
    RETRY,
    DONE,
    FATAL
};

struct client {
    CURL *curl;
    sse_parser parser;
    char storage[65536]; /* events up to 48 KiB of data */
    long max_events, events, events_now;
    enum outcome outcome; /* why a callback aborted the transfer */
};

static int on_event(void *user, const sse_event *ev)
{
    struct client *cl = user;
    size_t i;

    if (ev->kind == SSE_KIND_DROPPED) {
        fprintf(stderr, "curl_client: event dropped: %s\n", sse_strerror(ev->error));
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

/* Called once per header line ("HTTP/1.1 200 OK\r\n", "content-type: ...\r\n", ...), and
 * with "\r\n" at the end of the head: the moment to accept the stream or refuse it.
 * Returning anything but size * n aborts the transfer. */
static size_t on_header(char *line, size_t size, size_t n, void *user)
{
    struct client *cl = user;
    size_t len = size * n;
    long status = 0;
    char *ct = NULL;

    if (len > 2 || (line[0] != '\r' && line[0] != '\n')) {
        return len; /* a header line; the empty line ends the head */
    }
    curl_easy_getinfo(cl->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status / 100 == 1) { /* 100 Continue and friends: the real head follows */
        return len;
    }
    curl_easy_getinfo(cl->curl, CURLINFO_CONTENT_TYPE, &ct);
    switch (sse_check_response((int)status, ct, ct ? strlen(ct) : 0)) {
    case SSE_OK: return len;
    case SSE_ERR_NO_CONTENT:
        fprintf(stderr, "curl_client: HTTP 204, the server asks us to stop\n");
        cl->outcome = DONE;
        return 0;
    case SSE_ERR_CONTENT_TYPE:
        fprintf(stderr, "curl_client: Content-Type %s is not text/event-stream, not retrying\n",
                ct ? ct : "(none)");
        cl->outcome = FATAL;
        return 0;
    default:
        fprintf(stderr, "curl_client: HTTP %ld, not retrying\n", status);
        cl->outcome = FATAL;
        return 0;
    }
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct client *cl = user;
    if (sse_parser_feed(&cl->parser, data, size * n, on_event, cl) == SSE_ERR_STOPPED) {
        cl->outcome = DONE; /* on_event: --max-events reached */
        return 0;
    }
    return size * n;
}

/* One connection. */
static enum outcome run(struct client *cl)
{
    struct curl_slist *headers = NULL;
    char line[1024];
    size_t len = 0;
    CURLcode rc;

    headers = curl_slist_append(headers, "Accept: text/event-stream");
    headers = curl_slist_append(headers, "Cache-Control: no-cache");
    if (sse_last_id_header(&cl->parser, line, sizeof line, &len) == SSE_OK && len > 0) {
        headers = curl_slist_append(headers, line); /* "Last-Event-ID: <id>" */
    }
    curl_easy_setopt(cl->curl, CURLOPT_HTTPHEADER, headers);
    cl->outcome = RETRY;
    rc = curl_easy_perform(cl->curl);
    curl_slist_free_all(headers);
    if (cl->outcome != RETRY) {
        return cl->outcome;
    }
    fprintf(stderr, "curl_client: %s\n", rc == CURLE_OK ? "end of stream" : curl_easy_strerror(rc));
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
    const char *url = NULL;
    int a, http2 = 0, insecure = 0;
    unsigned failures = 0;

    cl.max_events = -1;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--max-events") == 0 && a + 1 < argc) {
            cl.max_events = atol(argv[++a]);
        } else if (strcmp(argv[a], "--http2") == 0) {
            http2 = 1;
        } else if (strcmp(argv[a], "--insecure") == 0) {
            insecure = 1;
        } else if (argv[a][0] != '-' && url == NULL) {
            url = argv[a];
        } else {
            url = NULL;
            break;
        }
    }
    if (url == NULL) {
        fprintf(stderr, "usage: curl_client [--max-events N] [--http2] [--insecure] URL\n");
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (cl.curl = curl_easy_init()) == NULL) {
        fprintf(stderr, "curl_client: cannot initialise libcurl\n");
        return 1;
    }
    sse_parser_init(&cl.parser, cl.storage, sizeof cl.storage, 0);

    curl_easy_setopt(cl.curl, CURLOPT_URL, url);
    curl_easy_setopt(cl.curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(cl.curl, CURLOPT_HEADERDATA, &cl);
    curl_easy_setopt(cl.curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(cl.curl, CURLOPT_WRITEDATA, &cl);
    curl_easy_setopt(cl.curl, CURLOPT_NOSIGNAL, 1L);
    /* A stream has no end: no total timeout, but give up on a silent connection. */
    curl_easy_setopt(cl.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(cl.curl, CURLOPT_LOW_SPEED_TIME, (long)IDLE_TIMEOUT_S);
    if (http2) {
        curl_easy_setopt(cl.curl, CURLOPT_HTTP_VERSION,
                         strncmp(url, "https:", 6) == 0
                             ? (long)CURL_HTTP_VERSION_2TLS
                             : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    }
    if (insecure) {
        curl_easy_setopt(cl.curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(cl.curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    for (;;) {
        unsigned long long delay;
        enum outcome o;

        cl.events_now = 0;
        o = run(&cl);
        if (o != RETRY) {
            curl_easy_cleanup(cl.curl);
            curl_global_cleanup();
            return o == DONE ? 0 : 1;
        }
        /* Same source, new connection: keeps the last event ID and the retry time. */
        sse_parser_finish(&cl.parser, on_event, &cl);
        failures = cl.events_now > 0 ? 0 : failures + 1;
        delay = sse_reconnect_delay(&cl.parser, failures, MAX_BACKOFF_MS, 0);
        fprintf(stderr, "curl_client: reconnecting in %llu ms\n", delay);
        sleep_ms(delay);
    }
}
