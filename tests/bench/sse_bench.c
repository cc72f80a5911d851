/*
 * sse_bench - speed of the sse parser and serializer next to their limits (issue 3):
 * finding the line endings (memchr) and copying the bytes (memcpy).
 *
 * Build (Release, gcc -O2) and run from the repository root:
 *     cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DSSE_BUILD_BENCH=ON \
 *           -DSSE_BUILD_TESTS=OFF -DSSE_BUILD_EXAMPLES=OFF
 *           [-DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG"]   (CMake's Release is -O3; the
 *                                                      issue's targets are for -O2)
 *     cmake --build build-bench --target sse_bench
 *     build-bench/tests/bench/sse_bench                  full run, 64 MiB per workload (~45 s)
 *     build-bench/tests/bench/sse_bench --short          1 MiB per workload, seconds (CI)
 *     build-bench/tests/bench/sse_bench --file F --chunk N [--storage N]
 *         parses file F in default mode, prints "bytes=<n> events=<n> seconds=<t>"
 *         (t: median of --reps timed parses after a warm-up; the file is read first)
 *
 * Options
 *     --mib X        size of each workload in MiB (default 64; huge_event is X/4 MiB)
 *     --reps N       timed repetitions after one warm-up (default 7, at least 1)
 *     --seed S       generator seed (default 1)
 *     --only A,B     run only the named workloads
 *     --short        same as --mib 1
 *     --file F, --chunk N (default 65536), --storage N (default 1 MiB),
 *     --mode default|raw|pieces (file mode only; default: default)
 *     --dump DIR     write each workload to DIR/<name>.sse and exit (input for --file,
 *                    for other parsers, and for profiling one configuration:
 *                    perf record build-bench/tests/bench/sse_bench --file DIR/multiline.sse)
 *
 * Exit status: 0; 1 when an event count, summed data length, retry count, last id,
 * checksum or serializer output differs from what the generator wrote, or a call fails;
 * 2 on bad usage or out of memory. Missed speed targets do not change it.
 *
 * Method
 *   Workloads are built in memory from a seeded xorshift generator, which also records
 *   every event as sse_frame fields, the event count, the summed data length, the number
 *   of line terminators and an FNV-1a checksum of what the parser must deliver.
 *   Per workload, every configuration (memchr, memcpy, parser modes x chunk sizes,
 *   serializer) runs once as a warm-up and then --reps times, round-robin, so that load
 *   from other processes spreads over all of them; figures are median [min .. max] and
 *   ratios are of medians, within this run (the target table adds the ratio of the
 *   fastest runs as a cross-check against load). 1 MB = 10^6 bytes.
 *   Every timed parse checks events, data bytes and retries; one extra untimed parse per
 *   mode (odd chunk size 4093) also checks the checksum of data, type and id.
 *   Chunks point into the workload buffer (no copy). Storage: 128 KiB in default and raw
 *   mode (data up to 98303 bytes), 4 KiB in piece mode; huge_event default mode 32 MiB.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"
#include "simd_api.h" /* the scalar build of the library beside the linked one */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KIB ((size_t)1024)
#define MIB (KIB * KIB)

#define STORAGE_FULL   (128 * KIB)
#define STORAGE_PIECES (4 * KIB)
#define STORAGE_HUGE   (32 * MIB)
#define VERIFY_CHUNK   ((size_t)4093)
#define MAX_REPS       64

/* ---------------------------------------------------------------------------------------
 * Helpers: timing, random numbers, checksum, statistics
 * ------------------------------------------------------------------------------------- */

static volatile unsigned char sink; /* keeps baseline results observable */
static int failed;                  /* a count or content mismatch happened */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "sse_bench: out of memory (%zu bytes)\n", n);
        exit(2);
    }
    memset(p, 0, n); /* fault the pages in before any timing */
    return p;
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

static size_t rnd_range(rng *r, size_t lo, size_t hi) /* inclusive */
{
    return lo + (size_t)(rnd(r) % (uint64_t)(hi - lo + 1));
}

