/*
 * fuzz_limits - tiny storage (16 to 64 bytes), so every overflow path runs, and the
 * parser recovers: after "\n\n" (which ends whatever block was open) the known event
 * "data: ok\n\n" must still arrive intact, as the last record.
 *
 * Input: byte 0 = storage size (16 + b % 49), byte 1 = options (low 4 bits) and chunking
 * mode (bits 4-5), byte 2 = chunking seed; the rest is the stream.
 *
 * The same stream is also parsed whole with storage large enough for anything in it, and:
 * - every event or comment the tiny parser delivers is one the large parser delivers too,
 *   in the same order, same type and data (a limit may drop, never truncate or invent);
 * - every event of the large parser is delivered or reported DROPPED by the tiny one
 *   (counted: nothing disappears silently);
 * - both see the same retry values.
 */
#include "fuzz_common.h"

static const char TAIL[] = "\n\ndata: ok\n\n";

typedef struct item {
    sse_kind kind;
    size_t type_off, type_len, data_off, data_len;
} item;

typedef struct rec {
    unsigned opts;
    size_t cap;
    fz_buf bytes; /* type and data of the items */
    fz_buf items; /* item[] */
    fz_buf retries;
    fz_buf piece;
    unsigned long events, drops, records;
    int last_ok; /* the last record was the "ok" event */
} rec;

static void add_item(rec *r, sse_kind kind, const char *type, size_t type_len, const char *data,
                     size_t data_len)
{
    item it;
    it.kind = kind;
    it.type_off = r->bytes.len;
    it.type_len = type_len;
    fz_put(&r->bytes, type, type_len);
    it.data_off = r->bytes.len;
    it.data_len = data_len;
    fz_put(&r->bytes, data, data_len);
    fz_put(&r->items, &it, sizeof it);
}

static int on_record(void *user, const sse_event *ev)
{
    rec *r = (rec *)user;
    size_t field_max = r->cap / 16 - 1;
    r->records++;
    r->last_ok = 0;
    FUZZ_CHECK(ev->type[ev->type_len] == '\0' && ev->id[ev->id_len] == '\0');
    FUZZ_CHECK(ev->id_len <= field_max);
    switch (ev->kind) {
    case SSE_KIND_EVENT:
        if (r->opts & SSE_OPT_PIECES) {
            if (ev->flags & SSE_FLAG_FIRST) {
                r->piece.len = 0;
            }
            fz_put(&r->piece, ev->data, ev->data_len);
            if (!(ev->flags & SSE_FLAG_LAST)) {
                return 0;
            }
        } else {
            FUZZ_CHECK(ev->data_len <= r->cap - 4 * (r->cap / 16) - 1);
            r->piece.len = 0;
            fz_put(&r->piece, ev->data, ev->data_len);
        }
        FUZZ_CHECK(ev->type_len <= field_max ||
                   (ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0));
        r->events++;
        add_item(r, ev->kind, ev->type, ev->type_len, r->piece.p, r->piece.len);
        r->last_ok = ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0 &&
                     r->piece.len == 2 && memcmp(r->piece.p, "ok", 2) == 0 &&
                     (ev->flags & SSE_FLAG_HAS_ID) == 0;
        r->piece.len = 0;
        break;
    case SSE_KIND_COMMENT: add_item(r, ev->kind, "", 0, ev->data, ev->data_len); break;
    case SSE_KIND_RETRY: fz_put(&r->retries, &ev->retry, sizeof ev->retry); break;
    case SSE_KIND_DROPPED:
        if (ev->error != SSE_ERR_COMMENT_TOO_LONG) {
            r->drops++;
        }
        if (ev->flags & SSE_FLAG_LAST) {
            r->piece.len = 0;
        }
        break;
    default: FUZZ_CHECK(!"unknown record kind");
    }
    return 0;
}

