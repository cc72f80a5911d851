/*
 * fuzz_chunking - "the records are identical however the stream is cut into chunks".
 *
 * Input: byte 0 = options (low 4 bits), chunking mode (bits 4-5), SSE_OPT_ID_RECORDS (bit
 * 6), a last event ID set by sse_parser_set_last_id before the stream (bit 7), byte 1 =
 * storage size, byte 2 = chunking seed; the rest is the stream. The stream is parsed once in a single
 * feed and once in chunks (random sizes, or one byte at a time); both logs of records
 * (kind, type, data, id, flags, retry, error), the final last event ID, the reconnection
 * time and the finish status must be identical. In piece mode the boundaries between
 * pieces may differ, so an event is logged once, at its LAST piece, with its data joined;
 * a DROPPED record keeps only SSE_FLAG_HAS_ID (whether earlier pieces went out depends on
 * the chunks). Outside piece mode, records are also due on time: after each of the first
 * 16 chunks, the records so far must equal those of one feed of the bytes so far (a line
 * ended by CR is processed at once). Any difference prints both logs and aborts.
 */
#include "fuzz_common.h"

typedef struct rec {
    unsigned opts;
    fz_buf log;
    fz_buf piece; /* piece mode: the current event's data so far */
} rec;

static int on_record(void *user, const sse_event *ev)
{
    rec *r = (rec *)user;
    unsigned flags = ev->flags;
    if (r->opts & SSE_OPT_PIECES) {
        if (ev->kind == SSE_KIND_EVENT) {
            if (flags & SSE_FLAG_FIRST) {
                r->piece.len = 0;
            }
            fz_put(&r->piece, ev->data, ev->data_len);
            if (!(flags & SSE_FLAG_LAST)) {
                return 0;
            }
            fz_log(&r->log, ev->kind, flags & SSE_FLAG_HAS_ID, ev->retry, ev->error, ev->type,
                   ev->type_len, r->piece.p, r->piece.len, ev->id, ev->id_len);
            r->piece.len = 0;
            return 0;
        }
        if (ev->kind == SSE_KIND_DROPPED) {
            if (flags & SSE_FLAG_LAST) {
                r->piece.len = 0; /* the pieces received are to be discarded */
            }
            flags &= SSE_FLAG_HAS_ID;
        }
    }
    fz_log(&r->log, ev->kind, flags, ev->retry, ev->error, ev->type, ev->type_len, ev->data,
           ev->data_len, ev->id, ev->id_len);
    return 0;
}

typedef struct outcome {
    rec r;
    sse_error finish;
    char *last_id;
    size_t last_id_len;
    uint64_t retry;
} outcome;

/* The records of s[0..n) fed at once, without finish. */
static void parse_prefix(rec *r, unsigned opts, size_t cap, int seed, const uint8_t *s, size_t n)
{
    sse_parser *p = (sse_parser *)fz_alloc(sizeof *p);
    char *storage = (char *)fz_alloc(cap);
    void *copy = fz_dup(s, n);
    memset(r, 0, sizeof *r);
    r->opts = opts;
    FUZZ_CHECK(sse_parser_init(p, storage, cap, opts) == SSE_OK);
    if (seed) {
        FUZZ_CHECK(sse_parser_set_last_id(p, "7", 1) == SSE_OK);
    }
    FUZZ_CHECK(sse_parser_feed(p, copy, n, on_record, r) == SSE_OK);
    free(copy);
    free(storage);
    free(p);
}

/* Records are due when their line ends (a CR at once): after each of the first chunks,
 * what the chunked parser delivered must be exactly what one feed of the bytes so far
 * delivers. Piece mode is excluded: pieces may go out before their line ends. */
static void check_due(const rec *got, unsigned opts, size_t cap, int seed, const uint8_t *s,
                      size_t n)
{
    rec want;
    parse_prefix(&want, opts, cap, seed, s, n);
    if (want.log.len != got->log.len ||
        (want.log.len && memcmp(want.log.p, got->log.p, want.log.len) != 0)) {
        fprintf(stderr, "fuzz_chunking: options %u, storage %zu, after %zu bytes: ", opts, cap, n);
        fz_print(stderr, (const char *)s, n);
        fputc('\n', stderr);
        fz_dump_log(stderr, "one feed of those bytes", &want.log);
        fz_dump_log(stderr, "chunks so far", &got->log);
        FUZZ_CHECK(!"records not delivered by the feed that completes their line");
    }
    fz_free(&want.log);
    fz_free(&want.piece);
}

