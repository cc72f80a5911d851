/*
 * redis_gateway - a stateless Server-Sent Events gateway over Redis Streams: run several
 * behind a load balancer (examples/nginx/), publishers add entries to Redis (sse_publish),
 * and a client resumes on any gateway with Last-Event-ID. POSIX sockets, poll(), one
 * thread, hiredis (async API, driven from the same poll loop).
 *
 *   redis_gateway --port 8080 --redis 127.0.0.1:6379
 *   then: sse_client http://127.0.0.1:8080/streams/news
 *         sse_publish --redis 127.0.0.1:6379 news     (one entry per line of stdin)
 *   It prints "listening on http://127.0.0.1:PORT/" and stops cleanly on SIGINT/SIGTERM.
 *
 * Options (every wait has a deadline, every buffer a cap)
 *   --port P             0: any free port (the bound one is printed)
 *   --redis HOST:PORT    default 127.0.0.1:6379
 *   --max-topics N       topics read at once (default 1024); a new one beyond gets 503
 *   --max-queue-kb KB    per-client output queue (default 256): a client that falls further
 *                        behind is disconnected (reset) and resumes with Last-Event-ID;
 *                        it must hold a burst (one read: up to 64 entries of a topic)
 *   --send-timeout-ms MS a client with queued output that takes none of it for MS is
 *                        reset (default 30000)
 *   --keepalive-ms MS    ": keep-alive" after MS without output (default 15000)
 *   --retry-ms MS        the "retry:" frame every stream starts with (default 1000)
 *   -v                   log each stream opened and closed
 *   --max-conns N, --idle-timeout-ms MS, --head-timeout-ms MS, and the 400 for a malformed
 *   head (NUL, bare CR, bare LF), the 431 for one over 4 KiB and the 503 with a spare
 *   descriptor when out of them: server_limits.h, as for sse_server, h2_server, sse_relay.
 *
 * Streams and events
 *   GET /streams/<topic> serves the Redis Stream <topic> (1 to 128 bytes of A-Z a-z 0-9
 *   _ . : -) as text/event-stream, with X-Accel-Buffering: no (no buffering in nginx).
 *   Each stream entry is one event: its field "data" is the event's data (absent: empty),
 *   its optional field "event" the event type; other fields are ignored. The SSE id is the
 *   entry ID, "<ms>-<seq>". Add entries with sse_publish, or:
 *       redis-cli XADD news MAXLEN '~' 10000 '*' data 'hello' event update
 *
 * Resume (request header Last-Event-ID = L, or the query parameter ?lastEventId=L for
 * clients that cannot set headers; the header wins). These are the rules of dates_feed.h
 * with the stream in place of the ring. R is the stream's first entry, G its
 * last-generated-id; "trimmed" means Redis removed entries from it (its entries-added
 * exceeds its length: MAXLEN, XTRIM or XDEL; Redis 7.0 does not say which IDs):
 *   none, not an entry ID "<ms>-<seq>", L > G, or no such stream
 *                        live events only (after the newest entry);
 *   L >= R, or L < R in a stream never trimmed
 *                        the entries after L are replayed from Redis, then live;
 *   L < R-1 in a trimmed stream (older than the stream)
 *                        the entries after L up to R-1 are lost: the client first
 *                        receives an event of type "gap" with data "<L+1> <R-1>" (the
 *                        lost range of IDs, inclusive; no id field), then the oldest
 *                        entries, then live. (Were L the very last trimmed entry, the
 *                        range holds none: Redis cannot tell, so the gap is announced.)
 *   A client without L starts at the tail as this gateway knew it when the client came
 *   (its 200 is sent once that tail is known): every entry added after that is delivered,
 *   also one added before the gateway's next read (the `$` race: this gateway never reads
 *   with `$`, it reads after the last ID).
 *
 * Fan-out
 *   One XREAD loop (one Redis connection) per gateway reads all its topics after each
 *   topic's last delivered ID; each entry is encoded once (sse_encode) and its bytes are
 *   copied to the queue of every live client of the topic: no per-client Redis command on
 *   the live path. Replays (XRANGE, 64 entries a page while the client's queue is under
 *   half full) and resume checks (XINFO STREAM) go over a second connection.
 *
 * Redis going away
 *   Clients stay connected and get keep-alives. The gateway reconnects with back-off
 *   (100 ms doubling to 5 s) and first checks each topic (XINFO STREAM) against the last
 *   ID it delivered, C:
 *   - R <= C (the entry C is still there), or the stream was trimmed past C: it reads
 *     on after C, with a "gap" event as above when entries after C were trimmed;
 *   - otherwise the stream is gone or new (Redis restarted without persistence): entries
 *     the old stream held after C, if any, were lost with it and nobody knows how many.
 *     Every client of the topic receives "gap" with data "<C+1> <R-1>" (R: the new
 *     stream's first entry) or "<C+1> +" when the new stream is still empty; then the
 *     gateway reads on after C. New entries get IDs from the clock (XADD *), larger than
 *     C unless the clock went back. (C = 0-0, nothing delivered yet: nothing is owed.)
 */
#define _POSIX_C_SOURCE 200809L

#include "server_limits.h"
#include "sse.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_CAP  4096 /* larger request heads get 431 */
#define TOPIC_CAP    129  /* 128 bytes and a NUL */
#define PAGE         64   /* entries per replay XRANGE */
#define READ_COUNT   "64" /* entries per topic per XREAD: the largest burst a queue takes */
#define BLOCK_MS     "5000"
#define WRITE_BUDGET 65536 /* bytes per client per poll round */
#define BACKOFF_MIN  100
#define BACKOFF_MAX  5000
#define TIMER_MS     250 /* the longest poll wait */

