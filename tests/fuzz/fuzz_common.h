/*
 * fuzz_common.h - helpers shared by the fuzzers in tests/fuzz (header-only, static).
 *
 * Every helper is static so each fuzzer stays one translation unit plus src/sse.c (and
 * replay.c when built without libFuzzer). A failed check prints where and why, then
 * aborts: libFuzzer and the replay runner both treat that as a crash.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                             \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* Allocation that never returns NULL; size 0 still gives a unique pointer, so ASan
 * reports any access through it. */
static inline void *fz_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

/* An exactly-sized copy: reading one byte past n is an ASan report. */
static inline void *fz_dup(const void *src, size_t n)
{
    void *p = malloc(n);
    if (!p && n) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        abort();
    }
    if (n) {
        memcpy(p, src, n);
    }
    return p;
}

/* Reads bytes from the front of the input; past the end it yields zeros. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline unsigned fz_u8(fz_in *in)
{
    unsigned v = 0;
    if (in->n) {
        v = in->p[0];
        in->p++;
        in->n--;
    }
    return v;
}

/* Up to want bytes; *len gets how many there were. */
static inline const uint8_t *fz_bytes(fz_in *in, size_t want, size_t *len)
{
    const uint8_t *p = in->p;
    *len = want < in->n ? want : in->n;
    in->p += *len;
    in->n -= *len;
    return p;
}

/* Deterministic generator for chunk sizes, seeded from the input. */
typedef struct fz_rng {
    uint64_t s;
} fz_rng;

static inline uint64_t fz_next(fz_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15u); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* A chunk size: mostly small (cuts CR LF pairs, BOMs, names, UTF-8 sequences), some
 * empty, some large. mode 0: mixed; 1: one byte; 2: up to 16; 3: up to 4096. */
static inline size_t fz_chunk(fz_rng *r, unsigned mode)
{
    uint64_t v = fz_next(r);
    switch (mode & 3u) {
    case 1: return 1;
    case 2: return (size_t)(v % 16u) + 1;
    case 3: return (size_t)(v % 4096u) + 1;
    default:
        switch (v & 7u) {
        case 0: return 0;
        case 1:
        case 2: return 1;
        case 3:
        case 4: return (size_t)((v >> 8) % 8u) + 2;
        case 5: return (size_t)((v >> 8) % 64u) + 1;
        default: return (size_t)((v >> 8) % 1024u) + 1;
        }
    }
}

/* Whether s[0..n) is well-formed UTF-8 (no surrogates, no overlongs, <= U+10FFFF). */
static inline int fz_utf8_ok(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned b = s[i], need, k;
        unsigned lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            lo = b == 0xE0 ? 0xA0 : 0x80;
            hi = b == 0xED ? 0x9F : 0xBF;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            lo = b == 0xF0 ? 0x90 : 0x80;
            hi = b == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (n - i - 1 < need) {
            return 0;
        }
        for (k = 1; k <= need; k++) {
            unsigned c = s[i + k];
            if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) {
                return 0;
            }
        }
        i += need + 1;
    }
    return 1;
}

/* Reads every byte of s[0..n) (ASan reports a bad pointer or length here). */
static inline unsigned fz_touch(const char *s, size_t n)
{
    unsigned sum = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        sum += (unsigned char)s[i];
    }
    return sum;
}

/* Growable byte buffer. */
typedef struct fz_buf {
    char *p;
    size_t len, cap;
} fz_buf;

static inline void fz_put(fz_buf *b, const void *s, size_t n)
{
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        char *q;
        while (cap - b->len < n) {
            cap *= 2;
        }
        q = (char *)realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "out of memory\n");
            abort();
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) {
        memcpy(b->p + b->len, s, n);
    }
    b->len += n;
}

static inline void fz_put_size(fz_buf *b, size_t v)
{
    uint64_t x = v;
    fz_put(b, &x, sizeof x);
}

static inline void fz_free(fz_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* The kinds, as text for diagnostics. */
static inline const char *fz_kind(sse_kind k)
{
    switch (k) {
    case SSE_KIND_EVENT: return "EVENT";
    case SSE_KIND_RETRY: return "RETRY";
    case SSE_KIND_COMMENT: return "COMMENT";
    case SSE_KIND_DROPPED: return "DROPPED";
    case SSE_KIND_ID: return "ID";
    }
    return "?";
}

/* Prints s[0..n) with C escapes. */
static inline void fz_print(FILE *f, const char *s, size_t n)
{
    size_t i;
    fputc('"', f);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            fprintf(f, "\\%c", ch);
        } else if (ch >= 0x20 && ch < 0x7F) {
            fputc(ch, f);
        } else {
            fprintf(f, "\\x%02x", ch);
        }
    }
    fputc('"', f);
}

/* Normalised log of records, one comparable entry per record:
 * kind, flags, retry, error, then type, data and id as (length, bytes). */
static inline void fz_log(fz_buf *log, sse_kind kind, unsigned flags, uint64_t retry, sse_error err,
                          const char *type, size_t type_len, const char *data, size_t data_len,
                          const char *id, size_t id_len)
{
    int32_t e = (int32_t)err;
    fz_put_size(log, (size_t)kind);
    fz_put_size(log, flags);
    fz_put(log, &retry, sizeof retry);
    fz_put(log, &e, sizeof e);
    fz_put_size(log, type_len);
    fz_put(log, type, type_len);
    fz_put_size(log, data_len);
    fz_put(log, data, data_len);
    fz_put_size(log, id_len);
    fz_put(log, id, id_len);
}

static inline size_t fz_get_size(const char **p)
{
    uint64_t x;
    memcpy(&x, *p, sizeof x);
    *p += sizeof x;
    return (size_t)x;
}

/* Prints a log written by fz_log, one record a line. */
static inline void fz_dump_log(FILE *f, const char *title, const fz_buf *log)
{
    const char *p = log->p, *end = log->p + log->len;
    unsigned long n = 0;
    fprintf(f, "%s:\n", title);
    while (p < end) {
        size_t kind = fz_get_size(&p), flags = fz_get_size(&p), len;
        uint64_t retry;
        int32_t e;
        memcpy(&retry, p, sizeof retry);
        p += sizeof retry;
        memcpy(&e, p, sizeof e);
        p += sizeof e;
        fprintf(f, "  #%lu %s flags=%zu retry=%llu error=%d type=", n++, fz_kind((sse_kind)kind),
                flags, (unsigned long long)retry, (int)e);
        len = fz_get_size(&p);
        fz_print(f, p, len);
        p += len;
        fputs(" data=", f);
        len = fz_get_size(&p);
        fz_print(f, p, len);
        p += len;
        fputs(" id=", f);
        len = fz_get_size(&p);
        fz_print(f, p, len);
        p += len;
        fputc('\n', f);
    }
}

#endif /* FUZZ_COMMON_H */
