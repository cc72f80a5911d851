/*
 * mhd_server - the /dates stream of sse_server, served by GNU libmicrohttpd through
 * MHD_create_response_from_callback, frames encoded by sse_encode.
 *
 *   mhd_server --port 8080              then: sse_client http://127.0.0.1:8080/dates
 *   options: --port P (0: any free port), --interval-ms MS (default 1000), --history N
 *            (default 64), --retry-ms MS (default 1000), --keepalive-ms MS (default
 *            15000), and the limits of server_limits.h: --idle-timeout-ms (5000),
 *            --head-timeout-ms (10000), --max-conns (10000); SIGINT/SIGTERM stop it cleanly.
 *   It prints "listening on http://127.0.0.1:PORT/".
 *
 * What it shows
 *   - a streaming response of unknown length: MHD calls read_stream() whenever the socket
 *     can take more; MHD sends it chunked to HTTP/1.1 clients;
 *   - one thread per connection (MHD_USE_THREAD_PER_CONNECTION), so read_stream() may
 *     block until the next event is due. A condition variable wakes every stream at
 *     shutdown. (With MHD's event-loop modes a reader must not block: it would return 0
 *     and use MHD_suspend_connection / MHD_resume_connection instead.)
 *
 * Events, ids and resume are those of sse_server, from the feed the example servers share
 * (dates_feed.h): frame k depends on k alone, so each connection encodes the frames it needs
 * and keeps no ring: the "ring" of the resume rules is the last --history ticks due at
 * connection time.
 * A connection more than history/2 events behind (a slow reader; history while it is still
 * replaying missed events) is closed: it comes back with Last-Event-ID.
 *
 * Limits (server_limits.h's flags; MHD reads the heads, so they are set from outside it)
 *   idle, head   the main thread checks every 100 ms: a connection whose request line has
 *                not arrived --idle-timeout-ms after its accept is shut down, one whose
 *                request head is not complete after --head-timeout-ms gets 408 first.
 *                (MHD's own timeout restarts at every byte, so a slowloris would outlast
 *                it, and 300 connections timing out together cost it a second of CPU.)
 *                MHD_OPTION_CONNECTION_TIMEOUT, --head-timeout-ms in whole seconds, still
 *                closes a plain response the peer stops reading; event streams are exempt
 *                (MHD_CONNECTION_OPTION_TIMEOUT 0): the lag rule bounds them.
 *   cap          MHD_OPTION_CONNECTION_LIMIT is --max-conns (at most what the descriptors
 *                allow) + REFUSE_SLOTS; a connection over --max-conns is answered 503 and
 *                closed at once, so the excess is answered rather than left in the
 *                backlog. MHD stops polling its listener while full: it never spins.
 *   malformed    MHD_OPTION_STRICT_FOR_CLIENT 1: MHD answers 400 to a bare CR; a NUL cuts
 *                the path (404) or header value short; a bare LF ends a line, as RFC
 *                9112, 2.2 allows a recipient to read it. MHD reads the head: we never
 *                see its raw bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include "dates_feed.h"
#include "server_limits.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stddef.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>

struct stream {
    uint64_t next;      /* id of the next event to send */
    uint64_t live_from; /* first id that was not yet due at connection time */
    int64_t last_ms;    /* when bytes were last handed to MHD */
    char buf[256];      /* encoded bytes not yet handed to MHD */
    size_t len, off;
};

/* Connections over --max-conns that MHD still accepts, to answer them 503. They fit in
 * LIMITS_FD_RESERVE beside stdio, the listener and MHD's ITC. */
#define REFUSE_SLOTS 8

/* A connection as the limits see it: MHD's socket context, in the list watched. */
struct watch {
    struct watch *prev, *next;
    int fd;
    int started; /* its request line arrived */
    int served;  /* its first request is complete */
    int64_t born; /* limits_now_ms() */
};