struct sid { /* a stream entry ID */
    uint64_t ms, seq;
};

struct topic {
    char name[TOPIC_CAP];
    struct sid cursor; /* last entry read and delivered to live clients */
    int known;         /* cursor is valid */
    int busy;          /* an XREVRANGE or XINFO for it is in flight */
    int checked;       /* known and checked since the last Redis (re)connect */
    struct client **c; /* its clients */
    size_t n, cap;
};

enum state {
    HEAD,       /* reading the request */
    RESPONDING, /* sending a plain response, then closing */
    WAIT_INFO,  /* has Last-Event-ID: waiting for XINFO STREAM */
    WAIT_TAIL,  /* live only: waiting for the topic's cursor */
    REPLAY,     /* XRANGE pages until caught up */
    LIVE
};

struct client {
    int fd;
    enum state state;
    int dead; /* 1: close, 2: reset (drop queued bytes) */
    int busy; /* a Redis command for it is in flight: freed only after its reply */
    int head_sent;
    size_t idx; /* index in its topic's array */
    struct topic *t;
    struct sid pos; /* last entry ID queued for it */
    struct sid last;
    char *in;
    size_t in_len;
    char *q; /* output queue: q[off..len) */
    size_t q_len, q_off, q_cap;
    int64_t since, last_out, last_progress;
};

struct rconn {
    redisAsyncContext *ac;
    int want_read, want_write, connected;
};

static struct {
    const char *redis_host;
    int redis_port;
    struct limits lim; /* --max-conns, --idle-timeout-ms, --head-timeout-ms (server_limits.h) */
    int paused;        /* out of file descriptors: stop accepting until a client leaves */
    size_t max_topics, max_queue;
    int64_t send_timeout, keepalive;
    unsigned retry_ms;
    int verbose;

    struct client **c;
    size_t n, cap;
    struct topic **t;
    size_t nt;
    char retry[64], keepalive_frame[32];
    size_t retry_len, keepalive_len;
    char *scratch; /* one encoded frame */
    size_t scratch_cap;

    struct rconn rd, cmd; /* the XREAD loop; replays and checks */
    int up;               /* both connected and rd's CLIENT ID known */
    int broken;           /* a connection failed: tear both down outside callbacks */
    long long rd_id;      /* CLIENT ID of rd, for CLIENT UNBLOCK */
    int reading, unblock; /* an XREAD in flight; its topic set is stale */
    int unblock_sent;     /* CLIENT UNBLOCK sent for the XREAD in flight */
    int64_t next_try, backoff;
    int64_t now;
} g;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- entry IDs ---------------------------------------------------------------------- */

static int sid_cmp(struct sid a, struct sid b)
{
    if (a.ms != b.ms) {
        return a.ms < b.ms ? -1 : 1;
    }
    return a.seq < b.seq ? -1 : a.seq > b.seq;
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (len == 0 || len > 20) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) {
            return 0;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 1;
}

/* Reads "<ms>-<seq>" (both decimal, the form Redis gives). Returns 1, or 0 for anything
 * else. */
static int sid_parse(const char *s, size_t len, struct sid *id)
{
    const char *dash = memchr(s, '-', len);
    return dash != NULL && parse_u64(s, (size_t)(dash - s), &id->ms) &&
           parse_u64(dash + 1, len - (size_t)(dash - s) - 1, &id->seq);
}