static void parse(outcome *o, unsigned opts, size_t cap, int seed, const uint8_t *s, size_t n,
                  fz_rng *rng, unsigned mode)
{
    unsigned due_checks = 0;
    sse_parser *p = (sse_parser *)fz_alloc(sizeof *p);
    char *storage = (char *)fz_alloc(cap);
    const char *lid;
    size_t at = 0;
    memset(o, 0, sizeof *o);
    o->r.opts = opts;
    FUZZ_CHECK(sse_parser_init(p, storage, cap, opts) == SSE_OK);
    if (seed) { /* a restarting client: "id: 7\n\n" would disarm BOM stripping, this not */
        FUZZ_CHECK(sse_parser_set_last_id(p, "7", 1) == SSE_OK);
    }
    while (at < n) {
        size_t k = rng ? fz_chunk(rng, mode) : n;
        void *chunk;
        if (k > n - at) {
            k = n - at;
        }
        chunk = fz_dup(s + at, k);
        FUZZ_CHECK(sse_parser_feed(p, chunk, k, on_record, &o->r) == SSE_OK);
        free(chunk);
        at += k;
        if (rng && !(opts & SSE_OPT_PIECES) && at < n && due_checks < 16) {
            due_checks++;
            check_due(&o->r, opts, cap, seed, s, at);
        }
    }
    o->finish = sse_parser_finish(p, on_record, &o->r);
    lid = sse_parser_last_id(p, &o->last_id_len);
    o->last_id = (char *)fz_dup(lid, o->last_id_len);
    o->retry = sse_parser_retry(p);
    free(storage);
    free(p);
}

static void release(outcome *o)
{
    fz_free(&o->r.log);
    fz_free(&o->r.piece);
    free(o->last_id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    outcome whole, cut;
    fz_rng rng;
    unsigned opts, mode;
    int seed;
    size_t cap;
    if (size < 3) {
        return 0;
    }
    opts = (data[0] & 15u) | ((data[0] & 0x40u) ? SSE_OPT_ID_RECORDS : 0u);
    seed = (data[0] & 0x80u) != 0 && data[1] >= 16; /* storage of 32+: ids of 1 byte */
    mode = (data[0] >> 4) & 3u;
    cap = data[1] < 128 ? 16u + data[1] : 256u + (size_t)(data[1] - 128) * 263u;
    rng.s = (uint64_t)data[2] * 0x100000001B3u ^ size;
    data += 3;
    size -= 3;

    parse(&whole, opts, cap, seed, data, size, NULL, 0);
    parse(&cut, opts, cap, seed, data, size, &rng, mode);
    if (whole.r.log.len != cut.r.log.len ||
        (whole.r.log.len && memcmp(whole.r.log.p, cut.r.log.p, whole.r.log.len) != 0) ||
        whole.finish != cut.finish || whole.last_id_len != cut.last_id_len ||
        (whole.last_id_len && memcmp(whole.last_id, cut.last_id, whole.last_id_len) != 0) ||
        whole.retry != cut.retry) {
        fprintf(stderr, "fuzz_chunking: options %u, storage %zu, chunk mode %u\n", opts, cap, mode);
        fz_dump_log(stderr, "one feed", &whole.r.log);
        fprintf(stderr, "  finish %s, last id ", sse_strerror(whole.finish));
        fz_print(stderr, whole.last_id, whole.last_id_len);
        fprintf(stderr, ", retry %llu\n", (unsigned long long)whole.retry);
        fz_dump_log(stderr, "chunked", &cut.r.log);
        fprintf(stderr, "  finish %s, last id ", sse_strerror(cut.finish));
        fz_print(stderr, cut.last_id, cut.last_id_len);
        fprintf(stderr, ", retry %llu\n", (unsigned long long)cut.retry);
        FUZZ_CHECK(!"records differ between one feed and chunks");
    }
    release(&whole);
    release(&cut);
    return 0;
}