#define FNV_INIT 14695981039346656037ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i;
    for (i = 0; i < n; i++) {
        h = (h ^ s[i]) * 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_byte(uint64_t h, unsigned char c)
{
    return (h ^ c) * 1099511628211ull;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct stat3 {
    double med, min, max;
} stat3;

static stat3 stats(const double *t, int n)
{
    double s[MAX_REPS];
    stat3 r;
    memcpy(s, t, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    r.min = s[0];
    r.max = s[n - 1];
    r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    return r;
}

/* ---------------------------------------------------------------------------------------
 * Workloads: wire bytes plus the frames, counts and checksum the parser must reproduce
 * ------------------------------------------------------------------------------------- */

enum eol {
    EOL_LF,
    EOL_CRLF,
    EOL_CR
};

typedef struct workload {
    const char *name;
    enum eol eol;
    unsigned char *buf; /* the event stream */
    size_t len, cap;
    char *arena; /* field bytes the frames point to */
    size_t arena_len, arena_cap;
    sse_frame *frames;
    size_t n_frames, frames_cap;
    size_t events, data_bytes, retries, lines; /* lines: count of LF (CR for cr_only) */
    uint64_t hash;
    char last_id[32];
    size_t last_id_len;
} workload;

static void wl_init(workload *w, const char *name, enum eol eol, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->name = name;
    w->eol = eol;
    w->cap = cap;
    w->buf = xmalloc(cap);
    w->arena_cap = cap;
    w->arena = xmalloc(cap);
    w->hash = FNV_INIT;
}

static void wl_free(workload *w)
{
    free(w->buf);
    free(w->arena);
    free(w->frames);
}

static void put(workload *w, const void *s, size_t n)
{
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put_eol(workload *w)
{
    if (w->eol == EOL_CRLF) {
        put(w, "\r\n", 2);
    } else if (w->eol == EOL_CR) {
        put(w, "\r", 1);
    } else {
        put(w, "\n", 1);
    }
    w->lines++;
}

static char *arena_alloc(workload *w, size_t n)
{
    char *p = w->arena + w->arena_len;
    if (w->arena_len + n > w->arena_cap) {
        fprintf(stderr, "sse_bench: arena overflow\n");
        exit(2);
    }
    w->arena_len += n;
    return p;
}

static char *arena_str(workload *w, const char *s, size_t n)
{
    char *p = arena_alloc(w, n);
    memcpy(p, s, n);
    return p;
}

/* Writes f (whose strings live in the arena) as the canonical frame sse_encode writes,
 * with w's line ending, and records what the parser must deliver. Data never holds CR. */
static void emit(workload *w, const sse_frame *f)
{
    static const char message[] = "message";
    const char *p = f->data, *end = f->data + f->data_len;
    char num[24];

    if (f->comment) {
        put(w, ": ", 2);
        put(w, f->comment, f->comment_len);
        put_eol(w);
    }
    if (f->type) {
        put(w, "event: ", 7);
        put(w, f->type, f->type_len);
        put_eol(w);
    }
    if (f->id) {
        put(w, "id: ", 4);
        put(w, f->id, f->id_len);
        put_eol(w);
        memcpy(w->last_id, f->id, f->id_len);
        w->last_id_len = f->id_len;
    }
    if (f->has_retry) {
        int n = sprintf(num, "%llu", (unsigned long long)f->retry);
        put(w, "retry: ", 7);
        put(w, num, (size_t)n);
        put_eol(w);
        w->retries++;
    }
    for (;;) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *stop = lf ? lf : end;
        put(w, "data: ", 6);
        put(w, p, (size_t)(stop - p));
        put_eol(w);
        if (!lf) {
            break;
        }
        p = lf + 1;
    }
    put_eol(w);

    w->events++;
    w->data_bytes += f->data_len;
    w->hash = fnv(w->hash, f->data, f->data_len);
    w->hash = f->type ? fnv(w->hash, f->type, f->type_len) : fnv(w->hash, message, 7);
    w->hash = fnv_byte(w->hash, 0xFE);
    w->hash = fnv(w->hash, w->last_id, w->last_id_len);
    w->hash = fnv_byte(w->hash, 0xFF);

    if (w->n_frames == w->frames_cap) {
        w->frames_cap = w->frames_cap ? 2 * w->frames_cap : 4096;
        w->frames = realloc(w->frames, w->frames_cap * sizeof *w->frames);
        if (!w->frames) {
            fprintf(stderr, "sse_bench: out of memory (frames)\n");
            exit(2);
        }
    }
    w->frames[w->n_frames++] = *f;
}

/* n printable ASCII bytes (0x20..0x7e) */
static void fill_text(rng *r, char *p, size_t n)
{
    while (n > 0) {
        uint64_t x = rnd(r);
        int k;
        for (k = 0; k < 8 && n > 0; k++, n--) {
            *p++ = (char)(0x20 + (x & 0xFF) % 95);
            x >>= 8;
        }
    }
}

static void gen_llm_tokens(workload *w, rng *r, size_t target, int ascii_only)
{
    /* mostly ASCII, a few valid multi-byte UTF-8 words as in real model output */
    static const char *const words[] = { "the",
                                         "a",
                                         "of",
                                         "to",
                                         "and",
                                         "in",
                                         "is",
                                         "it",
                                         "that",
                                         "for",
                                         "on",
                                         "with",
                                         "as",
                                         "model",
                                         "token",
                                         "stream",
                                         "event",
                                         "server",
                                         "data",
                                         "you",
                                         "can",
                                         "will",
                                         "this",
                                         "be",
                                         "are",
                                         "from",
                                         "by",
                                         "at",
                                         "an",
                                         "not",
                                         "or",
                                         "have",
                                         "we",
                                         "which",
                                         "one",
                                         "answer",
                                         "question",
                                         "example",
                                         "function",
                                         "return",
                                         "value",
                                         "caf\xc3\xa9",
                                         "na\xc3\xafve",
                                         "\xc3\xbc"
                                         "ber",
                                         "\xe2\x80\x94",
                                         "\xe6\x97\xa5\xe6\x9c\xac",
                                         "\\n",
                                         "42",
                                         "2024",
                                         "Hello",
                                         "world",
                                         "!",
                                         ",",
                                         "." };
    static const char pre[] = "{\"id\":\"chatcmpl-x\",\"choices\":[{\"delta\":{\"content\":\"";
    static const char post[] = "\"}}]}";
    /* ascii_only: the first 41 words (the non-ASCII ones follow them) */
    const size_t nwords = ascii_only ? 41 : sizeof words / sizeof words[0];

    while (w->len < target) {
        sse_frame f;
        size_t i, n = rnd_range(r, 1, 8);
        char *d = arena_str(w, pre, sizeof pre - 1);
        for (i = 0; i < n; i++) {
            const char *word = words[rnd(r) % nwords];
            if (i > 0) {
                arena_str(w, " ", 1);
            }
            arena_str(w, word, strlen(word));
        }
        arena_str(w, post, sizeof post - 1);
        memset(&f, 0, sizeof f);
        f.data = d;
        f.data_len = (size_t)(w->arena + w->arena_len - d);
        emit(w, &f);
    }
}

/* CJK-heavy text: chat-style events whose data is mostly 3-byte UTF-8 (CJK ideographs,
 * kana, fullwidth punctuation) with some ASCII words and digits. */
static void gen_cjk_text(workload *w, rng *r, size_t target)
{
    static const char *const words[] = {
        "\xe4\xbd\xa0\xe5\xa5\xbd", "\xe4\xb8\x96\xe7\x95\x8c", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
        "\xe4\xb8\xad\xe6\x96\x87", "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf",
        "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", "\xe6\x95\xb0\xe6\x8d\xae", "\xe6\xa8\xa1\xe5\x9e\x8b",
        "\xe3\x80\x82", "\xef\xbc\x8c", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4", "AI", "2024", "SSE",
    };
    const size_t nwords = sizeof words / sizeof words[0];
    while (w->len < target) {
        sse_frame f;
        size_t i, n = rnd_range(r, 4, 40);
        char *d = w->arena + w->arena_len;
        for (i = 0; i < n; i++) {
            const char *word = words[rnd(r) % nwords];
            arena_str(w, word, strlen(word));
        }
        memset(&f, 0, sizeof f);
        f.data = d;
        f.data_len = (size_t)(w->arena + w->arena_len - d);
        emit(w, &f);
    }
}

static void gen_small_mixed(workload *w, rng *r, size_t target)
{
    static const char *const types[] = { "update", "message", "ping", "delta", "status", "notice" };
    unsigned long long id = 0;

    while (w->len < target) {
        sse_frame f;
        char num[24];
        size_t i, nlines = rnd_range(r, 1, 3);
        const char *type = types[rnd(r) % (sizeof types / sizeof types[0])];
        uint64_t roll = rnd(r) % 1000;
        char *d;

        memset(&f, 0, sizeof f);
        if (roll < 50) { /* ~5% */
            f.comment = arena_str(w, "keep-alive", 10);
            f.comment_len = 10;
        }
        if (roll >= 990) { /* ~1% */
            f.has_retry = 1;
            f.retry = rnd_range(r, 1000, 10000);
        }
        f.type_len = strlen(type);
        f.type = arena_str(w, type, f.type_len);
        f.id_len = (size_t)sprintf(num, "%llu", ++id);
        f.id = arena_str(w, num, f.id_len);
        d = w->arena + w->arena_len;
        for (i = 0; i < nlines; i++) {
            size_t n = rnd_range(r, 10, 80);
            if (i > 0) {
                arena_str(w, "\n", 1);
            }
            fill_text(r, arena_alloc(w, n), n);
        }
        f.data = d;
        f.data_len = (size_t)(w->arena + w->arena_len - d);
        emit(w, &f);
    }
}

static void gen_large_payload(workload *w, rng *r, size_t target)
{
    while (w->len < target) {
        sse_frame f;
        memset(&f, 0, sizeof f);
        f.data_len = 64 * KIB;
        f.data = arena_alloc(w, f.data_len);
        fill_text(r, (char *)f.data, f.data_len);
        emit(w, &f);
    }
}

static void gen_multiline(workload *w, rng *r, size_t target)
{
    while (w->len < target) {
        sse_frame f;
        size_t i, nlines = rnd_range(r, 20, 200);
        char *d = w->arena + w->arena_len;
        for (i = 0; i < nlines; i++) {
            size_t n = rnd_range(r, 40, 120);
            if (i > 0) {
                arena_str(w, "\n", 1);
            }
            fill_text(r, arena_alloc(w, n), n);
        }
        memset(&f, 0, sizeof f);
        f.data = d;
        f.data_len = (size_t)(w->arena + w->arena_len - d);
        emit(w, &f);
    }
}

static void gen_huge(workload *w, rng *r, size_t size)
{
    sse_frame f;
    memset(&f, 0, sizeof f);
    f.data_len = size;
    f.data = arena_alloc(w, size);
    fill_text(r, (char *)f.data, size);
    emit(w, &f);
}

/* ---------------------------------------------------------------------------------------
 * Runs: parser, baselines, serializer
 * ------------------------------------------------------------------------------------- */

typedef struct counts {
    size_t events, data_bytes, retries, dropped, records;
    uint64_t hash;
    int stop_on_drop;
} counts;

static int on_count(void *user, const sse_event *ev)
{
    counts *c = user;
    if (ev->kind == SSE_KIND_EVENT) {
        c->data_bytes += ev->data_len;
        c->events += (ev->flags & SSE_FLAG_LAST) != 0; /* LAST is set outside piece mode */
    } else if (ev->kind == SSE_KIND_RETRY) {
        c->retries++;
    } else if (ev->kind == SSE_KIND_DROPPED) {
        c->dropped++;
        return c->stop_on_drop;
    }
    return 0;
}

static int on_verify(void *user, const sse_event *ev)
{
    counts *c = user;
    c->records++;
    if (ev->kind == SSE_KIND_EVENT) {
        c->data_bytes += ev->data_len;
        c->hash = fnv(c->hash, ev->data, ev->data_len);
        if (ev->flags & SSE_FLAG_LAST) {
            c->events++;
            c->hash = fnv(c->hash, ev->type, ev->type_len);
            c->hash = fnv_byte(c->hash, 0xFE);
            c->hash = fnv(c->hash, ev->id, ev->id_len);
            c->hash = fnv_byte(c->hash, 0xFF);
        }
    } else if (ev->kind == SSE_KIND_RETRY) {
        c->retries++;
    } else if (ev->kind == SSE_KIND_DROPPED) {
        c->dropped++;
    }
    return 0;
}

/* The scanner path being measured (issue 14): the library as linked (vector: AVX2 when
 * the CPU has it, else SSE2; NEON on aarch64), or its SSE_SIMD=0 build (scalar). */
static const sse_api vector_api = SSE_API_TABLE("vector");
static const sse_api *const paths[2] = { &vector_api, &simd0_api };
static const char *const path_names[2] = { "vector", "scalar" };
static const sse_api *path = &vector_api;

/* Feeds buf in chunks, then finishes. Returns the first status that is not SSE_OK. */
static sse_error parse(const unsigned char *buf, size_t len, size_t chunk, unsigned opts,
                       void *storage, size_t cap, sse_event_cb cb, counts *c, sse_parser *p)
{
    size_t off, n;
    sse_error rc = path->parser_init(p, storage, cap, opts);
    if (rc != SSE_OK) {
        return rc;
    }
    for (off = 0; off < len; off += n) {
        n = len - off < chunk ? len - off : chunk;
        rc = path->parser_feed(p, buf + off, n, cb, c);
        if (rc != SSE_OK) {
            return rc;
        }
    }
    return path->parser_finish(p, cb, c);
}

static const char *mode_name(unsigned opts)
{
    return opts == SSE_OPT_RAW ? "raw" : opts == SSE_OPT_PIECES ? "pieces" : "default";
}

static void mismatch(const workload *w, const char *what, unsigned opts, size_t chunk, size_t got,
                     size_t want)
{
    fprintf(stderr, "MISMATCH %s %s chunk %zu: %s got %zu, generator wrote %zu\n", w->name,
            mode_name(opts), chunk, what, got, want);
    failed = 1;
}

static void check_counts(const workload *w, unsigned opts, size_t chunk, sse_error rc,
                         const counts *c)
{
    if (rc != SSE_OK) {
        fprintf(stderr, "MISMATCH %s %s chunk %zu: parse returned %s\n", w->name, mode_name(opts),
                chunk, sse_strerror(rc));
        failed = 1;
    }
    if (c->events != w->events) {
        mismatch(w, "events", opts, chunk, c->events, w->events);
    }
    if (c->data_bytes != w->data_bytes) {
        mismatch(w, "data bytes", opts, chunk, c->data_bytes, w->data_bytes);
    }
    if (c->retries != w->retries) {
        mismatch(w, "retries", opts, chunk, c->retries, w->retries);
    }
    if (c->dropped != 0) {
        mismatch(w, "dropped records", opts, chunk, c->dropped, 0);
    }
}

/* Untimed: odd chunk size, checksum of data, type and id, and the last id. */
static void verify(const workload *w, unsigned opts, void *storage, size_t cap)
{
    sse_parser p;
    counts c;
    size_t id_len = 0;
    const char *id;
    sse_error rc;

    memset(&c, 0, sizeof c);
    c.hash = FNV_INIT;
    rc = parse(w->buf, w->len, VERIFY_CHUNK, opts, storage, cap, on_verify, &c, &p);
    check_counts(w, opts, VERIFY_CHUNK, rc, &c);
    if (c.hash != w->hash) {
        fprintf(stderr, "MISMATCH %s %s: checksum of data, type and id differs\n", w->name,
                mode_name(opts));
        failed = 1;
    }
    id = sse_parser_last_id(&p, &id_len);
    if (id_len != w->last_id_len || memcmp(id, w->last_id, id_len) != 0) {
        fprintf(stderr, "MISMATCH %s %s: last id \"%s\", generator wrote \"%.*s\"\n", w->name,
                mode_name(opts), id, (int)w->last_id_len, w->last_id);
        failed = 1;
    }
}

static size_t count_byte(const unsigned char *p, size_t len, int ch)
{
    const unsigned char *end = p + len;
    size_t n = 0;
    while ((p = memchr(p, ch, (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

static sse_error encode_all(const workload *w, unsigned char *out, size_t cap, size_t *total)
{
    size_t i, pos = 0;
    for (i = 0; i < w->n_frames; i++) {
        size_t len;
        sse_error rc = path->encode(out + pos, cap - pos, &w->frames[i], &len);
        if (rc != SSE_OK) {
            return rc;
        }
        pos += len;
    }
    *total = pos;
    return SSE_OK;
}

/* Smallest storage with no SSE_KIND_DROPPED record, by bisection. The data limit
 * CAP - 4*(CAP/16) - 1 is monotonic over multiples of 16 and inside each 16-byte block
 * (it falls by 3 at a block boundary), so bisect over blocks first, then inside the block
 * below the first clean one. Failing probes stop at the first drop. 0: hi is not clean. */
static int clean(const workload *w, unsigned opts, void *storage, size_t cap)
{
    sse_parser p;
    counts c;
    sse_error rc;
    memset(&c, 0, sizeof c);
    c.stop_on_drop = 1;
    rc = parse(w->buf, w->len, 64 * KIB, opts, storage, cap, on_count, &c, &p);
    return rc == SSE_OK && c.dropped == 0;
}

static size_t smallest_storage(const workload *w, unsigned opts, void *storage, size_t hi)
{
    size_t lo_k = 0, hi_k = hi / 16, lo_j, hi_j; /* lo_k fails (0: invalid), hi_k clean */
    if (!clean(w, opts, storage, 16 * hi_k)) {
        return 0;
    }
    while (hi_k - lo_k > 1) {
        size_t mid = lo_k + (hi_k - lo_k) / 2;
        if (clean(w, opts, storage, 16 * mid)) {
            hi_k = mid;
        } else {
            lo_k = mid;
        }
    }
    if (lo_k == 0) {
        return 16;
    }
    lo_j = 0; /* 16*lo_k + lo_j fails; 16*lo_k + hi_j (hi_j 16: the next block) is clean */
    hi_j = 16;
    while (hi_j - lo_j > 1) {
        size_t mid = lo_j + (hi_j - lo_j) / 2;
        if (clean(w, opts, storage, 16 * lo_k + mid)) {
            hi_j = mid;
        } else {
            lo_j = mid;
        }
    }
    return 16 * lo_k + hi_j;
}

/* ---------------------------------------------------------------------------------------
 * One workload: all configurations, round-robin
 * ------------------------------------------------------------------------------------- */

typedef struct result {
    double t[MAX_REPS];
    stat3 s; /* seconds */
} result;

static int reps = 7;
static unsigned char *scratch; /* memcpy and serializer destination */
static size_t scratch_cap;
static unsigned char *storage; /* parser storage, STORAGE_HUGE bytes */

static const unsigned modes[3] = { 0, SSE_OPT_RAW, SSE_OPT_PIECES };
static const size_t chunks[2] = { 4 * KIB, 64 * KIB };

/* Small chunks (issue 14): default mode over a prefix of the workload. */
static const size_t small_chunks[6] = { 1, 16, 256, 4 * KIB, 16 * KIB, 64 * KIB };
#define SMALL_PREFIX (2 * MIB)

/* summary figures for the target table */
typedef struct summary {
    const char *name;
    double x_memchr[2][3][2];      /* [path][mode][chunk], ratio of medians */
    double x_memchr_best[2][3][2]; /* ratio of the fastest runs, a noise cross-check */
    double ns_small[2][6];         /* [path][small chunk], ns per byte, median */
    double ns_standin;             /* the byte-at-a-time stand-in, 1-byte chunks */
    double enc_x_memcpy[2], enc_mfps[2];
    int has_enc;
} summary;

static summary sums[10];
static int n_sums;

static double mbps(size_t bytes, double sec)
{
    return (double)bytes / sec / 1e6;
}

static void print_rate(size_t bytes, stat3 s)
{
    printf("%9.1f [%8.1f .. %8.1f]", mbps(bytes, s.med), mbps(bytes, s.max), mbps(bytes, s.min));
}

static void time_parse(const workload *w, unsigned opts, size_t chunk, size_t cap, double *t)
{
    sse_parser p;
    counts c;
    sse_error rc;
    double t0;
    memset(&c, 0, sizeof c);
    t0 = now();
    rc = parse(w->buf, w->len, chunk, opts, storage, cap, on_count, &c, &p);
    *t = now() - t0;
    check_counts(w, opts, chunk, rc, &c);
}

static void time_memchr(const workload *w, double *t)
{
    double t0 = now();
    size_t n = count_byte(w->buf, w->len, w->eol == EOL_CR ? '\r' : '\n');
    *t = now() - t0;
    if (n != w->lines) {
        fprintf(stderr, "MISMATCH %s: memchr found %zu terminators, generator wrote %zu\n", w->name,
                n, w->lines);
        failed = 1;
    }
}

static void time_memcpy(const workload *w, double *t)
{
    double t0 = now();
    memcpy(scratch, w->buf, w->len);
    *t = now() - t0;
    sink ^= scratch[w->len / 2] ^ scratch[w->len - 1];
}

static void time_encode(const workload *w, size_t *out_len, double *t)
{
    sse_error rc;
    double t0 = now();
    rc = encode_all(w, scratch, scratch_cap, out_len);
    *t = now() - t0;
    if (rc != SSE_OK) {
        fprintf(stderr, "MISMATCH %s: sse_encode returned %s\n", w->name, sse_strerror(rc));
        failed = 1;
    }
}

/* ---------------------------------------------------------------------------------------
 * The stand-in peer for 1-byte feeding (issue 14): a byte-at-a-time switch state machine
 * written the straightforward way (eventsource-c's design; that library cannot be built
 * here: no network). It keeps event type, data and id in fixed buffers, handles CR, LF and
 * CR LF, the leading space, and dispatches at a blank line; no UTF-8 repair, no limits
 * reporting, no BOM: less work than sse does.
 * ------------------------------------------------------------------------------------- */

enum { SM_LINE, SM_NAME, SM_SPACE, SM_VALUE };

typedef struct standin {
    int state, after_cr;
    char name[8];
    size_t name_len, data_len, type_len, id_len;
    char data[STORAGE_FULL], type[256], id[256];
    size_t events, data_bytes;
    char field; /* 'd', 'e', 'i', 'r', or 0: ignored */
} standin;

static void sm_line_end(standin *m)
{
    if (m->state == SM_LINE) { /* blank line: dispatch */
        if (m->data_len > 0) {
            m->events++;
            m->data_bytes += m->data_len - 1; /* without the last LF */
            sink ^= (unsigned char)m->data[0];
        }
        m->data_len = 0;
        m->type_len = 0;
        return;
    }
    if (m->state == SM_NAME) { /* a line without a colon: the whole line is the name */
        m->field = m->name_len == 4 && memcmp(m->name, "data", 4) == 0 ? 'd' : 0;
    }
    if (m->field == 'd' && m->data_len < sizeof m->data) {
        m->data[m->data_len++] = '\n';
    }
    m->state = SM_LINE;
    m->name_len = 0;
}

static void sm_feed(standin *m, const unsigned char *p, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char ch = p[i];
        if (m->after_cr) {
            m->after_cr = 0;
            if (ch == '\n') {
                continue;
            }
        }
        if (ch == '\r' || ch == '\n') {
            m->after_cr = ch == '\r';
            sm_line_end(m);
            continue;
        }
        switch (m->state) {
        case SM_LINE:
        case SM_NAME:
            if (ch == ':') {
                m->field = m->name_len == 4 && memcmp(m->name, "data", 4) == 0    ? 'd'
                           : m->name_len == 5 && memcmp(m->name, "event", 5) == 0 ? 'e'
                           : m->name_len == 2 && memcmp(m->name, "id", 2) == 0    ? 'i'
                           : m->name_len == 5 && memcmp(m->name, "retry", 5) == 0 ? 'r'
                                                                                  : 0;
                m->state = SM_SPACE;
            } else {
                if (m->name_len < sizeof m->name) {
                    m->name[m->name_len] = (char)ch;
                }
                m->name_len++;
                m->state = SM_NAME;
            }
            break;
        case SM_SPACE:
            m->state = SM_VALUE;
            if (ch == ' ') {
                break;
            }
            /* fall through */
        default:
            if (m->field == 'd' && m->data_len < sizeof m->data) {
                m->data[m->data_len++] = (char)ch;
            } else if (m->field == 'e' && m->type_len < sizeof m->type) {
                m->type[m->type_len++] = (char)ch;
            } else if (m->field == 'i' && m->id_len < sizeof m->id) {
                m->id[m->id_len++] = (char)ch;
            }
            break;
        }
    }
}

/* Called through a volatile pointer, as a library's feed is: not inlined into the loop. */
static void (*volatile sm_feed_call)(standin *, const unsigned char *, size_t) = sm_feed;

static void time_standin(const unsigned char *buf, size_t len, double *t)
{
    static standin m;
    size_t i;
    double t0;
    memset(&m, 0, sizeof m);
    t0 = now();
    for (i = 0; i < len; i++) {
        sm_feed_call(&m, buf + i, 1);
    }
    *t = now() - t0;
    sink ^= (unsigned char)m.events;
}

/* The length of buf's first events up to about SMALL_PREFIX bytes (a whole event, so a
 * parse of the prefix ends cleanly). */
static size_t prefix_len(const workload *w)
{
    const char *end = w->eol == EOL_CR ? "\r\r" : w->eol == EOL_CRLF ? "\r\n\r\n" : "\n\n";
    size_t n = w->len < SMALL_PREFIX ? w->len : SMALL_PREFIX, k = strlen(end);
    while (n < w->len && !(n >= k && memcmp(w->buf + n - k, end, k) == 0)) {
        n++;
    }
    return n;
}

static void time_prefix(const workload *w, size_t len, size_t chunk, double *t)
{
    sse_parser p;
    counts c;
    sse_error rc;
    double t0;
    memset(&c, 0, sizeof c);
    t0 = now();
    rc = parse(w->buf, len, chunk, 0, storage, STORAGE_FULL, on_count, &c, &p);
    *t = now() - t0;
    if (rc != SSE_OK || c.dropped) {
        fprintf(stderr, "MISMATCH %s prefix of %zu bytes, chunk %zu: %s, %zu dropped\n", w->name,
                len, chunk, sse_strerror(rc), c.dropped);
        failed = 1;
    }
}

static void bench_workload(const workload *w, int serialize)
{
    result r_memchr, r_memcpy, r_parse[2][3][2], r_enc[2], r_small[2][6], r_standin;
    size_t out_len = 0, plen = prefix_len(w);
    summary *sm = &sums[n_sums++];
    int rep, m, k, a;
    double t;

    printf("\n== %s: %zu bytes, %zu events, %zu %s, data %zu bytes\n", w->name, w->len, w->events,
           w->lines, w->eol == EOL_CR ? "CR" : "LF", w->data_bytes);
    fflush(stdout);
    for (a = 0; a < 2; a++) {
        path = paths[a];
        for (m = 0; m < 3; m++) {
            verify(w, modes[m], storage, modes[m] == SSE_OPT_PIECES ? STORAGE_PIECES : STORAGE_FULL);
        }
    }

    for (rep = 0; rep <= reps; rep++) { /* rep 0 is the warm-up */
        int i = rep - 1 < 0 ? 0 : rep - 1;
        time_memchr(w, &t);
        r_memchr.t[i] = t;
        time_memcpy(w, &t);
        r_memcpy.t[i] = t;
        for (a = 0; a < 2; a++) {
            path = paths[a];
            for (m = 0; m < 3; m++) {
                for (k = 0; k < 2; k++) {
                    size_t cap = modes[m] == SSE_OPT_PIECES ? STORAGE_PIECES : STORAGE_FULL;
                    time_parse(w, modes[m], chunks[k], cap, &t);
                    r_parse[a][m][k].t[i] = t;
                }
            }
            for (k = 0; k < 6; k++) {
                time_prefix(w, plen, small_chunks[k], &t);
                r_small[a][k].t[i] = t;
            }
            if (serialize) {
                time_encode(w, &out_len, &t);
                r_enc[a].t[i] = t;
            }
        }
        time_standin(w->buf, plen, &t);
        r_standin.t[i] = t;
    }
    path = paths[0];
    r_memchr.s = stats(r_memchr.t, reps);
    r_memcpy.s = stats(r_memcpy.t, reps);

    printf("  %-22s %9s %24s\n", "limit", "MB/s", "[min .. max]");
    printf("  %-22s ", w->eol == EOL_CR ? "memchr CR" : "memchr LF");
    print_rate(w->len, r_memchr.s);
    printf("\n  %-22s ", "memcpy");
    print_rate(w->len, r_memcpy.s);
    printf("\n  %-8s %5s %7s %9s %24s %9s %9s %9s\n", "parser", "chunk", "path", "MB/s",
           "[min .. max]", "Mevents/s", "x memchr", "x memcpy");
    sm->name = w->name;
    for (m = 0; m < 3; m++) {
        for (k = 0; k < 2; k++) {
            for (a = 0; a < 2; a++) {
                stat3 s = stats(r_parse[a][m][k].t, reps);
                sm->x_memchr[a][m][k] = r_memchr.s.med / s.med;
                sm->x_memchr_best[a][m][k] = r_memchr.s.min / s.min;
                printf("  %-8s %4zuK %7s ", mode_name(modes[m]), chunks[k] / KIB, path_names[a]);
                print_rate(w->len, s);
                printf(" %9.2f %8.3fx %8.3fx\n", (double)w->events / s.med / 1e6,
                       r_memchr.s.med / s.med, r_memcpy.s.med / s.med);
            }
        }
    }
    printf("  small chunks, default mode, first %zu bytes: ns/byte (median)\n  %-8s", plen,
           "chunk");
    for (k = 0; k < 6; k++) {
        printf(" %9zu", small_chunks[k]);
    }
    for (a = 0; a < 2; a++) {
        printf("\n  %-8s", path_names[a]);
        for (k = 0; k < 6; k++) {
            stat3 s = stats(r_small[a][k].t, reps);
            sm->ns_small[a][k] = s.med * 1e9 / (double)plen;
            printf(" %9.3f", sm->ns_small[a][k]);
        }
    }
    sm->ns_standin = stats(r_standin.t, reps).med * 1e9 / (double)plen;
    printf("\n  %-8s %9.3f   (byte-at-a-time stand-in peer, 1-byte chunks; sse 1-byte / it: "
           "%.2fx)\n",
           "stand-in", sm->ns_standin, sm->ns_small[0][0] / sm->ns_standin);
    if (serialize) {
        /* frames are written in the generator's canonical form, so the output must be
         * the workload itself, byte for byte; memcpy of the workload is memcpy of it */
        if (out_len != w->len || memcmp(scratch, w->buf, w->len) != 0) {
            fprintf(stderr,
                    "MISMATCH %s: sse_encode output (%zu bytes) differs from the "
                    "generated stream (%zu bytes)\n",
                    w->name, out_len, w->len);
            failed = 1;
        }
        printf("  %-14s %7s %9s %24s %9s %9s\n", "serializer", "frames", "MB/s", "[min .. max]",
               "Mframes/s", "x memcpy");
        for (a = 0; a < 2; a++) {
            stat3 s = stats(r_enc[a].t, reps);
            printf("  %-7s %-6s %7zu ", "encode", path_names[a], w->n_frames);
            print_rate(out_len, s);
            printf(" %9.2f %8.3fx\n", (double)w->n_frames / s.med / 1e6, r_memcpy.s.med / s.med);
            sm->enc_x_memcpy[a] = r_memcpy.s.med / s.med;
            sm->enc_mfps[a] = (double)w->n_frames / s.med / 1e6;
        }
        sm->has_enc = 1;
    } else {
        printf("  serializer: same frames as small_mixed (sse_encode always writes LF)\n");
    }
    printf("  smallest storage without overflow (bisection): default %zu, raw %zu, "
           "pieces %zu bytes\n",
           smallest_storage(w, 0, storage, STORAGE_FULL),
           smallest_storage(w, SSE_OPT_RAW, storage, STORAGE_FULL),
           smallest_storage(w, SSE_OPT_PIECES, storage, STORAGE_FULL));
    fflush(stdout);
}

/* huge_event: one data line fed in 16 KiB, 1 KiB and 1-byte chunks, plus the same line
 * 1/16 as long in 1-byte chunks: equal ns/byte at both sizes means linear. */
static double huge_ratio_1k_16k[2], huge_ns_1b[2][2];

static void bench_huge(const workload *w, const workload *small)
{
    static const size_t hchunks[3] = { 16 * KIB, KIB, 1 };
    static const unsigned hmodes[2] = { 0, SSE_OPT_PIECES };
    result r_memchr, r_memcpy, r[2][4];
    int rep, m, k;
    double t;

    printf("\n== huge_event: one event, one %zu-byte data line (%zu bytes); "
           "default storage %zu, pieces %zu\n",
           w->data_bytes, w->len, STORAGE_HUGE, STORAGE_PIECES);
    fflush(stdout);
    for (m = 0; m < 2; m++) {
        size_t cap = hmodes[m] == SSE_OPT_PIECES ? STORAGE_PIECES : STORAGE_HUGE;
        verify(w, hmodes[m], storage, cap);
        verify(small, hmodes[m], storage, cap);
    }
    for (rep = 0; rep <= reps; rep++) {
        int i = rep - 1 < 0 ? 0 : rep - 1;
        time_memchr(w, &t);
        r_memchr.t[i] = t;
        time_memcpy(w, &t);
        r_memcpy.t[i] = t;
        for (m = 0; m < 2; m++) {
            size_t cap = hmodes[m] == SSE_OPT_PIECES ? STORAGE_PIECES : STORAGE_HUGE;
            for (k = 0; k < 3; k++) {
                time_parse(w, hmodes[m], hchunks[k], cap, &t);
                r[m][k].t[i] = t;
            }
            time_parse(small, hmodes[m], 1, cap, &t);
            r[m][3].t[i] = t;
        }
    }
    r_memchr.s = stats(r_memchr.t, reps);
    r_memcpy.s = stats(r_memcpy.t, reps);
    printf("  %-22s %9s %24s\n", "limit", "MB/s", "[min .. max]");
    printf("  %-22s ", "memchr LF");
    print_rate(w->len, r_memchr.s);
    printf("\n  %-22s ", "memcpy");
    print_rate(w->len, r_memcpy.s);
    printf("\n  %-8s %6s %9s %9s %24s %9s %9s %9s\n", "parser", "chunk", "bytes", "MB/s",
           "[min .. max]", "ns/byte", "ns/call", "x memchr");
    for (m = 0; m < 2; m++) {
        for (k = 0; k < 4; k++) {
            const workload *x = k == 3 ? small : w;
            size_t ch = k == 3 ? 1 : hchunks[k];
            stat3 s = stats(r[m][k].t, reps);
            double calls = (double)((x->len + ch - 1) / ch);
            r[m][k].s = s;
            printf("  %-8s %6zu %9zu ", mode_name(hmodes[m]), ch, x->len);
            print_rate(x->len, s);
            printf(" %9.3f %9.2f %8.3fx\n", s.med * 1e9 / (double)x->len, s.med * 1e9 / calls,
                   (r_memchr.s.med * (double)x->len / (double)w->len) / s.med);
        }
        huge_ratio_1k_16k[m] = r[m][1].s.med / r[m][0].s.med;
        huge_ns_1b[m][0] = r[m][2].s.med * 1e9 / (double)w->len;
        huge_ns_1b[m][1] = r[m][3].s.med * 1e9 / (double)small->len;
        printf("  %-8s time 1K/16K chunks %.2fx; 1-byte chunks %.3f ns/byte at %zu bytes, "
               "%.3f at %zu (ratio %.2f)\n",
               mode_name(hmodes[m]), huge_ratio_1k_16k[m], huge_ns_1b[m][0], w->len,
               huge_ns_1b[m][1], small->len, huge_ns_1b[m][0] / huge_ns_1b[m][1]);
    }
    {
        size_t out_len = 0;
        double te[MAX_REPS];
        stat3 s;
        for (rep = 0; rep <= reps; rep++) {
            time_encode(w, &out_len, &t);
            te[rep - 1 < 0 ? 0 : rep - 1] = t;
        }
        s = stats(te, reps);
        if (out_len != w->len || memcmp(scratch, w->buf, w->len) != 0) {
            fprintf(stderr, "MISMATCH huge_event: sse_encode output differs\n");
            failed = 1;
        }
        printf("  %-14s %7s %9s %24s %9s %9s\n", "serializer", "frames", "MB/s", "[min .. max]", "",
               "x memcpy");
        printf("  %-14s %7zu ", "sse_encode", w->n_frames);
        print_rate(out_len, s);
        printf(" %9s %8.3fx\n", "", r_memcpy.s.med / s.med);
    }
    printf("  smallest storage without overflow (bisection): default %zu, raw %zu, "
           "pieces %zu bytes\n",
           smallest_storage(w, 0, storage, STORAGE_HUGE),
           smallest_storage(w, SSE_OPT_RAW, storage, STORAGE_HUGE),
           smallest_storage(w, SSE_OPT_PIECES, storage, STORAGE_PIECES));
    fflush(stdout);
}

/* ---------------------------------------------------------------------------------------
 * Targets, --file mode, main
 * ------------------------------------------------------------------------------------- */

static const summary *find_sum(const char *name)
{
    int i;
    for (i = 0; i < n_sums; i++) {
        if (strcmp(sums[i].name, name) == 0) {
            return &sums[i];
        }
    }
    return NULL;
}

static void target(const char *what, double got, double want, const char *unit, double best)
{
    printf("  %-52s %8.3f%s (>= %.2f%s) %-6s", what, got, unit, want, unit,
           got >= want ? "met" : "MISSED");
    if (best > 0) {
        printf("  best/best %.3f%s", best, unit);
    }
    printf("\n");
}

static void print_targets(int did_huge)
{
    static const struct {
        const char *name;
        double want;
    } par[] = { { "llm_tokens", 0.5 },  { "llm_ascii", 0.7 }, { "small_mixed", 0.6 },
                { "crlf", 0.6 },        { "cr_only", 0.6 },   { "multiline", 0.55 },
                { "large_payload", 0.45 } };
    char what[96];
    size_t i;
    int m, k;
    const summary *s;

    printf("\n== targets (issue 14; ratios of medians in this run, vector path unless named)\n");
    for (i = 0; i < sizeof par / sizeof par[0]; i++) {
        if ((s = find_sum(par[i].name)) != NULL) {
            sprintf(what, "%s default 64K, x memchr", par[i].name);
            target(what, s->x_memchr[0][0][1], par[i].want, "x", s->x_memchr_best[0][0][1]);
        }
    }
    if ((s = find_sum("large_payload")) != NULL) {
        target("large_payload pieces 64K, x memchr", s->x_memchr[0][2][1], 0.6, "x",
               s->x_memchr_best[0][2][1]);
    }
    for (i = 0; i < (size_t)n_sums; i++) {
        s = &sums[i];
        for (k = 0; k < 2; k++) {
            double q = s->x_memchr[0][1][k] / s->x_memchr[0][0][k];
            sprintf(what, "%s %zuK, raw speed / default speed", s->name, chunks[k] / KIB);
            printf("  %-52s %8.3fx (>= 1.00x) %-6s  best/best %.3fx\n", what, q,
                   q >= 1.0    ? "met"
                   : q >= 0.95 ? "~noise"
                               : "MISSED",
                   s->x_memchr_best[0][1][k] / s->x_memchr_best[0][0][k]);
        }
    }
    for (i = 0; i < (size_t)n_sums; i++) {
        s = &sums[i];
        printf("  %-52s %8.3f ns/byte (<= 8.00) %-6s\n",
               (sprintf(what, "%s 1-byte chunks", s->name), what), s->ns_small[0][0],
               s->ns_small[0][0] <= 8.0 ? "met" : "MISSED");
        printf("  %-52s %8.3fx (<= 1.50x) %-6s\n",
               (sprintf(what, "%s 1-byte chunks, x the stand-in peer", s->name), what),
               s->ns_small[0][0] / s->ns_standin,
               s->ns_small[0][0] / s->ns_standin <= 1.5 ? "met" : "MISSED");
        printf("  %-52s %8.3fx (<= 1.25x) %-6s\n",
               (sprintf(what, "%s ns/byte 256 B / 16 KiB chunks", s->name), what),
               s->ns_small[0][2] / s->ns_small[0][4],
               s->ns_small[0][2] / s->ns_small[0][4] <= 1.25 ? "flat" : "MISSED");
    }
    for (i = 0; i < (size_t)n_sums; i++) {
        s = &sums[i];
        printf("  %-52s %8.3fx   (4K %.3fx)\n",
               (sprintf(what, "%s default 64K, vector / scalar speed", s->name), what),
               s->x_memchr[0][0][1] / s->x_memchr[1][0][1],
               s->x_memchr[0][0][0] / s->x_memchr[1][0][0]);
    }
    if ((s = find_sum("llm_tokens")) != NULL && s->has_enc) {
        target("serializer llm_tokens, x memcpy of the output", s->enc_x_memcpy[0], 0.5, "x", 0);
    }
    if ((s = find_sum("large_payload")) != NULL && s->has_enc) {
        target("serializer 64 KiB lines (large_payload), x memcpy", s->enc_x_memcpy[0], 0.8, "x",
               0);
    }
    if (did_huge) {
        for (m = 0; m < 2; m++) {
            double r = huge_ratio_1k_16k[m];
            printf("  huge_event %-7s time 1K / 16K chunks %22s %8.3fx (<= 2.00x) %s\n",
                   mode_name(m ? SSE_OPT_PIECES : 0), "", r, r <= 2.0 ? "met" : "MISSED");
            printf("  huge_event %-7s 1-byte chunks: %.2f ns/byte (full), %.2f (1/16): "
                   "ratio %.2f %s\n",
                   mode_name(m ? SSE_OPT_PIECES : 0), huge_ns_1b[m][0], huge_ns_1b[m][1],
                   huge_ns_1b[m][0] / huge_ns_1b[m][1],
                   huge_ns_1b[m][0] / huge_ns_1b[m][1] <= 1.5 ? "linear" : "NOT LINEAR");
        }
    }
}

static int run_file(const char *file, size_t chunk, size_t cap, unsigned opts)
{
    FILE *f = fopen(file, "rb");
    unsigned char *buf;
    size_t len = 0, bufcap = MIB, n;
    double t[MAX_REPS];
    counts c;
    sse_parser p;
    sse_error rc = SSE_OK;
    int rep;
    void *st;

    if (!f) {
        perror(file);
        return 2;
    }
    buf = xmalloc(bufcap);
    while ((n = fread(buf + len, 1, bufcap - len, f)) > 0) {
        len += n;
        if (len == bufcap) {
            bufcap *= 2;
            buf = realloc(buf, bufcap);
            if (!buf) {
                fprintf(stderr, "sse_bench: out of memory\n");
                return 2;
            }
        }
    }
    fclose(f);
    st = xmalloc(cap);
    for (rep = 0; rep <= reps; rep++) {
        double t0;
        memset(&c, 0, sizeof c);
        t0 = now();
        rc = parse(buf, len, chunk, opts, st, cap, on_count, &c, &p);
        t[rep - 1 < 0 ? 0 : rep - 1] = now() - t0;
    }
    if (rc != SSE_OK && rc != SSE_ERR_TRUNCATED) {
        fprintf(stderr, "sse_bench: %s: %s\n", file, sse_strerror(rc));
        return 1;
    }
    if (c.dropped) {
        fprintf(stderr, "sse_bench: %zu dropped records (try a larger --storage)\n", c.dropped);
    }
    printf("bytes=%zu events=%zu seconds=%.6f\n", len, c.events, stats(t, reps).med);
    free(buf);
    free(st);
    return 0;
}

static void dump_workload(const char *dir, const workload *w)
{
    char name[4096];
    FILE *f;
    sprintf(name, "%.4000s/%s.sse", dir, w->name);
    f = fopen(name, "wb");
    if (!f || fwrite(w->buf, 1, w->len, f) != w->len || fclose(f) != 0) {
        perror(name);
        failed = 1;
        return;
    }
    printf("%s: %zu bytes, %zu events\n", name, w->len, w->events);
}

static int selected(const char *only, const char *name)
{
    size_t n = strlen(name);
    const char *p = only;
    if (!only) {
        return 1;
    }
    while ((p = strstr(p, name)) != NULL) {
        if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
            return 1;
        }
        p += n;
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: sse_bench [--short] [--mib X] [--reps N] [--seed S] [--only A,B]\n"
                    "       sse_bench --file F [--chunk N] [--storage N] [--reps N] "
                    "[--mode default|raw|pieces]\n"
                    "       sse_bench --dump DIR [--mib X] [--seed S] [--only A,B]\n"
                    "workloads: llm_tokens llm_ascii cjk_text small_mixed large_payload "
                    "multiline crlf cr_only huge_event\n");
    exit(2);
}

int main(int argc, char **argv)
{
    double mib = 64;
    unsigned long long seed = 1;
    const char *only = NULL, *file = NULL, *dump = NULL;
    unsigned file_opts = 0;
    size_t chunk = 64 * KIB, file_storage = MIB, size, huge;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--short") == 0) {
            mib = 1;
        } else if (strcmp(a, "--mib") == 0 && v) {
            mib = strtod(v, NULL);
            i++;
        } else if (strcmp(a, "--reps") == 0 && v) {
            reps = atoi(v);
            i++;
        } else if (strcmp(a, "--seed") == 0 && v) {
            seed = strtoull(v, NULL, 0);
            i++;
        } else if (strcmp(a, "--only") == 0 && v) {
            only = v;
            i++;
        } else if (strcmp(a, "--file") == 0 && v) {
            file = v;
            i++;
        } else if (strcmp(a, "--chunk") == 0 && v) {
            chunk = (size_t)strtoull(v, NULL, 0);
            i++;
        } else if (strcmp(a, "--dump") == 0 && v) {
            dump = v;
            i++;
        } else if (strcmp(a, "--mode") == 0 && v) {
            if (strcmp(v, "raw") == 0) {
                file_opts = SSE_OPT_RAW;
            } else if (strcmp(v, "pieces") == 0) {
                file_opts = SSE_OPT_PIECES;
            } else if (strcmp(v, "default") != 0) {
                usage();
            }
            i++;
        } else if (strcmp(a, "--storage") == 0 && v) {
            file_storage = (size_t)strtoull(v, NULL, 0);
            i++;
        } else {
            usage();
        }
    }
    if (reps < 1 || reps > MAX_REPS || mib <= 0 || chunk == 0 || file_storage < 16) {
        usage();
    }
    if (file) {
        return run_file(file, chunk, file_storage, file_opts);
    }

    size = (size_t)(mib * (double)MIB);
    huge = size / 4;
    if (huge < 16) {
        huge = 16;
    }
    scratch_cap = size + MIB > huge + 64 ? size + MIB : huge + 64;
    scratch = xmalloc(scratch_cap);
    storage = xmalloc(STORAGE_HUGE);

    if (!dump) {
        printf("sse_bench: sse %s (library %06lx), sizeof(sse_parser) = %zu bytes, "
               "sizeof(sse_frame) = %zu\n",
               SSE_VERSION_STRING, sse_version(), sizeof(sse_parser), sizeof(sse_frame));
        printf("workloads of %zu bytes, seed %llu; %d timed reps after 1 warm-up, round-robin; "
               "median [min .. max]; 1 MB = 10^6 bytes\n",
               size, seed, reps);
        printf("storage: default/raw %zu bytes, pieces %zu bytes; x memchr = parser MB/s / memchr "
               "MB/s on the same buffer\n",
               STORAGE_FULL, STORAGE_PIECES);
    }

    {
        static const struct {
            const char *name;
            int kind;
            enum eol eol;
        } list[] = { { "llm_tokens", 0, EOL_LF },    { "llm_ascii", 4, EOL_LF },
                     { "cjk_text", 5, EOL_LF },      { "small_mixed", 1, EOL_LF },
                     { "large_payload", 2, EOL_LF }, { "multiline", 3, EOL_LF },
                     { "crlf", 1, EOL_CRLF },        { "cr_only", 1, EOL_CR } };
        size_t j;
        for (j = 0; j < sizeof list / sizeof list[0]; j++) {
            workload w;
            rng r;
            if (!selected(only, list[j].name)) {
                continue;
            }
            r.s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
            wl_init(&w, list[j].name, list[j].eol, size + MIB);
            switch (list[j].kind) {
            case 0: gen_llm_tokens(&w, &r, size, 0); break;
            case 4: gen_llm_tokens(&w, &r, size, 1); break;
            case 5: gen_cjk_text(&w, &r, size); break;
            case 1: gen_small_mixed(&w, &r, size); break;
            case 2: gen_large_payload(&w, &r, size); break;
            default: gen_multiline(&w, &r, size); break;
            }
            if (dump) {
                dump_workload(dump, &w);
            } else {
                bench_workload(&w, list[j].eol == EOL_LF);
            }
            wl_free(&w);
        }
    }
    if (selected(only, "huge_event")) {
        workload w, small;
        rng r;
        r.s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
        wl_init(&w, "huge_event", EOL_LF, huge + 64);
        gen_huge(&w, &r, huge);
        wl_init(&small, "huge_event/16", EOL_LF, huge / 16 + 64);
        gen_huge(&small, &r, huge / 16 ? huge / 16 : 1);
        if (dump) {
            dump_workload(dump, &w);
        } else {
            bench_huge(&w, &small);
        }
        wl_free(&w);
        wl_free(&small);
    }
    if (dump) {
        return failed ? 1 : 0;
    }
    print_targets(selected(only, "huge_event"));
    printf("\n%s\n", failed ? "FAIL: a count or content differs from the generator (see stderr)"
                            : "all event counts, data lengths and checksums match");
    return failed ? 1 : 0;
}