static int sid_format(struct sid id, char *out, size_t cap)
{
    return snprintf(out, cap, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
}

static struct sid sid_next(struct sid id)
{
    if (id.seq == UINT64_MAX) {
        id.ms++;
        id.seq = 0;
    } else {
        id.seq++;
    }
    return id;
}

static struct sid sid_prev(struct sid id)
{
    if (id.seq == 0) {
        id.ms--;
        id.seq = UINT64_MAX;
    } else {
        id.seq--;
    }
    return id;
}

/* ---- client output ------------------------------------------------------------------ */

static int flush(struct client *c);

/* Appends bytes to c's queue. Returns 0, or -1 when the queue cap would be passed even
 * after writing what the socket takes now (the client is then marked for a reset: it
 * resumes, on any gateway, with Last-Event-ID). */
static int enqueue(struct client *c, const void *bytes, size_t n)
{
    size_t used = c->q_len - c->q_off;
    if (c->dead) {
        return -1;
    }
    if (used + n > g.max_queue) {
        if (flush(c) < 0) {
            c->dead = 1;
            return -1;
        }
        used = c->q_len - c->q_off;
    }
    if (used + n > g.max_queue) {
        if (g.verbose || c->state == LIVE) {
            fprintf(stderr,
                    "redis_gateway: client %d is more than %zu KiB behind, "
                    "disconnecting\n",
                    c->fd, g.max_queue / 1024);
        }
        c->dead = 2;
        return -1;
    }
    if (c->q_off > 0 && c->q_len + n > c->q_cap) { /* compact first */
        memmove(c->q, c->q + c->q_off, used);
        c->q_len = used;
        c->q_off = 0;
    }
    if (c->q_len + n > c->q_cap) {
        size_t cap = c->q_cap ? c->q_cap : 4096;
        char *q;
        while (cap < c->q_len + n) {
            cap *= 2;
        }
        q = realloc(c->q, cap);
        if (q == NULL) {
            c->dead = 2;
            return -1;
        }
        c->q = q;
        c->q_cap = cap;
    }
    if (c->q_len == c->q_off) {
        c->last_progress = g.now; /* the idle deadline counts from the first byte queued */
    }
    memcpy(c->q + c->q_len, bytes, n);
    c->q_len += n;
    return 0;
}

/* Encodes one frame into g.scratch. Returns its length, or 0 when it cannot be encoded. */
static size_t encode(const sse_frame *f)
{
    size_t len = 0;
    if (sse_encode(NULL, 0, f, &len) != SSE_OK) {
        return 0;
    }
    if (len > g.scratch_cap) {
        char *s = realloc(g.scratch, len);
        if (s == NULL) {
            return 0;
        }
        g.scratch = s;
        g.scratch_cap = len;
    }
    return sse_encode(g.scratch, g.scratch_cap, f, &len) == SSE_OK ? len : 0;
}

/* Encodes a "gap" event for the lost IDs from..to ("+" when to is NULL). */
static size_t encode_gap(struct sid from, const struct sid *to)
{
    char lost[96];
    int n = sid_format(from, lost, sizeof lost);
    sse_frame f = { 0 };
    if (to != NULL) {
        lost[n++] = ' ';
        n += sid_format(*to, lost + n, sizeof lost - (size_t)n);
    } else {
        n += snprintf(lost + n, sizeof lost - (size_t)n, " +");
    }
    f.type = "gap";
    f.type_len = 3;
    f.data = lost;
    f.data_len = (size_t)n;
    return encode(&f);
}

/* Encodes stream entry e (["<id>", [field, value, ...]]). Returns its length and sets
 * *id, or 0 for a malformed entry. A frame larger than a client queue becomes a "gap"
 * event naming that one entry: it could never be delivered. */
static size_t encode_entry(const redisReply *e, struct sid *id)
{
    const redisReply *fv;
    sse_frame f = { 0 };
    size_t i, len;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING ||
        !sid_parse(e->element[0]->str, e->element[0]->len, id)) {
        return 0;
    }
    fv = e->element[1];
    f.id = e->element[0]->str;
    f.id_len = e->element[0]->len;
    f.data = "";
    for (i = 0; fv->type == REDIS_REPLY_ARRAY && i + 1 < fv->elements; i += 2) {
        const redisReply *k = fv->element[i], *v = fv->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (k->len == 4 && memcmp(k->str, "data", 4) == 0) {
            f.data = v->str;
            f.data_len = v->len;
        } else if (k->len == 5 && memcmp(k->str, "event", 5) == 0) {
            f.type = v->str;
            f.type_len = v->len;
        }
    }
    len = encode(&f);
    if (len == 0 || len > g.max_queue / 2) {
        fprintf(stderr,
                "redis_gateway: entry %.*s cannot be sent (too large or an event "
                "type with CR/LF): clients get a gap event for it\n",
                (int)f.id_len, f.id);
        len = encode_gap(*id, id);
    }
    return len;
}

static const char head_ok[] =
    "HTTP/1.1 200 OK\r\n" SSE_HTTP_HEADERS "X-Accel-Buffering: no\r\n\r\n";

/* The response head and the retry frame, once: from then on a client's position is fixed
 * (a client that got its 200 misses no later entry). */
static void send_head(struct client *c)
{
    if (!c->head_sent) {
        c->head_sent = 1;
        enqueue(c, head_ok, sizeof head_ok - 1);
        enqueue(c, g.retry, g.retry_len);
    }
}

/* ---- topics ------------------------------------------------------------------------- */

static struct topic *topic_get(const char *name)
{
    struct topic *t, **grown;
    size_t i;
    for (i = 0; i < g.nt; i++) {
        if (strcmp(g.t[i]->name, name) == 0) {
            return g.t[i];
        }
    }
    if (g.nt == g.max_topics || (t = calloc(1, sizeof *t)) == NULL) {
        return NULL;
    }
    grown = realloc(g.t, (g.nt + 1) * sizeof *grown);
    if (grown == NULL) {
        free(t);
        return NULL;
    }
    g.t = grown;
    snprintf(t->name, sizeof t->name, "%s", name);
    g.t[g.nt++] = t;
    return t;
}

static int topic_add(struct topic *t, struct client *c)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        struct client **grown = realloc(t->c, cap * sizeof *grown);
        if (grown == NULL) {
            return -1;
        }
        t->c = grown;
        t->cap = cap;
    }
    c->t = t;
    c->idx = t->n;
    t->c[t->n++] = c;
    return 0;
}

static void topic_remove(struct client *c)
{
    struct topic *t = c->t;
    t->c[c->idx] = t->c[--t->n];
    t->c[c->idx]->idx = c->idx;
    c->t = NULL;
}

/* Frees topics nobody reads any more (and no reply is pending for). */
static void topic_sweep(void)
{
    size_t i;
    for (i = g.nt; i-- > 0;) {
        struct topic *t = g.t[i];
        if (t->n == 0 && !t->busy) {
            free(t->c);
            free(t);
            g.t[i] = g.t[--g.nt];
            g.unblock = 1;
        }
    }
}

/* Queues the frame in g.scratch[0..len) for every live client of t past id. */
static void fan_out(struct topic *t, struct sid id, size_t len)
{
    size_t i;
    for (i = 0; i < t->n; i++) {
        struct client *c = t->c[i];
        if (c->state == LIVE && sid_cmp(id, c->pos) > 0 && enqueue(c, g.scratch, len) == 0) {
            c->pos = id;
        }
    }
}

/* Sends every live client of t a gap event (data already in g.scratch). */
static void fan_out_gap(struct topic *t, size_t len)
{
    size_t i;
    for (i = 0; i < t->n; i++) {
        if (t->c[i]->state == LIVE) {
            enqueue(t->c[i], g.scratch, len);
        }
    }
}

/* ---- Redis: connections ------------------------------------------------------------- */