static struct feed feed;     /* set up in main, then only read */
static struct limits limits; /* likewise */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER; /* broadcast at shutdown */
static int stopping;
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch *watched; /* under watch_lock: every open connection */
static unsigned nwatched;     /* under watch_lock */

/* Appends tick id's frame to st->buf. */
static void put_tick(struct stream *st, uint64_t id)
{
    size_t n;
    if (feed_encode_tick(&feed, id, st->buf + st->len, sizeof st->buf - st->len, &n) == SSE_OK) {
        st->len += n;
    }
}

/* MHD asks for up to max bytes of body. Returns how many it wrote into buf, or ends the
 * stream. Blocks until something is due: allowed in thread-per-connection mode. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    (void)pos;

    for (;;) {
        int64_t now, wait_until;
        uint64_t due;
        struct timespec ts;

        if (st->off < st->len) {
            size_t n = st->len - st->off < max ? st->len - st->off : max;
            memcpy(buf, st->buf + st->off, n);
            st->off += n;
            return (ssize_t)n;
        }
        st->off = st->len = 0;
        now = feed_now_ms();
        due = feed_tick_at(&feed, now);
        if (st->next <= due &&
            due + 1 - st->next > (st->next < st->live_from ? feed.history : feed.history / 2)) {
            fprintf(stderr, "mhd_server: a client is %llu events behind, disconnecting\n",
                    (unsigned long long)(due + 1 - st->next));
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (st->next <= due) {
            put_tick(st, st->next++);
            st->last_ms = now;
            continue;
        }
        if (now - st->last_ms >= feed.keepalive_ms) {
            feed_append(st->buf, sizeof st->buf, &st->len, feed.keepalive, feed.keepalive_len);
            st->last_ms = now;
            continue;
        }
        /* Sleep until the next tick or keep-alive, or until shutdown. */
        wait_until = feed_next_due(&feed, st->next, st->last_ms);
        ts.tv_sec = (time_t)(wait_until / 1000);
        ts.tv_nsec = (long)(wait_until % 1000) * 1000000L;
        pthread_mutex_lock(&lock);
        if (!stopping) {
            pthread_cond_timedwait(&wake, &lock, &ts); /* CLOCK_REALTIME, as the ids */
        }
        if (stopping) {
            pthread_mutex_unlock(&lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        pthread_mutex_unlock(&lock);
    }
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;
    MHD_add_response_header(r, "Content-Type", "text/plain");
    MHD_add_response_header(r, "Connection", "close");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- limits ---------------------------------------------------------------------------- */

/* Sets a flag of conn's watch: offsetof(struct watch, started) or (.., served). */
static void mark(struct MHD_Connection *conn, size_t flag)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci != NULL && ci->socket_context != NULL) {
        pthread_mutex_lock(&watch_lock);
        *(int *)((char *)ci->socket_context + flag) = 1;
        pthread_mutex_unlock(&watch_lock);
    }
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line arrived. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)uri;
    mark(conn, offsetof(struct watch, started));
    return NULL;
}

/* Answers status (NULL: nothing) and shuts the socket: MHD's thread then reads EOF and
 * closes it. Only for a connection MHD has not answered (its request is not complete),
 * under watch_lock. */
static void cut(struct watch *w, const char *status)
{
    if (status != NULL) {
        limits_answer(w->fd, status);
    }
    shutdown(w->fd, SHUT_RDWR);
    w->served = 1; /* once */
}

