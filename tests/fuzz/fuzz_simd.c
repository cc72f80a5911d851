/*
 * fuzz_simd - every scanner path gives the same records and bytes (issue 14).
 *
 * The parser and serializer are run as built three ways (simd_api.h): the library as
 * linked (AVX2 when the CPU has it), SSE_SIMD=1 (SSE2 / NEON) and SSE_SIMD=0 (scalar,
 * the definition). Same input, same chunks: the logs of records (every field and flag;
 * in piece mode each event's pieces joined, see on_record), finish status, last event
 * ID and retry must be identical byte for byte, for one feed, for random chunks, and (inputs up to 160 bytes) for every
 * split in two; sse_encode (of a frame made from the stream, and of each chunk as data)
 * and the streaming writer must write identical bytes.
 *
 * Input: byte 0 = options (bits 0-4), token mode (bit 5), chunking mode (bits 6-7);
 * byte 1 = storage size; byte 2 = chunking seed; the rest is the stream, or in token
 * mode one token per byte (field names, line ends, long ASCII runs, valid UTF-8 of every
 * length and edge, and each kind of ill-formed sequence), so that sequences and line
 * ends land on every offset of the 16-, 32- and 64-byte blocks.
 */
#include "fuzz_common.h"
#include "simd_api.h"

static const sse_api default_api = SSE_API_TABLE("default");
static const sse_api *const apis[] = { &default_api, &simd1_api, &simd0_api };
#define N_APIS (sizeof apis / sizeof apis[0])

/* Valid tokens first (N_VALID), then cut and ill-formed sequences. A token byte under
 * 0xF0 picks a valid token, so most lines are clean and the one bad sequence in a line
 * is what the check must find; a byte from 0xF0 up picks any token. */
static const char *const tokens[] = {
    "data: ", "data:", "event: ", "id: ", "retry: 12", ": note", "\n", "\r", "\r\n", "\n\n",
    "x", "ab", "hello world ", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU",
    "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xE0\xA0\x80", "\xED\x9F\xBF",
    "\xEF\xBF\xBD", "\xF4\x8F\xBF\xBF", "\xC2\x80", "\xDF\xBF", "\xEE\x80\x80",
    "\xEF\xBB\xBF", ":", " ", "\t", "~", "\x7F",
    /* most lines set a field, so their values take the fast paths */
    "\ndata: ", "\ndata:", "\r\ndata: ", "\rdata: ", "\n\ndata: ", "\nevent: ", "\r\nid: ",
    "\ndata: ", "\ndata: ", "\ndata: ",
    /* cut and ill-formed */
    "\x80", "\xBF", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80",
    "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\xFE", "\xC3",
    "\xE4\xB8", "\xF0\x9F\x98", "\xF8\x88\x80\x80\x80",
};
#define N_VALID 40u
#define N_TOKENS (sizeof tokens / sizeof tokens[0])

typedef struct outcome {
    unsigned opts;
    fz_buf log;
    fz_buf piece; /* piece mode: the current event's data so far */
    sse_error finish;
    fz_buf last_id;
    uint64_t retry;
} outcome;

/* Piece mode: where a piece ends depends on which path stored the line (the fast one
 * hands out a line as it is, the slow one gathers), and a vector path may take the fast
 * path where the scalar one does not, or the other way round; so an event is logged at
 * its LAST piece with its data joined, as fuzz_chunking does. All else is exact. */
static int on_record(void *user, const sse_event *ev)
{
    outcome *o = (outcome *)user;
    unsigned flags = ev->flags;
    if (o->opts & SSE_OPT_PIECES) {
        if (ev->kind == SSE_KIND_EVENT) {
            if (flags & SSE_FLAG_FIRST) {
                o->piece.len = 0;
            }
            fz_put(&o->piece, ev->data, ev->data_len);
            if (!(flags & SSE_FLAG_LAST)) {
                return 0;
            }
            fz_log(&o->log, ev->kind, flags & SSE_FLAG_HAS_ID, ev->retry, ev->error, ev->type,
                   ev->type_len, o->piece.p, o->piece.len, ev->id, ev->id_len);
            o->piece.len = 0;
            return 0;
        }
        if (ev->kind == SSE_KIND_DROPPED) {
            flags &= SSE_FLAG_HAS_ID;
        }
    }
    fz_log(&o->log, ev->kind, flags, ev->retry, ev->error, ev->type, ev->type_len, ev->data,
           ev->data_len, ev->id, ev->id_len);
    return 0;
}