static void ev_add_read(void *p)
{
    ((struct rconn *)p)->want_read = 1;
}
static void ev_del_read(void *p)
{
    ((struct rconn *)p)->want_read = 0;
}
static void ev_add_write(void *p)
{
    ((struct rconn *)p)->want_write = 1;
}
static void ev_del_write(void *p)
{
    ((struct rconn *)p)->want_write = 0;
}
static void ev_cleanup(void *p)
{
    struct rconn *rc = p;
    rc->want_read = rc->want_write = 0;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;
    if (status != REDIS_OK) {
        fprintf(stderr, "redis_gateway: Redis %s:%d: %s\n", g.redis_host, g.redis_port, ac->errstr);
        rc->ac = NULL; /* hiredis frees it */
        g.broken = 1;
        return;
    }
    rc->connected = 1;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;
    (void)status;
    rc->ac = NULL; /* hiredis frees it */
    rc->connected = 0;
    g.broken = 1;
}

static void on_client_id(redisAsyncContext *ac, void *r, void *priv);

static void rconn_open(struct rconn *rc)
{
    memset(rc, 0, sizeof *rc);
    rc->ac = redisAsyncConnect(g.redis_host, g.redis_port);
    if (rc->ac == NULL || rc->ac->err) {
        if (rc->ac != NULL) {
            redisAsyncFree(rc->ac);
        }
        rc->ac = NULL;
        g.broken = 1;
        return;
    }
    rc->ac->data = rc;
    rc->ac->ev.data = rc;
    rc->ac->ev.addRead = ev_add_read;
    rc->ac->ev.delRead = ev_del_read;
    rc->ac->ev.addWrite = ev_add_write;
    rc->ac->ev.delWrite = ev_del_write;
    rc->ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(rc->ac, on_connect);
    redisAsyncSetDisconnectCallback(rc->ac, on_disconnect);
}

static void redis_connect(void)
{
    rconn_open(&g.rd);
    rconn_open(&g.cmd);
    if (g.rd.ac != NULL) {
        redisAsyncCommand(g.rd.ac, on_client_id, NULL, "CLIENT ID");
    }
}

/* Tears both connections down (outside any hiredis callback): pending callbacks run
 * with a NULL reply, which puts what they were waiting for back in the queue. */
static void redis_teardown(void)
{
    size_t i;
    if (g.up) {
        fprintf(stderr, "redis_gateway: lost Redis; clients stay, reconnecting\n");
    }
    g.up = 0;
    if (g.rd.ac != NULL) {
        redisAsyncFree(g.rd.ac);
    }
    if (g.cmd.ac != NULL) {
        redisAsyncFree(g.cmd.ac);
    }
    memset(&g.rd, 0, sizeof g.rd);
    memset(&g.cmd, 0, sizeof g.cmd);
    g.reading = g.unblock_sent = 0;
    for (i = 0; i < g.nt; i++) {
        g.t[i]->checked = 0;
    }
    g.next_try = g.now + g.backoff;
    g.backoff = g.backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : g.backoff * 2;
    g.broken = 0;
}

static void on_client_id(redisAsyncContext *ac, void *r, void *priv)
{
    const redisReply *reply = r;
    (void)ac;
    (void)priv;
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        g.broken = 1;
        return;
    }
    g.rd_id = reply->integer;
    g.up = 1;
    g.backoff = BACKOFF_MIN;
    fprintf(stderr, "redis_gateway: connected to Redis %s:%d\n", g.redis_host, g.redis_port);
}

/* ---- Redis: the XREAD loop ---------------------------------------------------------- */

static void on_xread(redisAsyncContext *ac, void *r, void *priv)
{
    const redisReply *reply = r;
    size_t i, j, k;
    (void)ac;
    (void)priv;
    g.reading = 0;
    if (reply == NULL) {
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "redis_gateway: XREAD: %s\n", reply->str);
        g.broken = 1;
        return;
    }
    for (i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        const redisReply *s = reply->element[i];
        struct topic *t = NULL;
        if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
            s->element[0]->type != REDIS_REPLY_STRING) {
            continue;
        }
        for (k = 0; k < g.nt; k++) {
            if (strcmp(g.t[k]->name, s->element[0]->str) == 0) {
                t = g.t[k];
            }
        }
        if (t == NULL || !t->checked) {
            continue; /* gone, or being checked again: its cursor decides, not this read */
        }
        for (j = 0; j < s->element[1]->elements; j++) {
            struct sid id;
            size_t len = encode_entry(s->element[1]->element[j], &id);
            if (len > 0 && sid_cmp(id, t->cursor) > 0) {
                fan_out(t, id, len);
                t->cursor = id;
            }
        }
    }
}

/* Sends XREAD for every checked topic, after each one's cursor. */
static void read_loop(void)
{
    static const char **argv;
    static size_t *argl;
    static char(*ids)[48];
    static size_t room;
    size_t i, n = 0, argc;

    if (!g.up || g.reading) {
        return;
    }
    for (i = 0; i < g.nt; i++) {
        n += g.t[i]->checked && g.t[i]->n > 0;
    }
    if (n == 0) {
        return;
    }
    if (room < g.nt) {
        free(argv);
        free(argl);
        free(ids);
        room = g.max_topics;
        argv = malloc((6 + 2 * room) * sizeof *argv);
        argl = malloc((6 + 2 * room) * sizeof *argl);
        ids = malloc(room * sizeof *ids);
        if (argv == NULL || argl == NULL || ids == NULL) {
            fprintf(stderr, "redis_gateway: out of memory\n");
            exit(1);
        }
    }
    argv[0] = "XREAD";
    argv[1] = "COUNT";
    argv[2] = READ_COUNT;
    argv[3] = "BLOCK";
    argv[4] = BLOCK_MS;
    argv[5] = "STREAMS";
    argc = 6;
    for (i = 0; i < g.nt; i++) {
        if (g.t[i]->checked && g.t[i]->n > 0) {
            argv[argc++] = g.t[i]->name;
        }
    }
    for (i = 0, n = 0; i < g.nt; i++) {
        if (g.t[i]->checked && g.t[i]->n > 0) {
            sid_format(g.t[i]->cursor, ids[n], sizeof ids[n]);
            argv[argc++] = ids[n++];
        }
    }
    for (i = 0; i < argc; i++) {
        argl[i] = strlen(argv[i]);
    }
    redisAsyncCommandArgv(g.rd.ac, on_xread, NULL, (int)argc, argv, argl);
    g.reading = 1;
    g.unblock = g.unblock_sent = 0;
}

