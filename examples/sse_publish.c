/*
 * sse_publish - adds one Redis Stream entry per line of stdin, for redis_gateway to serve
 * as Server-Sent Events. hiredis, one connection, pipelined.
 *
 *   printf 'hello\nworld\n' | sse_publish --redis 127.0.0.1:6379 news
 *   options: --redis HOST:PORT (default 127.0.0.1:6379), --maxlen N (the stream keeps
 *            about the newest N entries, XADD MAXLEN ~ N; default 10000), --event TYPE
 *            (the entries' "event" field: the SSE event type; default none)
 *   The same by hand: redis-cli XADD news MAXLEN '~' 10000 '*' data 'hello' event update
 *
 * Each line (without its LF; up to 64 KiB, a longer one is an error) becomes the field
 * "data" of one entry with ID "*" (Redis makes it from the clock). Lines are sent in
 * batches of what stdin has ready (at most 256), each batch's replies read before the
 * next: entries keep the order of the lines.
 * Redis going away: the entries of the batch that were not acknowledged are sent again
 * after a reconnect (back-off 100 ms doubling to 5 s, forever; stop it with a signal).
 * So each line is added at least once; an entry Redis added but could not acknowledge
 * before the connection broke is added twice.
 * Exit: 0 at the end of stdin with every line added, 1 on a line too long or a Redis
 * error reply (the line number is printed), 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <hiredis/hiredis.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_CAP 65536
#define BATCH    256
#define IN_CAP   (4 * LINE_CAP)

static char in[IN_CAP]; /* stdin bytes: in[off..len) not yet sent */
static size_t in_off, in_len;
static int in_eof;

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static redisContext *connect_redis(const char *host, int port)
{
    long backoff = 100;
    for (;;) {
        struct timeval tv = { 2, 0 };
        redisContext *rc = redisConnectWithTimeout(host, port, tv);
        if (rc != NULL && rc->err == 0) {
            redisSetTimeout(rc, tv);
            return rc;
        }
        fprintf(stderr, "sse_publish: Redis %s:%d: %s; retrying in %ld ms\n", host, port,
                rc != NULL ? rc->errstr : "out of memory", backoff);
        redisFree(rc);
        sleep_ms(backoff);
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
}

/* Reads more of stdin: blocks only when in[] holds no complete line. */
static void fill(void)
{
    ssize_t r;
    if (in_off > 0) {
        memmove(in, in + in_off, in_len - in_off);
        in_len -= in_off;
        in_off = 0;
    }
    if (in_eof || in_len == IN_CAP) {
        return;
    }
    if (memchr(in, '\n', in_len) != NULL) {
        struct pollfd p = { 0, POLLIN, 0 };
        if (poll(&p, 1, 0) <= 0) {
            return; /* a batch never waits for a slow writer */
        }
    }
    r = read(0, in + in_len, IN_CAP - in_len);
    if (r <= 0) {
        in_eof = 1;
        return;
    }
    in_len += (size_t)r;
}

int main(int argc, char **argv)
{
    static char host[256] = "127.0.0.1";
    const char *topic = NULL, *event = NULL, *maxlen = "10000";
    unsigned long lineno = 0;
    int port = 6379, a;
    redisContext *rc;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--redis") == 0 && a + 1 < argc) {
            const char *colon = strrchr(argv[++a], ':');
            size_t n = colon != NULL ? (size_t)(colon - argv[a]) : 0;
            port = colon != NULL ? atoi(colon + 1) : 0;
            if (n == 0 || n >= sizeof host || port < 1 || port > 65535) {
                fprintf(stderr, "sse_publish: --redis wants HOST:PORT\n");
                return 2;
            }
            memcpy(host, argv[a], n);
            host[n] = '\0';
        } else if (strcmp(argv[a], "--maxlen") == 0 && a + 1 < argc &&
                   strspn(argv[a + 1], "0123456789") == strlen(argv[a + 1]) &&
                   argv[a + 1][0] != '\0') {
            maxlen = argv[++a];
        } else if (strcmp(argv[a], "--event") == 0 && a + 1 < argc) {
            event = argv[++a];
        } else if (argv[a][0] != '-' && topic == NULL) {
            topic = argv[a];
        } else {
            topic = NULL;
            break;
        }
    }
    if (topic == NULL) {
        fprintf(stderr, "usage: sse_publish [--redis HOST:PORT] [--maxlen N] [--event TYPE] "
                        "TOPIC < lines\n");
        return 2;
    }

    rc = connect_redis(host, port);
    for (;;) {
        const char *av[10] = { "XADD", topic,  "MAXLEN", "~",     maxlen,
                               "*",    "data", NULL,     "event", event };
        size_t al[10], off = in_off, i, n = 0;
        int ac = event != NULL ? 10 : 8, broken = 0;

        fill();
        off = in_off;
        while (n < BATCH) { /* queue the complete lines (and a last one at EOF) */
            char *nl = memchr(in + off, '\n', in_len - off);
            size_t len = nl != NULL ? (size_t)(nl - (in + off)) : in_len - off;
            if (len > LINE_CAP || (nl == NULL && !in_eof && len == LINE_CAP)) {
                fprintf(stderr, "sse_publish: line %lu is longer than %d bytes\n", lineno + n + 1,
                        LINE_CAP);
                return 1;
            }
            if (nl == NULL && (!in_eof || len == 0)) {
                break;
            }
            av[7] = in + off;
            for (i = 0; i < (size_t)ac; i++) {
                al[i] = i == 7 ? len : strlen(av[i]);
            }
            redisAppendCommandArgv(rc, ac, av, al);
            off += len + (nl != NULL);
            n++;
        }
        if (n == 0 && in_eof) {
            break;
        }
        for (i = 0; i < n; i++) { /* replies in order: the acknowledged lines are done */
            redisReply *r;
            char *nl;
            if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "sse_publish: Redis: %s; reconnecting\n", rc->errstr);
                broken = 1;
                break;
            }
            if (r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "sse_publish: line %lu: %s\n", lineno + 1, r->str);
                return 1;
            }
            freeReplyObject(r);
            nl = memchr(in + in_off, '\n', in_len - in_off);
            in_off = nl != NULL ? (size_t)(nl - in) + 1 : in_len;
            lineno++;
        }
        if (broken) { /* what was not acknowledged is sent again */
            redisFree(rc);
            rc = connect_redis(host, port);
        }
    }
    redisFree(rc);
    return 0;
}