/* Parses s[0..n) with api in the chunks given by cuts (ascending offsets, n_cuts). */
static void parse(const sse_api *api, outcome *o, unsigned opts, size_t cap, const char *s,
                  size_t n, const size_t *cuts, size_t n_cuts)
{
    sse_parser p;
    char *storage = (char *)fz_alloc(cap);
    size_t at = 0, i, id_len;
    const char *id;
    memset(o, 0, sizeof *o);
    o->opts = opts;
    FUZZ_CHECK(api->parser_init(&p, storage, cap, opts) == SSE_OK);
    for (i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : n;
        char *chunk = (char *)fz_dup(s + at, end - at); /* exact size: no read past it */
        FUZZ_CHECK(api->parser_feed(&p, chunk, end - at, on_record, o) == SSE_OK);
        free(chunk);
        at = end;
    }
    o->finish = api->parser_finish(&p, on_record, o);
    id = api->parser_last_id(&p, &id_len);
    fz_put(&o->last_id, id, id_len);
    o->retry = api->parser_retry(&p);
    free(storage);
}

static int same(const fz_buf *a, const fz_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Every api parses the same chunks alike. */
static void parse_all(unsigned opts, size_t cap, const char *s, size_t n, const size_t *cuts,
                      size_t n_cuts)
{
    outcome want, got;
    size_t a;
    parse(apis[0], &want, opts, cap, s, n, cuts, n_cuts);
    for (a = 1; a < N_APIS; a++) {
        parse(apis[a], &got, opts, cap, s, n, cuts, n_cuts);
        if (!same(&want.log, &got.log) || want.finish != got.finish || want.retry != got.retry ||
            !same(&want.last_id, &got.last_id)) {
            size_t i;
            fprintf(stderr, "fuzz_simd: options %u, storage %zu, %zu cuts:", opts, cap, n_cuts);
            for (i = 0; i < n_cuts; i++) {
                fprintf(stderr, " %zu", cuts[i]);
            }
            fputc('\n', stderr);
            fz_print(stderr, s, n);
            fputc('\n', stderr);
            fz_dump_log(stderr, apis[0]->name, &want.log);
            fz_dump_log(stderr, apis[a]->name, &got.log);
            fprintf(stderr, "finish %d / %d, retry %llu / %llu\n", (int)want.finish,
                    (int)got.finish, (unsigned long long)want.retry,
                    (unsigned long long)got.retry);
            FUZZ_CHECK(!"a vector path differs from the default path");
        }
        fz_free(&got.log);
        fz_free(&got.piece);
        fz_free(&got.last_id);
    }
    fz_free(&want.log);
    fz_free(&want.piece);
    fz_free(&want.last_id);
}

/* sse_encode of a frame made from s, then the writer fed s in the chunks: same bytes. */
static void write_all(const char *s, size_t n, const size_t *cuts, size_t n_cuts)
{
    fz_buf want = { 0 }, got = { 0 };
    size_t a;
    for (a = 0; a < N_APIS; a++) {
        fz_buf *out = a == 0 ? &want : &got;
        sse_frame f;
        sse_writer w;
        size_t len = 0, at = 0, i, cap = SSE_FRAME_MAX(n, 0, 0, n) + 16;
        char *buf = (char *)fz_alloc(cap);
        sse_error err;
        memset(&f, 0, sizeof f);
        f.comment = s;
        f.comment_len = n / 3;
        f.data = s + n / 3;
        f.data_len = n - n / 3;
        err = apis[a]->encode(buf, cap, &f, &len);
        fz_put(out, &err, sizeof err);
        fz_put(out, buf, err == SSE_OK ? len : 0);
        { /* long data-only frames: the stream without line breaks, then with one */
            char *flat = (char *)fz_dup(s, n);
            for (i = 0; i < n; i++) {
                flat[i] = flat[i] == '\n' || flat[i] == '\r' ? 'x' : flat[i];
            }
            for (i = 0; i < 2; i++) {
                memset(&f, 0, sizeof f);
                f.data = flat;
                f.data_len = n;
                if (i == 1 && n > 0) {
                    flat[n * 7 / 11] = '\n';
                }
                err = apis[a]->encode(buf, cap, &f, &len);
                fz_put(out, &err, sizeof err);
                fz_put(out, buf, err == SSE_OK ? len : 0);
            }
            free(flat);
        }
        for (i = 0; i <= n_cuts; i++) { /* data-only frames: each chunk, line ends or not */
            size_t from = i == 0 ? 0 : cuts[i - 1], end = i < n_cuts ? cuts[i] : n;
            memset(&f, 0, sizeof f);
            f.data = s + from;
            f.data_len = end - from;
            err = apis[a]->encode(buf, cap, &f, &len);
            fz_put(out, &err, sizeof err);
            fz_put(out, buf, err == SSE_OK ? len : 0);
        }
        memset(&w, 0, sizeof w);
        memset(&f, 0, sizeof f);
        FUZZ_CHECK(apis[a]->writer_begin(&w, &f, buf, cap, &len) == SSE_OK);
        fz_put(out, buf, len);
        for (i = 0; i <= n_cuts; i++) {
            size_t end = i < n_cuts ? cuts[i] : n;
            FUZZ_CHECK(apis[a]->writer_data(&w, s + at, end - at, buf, cap, &len) == SSE_OK);
            fz_put(out, buf, len);
            at = end;
        }
        FUZZ_CHECK(apis[a]->writer_end(&w, buf, cap, &len) == SSE_OK);
        fz_put(out, buf, len);
        free(buf);
        if (a > 0) {
            if (!same(&want, &got)) {
                fprintf(stderr, "fuzz_simd: serializer output of %s differs for ", apis[a]->name);
                fz_print(stderr, s, n);
                fputc('\n', stderr);
                FUZZ_CHECK(!"a vector path writes other bytes");
            }
            got.len = 0;
        }
    }
    fz_free(&want);
    fz_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in = { data, size };
    unsigned b0 = fz_u8(&in), b1 = fz_u8(&in);
    unsigned opts = b0 & 31u, mode = b0 >> 6;
    size_t cap = (b1 & 0x80u) ? (size_t)1 << 17 : 16 + (size_t)b1 * 8u;
    fz_rng rng;
    fz_buf s = { 0 };
    size_t *cuts, n_cuts = 0, at = 0, i;
    rng.s = fz_u8(&in);
    if (b0 & 32u) {
        while (in.n) {
            unsigned b = fz_u8(&in);
            const char *t = tokens[b < 0xF0 ? b % N_VALID : b % N_TOKENS];
            fz_put(&s, t, strlen(t));
        }
    } else {
        fz_put(&s, in.p, in.n);
    }
    if (!s.p) {
        fz_put(&s, "", 1); /* an empty stream: a valid pointer all the same */
        s.len = 0;
    }
    cuts = (size_t *)fz_alloc((s.len + 1) * sizeof *cuts);
    parse_all(opts, cap, s.p, s.len, NULL, 0);
    for (;;) { /* random chunks, the same for every api */
        size_t k = fz_chunk(&rng, mode); /* 0: an empty chunk */
        if (k >= s.len - at || n_cuts == s.len) {
            break;
        }
        at += k;
        cuts[n_cuts++] = at;
    }
    parse_all(opts, cap, s.p, s.len, cuts, n_cuts);
    write_all(s.p, s.len, cuts, n_cuts);
    if (s.len <= 160) {
        for (i = 1; i < s.len; i++) {
            parse_all(opts, cap, s.p, s.len, &i, 1);
        }
    }
    free(cuts);
    fz_free(&s);
    return 0;
}