/* ---- Redis: checks, replays --------------------------------------------------------- */

struct info {
    int exists, has_first, trimmed;
    struct sid first, generated; /* R and G of the resume rules */
};

/* Reads an XINFO STREAM reply (a flat key/value array; an error when there is no such
 * stream). trimmed: entries were removed from it (entries-added > length): MAXLEN, XTRIM
 * or XDEL. Returns 0, or -1 for a reply of another shape. */
static int parse_info(const redisReply *r, struct info *in)
{
    long long added = 0, length = 0;
    size_t i;
    memset(in, 0, sizeof *in);
    if (r->type == REDIS_REPLY_ERROR) {
        return 0; /* "ERR no such key" */
    }
    if (r->type != REDIS_REPLY_ARRAY) {
        return -1;
    }
    in->exists = 1;
    for (i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (strcmp(k->str, "first-entry") == 0 && v->type == REDIS_REPLY_ARRAY &&
            v->elements == 2 && v->element[0]->type == REDIS_REPLY_STRING) {
            in->has_first = sid_parse(v->element[0]->str, v->element[0]->len, &in->first);
        } else if (strcmp(k->str, "last-generated-id") == 0 && v->type == REDIS_REPLY_STRING) {
            sid_parse(v->str, v->len, &in->generated);
        } else if (strcmp(k->str, "entries-added") == 0 && v->type == REDIS_REPLY_INTEGER) {
            added = v->integer;
        } else if (strcmp(k->str, "length") == 0 && v->type == REDIS_REPLY_INTEGER) {
            length = v->integer;
        }
    }
    in->trimmed = added > length;
    return 0;
}

/* The resume rule for a position L in a stream that exists: returns 1 and sets *to when
 * entries after L may have been trimmed (lost: L+1 .. *to, that is up to R-1, or up to G
 * when the stream is empty), else 0 (every entry after L is there). */
static int trimmed_after(const struct info *in, struct sid l, struct sid *to)
{
    if ((in->has_first && sid_cmp(l, in->first) >= 0) || !in->trimmed) {
        return 0;
    }
    *to = in->has_first ? sid_prev(in->first) : in->generated;
    return sid_cmp(l, *to) < 0;
}

/* Topic check: a new topic takes the stream's tail as its cursor; after a reconnect the
 * cursor is checked against the stream (see the top: trimmed, or gone with Redis). */
static void on_topic_info(redisAsyncContext *ac, void *r, void *priv)
{
    struct topic *t = priv;
    struct info in;
    struct sid to, before, c = t->cursor, zero = { 0, 0 };
    char cs[48];
    (void)ac;
    t->busy = 0;
    if (r == NULL) {
        return;
    }
    if (parse_info(r, &in) < 0) {
        g.broken = 1;
        return;
    }
    sid_format(c, cs, sizeof cs);
    if (!t->known) {
        t->cursor = in.exists ? in.generated : zero;
        t->known = 1;
    } else if (sid_cmp(c, zero) > 0 && /* 0-0: nothing was delivered, nothing is owed */
               (!in.exists || sid_cmp(in.generated, c) < 0 ||
                (!(in.has_first && sid_cmp(in.first, c) <= 0) && !in.trimmed))) {
        fprintf(stderr,
                "redis_gateway: stream %s is gone or new (Redis lost it): entries "
                "after %s it held are lost; clients get a gap event\n",
                t->name, cs);
        before = sid_prev(in.first);
        fan_out_gap(t, encode_gap(sid_next(c), in.has_first ? &before : NULL));
    } else if (trimmed_after(&in, c, &to)) {
        fprintf(stderr,
                "redis_gateway: stream %s was trimmed past %s while Redis was away; "
                "clients get a gap event\n",
                t->name, cs);
        fan_out_gap(t, encode_gap(sid_next(c), &to));
    }
    t->checked = 1;
    g.unblock = 1;
}

/* A resuming client: where its Last-Event-ID (c->last) stands in the stream. */
static void on_client_info(redisAsyncContext *ac, void *r, void *priv)
{
    struct client *c = priv;
    struct info in;
    struct sid to;
    (void)ac;
    c->busy = 0;
    if (r == NULL || c->dead) {
        return;
    }
    if (parse_info(r, &in) < 0) {
        g.broken = 1;
        return;
    }
    if (!in.exists || sid_cmp(c->last, in.generated) > 0) {
        c->state = WAIT_TAIL; /* live only */
        return;
    }
    if (trimmed_after(&in, c->last, &to)) {
        size_t len = encode_gap(sid_next(c->last), &to);
        if (len > 0) {
            enqueue(c, g.scratch, len);
        }
    }
    c->pos = c->last;
    c->state = REPLAY;
}