/* MHD: a connection opened (on MHD's accepting thread) or closed (before its socket is
 * closed, so a listed fd is always still ours to shut down). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct watch *w = *socket_context;
    (void)cls;
    pthread_mutex_lock(&watch_lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        w = calloc(1, sizeof *w);
        if (w != NULL && ci != NULL) {
            w->fd = ci->connect_fd;
            w->born = limits_now_ms();
            w->next = watched;
            if (watched != NULL) {
                watched->prev = w;
            }
            watched = w;
            *socket_context = w;
            if (++nwatched > limits.max_conns) {
                cut(w, "503 Service Unavailable");
            }
        } else {
            free(w);
        }
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && w != NULL) {
        if (w->prev != NULL) {
            w->prev->next = w->next;
        } else {
            watched = w->next;
        }
        if (w->next != NULL) {
            w->next->prev = w->prev;
        }
        nwatched--;
        free(w);
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&watch_lock);
}

/* The deadlines before a request: shut a silent connection, 408 to an unfinished head. */
static void expire(void)
{
    int64_t now = limits_now_ms();
    struct watch *w;
    pthread_mutex_lock(&watch_lock);
    for (w = watched; w != NULL; w = w->next) {
        if (!w->served && now >= limits_deadline(&limits, w->born, w->started)) {
            cut(w, w->started ? "408 Request Timeout" : NULL);
        }
    }
    pthread_mutex_unlock(&watch_lock);
}

/* ---- requests --------------------------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_len, void **req_cls)
{
    const char *last_id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    uint64_t newest = feed_tick_at(&feed, feed_now_ms()), last = 0;
    int has_last = last_id != NULL && feed_last_id(last_id, strlen(last_id), &last);
    struct MHD_Response *r;
    struct stream *st;
    enum MHD_Result ret;

    (void)cls, (void)version, (void)upload, (void)upload_len, (void)req_cls;
    mark(conn, offsetof(struct watch, served));
    if (strcmp(method, "GET") != 0) {
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
    }
    if (strcmp(url, "/dates") != 0) {
        return reply(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    st = calloc(1, sizeof *st);
    if (st == NULL) {
        return MHD_NO;
    }
    /* the retry frame, a "gap" event if Last-Event-ID is older than history ticks */
    st->live_from = newest + 1;
    st->next = feed_resume(&feed, newest, has_last, last, st->buf, sizeof st->buf, &st->len);
    st->last_ms = feed_now_ms();
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, st, free);
    if (r == NULL) {
        free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", SSE_CONTENT_TYPE);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    /* a stream may be quiet for --keepalive-ms: no idle timeout (the lag rule bounds it) */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)0);
    ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    sigset_t sigs;
    unsigned port = 8080;
    int a, sig = 0;

    feed_defaults(&feed, "mhd_server");
    limits_defaults(&limits, "mhd_server");
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--port") == 0) {
            port = limits_number("mhd_server", argc, argv, &a, 0, 65535);
        } else if (!feed_option(&feed, argc, argv, &a) &&
                   !limits_option(&limits, argc, argv, &a)) {
            fprintf(stderr, "usage: mhd_server [--port P] [--interval-ms MS] [--history N] "
                            "[--retry-ms MS] [--keepalive-ms MS] " LIMITS_USAGE "\n");
            return 2;
        }
    }
    limits_setup(&limits);
    close(limits.spare_fd); /* MHD accepts: it stops at its connection limit instead */
    if (feed_tick_at(&feed, feed_now_ms()) < feed.history) {
        fprintf(stderr, "mhd_server: --history larger than the ticks since 2024\n");
        return 2;
    }
    feed_setup(&feed);

    /* SIGINT and SIGTERM go to sigwait() below: block them before MHD starts its threads,
     * which inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* MHD_USE_ITC: a finished connection wakes the accepting thread, which closes its
     * socket now rather than at the next accept */
    d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ITC | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, limits.max_conns + REFUSE_SLOTS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)((limits.head_ms + 999) / 1000), MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_server: cannot listen on port %u\n", port);
        return 1;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening on http://127.0.0.1:%u/\n", info ? (unsigned)info->port : port);
    fflush(stdout);

    while (sig <= 0) { /* a signal, or 100 ms: time to check the head deadlines */
        struct timespec tick = { 0, 100000000L };
        sig = sigtimedwait(&sigs, NULL, &tick);
        expire();
    }
    fprintf(stderr, "mhd_server: signal %d, shutting down\n", sig);
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    MHD_stop_daemon(d); /* joins the connection threads, closes every socket */
    return 0;
}
