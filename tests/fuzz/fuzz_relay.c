/*
 * fuzz_relay - the relay path of issue 9: upstream bytes -> parser in piece mode ->
 * streaming writer (type and id written after the data, comments and retry inside the
 * open frame, id-only blocks as id frames) -> a downstream parser gives the same records
 * as parsing upstream directly, for every chunking.
 *
 * Input: byte 0 = options (bit 0 SSE_OPT_RAW, bit 1 seed a last event ID first, bits 4-5
 * the chunking mode), byte 1 = chunking seed, byte 2 = how much bigger than needed the
 * relay's storage is; the rest is the upstream stream.
 *
 * Both parsers run with SSE_OPT_COMMENTS | SSE_OPT_ID_RECORDS (and RAW from the input).
 * The relay's storage is sized so no type, id or comment can be dropped (16 times the
 * longest line, tripled for UTF-8 repair), but data is far larger than it can hold, so
 * data goes out in pieces. Expected: the downstream records (kind, type, data, id, flags,
 * retry) equal the upstream ones, then the same last event ID and reconnection time; no
 * DROPPED record anywhere; every writer call within SSE_FRAME_MAX. When seeded, every
 * parser starts from sse_parser_set_last_id("seed"), as a restarting client does (a
 * stream starting with a BOM must keep its first event).
 */
#include "fuzz_common.h"

#define OPT_RAW   0x01u
#define OPT_SEED  0x02u
#define RELAY_OPT (SSE_OPT_COMMENTS | SSE_OPT_ID_RECORDS)

typedef struct rec {
    fz_buf log;
} rec;

static int on_record(void *user, const sse_event *ev)
{
    rec *r = (rec *)user;
    FUZZ_CHECK(ev->kind != SSE_KIND_DROPPED);
    fz_log(&r->log, ev->kind, ev->flags, ev->retry, ev->error, ev->type, ev->type_len, ev->data,
           ev->data_len, ev->id, ev->id_len);
    return 0;
}

typedef struct relay {
    sse_writer w;
    fz_buf out;
    int open;
} relay;

enum { R_BEGIN, R_DATA, R_FIELDS, R_END, R_ENCODE };

/* One serializer call: size query, then into a buffer of exactly SSE_FRAME_MAX bytes
 * (never too small), same size both times. */
static void put(relay *r, int which, const sse_frame *f, const char *piece, size_t n)
{
    size_t bound = f ? SSE_FRAME_MAX(f->comment ? f->comment_len : 0, f->type ? f->type_len : 0,
                                     f->id ? f->id_len : 0, 0)
                     : SSE_FRAME_MAX(0, 0, 0, n);
    size_t need = 12345, len = 12345;
    char *buf = (char *)fz_alloc(bound);
    sse_error st;
    switch (which) {
    case R_BEGIN: st = sse_writer_begin(&r->w, f, NULL, 0, &need); break;
    case R_DATA: st = sse_writer_data(&r->w, piece, n, NULL, 0, &need); break;
    case R_FIELDS: st = sse_writer_fields(&r->w, f, NULL, 0, &need); break;
    case R_END: st = sse_writer_end(&r->w, NULL, 0, &need); break;
    default: st = sse_encode(NULL, 0, f, &need); break;
    }
    FUZZ_CHECK(st == SSE_OK && need <= bound);
    switch (which) {
    case R_BEGIN: st = sse_writer_begin(&r->w, f, buf, bound, &len); break;
    case R_DATA: st = sse_writer_data(&r->w, piece, n, buf, bound, &len); break;
    case R_FIELDS: st = sse_writer_fields(&r->w, f, buf, bound, &len); break;
    case R_END: st = sse_writer_end(&r->w, buf, bound, &len); break;
    default: st = sse_encode(buf, bound, f, &len); break;
    }
    FUZZ_CHECK(st == SSE_OK && len == need);
    fz_put(&r->out, buf, len);
    free(buf);
}

static int on_upstream(void *user, const sse_event *ev)
{
    relay *r = (relay *)user;
    sse_frame f;
    memset(&f, 0, sizeof f);
    switch (ev->kind) {
    case SSE_KIND_EVENT:
        if (ev->flags & SSE_FLAG_FIRST) {
            FUZZ_CHECK(!r->open);
            put(r, R_BEGIN, &f, NULL, 0);
            r->open = 1;
        }
        FUZZ_CHECK(r->open);
        put(r, R_DATA, NULL, ev->data, ev->data_len);
        if (ev->flags & SSE_FLAG_LAST) { /* type and id are final only now */
            f.type = ev->type;
            f.type_len = ev->type_len;
            if (ev->flags & SSE_FLAG_HAS_ID) {
                f.id = ev->id;
                f.id_len = ev->id_len;
            }
            put(r, R_FIELDS, &f, NULL, 0);
            put(r, R_END, NULL, NULL, 0);
            r->open = 0;
        }
        return 0;
    case SSE_KIND_RETRY:
        f.has_retry = 1;
        f.retry = ev->retry;
        break;
    case SSE_KIND_COMMENT:
        f.comment = ev->data;
        f.comment_len = ev->data_len;
        break;
    case SSE_KIND_ID:
        f.id = ev->id;
        f.id_len = ev->id_len;
        put(r, R_ENCODE, &f, NULL, 0);
        return 0;
    default: FUZZ_CHECK(!"the relay's parser dropped something"); return 1;
    }
    put(r, r->open ? R_FIELDS : R_ENCODE, &f, NULL, 0);
    return 0;
}