/* One replay page arrived: queue it; live once the page reached the topic's cursor. */
static void on_client_range(redisAsyncContext *ac, void *r, void *priv)
{
    const redisReply *reply = r;
    struct client *c = priv;
    size_t i;
    (void)ac;
    c->busy = 0;
    if (reply == NULL || c->dead) {
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "redis_gateway: XRANGE %s: %s\n", c->t->name,
                reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        c->dead = 1;
        return;
    }
    for (i = 0; i < reply->elements; i++) {
        struct sid id;
        size_t len = encode_entry(reply->element[i], &id);
        if (len > 0 && sid_cmp(id, c->pos) > 0 && enqueue(c, g.scratch, len) == 0) {
            c->pos = id;
        }
    }
    if (reply->elements < PAGE && sid_cmp(c->last, c->t->cursor) == 0) {
        c->pos = c->t->cursor; /* read up to the cursor, which has not moved since */
    }
    if (sid_cmp(c->pos, c->t->cursor) >= 0) {
        c->state = LIVE;
    }
}

/* Sends what clients and topics wait for, when Redis is up. */
static void pump(void)
{
    size_t i;
    char a[48], b[48];
    for (i = 0; g.up && i < g.nt; i++) {
        struct topic *t = g.t[i];
        if (!t->checked && !t->busy && t->n > 0) {
            t->busy = 1;
            redisAsyncCommand(g.cmd.ac, on_topic_info, t, "XINFO STREAM %s", t->name);
        }
    }
    for (i = 0; i < g.n; i++) {
        struct client *c = g.c[i];
        if (c->dead || c->busy) {
            continue;
        }
        if (c->state == WAIT_INFO && g.up) {
            c->busy = 1;
            redisAsyncCommand(g.cmd.ac, on_client_info, c, "XINFO STREAM %s", c->t->name);
        } else if (c->state == WAIT_TAIL && c->t->checked) {
            c->pos = c->t->cursor;
            c->state = LIVE;
            send_head(c);
        } else if (c->state == REPLAY && g.up && c->t->checked &&
                   c->q_len - c->q_off < g.max_queue / 2) {
            if (sid_cmp(c->pos, c->t->cursor) >= 0) {
                c->state = LIVE;
                continue;
            }
            c->busy = 1;
            c->last = c->t->cursor; /* this page's end */
            sid_format(c->pos, a, sizeof a);
            sid_format(c->last, b, sizeof b);
            redisAsyncCommand(g.cmd.ac, on_client_range, c, "XRANGE %s (%s %s COUNT %d", c->t->name,
                              a, b, PAGE);
        }
    }
    if (g.up && g.reading && g.unblock && !g.unblock_sent) {
        char id[32];
        snprintf(id, sizeof id, "%lld", g.rd_id);
        redisAsyncCommand(g.cmd.ac, NULL, NULL, "CLIENT UNBLOCK %s", id);
        g.unblock_sent = 1;
    }
}

/* ---- HTTP --------------------------------------------------------------------------- */

static void respond(struct client *c, const char *status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    c->state = RESPONDING;
    enqueue(c, head, (size_t)n);
    enqueue(c, body, strlen(body));
}

static int valid_topic(const char *s, size_t len)
{
    size_t i;
    if (len == 0 || len >= TOPIC_CAP) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == ':' || ch == '-')) {
            return 0;
        }
    }
    return 1;
}

/* Finds the value of query parameter name in query q (up to a NUL); *len its length. */
static const char *query_param(const char *q, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    while (q != NULL && *q != '\0') {
        size_t n = strcspn(q, "&");
        if (n > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
            *len = n - nl - 1;
            return q + nl + 1;
        }
        q = q[n] == '&' ? q + n + 1 : NULL;
    }
    return NULL;
}

/* Makes c an event stream of topic name, resuming after the ID in last (may be NULL). */
static void start_stream(struct client *c, const char *name, const char *last, size_t last_len)
{
    int sndbuf = 32768; /* the kernel's send buffer is a queue too: keep lag visible */
    struct topic *t = topic_get(name);
    if (t == NULL || topic_add(t, c) < 0) {
        respond(c, "503 Service Unavailable", "too many topics\n");
        return;
    }
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (last != NULL && sid_parse(last, last_len, &c->last)) {
        c->state = WAIT_INFO; /* its position is L: the head can go now */
        send_head(c);
    } else {
        c->state = WAIT_TAIL; /* the head goes once the tail is known (see pump) */
    }
    if (g.verbose) {
        fprintf(stderr, "redis_gateway: client %d: stream %s, Last-Event-ID %.*s\n", c->fd, name,
                last != NULL ? (int)last_len : 4, last != NULL ? last : "none");
    }
}

/* Handles the complete request head in c->in. */
static void route(struct client *c)
{
    char *line = c->in, *end, *path, *sp, *query;
    const char *last = NULL;
    size_t last_len = 0;

    end = strstr(line, "\r\n");
    *end = '\0';
    path = strchr(line, ' ');
    sp = path != NULL ? strchr(path + 1, ' ') : NULL;
    if (path == NULL || sp == NULL) {
        respond(c, "400 Bad Request", "bad request\n");
        return;
    }
    *path++ = '\0';
    *sp = '\0';
    query = strchr(path, '?');
    if (query != NULL) {
        *query++ = '\0';
    }
    for (line = end + 2; *line != '\r' && *line != '\0'; line = end + 2) {
        end = strstr(line, "\r\n");
        if (strncasecmp(line, "Last-Event-ID:", 14) == 0) {
            last = line + 14;
            while (*last == ' ' || *last == '\t') {
                last++;
            }
            last_len = (size_t)(end - last);
            while (last_len > 0 && (last[last_len - 1] == ' ' || last[last_len - 1] == '\t')) {
                last_len--;
            }
        }
    }
    if (last == NULL) {
        last = query_param(query, "lastEventId", &last_len);
    }
    if (strcmp(c->in, "GET") != 0) {
        respond(c, "405 Method Not Allowed", "only GET\n");
    } else if (strncmp(path, "/streams/", 9) != 0 || !valid_topic(path + 9, strlen(path + 9))) {
        respond(c, "404 Not Found", "GET /streams/<topic>\n");
    } else {
        start_stream(c, path + 9, last, last_len);
    }
}