static sse_error parse(rec *r, unsigned opts, size_t cap, const uint8_t *s, size_t n, fz_rng *rng,
                       unsigned mode)
{
    sse_parser *p = (sse_parser *)fz_alloc(sizeof *p);
    char *storage = (char *)fz_alloc(cap);
    size_t at = 0;
    sse_error st;
    memset(r, 0, sizeof *r);
    r->opts = opts;
    r->cap = cap;
    FUZZ_CHECK(sse_parser_init(p, storage, cap, opts) == SSE_OK);
    while (at < n) {
        size_t k = rng ? fz_chunk(rng, mode) : n;
        void *chunk;
        if (k > n - at) {
            k = n - at;
        }
        chunk = fz_dup(s + at, k);
        FUZZ_CHECK(sse_parser_feed(p, chunk, k, on_record, r) == SSE_OK);
        free(chunk);
        at += k;
    }
    FUZZ_CHECK(sse_parser_feed(p, TAIL, sizeof TAIL - 1, on_record, r) == SSE_OK);
    st = sse_parser_finish(p, on_record, r);
    free(storage);
    free(p);
    return st;
}

static void release(rec *r)
{
    fz_free(&r->bytes);
    fz_free(&r->items);
    fz_free(&r->retries);
    fz_free(&r->piece);
}

static int same_item(const rec *a, const item *x, const rec *b, const item *y)
{
    return x->kind == y->kind && x->type_len == y->type_len && x->data_len == y->data_len &&
           (x->type_len == 0 ||
            memcmp(a->bytes.p + x->type_off, b->bytes.p + y->type_off, x->type_len) == 0) &&
           (x->data_len == 0 ||
            memcmp(a->bytes.p + x->data_off, b->bytes.p + y->data_off, x->data_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rec tiny, big;
    fz_rng rng;
    unsigned opts, mode;
    size_t cap, big_cap, nt, nb, i, j;
    const item *ti, *bi;
    sse_error st;
    if (size < 3) {
        return 0;
    }
    cap = 16u + data[0] % 49u;
    opts = data[1] & 15u;
    mode = (data[1] >> 4) & 3u;
    rng.s = (uint64_t)data[2] * 0x100000001B3u ^ size;
    data += 3;
    size -= 3;

    st = parse(&tiny, opts, cap, data, size, &rng, mode);
    if (!tiny.last_ok || st != SSE_OK) {
        fprintf(stderr, "fuzz_limits: storage %zu, options %u: after %lu records, finish %s\n", cap,
                opts, tiny.records, sse_strerror(st));
        FUZZ_CHECK(!"the well-formed event after the hostile bytes did not arrive last, intact");
    }

    /* UTF-8 repair can triple a byte: 16 * (3n + 2) fits every field of an n-byte stream */
    big_cap = 16 * (3 * (size + sizeof TAIL) + 2);
    parse(&big, opts, big_cap, data, size, NULL, 0);
    FUZZ_CHECK(big.last_ok);
    FUZZ_CHECK(big.drops == 0);

    nt = tiny.items.len / sizeof(item);
    nb = big.items.len / sizeof(item);
    ti = (const item *)(const void *)tiny.items.p;
    bi = (const item *)(const void *)big.items.p;
    for (i = 0, j = 0; i < nt; i++, j++) { /* tiny's items: a subsequence of big's */
        while (j < nb && !same_item(&tiny, &ti[i], &big, &bi[j])) {
            j++;
        }
        if (j == nb) {
            fprintf(stderr, "fuzz_limits: storage %zu, options %u: item %zu (%s) ", cap, opts, i,
                    fz_kind(ti[i].kind));
            fz_print(stderr, tiny.bytes.p + ti[i].type_off, ti[i].type_len);
            fputc(' ', stderr);
            fz_print(stderr, tiny.bytes.p + ti[i].data_off, ti[i].data_len);
            fprintf(stderr, " is not delivered with large storage\n");
            FUZZ_CHECK(!"the tiny parser delivered an item the large one did not");
        }
    }
    if (tiny.events + tiny.drops < big.events) {
        fprintf(stderr, "fuzz_limits: storage %zu, options %u: %lu events + %lu drops < %lu\n", cap,
                opts, tiny.events, tiny.drops, big.events);
        FUZZ_CHECK(!"an event vanished without a DROPPED record");
    }
    FUZZ_CHECK(
        tiny.retries.len == big.retries.len &&
        (tiny.retries.len == 0 || memcmp(tiny.retries.p, big.retries.p, tiny.retries.len) == 0));
    release(&tiny);
    release(&big);
    return 0;
}