typedef struct result {
    rec r;
    char *last_id;
    size_t last_id_len;
    uint64_t retry;
} result;

/* Parses s[0..n) in one feed, as a client would. */
static void parse(result *o, unsigned opts, size_t cap, int seed, const char *s, size_t n)
{
    sse_parser p;
    char *storage = (char *)fz_alloc(cap);
    const char *lid;
    memset(o, 0, sizeof *o);
    FUZZ_CHECK(sse_parser_init(&p, storage, cap, opts) == SSE_OK);
    if (seed) {
        FUZZ_CHECK(sse_parser_set_last_id(&p, "seed", 4) == SSE_OK);
    }
    FUZZ_CHECK(sse_parser_feed(&p, s, n, on_record, &o->r) == SSE_OK);
    sse_parser_finish(&p, on_record, &o->r); /* what is unfinished is discarded on both sides */
    lid = sse_parser_last_id(&p, &o->last_id_len);
    o->last_id = (char *)fz_dup(lid, o->last_id_len);
    o->retry = sse_parser_retry(&p);
    free(storage);
}

static int same(const result *a, const result *b)
{
    return a->r.log.len == b->r.log.len &&
           (a->r.log.len == 0 || memcmp(a->r.log.p, b->r.log.p, a->r.log.len) == 0) &&
           a->last_id_len == b->last_id_len &&
           (a->last_id_len == 0 || memcmp(a->last_id, b->last_id, a->last_id_len) == 0) &&
           a->retry == b->retry;
}

/* Longest run of bytes without CR or LF. */
static size_t longest_line(const uint8_t *s, size_t n)
{
    size_t best = 0, run = 0, i;
    for (i = 0; i < n; i++) {
        run = (s[i] == '\r' || s[i] == '\n') ? 0 : run + 1;
        if (run > best) {
            best = run;
        }
    }
    return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned sw, mode, opts;
    int seed;
    fz_rng rng;
    size_t cap, big, at = 0;
    sse_parser *up;
    char *storage;
    relay r;
    result want, got;
    if (size < 3) {
        return 0;
    }
    sw = data[0];
    mode = (sw >> 4) & 3u;
    opts = RELAY_OPT | ((sw & OPT_RAW) ? SSE_OPT_RAW : 0u);
    seed = (sw & OPT_SEED) != 0;
    rng.s = (uint64_t)data[1] * 0x100000001B3u ^ size;
    /* F - 1 >= the longest line tripled (UTF-8 repair) and >= "seed" */
    cap = 16u * (3u * longest_line(data + 3, size - 3) + 8u) + data[2];
    data += 3;
    size -= 3;
    big = 16u * (3u * size + 8u); /* the direct parse: nothing can be too long */

    parse(&want, opts, big, seed, (const char *)data, size);

    memset(&r, 0, sizeof r);
    up = (sse_parser *)fz_alloc(sizeof *up);
    storage = (char *)fz_alloc(cap);
    FUZZ_CHECK(sse_parser_init(up, storage, cap, opts | SSE_OPT_PIECES) == SSE_OK);
    if (seed) {
        FUZZ_CHECK(sse_parser_set_last_id(up, "seed", 4) == SSE_OK);
    }
    while (at < size) {
        size_t k = fz_chunk(&rng, mode);
        void *chunk;
        if (k > size - at) {
            k = size - at;
        }
        chunk = fz_dup(data + at, k);
        FUZZ_CHECK(sse_parser_feed(up, chunk, k, on_upstream, &r) == SSE_OK);
        free(chunk);
        at += k;
    }
    sse_parser_finish(up, on_upstream, &r); /* the downstream connection ends here too */

    parse(&got, opts, big + 16u * 2u * r.out.len, seed, r.out.p ? r.out.p : "", r.out.len);
    if (!same(&want, &got)) {
        fprintf(stderr, "fuzz_relay: options %u, relay storage %zu, chunk mode %u\nupstream ",
                opts, cap, mode);
        fz_print(stderr, (const char *)data, size);
        fprintf(stderr, "\nrelayed  ");
        fz_print(stderr, r.out.p ? r.out.p : "", r.out.len);
        fputc('\n', stderr);
        fz_dump_log(stderr, "upstream", &want.r.log);
        fz_dump_log(stderr, "downstream", &got.r.log);
        FUZZ_CHECK(!"the relay changed the records");
    }
    fz_free(&want.r.log);
    fz_free(&got.r.log);
    free(want.last_id);
    free(got.last_id);
    fz_free(&r.out);
    free(storage);
    free(up);
    return 0;
}