/* Reads what arrived. Returns -1 when the client must be closed. */
static int on_readable(struct client *c)
{
    enum limits_head h;

    if (c->state != HEAD) { /* nothing more is expected: watch for EOF, drop the rest */
        return limits_discard(c->fd);
    }
    h = limits_read_head(c->fd, c->in, &c->in_len, REQUEST_CAP);
    if (h == LIMITS_HEAD_GONE) {
        return -1;
    } else if (h == LIMITS_HEAD_BAD) {
        respond(c, "400 Bad Request", "malformed request head\n");
    } else if (h == LIMITS_HEAD_DONE) {
        route(c);
    } else if (h == LIMITS_HEAD_LARGE) {
        respond(c, "431 Request Header Fields Too Large", "too large\n");
    } else {
        return 0;
    }
    free(c->in);
    c->in = NULL;
    return 0;
}

/* Writes up to WRITE_BUDGET bytes of c's queue. Returns -1 when c must be closed. */
static int flush(struct client *c)
{
    size_t used = c->q_len - c->q_off;
    ssize_t w;
    if (used == 0) {
        return 0;
    }
    w = write(c->fd, c->q + c->q_off, used < WRITE_BUDGET ? used : WRITE_BUDGET);
    if (w < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    }
    c->q_off += (size_t)w;
    c->last_out = c->last_progress = g.now;
    if (c->q_off == c->q_len) {
        c->q_off = c->q_len = 0;
        return c->state == RESPONDING ? -1 : 0;
    }
    return 0;
}

/* ---- connections -------------------------------------------------------------------- */

static void sweep(void)
{
    size_t i;
    for (i = g.n; i-- > 0;) {
        struct client *c = g.c[i];
        if (!c->dead || c->busy) {
            continue; /* a reply still points at it: freed after */
        }
        if (g.verbose && c->t != NULL) {
            fprintf(stderr, "redis_gateway: client %d closed\n", c->fd);
        }
        if (c->dead == 2) { /* drop the queued bytes now: no lingering orphan */
            struct linger lg = { 1, 0 };
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        if (c->t != NULL) {
            topic_remove(c);
        }
        close(c->fd);
        free(c->in);
        free(c->q);
        free(c);
        g.c[i] = g.c[--g.n];
        g.paused = 0;
    }
}

static void accept_all(int lfd)
{
    for (;;) {
        int one = 1, fd = limits_accept(&g.lim, lfd, g.n, 1, &g.paused);
        struct client *c;
        if (fd < 0) {
            return;
        }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (g.n == g.cap) {
            size_t cap = g.cap ? 2 * g.cap : 64;
            struct client **grown = realloc(g.c, cap * sizeof *grown);
            if (grown == NULL) {
                close(fd);
                continue;
            }
            g.c = grown;
            g.cap = cap;
        }
        c = calloc(1, sizeof *c);
        if (c != NULL && (c->in = malloc(REQUEST_CAP)) == NULL) {
            free(c);
            c = NULL;
        }
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->since = c->last_out = c->last_progress = g.now;
        g.c[g.n++] = c;
    }
}

/* Deadlines: the request head, a client that takes none of its output, keep-alives.
 * Returns the earliest one still ahead (g.now + TIMER_MS at the latest). */
static int64_t timers(void)
{
    int64_t later = g.now + TIMER_MS, due;
    size_t i;
    for (i = 0; i < g.n; i++) {
        struct client *c = g.c[i];
        if (c->dead) {
            continue;
        }
        if (c->state == HEAD) {
            due = limits_deadline(&g.lim, c->since, c->in_len > 0);
            if (g.now < due) {
                later = due < later ? due : later;
            } else if (c->in_len == 0) {
                c->dead = 1; /* said nothing at all: closed silently */
            } else {
                respond(c, "408 Request Timeout", "request head took too long\n");
            }
        } else if (c->q_len > c->q_off) {
            due = c->last_progress + g.send_timeout;
            if (g.now < due) {
                later = due < later ? due : later;
            } else {
                fprintf(stderr,
                        "redis_gateway: client %d took no output for %lld ms, "
                        "disconnecting\n",
                        c->fd, (long long)g.send_timeout);
                c->dead = 2;
            }
        } else if (c->head_sent && c->state != RESPONDING) {
            due = c->last_out + g.keepalive;
            if (g.now < due) {
                later = due < later ? due : later;
            } else {
                enqueue(c, g.keepalive_frame, g.keepalive_len);
            }
        }
    }
    return later;
}

/* ---- options, main loop ------------------------------------------------------------- */

static void options(int argc, char **argv, unsigned *port)
{
    static char host[256];
    int a;
    g.redis_host = "127.0.0.1";
    g.redis_port = 6379;
    limits_defaults(&g.lim, "redis_gateway");
    g.max_topics = 1024;
    g.max_queue = 256 * 1024;
    g.send_timeout = 30000;
    g.keepalive = 15000;
    g.retry_ms = 1000;
    for (a = 1; a < argc; a++) {
        const char *o = argv[a];
        if (strcmp(o, "--port") == 0) {
            *port = limits_number("redis_gateway", argc, argv, &a, 0, 65535);
        } else if (strcmp(o, "--redis") == 0 && a + 1 < argc) {
            const char *colon = strrchr(argv[++a], ':');
            size_t n = colon != NULL ? (size_t)(colon - argv[a]) : 0;
            char *end;
            long p = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
            if (colon == NULL || n == 0 || n >= sizeof host || *end != '\0' || p < 1 || p > 65535) {
                fprintf(stderr, "redis_gateway: --redis wants HOST:PORT\n");
                exit(2);
            }
            memcpy(host, argv[a], n);
            host[n] = '\0';
            g.redis_host = host;
            g.redis_port = (int)p;
        } else if (strcmp(o, "--max-topics") == 0) {
            g.max_topics = limits_number("redis_gateway", argc, argv, &a, 1, 100000);
        } else if (strcmp(o, "--max-queue-kb") == 0) {
            g.max_queue = 1024 * (size_t)limits_number("redis_gateway", argc, argv, &a, 16, 1048576);
        } else if (strcmp(o, "--send-timeout-ms") == 0) {
            g.send_timeout = limits_number("redis_gateway", argc, argv, &a, 1, 3600000);
        } else if (strcmp(o, "--keepalive-ms") == 0) {
            g.keepalive = limits_number("redis_gateway", argc, argv, &a, 1, 3600000);
        } else if (strcmp(o, "--retry-ms") == 0) {
            g.retry_ms = limits_number("redis_gateway", argc, argv, &a, 0, 3600000);
        } else if (strcmp(o, "-v") == 0) {
            g.verbose = 1;
        } else if (!limits_option(&g.lim, argc, argv, &a)) {
            fprintf(stderr, "usage: redis_gateway [--port P] [--redis HOST:PORT] [--max-conns N] "
                            "[--max-topics N] [--max-queue-kb KB] [--head-timeout-ms MS] "
                            "[--idle-timeout-ms MS] [--send-timeout-ms MS] [--keepalive-ms MS] "
                            "[--retry-ms MS] [-v]\n");
            exit(2);
        }
    }
}

static void setup_frames(void)
{
    sse_frame r = { 0 }, k = { 0 };
    r.has_retry = 1;
    r.retry = g.retry_ms;
    sse_encode(g.retry, sizeof g.retry, &r, &g.retry_len);
    k.comment = "keep-alive";
    k.comment_len = 10;
    sse_encode(g.keepalive_frame, sizeof g.keepalive_frame, &k, &g.keepalive_len);
}

static void redis_poll_fd(struct pollfd *p, const struct rconn *rc)
{
    p->fd = rc->ac != NULL ? rc->ac->c.fd : -1;
    p->events = (short)((rc->want_read ? POLLIN : 0) | (rc->want_write ? POLLOUT : 0));
    p->revents = 0;
}

static void redis_events(const struct pollfd *p, struct rconn *rc)
{
    redisAsyncContext *ac = rc->ac;
    if (ac == NULL || p->fd != ac->c.fd) {
        return;
    }
    if (p->revents & (POLLIN | POLLHUP | POLLERR)) {
        redisAsyncHandleRead(ac);
    }
    if (rc->ac == ac && (p->revents & (POLLOUT | POLLERR))) {
        redisAsyncHandleWrite(ac);
    }
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    struct pollfd *pfd = NULL;
    size_t npfd = 0, i;
    unsigned port = 8080;
    int lfd;

    options(argc, argv, &port);
    limits_setup(&g.lim); /* one fd per client: as many as the hard limit allows */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    setup_frames();
    g.backoff = BACKOFF_MIN;
    g.now = limits_now_ms();
    lfd = limits_listen("redis_gateway", port, "http");

    while (!stop) {
        int64_t timeout, due;
        size_t n = 0;

        g.now = limits_now_ms();
        if (g.broken) {
            redis_teardown();
        }
        if (g.rd.ac == NULL && g.cmd.ac == NULL && g.now >= g.next_try) {
            redis_connect();
        }
        pump();
        read_loop();
        due = timers();
        sweep();
        topic_sweep();
        timeout = due - g.now;
        if (g.rd.ac == NULL && g.cmd.ac == NULL && g.next_try - g.now < timeout) {
            timeout = g.next_try - g.now < 0 ? 0 : g.next_try - g.now;
        }

        if (npfd < g.n + 3) {
            npfd = 2 * (g.n + 3);
            free(pfd);
            pfd = malloc(npfd * sizeof *pfd);
            if (pfd == NULL) {
                fprintf(stderr, "redis_gateway: out of memory\n");
                return 1;
            }
        }
        pfd[n].fd = g.paused ? -1 : lfd; /* poll ignores a negative fd */
        pfd[n++].events = POLLIN;
        redis_poll_fd(&pfd[n++], &g.rd);
        redis_poll_fd(&pfd[n++], &g.cmd);
        for (i = 0; i < g.n; i++) {
            pfd[n].fd = g.c[i]->fd;
            pfd[n++].events = (short)(POLLIN | (g.c[i]->q_len > g.c[i]->q_off ? POLLOUT : 0));
        }
        if (poll(pfd, (nfds_t)n, (int)timeout) < 0) {
            continue; /* EINTR: a signal */
        }
        g.now = limits_now_ms();
        redis_events(&pfd[1], &g.rd);
        redis_events(&pfd[2], &g.cmd);
        for (i = 0; i < g.n; i++) { /* pfd[i + 3] belongs to g.c[i] */
            struct client *c = g.c[i];
            short re = pfd[i + 3].revents;
            if (c->dead) {
                continue;
            }
            if (((re & (POLLIN | POLLHUP | POLLERR)) && on_readable(c) < 0) ||
                ((re & POLLOUT) && flush(c) < 0)) {
                c->dead = 1;
            }
        }
        if (pfd[0].revents & POLLIN) {
            accept_all(lfd);
        }
    }

    fprintf(stderr, "redis_gateway: shutting down, closing %zu connections\n", g.n);
    g.up = 0;
    redis_teardown();
    for (i = 0; i < g.n; i++) {
        g.c[i]->dead = 1;
    }
    sweep();
    topic_sweep();
    close(lfd);
    free(g.c);
    free(g.t);
    free(g.scratch);
    free(pfd);
    return 0;
}
