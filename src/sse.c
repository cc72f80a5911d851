/*
 * sse.c - Server-Sent Events parser and serializer. See sse.h for the contract.
 *
 * The parser reads in the order data flows: bytes (BOM, line ends), lines (field name,
 * value), values (UTF-8 repair, storage), events (dispatch). The storage buffer is cut
 * into five regions: [type | id slot 0 | id slot 1 | id slot 2 | data], F = cap / 16
 * bytes each but data, which gets the rest. The three id slots hold the last event ID
 * string (priv.id_last), the block's pending id (priv.id_pending) and the id being read
 * (priv.id_reading), so an id line that turns out to hold a NUL, or a block that never
 * ends, leaves the others intact without copying.
 *
 * Stopping: every parser helper that returns int returns 1 when the callback asked to
 * stop (deliver() saw a non-zero return) and 0 otherwise. Its caller returns at once,
 * passing the 1 up, until the public function returns SSE_ERR_STOPPED: nothing is
 * parsed or delivered after a stop.
 */
#include "sse.h"

#include <string.h>

/* priv.state: where the next byte of the stream goes. */
enum { ST_BOM, ST_NAME, ST_SPACE, ST_VALUE };

/* priv.field: the field whose value is being read. */
enum { F_IGNORE, F_DATA, F_EVENT, F_ID, F_RETRY, F_COMMENT };

/* priv.flags. */
#define FL_AFTER_CR   0x001u /* the last line ended with CR at the end of a chunk */
#define FL_HAS_DATA   0x002u /* the block has a data field */
#define FL_HAS_ID     0x004u /* the block has an accepted id field */
#define FL_HAS_EVENT  0x008u /* the block has an event field */
#define FL_DATA_OVER  0x010u /* the block's data did not fit */
#define FL_TYPE_OVER  0x020u /* the block's event type did not fit */
#define FL_ID_OVER    0x040u /* the block's latest id did not fit */
#define FL_VAL_OVER   0x080u /* the current value did not fit (id, comment, retry) */
#define FL_VAL_BAD    0x100u /* the current value is refused (id with NUL, retry not digits) */
#define FL_STARTED    0x200u /* piece mode: the event's first piece was handed out */
#define FL_STOPPED    0x400u /* the callback asked to stop */
#define FL_BUSY       0x800u /* inside the callback */
#define FL_BLOCK      (FL_HAS_DATA | FL_HAS_ID | FL_HAS_EVENT | FL_DATA_OVER | FL_TYPE_OVER | \
                       FL_ID_OVER | FL_STARTED)

#define SSE_MIN_CAP   16u /* cap / FIELD_SHARES >= 1: room for each field's NUL */

/* A retry value fits in 64 bits while num * 10 + d <= UINT64_MAX: compared against
 * these constants, so no 64-bit division is compiled in (libgcc on Cortex-M0+). */
#define RETRY_MAX_TENTH (UINT64_MAX / 10u)
#define RETRY_MAX_LAST  (UINT64_MAX % 10u)

#define UINT64_DIGITS   20u /* decimal digits of UINT64_MAX */

#define SMALL_FEED      16u /* chunks up to this size go a byte at a time (small_feed) */
#define MAX_NAME_LEN     5u /* the longest field name the parser knows ("event", "retry") */
#define FIELD_SHARES    16u /* type and each id slot get cap / FIELD_SHARES bytes */
#define ID_SLOTS         3u
#define DEFAULT_TYPE     "message"
#define DEFAULT_TYPE_LEN 7u
#define LIT(s)           s, sizeof(s) - 1u /* a string literal and its length */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif
#define SSE_ALL_OPTS  (SSE_OPT_RAW | SSE_OPT_COMMENTS | SSE_OPT_DISPATCH_AT_EOF | SSE_OPT_PIECES | \
                       SSE_OPT_ID_RECORDS)

static const char BOM[3] = { '\xEF', '\xBB', '\xBF' };
static const char FFFD[3] = { '\xEF', '\xBF', '\xBD' };

/* ---------------------------------------------------------------------------------------
 * Errors and version
 * ------------------------------------------------------------------------------------- */

const char *sse_strerror(sse_error err)
{
    switch (err) {
    case SSE_OK: return "success";
    case SSE_ERR_ARG: return "invalid argument";
    case SSE_ERR_STOPPED: return "stopped by the callback";
    case SSE_ERR_BUSY: return "parser called from its own callback";
    case SSE_ERR_DATA_TOO_LONG: return "event dropped: data longer than the storage allows";
    case SSE_ERR_TYPE_TOO_LONG: return "event dropped: event type longer than the storage allows";
    case SSE_ERR_ID_TOO_LONG: return "event dropped: id longer than the storage allows";
    case SSE_ERR_COMMENT_TOO_LONG: return "comment dropped: longer than the storage allows";
    case SSE_ERR_TRUNCATED: return "stream ended inside an event; the event was discarded";
    case SSE_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
    case SSE_ERR_BAD_TYPE: return "event type contains CR or LF";
    case SSE_ERR_BAD_ID: return "id contains CR, LF or NUL";
    case SSE_ERR_NO_CONTENT: return "HTTP 204: the server asks the client to stop";
    case SSE_ERR_HTTP_STATUS: return "HTTP status is not 200";
    case SSE_ERR_CONTENT_TYPE: return "Content-Type is not text/event-stream";
    case SSE_ERR_TOO_LARGE: return "frame too large to size: its bound exceeds SIZE_MAX";
    }
    return "unknown error";
}

unsigned long sse_version(void)
{
    return SSE_VERSION_NUMBER;
}

/* ---------------------------------------------------------------------------------------
 * Line ends: CR, LF and CR LF, for the parser and the serializer alike
 * ------------------------------------------------------------------------------------- */

/* Two implementations of one scanner, chosen when sse.c is compiled (SSE_SIMD, below):
 * the scalar one (memchr for CR and for LF) everywhere, and a vector one that reads each
 * chunk once in 64-byte blocks, finding CR and LF together and, for the parser, checking
 * UTF-8 in the same pass. Both answer next_eol() identically; the vector one may also
 * tell clean_value() that the chunk is valid UTF-8 up to some point. Default mode, 64 KiB
 * chunks, vector / scalar speed in one sse_bench run: llm_tokens 1.56x, llm_ascii 1.37x,
 * cjk_text 7.6x, small_mixed 1.11x, large_payload 1.57x.
 *
 * SSE_SIMD (a testing switch; nobody needs to set it): 0 forces the scalar path, 1 the
 * baseline vector path (SSE2 on x86, NEON on aarch64), unset or 2 the best the CPU has
 * (AVX2, chosen at run time on x86-64). tests/ build the library each way and compare. */
#ifndef SSE_SIMD
#define SSE_SIMD 2
#endif
#if SSE_SIMD >= 1 && defined(__GNUC__) && defined(__SSE2__)
#define VEC_SSE2 1
#include <emmintrin.h>
#if SSE_SIMD >= 2 && defined(__x86_64__) && (defined(__clang__) || __GNUC__ >= 5)
#define VEC_AVX2 1
#include <immintrin.h>
#endif
#elif SSE_SIMD >= 1 && defined(__GNUC__) && defined(__ARM_NEON) && defined(__aarch64__)
#define VEC_NEON 1
#include <arm_neon.h>
#endif
#if defined(VEC_SSE2) || defined(VEC_NEON)
#define VEC 1
#endif

#ifndef VEC

/* Offset of the first ch in d[from..len), or len. */
static size_t find(const char *d, size_t from, size_t len, char ch)
{
    const char *q = (const char *)memchr(d + from, ch, len - from);
    return q ? (size_t)(q - d) : len;
}

/* The next LF and the next CR after a position, each found by memchr and kept until
 * passed, so each byte is scanned once for each whatever mix of line endings the text
 * uses. Start with scan_init; next_eol gives the first CR or LF at or after at. */
typedef struct eol_scan {
    size_t lf, cr;
} eol_scan;

static void scan_init(eol_scan *e, const char *s, size_t from, size_t len)
{
    e->lf = find(s, from, len, '\n');
    e->cr = find(s, from, len, '\r');
}

/* The parser's UTF-8 check is clean_value()'s own here (valid_prefix, per chunk). */
static void scan_utf8(eol_scan *e, const char **from, const char **valid_to)
{
    (void)e;
    (void)from;
    (void)valid_to;
}

/* Offset of the first CR or LF in s[at..len), or len. */
static size_t next_eol(eol_scan *e, const char *s, size_t at, size_t len)
{
    if (e->lf < at) {
        e->lf = find(s, at, len, '\n');
    }
    if (e->cr < at) {
        e->cr = find(s, at, len, '\r');
    }
    return e->lf < e->cr ? e->lf : e->cr;
}

#else /* VEC */

#define BLOCK 64u

static size_t valid_prefix(const unsigned char *u, size_t n);

/* The vector scanner. Blocks are read in order from the scan's start; the line ends of
 * the block last read wait in mask until next_eol() passes them.
 * INVARIANT (UTF-8, while u8 is set): *u8 points to the end of the blocks read so far,
 * and s[u8_from..*u8) is valid UTF-8 but for a sequence the last block may leave
 * unfinished. A line end is ASCII, so a value whose line end lies before *u8 is valid;
 * a block with an error leaves *u8 at its start and clears u8 (the rest of the chunk is
 * left to clean_value's scalar check). */
typedef struct eol_scan {
    const char *s;
    size_t len, start, next, base; /* next block's offset; base: offset of mask's bit 0 */
    uint64_t mask;          /* line ends of the block at base, not passed yet */
    const char **u8;        /* UTF-8 check: where to write how far the chunk is valid */
    size_t u8_from, u8_pos; /* start of the check; SSE2: end of the checked sequences */
    int avx2;               /* the CPU has AVX2 */
} eol_scan;

static void scan_init(eol_scan *e, const char *s, size_t from, size_t len)
{
    e->s = s;
    e->len = len;
    e->start = from;
    e->next = from;
    e->base = from;
    e->mask = 0;
    e->u8 = NULL;
    e->u8_from = from;
#ifdef VEC_AVX2
    e->avx2 = __builtin_cpu_supports("avx2");
#else
    e->avx2 = 0;
#endif
}

/* Checks UTF-8 in the same pass from here on. Continuation bytes at the start belong to
 * a sequence the last chunk began (the slow path repairs it): the check starts after
 * them, as if ASCII came before. */
static void scan_utf8(eol_scan *e, const char **from, const char **valid_to)
{
    size_t i = e->next;
    while (i < e->len && i < e->next + 3 && (e->s[i] & 0xC0) == 0x80) {
        i++;
    }
    e->u8 = valid_to;
    e->u8_from = i;
    e->u8_pos = i;
    *from = e->s + i;
    *valid_to = e->s + i;
}

#if defined(VEC_AVX2) || defined(VEC_NEON)
/* The block at b with the 3 bytes before it, for a block whose check reads context before
 * u8_from (or before the chunk): bytes before u8_from count as ASCII, zeros here. One
 * fixed-size copy (a memset and a copy of the span cost 256-byte chunks 25 instructions
 * a feed). */
static const unsigned char *padded(const eol_scan *e, size_t b, unsigned char buf[3 + BLOCK])
{
    size_t i;
    memcpy(buf + 3, e->s + b, BLOCK);
    for (i = 0; i < 3; i++) { /* buf[i] holds the byte at b - 3 + i */
        buf[i] = b + i >= 3 && b + i - 3 >= e->u8_from ? (unsigned char)e->s[b + i - 3] : 0;
    }
    for (i = b; i < e->u8_from; i++) {
        buf[3 + i - b] = 0;
    }
    return buf + 3;
}
#endif

/* The block at b is read: next moves past it; its line ends, if any, wait in mask for
 * next_eol(). Returns whether there were any (the block loops stop there). */
static int block_end(eol_scan *e, size_t b, uint64_t eols)
{
    e->next = b + BLOCK;
    if (!eols) {
        return 0;
    }
    e->base = b;
    e->mask = eols;
    return 1;
}

/* Records a block's UTF-8 verdict: *u8 moves to the block's end, or on an error stays
 * and the check stops. */
static void u8_block(eol_scan *e, size_t b, int bad)
{
    if (bad) {
        e->u8 = NULL;
    } else {
        *e->u8 = e->s + b + BLOCK;
    }
}

#if defined(VEC_AVX2) || defined(VEC_NEON)
/* UTF-8 validation by table lookup (Keiser and Lemire, "Validating UTF-8 in less than
 * one instruction per byte", 2021): each byte pair (previous byte, byte) is classified by
 * three 16-entry tables, indexed by the previous byte's high and low nibble and this
 * byte's high nibble; the AND of the three entries is non-zero for every error a pair can
 * show (too short, too long, overlong, surrogate, over U+10FFFF, two continuations), and
 * its top bit marks "continuation"; a byte 2 or 3 after a 3- or 4-byte lead must be one.
 * Written from the paper's tables; checked against valid_prefix by tests/fuzz. */
#define U8_SHORT  0x01u /* lead then no continuation, or lead then lead */
#define U8_LONG   0x02u /* continuation after ASCII */
#define U8_OVER3  0x04u /* E0 80..9F */
#define U8_LARGE  0x08u /* F4 90..BF, F5..FF */
#define U8_SURR   0x10u /* ED A0..BF */
#define U8_OVER2  0x20u /* C0, C1 */
#define U8_L1000  0x40u /* F5..FF 80..8F; F0 80..8F (overlong 4) shares the bit */
#define U8_TWO    0x80u /* continuation after continuation */
#define U8_CARRY  (U8_SHORT | U8_LONG | U8_TWO)

/* Whether the bytes before an ASCII block at b start a sequence that needs bytes from b
 * on; bytes before u8_from count as ASCII. */
static int u8_unfinished(const eol_scan *e, size_t b)
{
    const unsigned char *p = (const unsigned char *)e->s + b;
    if (b >= e->u8_from + 3) {
        return p[-1] >= 0xC0 || p[-2] >= 0xE0 || p[-3] >= 0xF0;
    }
    return (b >= e->u8_from + 1 && p[-1] >= 0xC0) || (b >= e->u8_from + 2 && p[-2] >= 0xE0);
}

static const unsigned char U8_BYTE1_HIGH[16] = {
    U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG, U8_LONG,
    U8_TWO, U8_TWO, U8_TWO, U8_TWO,
    U8_SHORT | U8_OVER2, U8_SHORT, U8_SHORT | U8_OVER3 | U8_SURR,
    U8_SHORT | U8_LARGE | U8_L1000
};
static const unsigned char U8_BYTE1_LOW[16] = {
    U8_CARRY | U8_OVER3 | U8_OVER2 | U8_L1000, U8_CARRY | U8_OVER2, U8_CARRY, U8_CARRY,
    U8_CARRY | U8_LARGE, U8_CARRY | U8_LARGE | U8_L1000, U8_CARRY | U8_LARGE | U8_L1000,
    U8_CARRY | U8_LARGE | U8_L1000, U8_CARRY | U8_LARGE | U8_L1000,
    U8_CARRY | U8_LARGE | U8_L1000, U8_CARRY | U8_LARGE | U8_L1000,
    U8_CARRY | U8_LARGE | U8_L1000, U8_CARRY | U8_LARGE | U8_L1000,
    U8_CARRY | U8_LARGE | U8_L1000 | U8_SURR, U8_CARRY | U8_LARGE | U8_L1000,
    U8_CARRY | U8_LARGE | U8_L1000
};
static const unsigned char U8_BYTE2_HIGH[16] = {
    U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT,
    U8_LONG | U8_OVER2 | U8_TWO | U8_OVER3 | U8_L1000,
    U8_LONG | U8_OVER2 | U8_TWO | U8_OVER3 | U8_LARGE,
    U8_LONG | U8_OVER2 | U8_TWO | U8_SURR | U8_LARGE,
    U8_LONG | U8_OVER2 | U8_TWO | U8_SURR | U8_LARGE,
    U8_SHORT, U8_SHORT, U8_SHORT, U8_SHORT
};
#endif

#ifdef VEC_AVX2
#define AVX2 __attribute__((target("avx2")))

AVX2 static __m256i avx2_table(const unsigned char t[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)t));
}

/* Non-zero bytes where p[0..32) has a UTF-8 error (p[-3..0) read as context). */
AVX2 static __m256i avx2_u8_errors(const unsigned char *p)
{
    const __m256i nib = _mm256_set1_epi8(0x0F);
    const __m256i t1h = avx2_table(U8_BYTE1_HIGH), t1l = avx2_table(U8_BYTE1_LOW);
    const __m256i t2h = avx2_table(U8_BYTE2_HIGH);
    __m256i in = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i p1 = _mm256_loadu_si256((const __m256i *)(const void *)(p - 1));
    __m256i p2 = _mm256_loadu_si256((const __m256i *)(const void *)(p - 2));
    __m256i p3 = _mm256_loadu_si256((const __m256i *)(const void *)(p - 3));
    __m256i sc = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(t1h, _mm256_and_si256(_mm256_srli_epi16(p1, 4), nib)),
                         _mm256_shuffle_epi8(t1l, _mm256_and_si256(p1, nib))),
        _mm256_shuffle_epi8(t2h, _mm256_and_si256(_mm256_srli_epi16(in, 4), nib)));
    __m256i must23 = _mm256_or_si256(_mm256_subs_epu8(p2, _mm256_set1_epi8(0xE0 - 0x80)),
                                     _mm256_subs_epu8(p3, _mm256_set1_epi8(0xF0 - 0x80)));
    return _mm256_xor_si256(_mm256_and_si256(must23, _mm256_set1_epi8(-128)), sc);
}

AVX2 static uint64_t avx2_bits(__m256i lo, __m256i hi)
{
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(lo) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32;
}

/* Reads blocks until one holds a line end or the chunk ends. */
AVX2 static void avx2_blocks(eol_scan *e)
{
    const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    const __m256i zero = _mm256_setzero_si256();
    unsigned char buf[3 + BLOCK];
    while (e->len - e->next >= BLOCK) {
        size_t b = e->next;
        const unsigned char *p = (const unsigned char *)e->s + b;
        __m256i x0, x1;
        uint64_t eols;
        x0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
        x1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
        eols = avx2_bits(_mm256_or_si256(_mm256_cmpeq_epi8(x0, lf), _mm256_cmpeq_epi8(x0, cr)),
                         _mm256_or_si256(_mm256_cmpeq_epi8(x1, lf), _mm256_cmpeq_epi8(x1, cr)));
        if (e->u8) {
            int bad;
            if (!_mm256_movemask_epi8(_mm256_or_si256(x0, x1))) { /* ASCII */
                bad = u8_unfinished(e, b);
            } else {
                if (b < e->u8_from + 3) { /* context before u8_from or the chunk */
                    p = padded(e, b, buf);
                }
                /* the tables are loaded here, in non-ASCII blocks only: loading them per
                 * call cost 14 of 72 instructions a call on small frames */
                bad = avx2_bits(_mm256_cmpeq_epi8(avx2_u8_errors(p), zero),
                                _mm256_cmpeq_epi8(avx2_u8_errors(p + 32), zero)) != ~(uint64_t)0;
            }
            u8_block(e, b, bad);
        }
        if (block_end(e, b, eols)) {
            return;
        }
    }
}
#endif

#ifdef VEC_SSE2
/* SSE2 has no byte shuffle for the table lookup: a block with non-ASCII bytes is checked
 * by valid_prefix, sequence by sequence; u8_pos is where the checked sequences end. */
static int sse2_u8_block(eol_scan *e, size_t b)
{
    size_t end = e->len - (b + BLOCK) < 3 ? e->len : b + BLOCK + 3; /* a sequence may run on */
    if (e->u8_pos < b + BLOCK) {
        e->u8_pos += valid_prefix((const unsigned char *)e->s + e->u8_pos, end - e->u8_pos);
    }
    return e->u8_pos < b + BLOCK;
}

static uint64_t sse2_eols(__m128i x)
{
    return (uint64_t)(unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\r'))));
}

static void sse2_blocks(eol_scan *e)
{
    while (e->len - e->next >= BLOCK) {
        size_t b = e->next;
        const unsigned char *p = (const unsigned char *)e->s + b;
        __m128i x0, x1, x2, x3;
        uint64_t eols;
        x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
        x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        x2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
        x3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
        eols = (sse2_eols(x0) | sse2_eols(x1) << 16 | sse2_eols(x2) << 32 | sse2_eols(x3) << 48);
        if (e->u8) {
            int bad;
            if (!_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(x0, x1), _mm_or_si128(x2, x3)))) {
                bad = 0; /* a sequence cut by the last block was checked there */
                e->u8_pos = b + BLOCK;
            } else {
                bad = sse2_u8_block(e, b);
            }
            u8_block(e, b, bad);
        }
        if (block_end(e, b, eols)) {
            return;
        }
    }
}
#endif

#ifdef VEC_NEON
/* Bit i set where byte i of the 64 bytes in v0..v3 is 0xFF (simdjson's pairwise adds). */
static uint64_t neon_bits(uint8x16_t v0, uint8x16_t v1, uint8x16_t v2, uint8x16_t v3)
{
    static const unsigned char weight[16] = { 1, 2, 4, 8, 16, 32, 64, 128,
                                              1, 2, 4, 8, 16, 32, 64, 128 };
    const uint8x16_t w = vld1q_u8(weight);
    uint8x16_t s0 = vpaddq_u8(vandq_u8(v0, w), vandq_u8(v1, w));
    uint8x16_t s1 = vpaddq_u8(vandq_u8(v2, w), vandq_u8(v3, w));
    s0 = vpaddq_u8(s0, s1);
    s0 = vpaddq_u8(s0, s0);
    return vgetq_lane_u64(vreinterpretq_u64_u8(s0), 0);
}

static uint8x16_t neon_eols(uint8x16_t x)
{
    return vorrq_u8(vceqq_u8(x, vdupq_n_u8('\n')), vceqq_u8(x, vdupq_n_u8('\r')));
}

/* 0xFF where p[0..16) has no UTF-8 error (p[-3..0) read as context). */
static uint8x16_t neon_u8_ok(const unsigned char *p, uint8x16_t t1h, uint8x16_t t1l,
                             uint8x16_t t2h)
{
    const uint8x16_t nib = vdupq_n_u8(0x0F);
    uint8x16_t in = vld1q_u8(p), p1 = vld1q_u8(p - 1), p2 = vld1q_u8(p - 2), p3 = vld1q_u8(p - 3);
    uint8x16_t sc = vandq_u8(vandq_u8(vqtbl1q_u8(t1h, vshrq_n_u8(p1, 4)),
                                      vqtbl1q_u8(t1l, vandq_u8(p1, nib))),
                             vqtbl1q_u8(t2h, vshrq_n_u8(in, 4)));
    uint8x16_t must23 = vorrq_u8(vqsubq_u8(p2, vdupq_n_u8(0xE0 - 0x80)),
                                 vqsubq_u8(p3, vdupq_n_u8(0xF0 - 0x80)));
    return vceqq_u8(veorq_u8(vandq_u8(must23, vdupq_n_u8(0x80)), sc), vdupq_n_u8(0));
}

static void neon_blocks(eol_scan *e)
{
    const uint8x16_t t1h = vld1q_u8(U8_BYTE1_HIGH), t1l = vld1q_u8(U8_BYTE1_LOW);
    const uint8x16_t t2h = vld1q_u8(U8_BYTE2_HIGH);
    unsigned char buf[3 + BLOCK];
    while (e->len - e->next >= BLOCK) {
        size_t b = e->next;
        const unsigned char *p = (const unsigned char *)e->s + b;
        uint8x16_t x0, x1, x2, x3;
        uint64_t eols;
        x0 = vld1q_u8(p);
        x1 = vld1q_u8(p + 16);
        x2 = vld1q_u8(p + 32);
        x3 = vld1q_u8(p + 48);
        eols = neon_bits(neon_eols(x0), neon_eols(x1), neon_eols(x2), neon_eols(x3));
        if (e->u8) {
            int bad;
            if (vmaxvq_u8(vorrq_u8(vorrq_u8(x0, x1), vorrq_u8(x2, x3))) < 0x80) { /* ASCII */
                bad = u8_unfinished(e, b);
            } else {
                if (b < e->u8_from + 3) { /* context before u8_from or the chunk */
                    p = padded(e, b, buf);
                }
                bad = neon_bits(neon_u8_ok(p, t1h, t1l, t2h), neon_u8_ok(p + 16, t1h, t1l, t2h),
                                neon_u8_ok(p + 32, t1h, t1l, t2h),
                                neon_u8_ok(p + 48, t1h, t1l, t2h)) != ~(uint64_t)0;
            }
            u8_block(e, b, bad);
        }
        if (block_end(e, b, eols)) {
            return;
        }
    }
}
#endif

/* Reads blocks from next until one holds a line end or under a block is left. */
static void scan_blocks(eol_scan *e)
{
#if defined(VEC_AVX2)
    if (e->avx2) {
        avx2_blocks(e);
        return;
    }
#endif
#if defined(VEC_SSE2)
    sse2_blocks(e);
#else
    neon_blocks(e);
#endif
}

/* Offset of the first CR or LF in s[at..len), or len. s and len are those given to
 * scan_init, which the vector scan keeps. inline, as clean_value: with two callers gcc
 * -O2 called both on every line (callgrind, 64 KiB chunks, instructions a byte:
 * small_mixed 7.8 -> 6.8, llm_ascii 4.3 -> 4.0; 0.56 -> 0.67x and 0.68 -> 0.80x memchr). */
static inline size_t next_eol(eol_scan *e, const char *s, size_t at, size_t len)
{
    (void)s;
    (void)len;
    for (;;) {
        while (e->mask) {
            size_t eol = e->base + (size_t)__builtin_ctzll(e->mask);
            if (eol >= at) {
                return eol;
            }
            e->mask &= e->mask - 1u;
        }
        if (e->next >= e->len) {
            return e->len;
        }
        if (e->len - e->next < BLOCK && e->len >= e->start + BLOCK) {
            /* The end of a chunk of a block or more: its last block, read again in part
             * (the same answers for the bytes read before), then no bits below next. */
            size_t skip = e->next - (e->len - BLOCK);
            e->next = e->len - BLOCK;
            scan_blocks(e);
            e->mask &= ~(uint64_t)0 << skip;
            continue;
        }
        if (e->len - e->next < BLOCK) {
            /* A chunk under a block (small feeds, small frames): a byte loop, not a padded
             * copy (which made 1-byte feeds 3x slower). The UTF-8 check stops here;
             * clean_value's scalar check takes the rest. next: the line end found last
             * (none before it is left). */
            size_t i = at > e->next ? at : e->next;
            while (i < e->len && e->s[i] != '\n' && e->s[i] != '\r') {
                i++;
            }
            e->u8 = NULL;
            e->next = i;
            return i;
        }
        scan_blocks(e);
    }
}

#endif /* VEC */

/* Whether s[0..n) holds a CR or LF, for copy_line: 16 bytes a step on NEON (the last
 * step overlaps the one before), memchr in the scalar build, byte by byte under 16 (on
 * x86 with vectors copy_line checks 16 bytes and more itself, in its copy). */
static int has_eol(const char *s, size_t n)
{
    size_t i = 0;
#if defined(VEC_NEON)
    if (n >= 16) {
        for (;; i += 16) {
            uint8x16_t x;
            if (i > n - 16) {
                i = n - 16;
            }
            x = vld1q_u8((const unsigned char *)s + i);
            if (vmaxvq_u8(vorrq_u8(vceqq_u8(x, vdupq_n_u8('\n')), vceqq_u8(x, vdupq_n_u8('\r'))))) {
                return 1;
            }
            if (i == n - 16) {
                return 0;
            }
        }
    }
#elif !defined(VEC_SSE2)
    if (n >= 16) {
        return memchr(s, '\n', n) != NULL || memchr(s, '\r', n) != NULL;
    }
#endif
    for (; i < n; i++) {
        if (s[i] == '\n' || s[i] == '\r') {
            return 1;
        }
    }
    return 0;
}

/* Offset after the line break at eol: past CR LF when both are in s[0..len). */
static size_t past_eol(const char *s, size_t eol, size_t len)
{
    return eol + 1 + (s[eol] == '\r' && eol + 1 < len && s[eol + 1] == '\n');
}

/* The parser's past_eol: a CR that ends the chunk sets FL_AFTER_CR, as its LF, if any,
 * comes in the next chunk. */
static size_t next_line(sse_parser *p, const char *d, size_t eol, size_t len)
{
    if (d[eol] == '\r' && eol + 1 == len) {
        p->priv.flags |= FL_AFTER_CR;
    }
    return past_eol(d, eol, len);
}

/* Past d[at] if it is the LF of a CR LF the last chunk cut (FL_AFTER_CR). */
static size_t skip_cut_lf(sse_parser *p, const char *d, size_t at, size_t len)
{
    if ((p->priv.flags & FL_AFTER_CR) && at < len) {
        p->priv.flags &= ~FL_AFTER_CR;
        at += d[at] == '\n';
    }
    return at;
}

/* ---------------------------------------------------------------------------------------
 * Parser: records and storage
 * ------------------------------------------------------------------------------------- */

typedef struct ctx {
    sse_parser *p;
    sse_event_cb cb;
    void *user;
    const char *data_in_chunk; /* the block's only data line, still in the caller's chunk */
    const char *chunk_end;     /* end of the chunk */
    const char *utf8_from;     /* the chunk is valid UTF-8 from here (a sequence start) */
    const char *utf8_valid_to; /* to here, but for a sequence it may leave unfinished */
} ctx;

static char *type_buf(const sse_parser *p)
{
    return p->priv.buf;
}

static char *id_buf(const sse_parser *p, unsigned slot)
{
    return p->priv.buf + p->priv.field_cap * (1u + slot);
}

static char *data_buf(const sse_parser *p)
{
    return p->priv.buf + p->priv.field_cap * (1u + ID_SLOTS);
}

/* A record with the fields every kind carries. */
static void record(const sse_parser *p, sse_kind kind, sse_event *ev)
{
    ev->kind = kind;
    ev->flags = 0;
    ev->type = "";
    ev->type_len = 0;
    ev->data = "";
    ev->data_len = 0;
    ev->id = id_buf(p, p->priv.id_last);
    ev->id_len = p->priv.id_len[p->priv.id_last];
    ev->retry = 0;
    ev->error = SSE_OK;
}

/* Hands ev to the callback; returns non-zero when the callback asked to stop. */
static int deliver(ctx *c, const sse_event *ev)
{
    int stop;
    c->p->priv.flags |= FL_BUSY;
    stop = c->cb(c->user, ev);
    c->p->priv.flags &= ~FL_BUSY;
    if (stop) {
        c->p->priv.flags |= FL_STOPPED;
        return 1;
    }
    return 0;
}

static int report_drop(ctx *c, sse_error err, unsigned flags)
{
    sse_event ev;
    record(c->p, SSE_KIND_DROPPED, &ev);
    ev.error = err;
    ev.flags = flags;
    return deliver(c, &ev);
}

/* The block's id is known and kept: an accepted id field, not one that was too long. */
static unsigned has_id(unsigned flags)
{
    return (flags & (FL_HAS_ID | FL_ID_OVER)) == FL_HAS_ID ? SSE_FLAG_HAS_ID : 0u;
}

/* Piece mode: hands out data as a piece that is not the last (dispatch sends that). */
static int piece(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    sse_event ev;
    record(p, SSE_KIND_EVENT, &ev);
    ev.flags = ((p->priv.flags & FL_STARTED) ? 0u : SSE_FLAG_FIRST) | has_id(p->priv.flags);
    if (!(p->priv.flags & FL_ID_OVER)) { /* not final: the id the event would carry */
        ev.id = id_buf(p, p->priv.id_pending);
        ev.id_len = p->priv.id_len[p->priv.id_pending];
    }
    type_buf(p)[p->priv.type_len] = '\0';
    ev.type = p->priv.type_len ? type_buf(p) : DEFAULT_TYPE;
    ev.type_len = p->priv.type_len ? p->priv.type_len : DEFAULT_TYPE_LEN;
    ev.data = s;
    ev.data_len = n;
    p->priv.flags |= FL_STARTED;
    return deliver(c, &ev);
}

/* Appends to a region of cap bytes holding *len; sets over instead when it would not fit. */
static void append_capped(char *region, size_t *len, size_t cap, const char *s, size_t n, unsigned over,
                unsigned *flags)
{
    if (*flags & over) {
        return;
    }
    if (n > cap - *len) {
        *flags |= over;
        return;
    }
    memcpy(region + *len, s, n);
    *len += n;
}

/* The zero-copy data line is about to leave the caller's chunk, or more data follows
 * it: copy it into the storage, or in piece mode hand it out as it is. */
static int materialize(ctx *c)
{
    const char *line_data = c->data_in_chunk;
    size_t n = c->p->priv.data_len;
    if (!line_data) {
        return 0;
    }
    c->data_in_chunk = NULL;
    if (c->p->priv.options & SSE_OPT_PIECES) {
        c->p->priv.data_len = 0;
        return piece(c, line_data, n);
    }
    memcpy(data_buf(c->p), line_data, n);
    return 0;
}

static int store_data(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    if (materialize(c)) {
        return 1;
    }
    if (!(p->priv.options & SSE_OPT_PIECES)) {
        /* data_cap - 1: the spec's buffer also stores the LF that ends the last line */
        append_capped(data_buf(p), &p->priv.data_len, p->priv.data_cap - 1, s, n, FL_DATA_OVER,
            &p->priv.flags);
        if (p->priv.flags & FL_DATA_OVER) { /* dropped data frees its room at once, so */
            p->priv.data_len = 0;             /* the room left never depends on chunking */
        }
        return 0;
    }
    while (n > 0) {
        size_t room = p->priv.data_cap - p->priv.data_len;
        size_t k = n < room ? n : room;
        if (p->priv.data_len == 0 && n >= room) {
            /* a run at least as large as the storage goes out without a copy */
            return piece(c, s, n);
        }
        memcpy(data_buf(p) + p->priv.data_len, s, k);
        p->priv.data_len += k;
        s += k;
        n -= k;
        if (p->priv.data_len == p->priv.data_cap) {
            p->priv.data_len = 0;
            if (piece(c, data_buf(p), p->priv.data_cap)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Data must not wait: the chunk ends, or another record is due. The zero-copy line is
 * copied; in piece mode the data gathered so far goes out, so records keep stream order
 * and the storage is free again. */
static int flush_data(ctx *c)
{
    sse_parser *p = c->p;
    size_t n = p->priv.data_len;
    if (!(p->priv.options & SSE_OPT_PIECES) || n == 0 || c->data_in_chunk) {
        return materialize(c);
    }
    p->priv.data_len = 0;
    return piece(c, data_buf(p), n);
}

/* Final bytes of the current text value (data, event, id or comment) go to its storage. */
static int store_value(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    if (p->priv.field == F_DATA) {
        return store_data(c, s, n);
    }
    if (p->priv.field == F_EVENT) {
        append_capped(type_buf(p), &p->priv.type_len, p->priv.field_cap - 1, s, n, FL_TYPE_OVER,
            &p->priv.flags);
    } else if (p->priv.field == F_ID) {
        if (memchr(s, '\0', n)) { /* WHATWG: an id containing NUL is ignored */
            p->priv.flags |= FL_VAL_BAD;
        }
        append_capped(id_buf(p, p->priv.id_reading), &p->priv.value_len, p->priv.field_cap - 1, s, n,
            FL_VAL_OVER, &p->priv.flags);
    } else { /* a comment, stored after the pending data in the room the data left */
        append_capped(data_buf(p) + p->priv.data_len, &p->priv.value_len,
            p->priv.data_cap - 1 - p->priv.data_len, s, n, FL_VAL_OVER, &p->priv.flags);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Parser: UTF-8 repair, as the WHATWG UTF-8 decoder does it (one U+FFFD per maximal
 * ill-formed subpart). Valid runs are passed on as they are, so repair costs nothing on
 * valid text but the check.
 * ------------------------------------------------------------------------------------- */

/* Bytes in the sequence a non-ASCII byte starts; 0 for one that cannot start one. */
static unsigned seq_need(unsigned char b)
{
    if (b < 0xC2) {
        return 0;
    }
    return b < 0xE0 ? 2u : b < 0xF0 ? 3u : b < 0xF5 ? 4u : 0u;
}

/* Whether b may follow the first i bytes of a sequence started by lead. */
static int seq_next_ok(unsigned char lead, unsigned i, unsigned char b)
{
    unsigned char lo = 0x80, hi = 0xBF;
    if (i == 1) {
        lo = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
        hi = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
    }
    return b >= lo && b <= hi;
}

/* Length of the longest prefix of u[0..n) made of complete, valid sequences. */
static size_t valid_prefix(const unsigned char *u, size_t n)
{
    size_t i = 0;
    for (;;) {
        /* ASCII fast path, 32 bytes per step: 4x the byte loop on ASCII text */
        while (n - i >= 32) {
            uint64_t a, b, c, d;
            memcpy(&a, u + i, 8);
            memcpy(&b, u + i + 8, 8);
            memcpy(&c, u + i + 16, 8);
            memcpy(&d, u + i + 24, 8);
            if ((a | b | c | d) & 0x8080808080808080u) {
                break;
            }
            i += 32;
        }
        while (n - i >= 8) { /* short values (most field values) never reach 32 bytes */
            uint64_t a;
            memcpy(&a, u + i, 8);
            if (a & 0x8080808080808080u) {
                break;
            }
            i += 8;
        }
        while (i < n && u[i] < 0x80) {
            i++;
        }
        if (i == n) {
            return n;
        }
        {
            unsigned need = seq_need(u[i]), k;
            if (need == 0 || n - i < need) {
                return i;
            }
            for (k = 1; k < need; k++) {
                if (!seq_next_ok(u[i], k, u[i + k])) {
                    return i;
                }
            }
            i += need;
        }
    }
}

/* How many of u[0..n), a sequence start, the chunk's check has found valid: a line cut
 * by the chunk (at its end, or a comment or retry line) needs no second look. A segment
 * that stops before utf8_valid_to ends at a line end; one that reaches it may end in an
 * unfinished sequence, so its last sequence start is where the answer stops. */
static size_t checked(const ctx *c, const unsigned char *u, size_t n)
{
    const char *s = (const char *)u, *end = c->utf8_valid_to;
    if (!c->utf8_from || s < c->utf8_from || s >= end) {
        return 0;
    }
    if (s + n < end) {
        return n;
    }
    while (end > s && ((unsigned char)end[-1] & 0xC0) == 0x80) {
        end--;
    }
    if (end > s && (unsigned char)end[-1] >= 0xC0) {
        end--;
    }
    return (size_t)(end - s);
}

/* Passes value bytes on, repairing ill-formed UTF-8 unless SSE_OPT_RAW. A sequence cut
 * by the end of a chunk is held in priv.u8_part until the next chunk completes it. */
static int store_text(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    const unsigned char *u = (const unsigned char *)s;
    if (p->priv.options & SSE_OPT_RAW) {
        return store_value(c, s, n);
    }
    while (n > 0) {
        size_t v;
        unsigned need, k;
        if (p->priv.u8_n) { /* a held sequence goes on in this chunk */
            if (seq_next_ok(p->priv.u8_part[0], p->priv.u8_n, *u)) {
                p->priv.u8_part[p->priv.u8_n++] = *u++;
                n--;
                if (p->priv.u8_n == p->priv.u8_need) {
                    p->priv.u8_n = 0;
                    if (store_value(c, (const char *)p->priv.u8_part, p->priv.u8_need)) {
                        return 1;
                    }
                }
                continue;
            }
            p->priv.u8_n = 0; /* ill-formed: the held bytes become one U+FFFD */
            if (store_value(c, FFFD, 3)) {
                return 1;
            }
        }
        v = checked(c, u, n);
        v += valid_prefix(u + v, n - v);
        if (v && store_value(c, (const char *)u, v)) {
            return 1;
        }
        u += v;
        n -= v;
        if (n == 0) {
            break;
        }
        need = seq_need(*u);
        for (k = 1; need && k < need && k < n && seq_next_ok(*u, k, u[k]); k++) {
        }
        if (need && k == n && k < need) { /* a valid start cut by the chunk: hold it */
            memcpy(p->priv.u8_part, u, n);
            p->priv.u8_n = (unsigned char)n;
            p->priv.u8_need = (unsigned char)need;
            break;
        }
        if (store_value(c, FFFD, 3)) { /* the maximal ill-formed subpart: k bytes, at least 1 */
            return 1;
        }
        u += need ? k : 1;
        n -= need ? k : 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Parser: fields and dispatch
 * ------------------------------------------------------------------------------------- */

/* The id slot holding neither the last event ID string nor the pending id. */
static unsigned free_id_slot(const sse_parser *p)
{
    return p->priv.id_last == p->priv.id_pending ? (p->priv.id_last + 1u) % 3u
                                       : 3u - p->priv.id_last - p->priv.id_pending;
}

static unsigned field_of(const char *name, size_t n)
{
    switch (n) {
    case 2: return memcmp(name, "id", 2) == 0 ? F_ID : F_IGNORE;
    case 4: return memcmp(name, "data", 4) == 0 ? F_DATA : F_IGNORE;
    case 5:
        if (memcmp(name, "event", 5) == 0) {
            return F_EVENT;
        }
        return memcmp(name, "retry", 5) == 0 ? F_RETRY : F_IGNORE;
    default: return F_IGNORE;
    }
}

static int field_begin(ctx *c, unsigned field)
{
    sse_parser *p = c->p;
    p->priv.field = (unsigned char)field;
    p->priv.value_len = 0;
    p->priv.num = 0;
    p->priv.u8_n = 0;
    p->priv.flags &= ~(FL_VAL_OVER | FL_VAL_BAD);
    switch (field) {
    case F_DATA:
        /* WHATWG appends value + LF; we put the LF before every line but the first, so
         * the same bytes are counted and nothing needs removing at dispatch */
        if (p->priv.flags & FL_HAS_DATA) {
            return store_data(c, LIT("\n"));
        }
        p->priv.flags |= FL_HAS_DATA;
        break;
    case F_EVENT:
        p->priv.type_len = 0;
        p->priv.flags = (p->priv.flags & ~FL_TYPE_OVER) | FL_HAS_EVENT;
        break;
    case F_ID: p->priv.id_reading = (unsigned char)free_id_slot(p); break;
    case F_COMMENT:
        if (!(p->priv.options & SSE_OPT_COMMENTS)) {
            p->priv.field = F_IGNORE;
            return 0;
        }
        return flush_data(c); /* records keep stream order; the comment gets the room */
    default: break;
    }
    return 0;
}

static int value(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    size_t i;
    switch (p->priv.field) {
    case F_IGNORE: return 0;
    case F_RETRY:
        p->priv.value_len += n;
        for (i = 0; i < n && !(p->priv.flags & FL_VAL_BAD); i++) {
            unsigned d = (unsigned)(unsigned char)s[i] - '0';
            if (d > 9) {
                p->priv.flags |= FL_VAL_BAD;
            } else if (p->priv.num > RETRY_MAX_TENTH ||
                       (p->priv.num == RETRY_MAX_TENTH && d > RETRY_MAX_LAST)) {
                p->priv.flags |= FL_VAL_OVER; /* ignored: does not fit in 64 bits */
            } else {
                p->priv.num = p->priv.num * 10 + d;
            }
        }
        return 0;
    default: return store_text(c, s, n);
    }
}

static int field_end(ctx *c)
{
    sse_parser *p = c->p;
    sse_event ev;
    if (p->priv.u8_n) { /* a sequence cut by the line end is ill-formed */
        p->priv.u8_n = 0;
        if (store_value(c, FFFD, 3)) {
            return 1;
        }
    }
    switch (p->priv.field) {
    case F_ID:
        if (p->priv.flags & FL_VAL_BAD) {
            break;
        }
        p->priv.flags |= FL_HAS_ID;
        if (p->priv.flags & FL_VAL_OVER) {
            p->priv.flags |= FL_ID_OVER;
            break;
        }
        p->priv.flags &= ~FL_ID_OVER;
        p->priv.id_pending = p->priv.id_reading;
        p->priv.id_len[p->priv.id_reading] = p->priv.value_len;
        id_buf(p, p->priv.id_reading)[p->priv.value_len] = '\0';
        break;
    case F_RETRY:
        if (p->priv.value_len == 0 || (p->priv.flags & (FL_VAL_BAD | FL_VAL_OVER))) {
            break;
        }
        p->priv.retry = p->priv.num;
        if (flush_data(c)) {
            return 1;
        }
        record(p, SSE_KIND_RETRY, &ev);
        ev.retry = p->priv.num;
        return deliver(c, &ev);
    case F_COMMENT:
        if (p->priv.flags & FL_VAL_OVER) {
            return report_drop(c, SSE_ERR_COMMENT_TOO_LONG, 0);
        }
        record(p, SSE_KIND_COMMENT, &ev);
        ev.data = data_buf(p) + p->priv.data_len;
        ev.data_len = p->priv.value_len;
        return deliver(c, &ev);
    default: break;
    }
    return 0;
}

/* WHATWG "dispatch the event", on an empty line. */
static int dispatch(ctx *c)
{
    sse_parser *p = c->p;
    unsigned fl = p->priv.flags;
    unsigned flags = has_id(fl);
    size_t type_len = p->priv.type_len, data_len = p->priv.data_len;
    const char *data = c->data_in_chunk ? c->data_in_chunk : data_buf(p);
    sse_error err = (fl & FL_DATA_OVER)   ? SSE_ERR_DATA_TOO_LONG
                    : (fl & FL_TYPE_OVER) ? SSE_ERR_TYPE_TOO_LONG
                    : (fl & FL_ID_OVER)   ? SSE_ERR_ID_TOO_LONG
                                          : SSE_OK;
    sse_event ev;

    if (!(fl & FL_ID_OVER)) { /* the last event ID string takes the buffer, event or not */
        p->priv.id_last = p->priv.id_pending;
    }
    p->priv.id_pending = p->priv.id_last; /* a dropped id's earlier one in the block goes too */
    p->priv.flags &= ~FL_BLOCK;
    p->priv.data_len = 0;
    p->priv.type_len = 0;
    c->data_in_chunk = NULL;
    if (!(fl & FL_HAS_DATA)) { /* no event: only the id can be news */
        if (fl & FL_ID_OVER) {
            return report_drop(c, SSE_ERR_ID_TOO_LONG, flags);
        }
        if ((fl & FL_HAS_ID) && (p->priv.options & SSE_OPT_ID_RECORDS)) {
            record(p, SSE_KIND_ID, &ev);
            ev.flags = SSE_FLAG_HAS_ID;
            return deliver(c, &ev);
        }
        return 0;
    }
    if (err != SSE_OK) {
        /* piece mode: LAST tells the caller to discard the pieces it may have had */
        return report_drop(c, err,
                           flags | ((p->priv.options & SSE_OPT_PIECES) ? SSE_FLAG_LAST : 0u));
    }
    /* every field written once (record() and then these: 95 -> 78 instructions an
     * event, callgrind on small_mixed) */
    ev.kind = SSE_KIND_EVENT;
    ev.flags = flags | SSE_FLAG_LAST | ((fl & FL_STARTED) ? 0u : SSE_FLAG_FIRST);
    if (type_len) {
        type_buf(p)[type_len] = '\0';
        ev.type = type_buf(p);
        ev.type_len = type_len;
    } else {
        ev.type = DEFAULT_TYPE;
        ev.type_len = DEFAULT_TYPE_LEN;
    }
    ev.data = data;
    ev.data_len = data_len;
    ev.id = id_buf(p, p->priv.id_last);
    ev.id_len = p->priv.id_len[p->priv.id_last];
    ev.retry = 0;
    ev.error = SSE_OK;
    return deliver(c, &ev);
}

/* ---------------------------------------------------------------------------------------
 * Parser: lines
 * ------------------------------------------------------------------------------------- */

/* One more byte of a field name: the first MAX_NAME_LEN are kept, and name_len stops
 * at MAX_NAME_LEN + 1, longer than any name we know. */
static void name_byte(sse_parser *p, unsigned char b)
{
    if (p->priv.name_len < MAX_NAME_LEN) {
        p->priv.name[p->priv.name_len] = b;
    }
    if (p->priv.name_len <= MAX_NAME_LEN) {
        p->priv.name_len++;
    }
}

/* The colon that ends a field name: the field's value begins. */
static int name_end(ctx *c)
{
    sse_parser *p = c->p;
    p->priv.state = ST_SPACE;
    return field_begin(c, p->priv.name_len == 0
                              ? F_COMMENT
                              : field_of((const char *)p->priv.name, p->priv.name_len));
}

/* Bytes of a line that may go on in the next chunk: the field name is matched a few
 * bytes at a time (only names of up to 5 bytes matter), the value streams on. */
static int line_part(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    while (n > 0) {
        if (p->priv.state == ST_VALUE) {
            return value(c, s, n);
        }
        if (p->priv.state == ST_SPACE) { /* one leading space of the value is dropped */
            p->priv.state = ST_VALUE;
            if (*s == ' ') {
                s++;
                n--;
            }
            continue;
        }
        {
            const char *colon = (const char *)memchr(s, ':', n);
            size_t k = colon ? (size_t)(colon - s) : n, i;
            for (i = 0; i < k && p->priv.name_len <= MAX_NAME_LEN; i++) {
                name_byte(p, (unsigned char)s[i]);
            }
            if (!colon) {
                return 0;
            }
            if (name_end(c)) {
                return 1;
            }
            s += k + 1;
            n -= k + 1;
        }
    }
    return 0;
}

/* The end of a line whose bytes went through line_part. */
static int line_end(ctx *c)
{
    sse_parser *p = c->p;
    unsigned state = p->priv.state;
    p->priv.state = ST_NAME;
    if (state == ST_NAME) {
        unsigned f = field_of((const char *)p->priv.name, p->priv.name_len);
        if (p->priv.name_len == 0) {
            return dispatch(c);
        }
        p->priv.name_len = 0;
        if (f == F_IGNORE) {
            return 0;
        }
        if (field_begin(c, f)) {
            return 1;
        }
    }
    p->priv.name_len = 0;
    return field_end(c);
}

/* The fast paths. A whole line inside the chunk, at a line start, is classified once; a
 * clean value (valid UTF-8, or SSE_OPT_RAW) of a data, event or id field then goes to
 * its storage through that field's helper below, skipping the streaming machinery.
 *
 * INVARIANT: a fast path leaves the parser exactly as field_begin, value and field_end
 * would for the same line; where it cannot (a value to repair, too long, holding NUL),
 * it does nothing and the line takes that slow path. The rows fed at every split and
 * fuzz_chunking hold the two to it: a line cut by a chunk always takes the slow path. */

/* The field a whole line sets, and its value (after the colon and one space). */
static unsigned classify(const char *s, size_t n, const char **value, size_t *value_len)
{
    const char *colon;
    unsigned field;
    /* the fields of most lines, by their prefix: the name loop and field_of cost id and
     * event lines 25 instructions each (callgrind, crlf) */
    if (n >= 5 && memcmp(s, "data:", 5) == 0) {
        colon = s + 4;
        field = F_DATA;
    } else if (n >= 3 && memcmp(s, "id:", 3) == 0) {
        colon = s + 2;
        field = F_ID;
    } else if (n >= 6 && memcmp(s, "event:", 6) == 0) {
        colon = s + 5;
        field = F_EVENT;
    } else {
        size_t k;
        for (k = 0; k < n && k <= MAX_NAME_LEN && s[k] != ':'; k++) {
        }
        colon = k < n && s[k] == ':' ? s + k : NULL;
        if (!colon && n > MAX_NAME_LEN) { /* a longer name is no field we know */
            return F_IGNORE;
        }
        field = colon == s ? F_COMMENT : field_of(s, k);
    }
    *value = colon ? colon + 1 : s + n;
    *value_len = (size_t)(s + n - *value);
    if (*value_len > 0 && **value == ' ') {
        ++*value;
        --*value_len;
    }
    return field;
}

/* Whether v[0..vn) needs no UTF-8 repair. The chunk is checked once, not per value: CR
 * and LF never occur inside a sequence, so every line before the first ill-formed byte
 * is clean (checking per value cost 39% of the time on LLM-token streams). inline: see
 * next_eol. */
static inline int clean_value(ctx *c, const char *v, size_t vn)
{
    if (c->p->priv.options & SSE_OPT_RAW) {
        return 1;
    }
    /* strictly before utf8_valid_to: the line end after v is checked too, so no sequence
     * is left unfinished before it (the vector scan may have checked no further) */
    if (v + vn >= c->utf8_valid_to && v >= c->utf8_valid_to) {
        c->utf8_from = v;
        c->utf8_valid_to = v + valid_prefix((const unsigned char *)v, (size_t)(c->chunk_end - v));
    }
    return v >= c->utf8_from && v + vn < c->utf8_valid_to;
}

/* A clean data line. */
static int data_line(ctx *c, const char *v, size_t vn)
{
    sse_parser *p = c->p;
    size_t sep = (p->priv.flags & FL_HAS_DATA) ? 1u : 0u;
    if (!sep && ((p->priv.options & SSE_OPT_PIECES) || vn < p->priv.data_cap)) {
        /* Zero-copy: the block's first data line stays in the chunk; it is copied (or
         * handed out as a piece) only if more data follows or the chunk ends first. */
        p->priv.flags |= FL_HAS_DATA;
        p->priv.data_len = vn;
        c->data_in_chunk = v;
        return 0;
    }
    if (p->priv.options & SSE_OPT_PIECES) { /* a further line: no second UTF-8 check */
        p->priv.field = F_DATA;
        return store_data(c, LIT("\n")) || store_data(c, v, vn);
    }
    if (materialize(c)) {
        return 1;
    }
    p->priv.flags |= FL_HAS_DATA;
    /* one room check for separator and value, then one copy */
    if (!(p->priv.flags & FL_DATA_OVER) && sep + vn < p->priv.data_cap - p->priv.data_len) {
        data_buf(p)[p->priv.data_len] = '\n';
        memcpy(data_buf(p) + p->priv.data_len + sep, v, vn);
        p->priv.data_len += sep + vn;
    } else {
        p->priv.flags |= FL_DATA_OVER;
        p->priv.data_len = 0;
    }
    return 0;
}

/* A clean event line. */
static void event_line(sse_parser *p, const char *v, size_t vn)
{
    p->priv.flags |= FL_HAS_EVENT;
    p->priv.type_len = vn <= p->priv.field_cap - 1 ? vn : 0;
    p->priv.flags = vn == p->priv.type_len ? p->priv.flags & ~FL_TYPE_OVER
                                           : p->priv.flags | FL_TYPE_OVER;
    memcpy(type_buf(p), v, p->priv.type_len);
}

/* A clean id line; returns 0, doing nothing, for one that takes the slow path (too long
 * or holding NUL: both have their own rules there). */
static int id_line(sse_parser *p, const char *v, size_t vn)
{
    unsigned slot;
    if (vn >= p->priv.field_cap || memchr(v, '\0', vn)) {
        return 0;
    }
    slot = free_id_slot(p);
    memcpy(id_buf(p, slot), v, vn);
    id_buf(p, slot)[vn] = '\0';
    p->priv.id_len[slot] = vn;
    p->priv.id_pending = (unsigned char)slot;
    p->priv.flags = (p->priv.flags & ~FL_ID_OVER) | FL_HAS_ID;
    return 1;
}

/* Whether the value being read is data that a fast path may append to (as store_data
 * would outside piece mode: up to data_cap - 1 bytes, not over). */
static int data_run(const sse_parser *p)
{
    return p->priv.state == ST_VALUE && p->priv.field == F_DATA &&
           !(p->priv.flags & FL_DATA_OVER) && !(p->priv.options & SSE_OPT_PIECES);
}

/* The cut data lines of a chunk, outside piece mode, where nothing is delivered: the
 * head of one the chunk end cuts (data_head) and more of one the last chunk cut
 * (data_more) go in as field_begin, value() and line_end would put them, the clean part
 * in one copy. Callgrind, instructions a byte in 256-byte chunks, with padded()'s copy
 * cut: llm_ascii 6.7 -> 5.4, multiline 5.6 -> 4.2, cjk_text 6.7 -> 6.0 (16 KiB chunks:
 * 4.2, 3.0, 3.6, before and after). */

/* Value bytes v[0..vn) of a data line, the first k known clean: those in one copy when
 * they fit, the rest through value(). */
static void data_in(ctx *c, const char *v, size_t k, size_t vn)
{
    sse_parser *p = c->p;
    if (data_run(p) && !p->priv.u8_n && k < p->priv.data_cap - p->priv.data_len) {
        memcpy(data_buf(p) + p->priv.data_len, v, k);
        p->priv.data_len += k;
        v += k;
        vn -= k;
    }
    if (vn > 0) {
        (void)value(c, v, vn);
    }
}

/* More s[0..n) of a data line the last chunk cut, up to its line end if ended (else to
 * the chunk's end); a sequence the cut left unfinished goes on in the continuation bytes
 * scan_utf8 skipped. Returns 0, doing nothing, for any other line. */
static int data_more(ctx *c, const char *s, size_t n, int ended)
{
    sse_parser *p = c->p;
    size_t j = 0, k;
    if (p->priv.state != ST_VALUE || p->priv.field != F_DATA ||
        (p->priv.options & SSE_OPT_PIECES) || c->data_in_chunk) {
        return 0;
    }
    if (p->priv.u8_n && c->utf8_from >= s && c->utf8_from <= s + n) {
        j = (size_t)(c->utf8_from - s);
        (void)store_text(c, s, j);
    }
    if (ended) {
        k = clean_value(c, s + j, n - j) ? n - j : 0;
    } else {
        k = (p->priv.options & SSE_OPT_RAW) ? n - j : checked(c, (const unsigned char *)s + j, n - j);
    }
    data_in(c, s + j, k, n - j);
    if (!ended) {
        return 1;
    }
    if (p->priv.u8_n) {
        (void)line_end(c); /* the held bytes become U+FFFD */
    } else {
        p->priv.state = ST_NAME; /* line_end: field_end does nothing more for data */
        p->priv.name_len = 0;
    }
    return 1;
}

/* The start s[0..n) of a data line the chunk end cuts: "data:" and at least one byte.
 * Returns 0, doing nothing, for any other line. */
static int data_head(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    const char *v = s + 5;
    size_t vn;
    if ((p->priv.options & SSE_OPT_PIECES) || p->priv.state != ST_NAME || p->priv.name_len != 0 ||
        n < 6 || memcmp(s, "data:", 5) != 0) {
        return 0;
    }
    v += *v == ' ';
    vn = (size_t)(s + n - v);
    (void)field_begin(c, F_DATA);
    p->priv.state = ST_VALUE;
    data_in(c, v, (p->priv.options & SSE_OPT_RAW) ? vn : checked(c, (const unsigned char *)v, vn),
            vn);
    return 1;
}

/* A whole line inside the chunk, starting at a line start: the hot path. */
static int line(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    const char *v;
    size_t vn;
    unsigned f;
    if (p->priv.state != ST_NAME || p->priv.name_len != 0) {
        return !data_more(c, s, n, 1) && (line_part(c, s, n) || line_end(c));
    }
    if (n == 0) {
        return dispatch(c);
    }
    f = classify(s, n, &v, &vn);
    if (f == F_IGNORE || (f == F_COMMENT && !(p->priv.options & SSE_OPT_COMMENTS))) {
        return 0;
    }
    if ((f == F_DATA || f == F_EVENT || f == F_ID) && clean_value(c, v, vn)) {
        if (f == F_DATA) {
            return data_line(c, v, vn);
        }
        if (f == F_EVENT) {
            event_line(p, v, vn);
            return 0;
        }
        if (id_line(p, v, vn)) {
            return 0;
        }
    }
    return field_begin(c, f) || value(c, v, vn) || field_end(c);
}

/* The bytes of a BOM that was not one begin the first line's field name (none is ':'). */
static void bom_as_name(sse_parser *p)
{
    memcpy(p->priv.name, BOM, p->priv.bom);
    p->priv.name_len = p->priv.bom;
}

/* Drops one leading BOM; bytes of a BOM that was not one go on as line bytes. */
static void bom(sse_parser *p, const char **s, const char *end)
{
    while (*s < end && p->priv.state == ST_BOM) {
        if (**s == BOM[p->priv.bom]) {
            (*s)++;
            if (++p->priv.bom == 3) {
                p->priv.state = ST_NAME;
            }
        } else {
            p->priv.state = ST_NAME;
            bom_as_name(p);
        }
    }
}

/* Prepares for a new connection: the block and any partial line go. */
static void rearm(sse_parser *p)
{
    p->priv.flags &= ~(FL_BLOCK | FL_AFTER_CR | FL_STOPPED);
    p->priv.state = ST_BOM;
    p->priv.bom = 0;
    p->priv.name_len = 0;
    p->priv.data_len = 0;
    p->priv.type_len = 0;
    p->priv.u8_n = 0;
    p->priv.id_pending = p->priv.id_last;
}

/* ---------------------------------------------------------------------------------------
 * Parser: public functions
 * ------------------------------------------------------------------------------------- */

sse_error sse_parser_init(sse_parser *p, void *storage, size_t cap, unsigned options)
{
    unsigned i;
    if (!p || !storage || cap < SSE_MIN_CAP || (options & ~SSE_ALL_OPTS)) {
        return SSE_ERR_ARG;
    }
    memset(p, 0, sizeof *p);
    p->priv.buf = (char *)storage;
    p->priv.field_cap = cap / FIELD_SHARES;
    p->priv.data_cap = cap - (1u + ID_SLOTS) * p->priv.field_cap;
    p->priv.options = options;
    p->priv.retry = SSE_RETRY_DEFAULT;
    for (i = 0; i < 1u + ID_SLOTS; i++) { /* type and the id slots start empty */
        p->priv.buf[p->priv.field_cap * i] = '\0';
    }
    rearm(p);
    return SSE_OK;
}


/* ctx for the calls a feed makes; utf8_*: nothing checked yet. */
static void ctx_init(ctx *c, sse_parser *p, const char *d, size_t len, sse_event_cb cb, void *user)
{
    c->p = p;
    c->cb = cb;
    c->user = user;
    c->data_in_chunk = NULL;
    c->chunk_end = d + len;
    c->utf8_from = d + len;
    c->utf8_valid_to = d;
}

/* Small feeds (1-byte feeding, slow trickles) skip the scan: sse_parser_feed takes ASCII
 * data inline, small_feed the rest of a data value or a name, small_lines the rest,
 * setting up a ctx only for a record. The same invariant as the line fast paths: each
 * leaves the parser as the general path would for the same bytes, and stops before a
 * byte it leaves to it. 1-byte feeds, callgrind instructions a byte from sse_parser_feed
 * down, before (the scan set up for each line end and name byte, store_text for each
 * value byte) and after: llm_ascii 60 -> 53, small_mixed 90 -> 76, crlf 91 -> 77,
 * cjk_text 183 -> 137 (time, gcc -O2, one sse_bench run each, ns a byte: llm_ascii
 * 3.8 -> 3.2, small_mixed 5.8 -> 4.2, crlf 5.8 -> 4.4, cjk_text 10.4 -> 6.4). */

/* Text value bytes from u[0] on into out[*np..end): ASCII (any byte in raw mode; NUL
 * only if low is 0) and valid UTF-8, checked a byte at a time (a sequence is held in
 * priv.u8_part until complete, as store_text holds one cut by a chunk). Returns how many
 * it took: it stops at a line end and before a byte to repair or without room. */
static size_t text_bytes(sse_parser *p, const unsigned char *u, size_t len, char *out,
                         size_t *np, size_t end, unsigned low)
{
    unsigned top = (p->priv.options & SSE_OPT_RAW) ? 0xFFu : 0x7Fu; /* above: UTF-8 */
    unsigned k = p->priv.u8_n;
    size_t n = *np, i;
    for (i = 0; i < len; i++) {
        unsigned b = u[i];
        if (b <= top) {
            if (b == '\n' || b == '\r' || b < low || k || n == end) {
                break;
            }
            out[n++] = (char)b;
        } else if (k == 0) {
            if (!seq_need((unsigned char)b)) {
                break;
            }
            p->priv.u8_part[0] = (unsigned char)b;
            p->priv.u8_need = (unsigned char)seq_need((unsigned char)b);
            k = 1;
        } else if (!seq_next_ok(p->priv.u8_part[0], k, (unsigned char)b)) {
            break;
        } else if (k + 1u < p->priv.u8_need) {
            p->priv.u8_part[k++] = (unsigned char)b;
        } else {
            if (end - n < k + 1u) {
                break;
            }
            memcpy(out + n, p->priv.u8_part, k);
            out[n + k] = (char)b;
            n += k + 1u;
            k = 0;
        }
    }
    *np = n;
    p->priv.u8_n = (unsigned char)k;
    return i;
}

/* Bytes of the value being read from u[0] on, as value() would take them: data (see
 * data_run), event and id values through text_bytes (store_value's regions and limits;
 * NUL in an id left to the general path), ignored values skipped. Returns how many it
 * took; 0 for a value it leaves to the general path (retry, comment). */
static size_t value_run(sse_parser *p, const unsigned char *u, size_t len)
{
    size_t i;
    switch (p->priv.field) {
    case F_IGNORE:
        for (i = 0; i < len && u[i] != '\n' && u[i] != '\r'; i++) {
        }
        return i;
    case F_DATA:
        return data_run(p) ? text_bytes(p, u, len, data_buf(p), &p->priv.data_len,
                                        p->priv.data_cap - 1, 0)
                           : 0;
    case F_EVENT:
        return (p->priv.flags & FL_TYPE_OVER) ? 0
                                              : text_bytes(p, u, len, type_buf(p), &p->priv.type_len,
                                                           p->priv.field_cap - 1, 0);
    case F_ID:
        return (p->priv.flags & FL_VAL_OVER)
                   ? 0
                   : text_bytes(p, u, len, id_buf(p, p->priv.id_reading), &p->priv.value_len,
                                p->priv.field_cap - 1, 1);
    default: return 0;
    }
}

/* Name bytes from u[i] on, as line_part takes them (only the first MAX_NAME_LEN + 1
 * count); returns where it stopped: a colon, a line end, or len. */
static size_t name_bytes(sse_parser *p, const unsigned char *u, size_t i, size_t len)
{
    for (; i < len && u[i] != ':' && u[i] != '\n' && u[i] != '\r'; i++) {
        name_byte(p, u[i]);
    }
    return i;
}

static sse_error feed(sse_parser *p, const char *d, size_t len, sse_event_cb cb, void *user);

/* The rest of a small feed from d[i] on: the bytes that need no record (names, the
 * space, values through value_run) with no ctx to set up; with one, line ends through
 * line_end, colons through field_begin, and any other run of a line (a value value_run
 * leaves) through line_part, as the general path takes a line cut by a chunk. */
static NOINLINE sse_error small_lines(sse_parser *p, const char *d, size_t len, size_t i,
                                      sse_event_cb cb, void *user)
{
    const unsigned char *u = (const unsigned char *)d;
    ctx c;
    int ready = 0; /* c is set up */
    if (p->priv.state == ST_BOM) {
        return feed(p, d, len, cb, user);
    }
    i = skip_cut_lf(p, d, i, len);
    for (;;) {
        size_t run;
        while (i < len) {
            if (p->priv.state == ST_SPACE && u[i] != '\n' && u[i] != '\r') {
                p->priv.state = ST_VALUE;
                i += u[i] == ' ';
                continue;
            }
            run = p->priv.state == ST_VALUE  ? i + value_run(p, u + i, len - i)
                  : p->priv.state == ST_NAME ? name_bytes(p, u, i, len)
                                             : i;
            if (run == i) {
                break;
            }
            i = run;
        }
        if (i == len) {
            break;
        }
        if (!ready) {
            ctx_init(&c, p, d, len, cb, user);
            ready = 1;
        }
        if (u[i] == '\n' || u[i] == '\r') {
            if (line_end(&c)) {
                return SSE_ERR_STOPPED;
            }
            i = next_line(p, d, i, len);
            continue;
        }
        if (p->priv.state == ST_NAME) { /* the colon */
            if (name_end(&c)) {
                return SSE_ERR_STOPPED;
            }
            i++;
            continue;
        }
        for (run = i; run < len && u[run] != '\n' && u[run] != '\r'; run++) {
        }
        if (line_part(&c, d + i, run - i)) {
            return SSE_ERR_STOPPED;
        }
        i = run;
    }
    if (!(p->priv.options & SSE_OPT_PIECES)) { /* flush_data has nothing to do: a small */
        return SSE_OK;                          /* feed leaves no line in the chunk      */
    }
    if (!ready) {
        ctx_init(&c, p, d, len, cb, user);
    }
    return flush_data(&c) ? SSE_ERR_STOPPED : SSE_OK;
}

/* A small feed from d[i] on (sse_parser_feed took d[0..i), ASCII data): the rest of a
 * data value (UTF-8 in a 1-byte feed) or of a name first, in a function this small, then
 * small_lines. Folding the two made 1-byte feeds of cjk_text 137 -> 162 instructions a
 * byte (callgrind: the larger frame). */
static NOINLINE sse_error small_feed(sse_parser *p, const char *d, size_t len, size_t i,
                                     sse_event_cb cb, void *user)
{
    const unsigned char *u = (const unsigned char *)d;
    if (data_run(p)) {
        i += text_bytes(p, u + i, len - i, data_buf(p), &p->priv.data_len, p->priv.data_cap - 1, 0);
    } else if (p->priv.state == ST_NAME && !(p->priv.flags & FL_AFTER_CR)) {
        i = name_bytes(p, u, i, len);
    }
    if (i == len && !(p->priv.options & SSE_OPT_PIECES)) { /* no piece to flush */
        return SSE_OK;
    }
    return small_lines(p, d, len, i, cb, user);
}

/* The body of sse_parser_feed for any chunk but a small one: kept out of it, so that a
 * small feed does not pay for this function's frame. */
static NOINLINE sse_error feed(sse_parser *p, const char *d, size_t len, sse_event_cb cb, void *user)
{
    const char *s = d;
    size_t at;
    eol_scan scan;
    ctx c;
    ctx_init(&c, p, d, len, cb, user);
    if (p->priv.state == ST_BOM) {
        bom(p, &s, d + len);
    }
    at = skip_cut_lf(p, d, (size_t)(s - d), len);
    scan_init(&scan, d, at, len);
    if (!(p->priv.options & SSE_OPT_RAW)) {
        scan_utf8(&scan, &c.utf8_from, &c.utf8_valid_to);
    }
    /* The hot loop. INVARIANT: d[at] starts a line (or continues the last chunk's); every
     * line before it went to line() in order; the scan has read d up to at least the
     * line end it returns, and utf8_from..utf8_valid_to is valid UTF-8 (a last sequence
     * may be unfinished), so a value ending before utf8_valid_to needs no check. */
    while (at < len) {
        size_t eol = next_eol(&scan, d, at, len);
        if (eol == len) {
            if (!data_head(&c, d + at, len - at) && !data_more(&c, d + at, len - at, 0) &&
                line_part(&c, d + at, len - at)) {
                return SSE_ERR_STOPPED;
            }
            break;
        }
        if (line(&c, d + at, eol - at)) {
            return SSE_ERR_STOPPED;
        }
        at = next_line(p, d, eol, len);
    }
    return flush_data(&c) ? SSE_ERR_STOPPED : SSE_OK;
}

sse_error sse_parser_feed(sse_parser *p, const void *data, size_t len, sse_event_cb cb,
                          void *user)
{
    const char *d = (const char *)data;
    const unsigned char *u = (const unsigned char *)data;
    if (!p || !cb || (!data && len)) {
        return SSE_ERR_ARG;
    }
    if (p->priv.flags & (FL_BUSY | FL_STOPPED)) {
        return p->priv.flags & FL_BUSY ? SSE_ERR_BUSY : SSE_ERR_STOPPED;
    }
    if (len == 0) {
        return SSE_OK;
    }
    if (len <= SMALL_FEED) {
        /* ASCII data bytes inline, with no frame: most bytes of a 1-byte feed (ST_VALUE:
         * never in ST_BOM nor after a CR); the rest in small_feed */
        size_t i = 0;
        if (data_run(p) && !p->priv.u8_n) {
            char *out = data_buf(p) + p->priv.data_len;
            size_t room = p->priv.data_cap - 1 - p->priv.data_len;
            /* 0x0E..0x7F: neither CR nor LF, no UTF-8 to check, one compare (tabs and
             * other controls take small_feed); gcc -O2 saved two registers for the three */
            while (i < len && i < room && (unsigned)u[i] - 0x0Eu < 0x80u - 0x0Eu) {
                out[i] = (char)u[i];
                i++;
            }
            p->priv.data_len += i;
            if (i == len) {
                return SSE_OK;
            }
        }
        return small_feed(p, d, len, i, cb, user);
    }
    return feed(p, d, len, cb, user);
}

sse_error sse_parser_finish(sse_parser *p, sse_event_cb cb, void *user)
{
    ctx c;
    int unfinished, pending, stop = 0;
    if (!p || !cb) {
        return SSE_ERR_ARG;
    }
    if (p->priv.flags & FL_BUSY) {
        return SSE_ERR_BUSY;
    }
    if (p->priv.flags & FL_STOPPED) {
        rearm(p);
        return SSE_ERR_STOPPED;
    }
    ctx_init(&c, p, "", 0, cb, user); /* no chunk */
    if (p->priv.state == ST_BOM) { /* the stream was empty, or a BOM's first bytes */
        p->priv.state = ST_NAME;
        bom_as_name(p);
    }
    unfinished = p->priv.state != ST_NAME || p->priv.name_len != 0;
    pending = unfinished || (p->priv.flags & (FL_HAS_DATA | FL_HAS_EVENT | FL_HAS_ID | FL_ID_OVER));
    if (pending && (p->priv.options & SSE_OPT_DISPATCH_AT_EOF)) {
        stop = (unfinished && line_end(&c)) || dispatch(&c);
        pending = 0;
    }
    rearm(p);
    if (stop) {
        return SSE_ERR_STOPPED;
    }
    return pending ? SSE_ERR_TRUNCATED : SSE_OK;
}

sse_error sse_parser_reconnect(sse_parser *p)
{
    if (!p) {
        return SSE_ERR_ARG;
    }
    if (p->priv.flags & FL_BUSY) {
        return SSE_ERR_BUSY;
    }
    rearm(p);
    return SSE_OK;
}

const char *sse_parser_last_id(const sse_parser *p, size_t *len)
{
    if (!p) {
        if (len) {
            *len = 0;
        }
        return "";
    }
    if (len) {
        *len = p->priv.id_len[p->priv.id_last];
    }
    return id_buf(p, p->priv.id_last);
}

sse_error sse_parser_set_last_id(sse_parser *p, const char *id, size_t len)
{
    char *slot;
    if (!p || (!id && len)) {
        return SSE_ERR_ARG;
    }
    if (p->priv.flags & FL_BUSY) {
        return SSE_ERR_BUSY;
    }
    if (len > p->priv.field_cap - 1) {
        return SSE_ERR_ID_TOO_LONG;
    }
    if (len && (memchr(id, '\0', len) || memchr(id, '\r', len) || memchr(id, '\n', len) ||
                (!(p->priv.options & SSE_OPT_RAW) &&
                 valid_prefix((const unsigned char *)id, len) != len))) {
        return SSE_ERR_BAD_ID; /* every id the parser reports is repaired UTF-8 */
    }
    /* In place: the slot of the last event ID is no block's pending id nor the id being
     * read (a block without an id of its own shares it, and takes the new one) */
    slot = id_buf(p, p->priv.id_last);
    if (len) {
        memcpy(slot, id, len);
    }
    slot[len] = '\0';
    p->priv.id_len[p->priv.id_last] = len;
    return SSE_OK;
}

uint64_t sse_parser_retry(const sse_parser *p)
{
    return p ? p->priv.retry : SSE_RETRY_DEFAULT;
}

/* ---------------------------------------------------------------------------------------
 * Client helpers
 * ------------------------------------------------------------------------------------- */

/* Fetch's "HTTP whitespace": what surrounds a header value or its essence. */
static int http_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

sse_error sse_check_response(int status, const char *content_type, size_t len)
{
    static const char want[] = "text/event-stream";
    size_t i = 0, n;
    if (status == 204) {
        return SSE_ERR_NO_CONTENT;
    }
    if (status != 200) {
        return SSE_ERR_HTTP_STATUS;
    }
    if (!content_type) {
        return SSE_ERR_CONTENT_TYPE;
    }
    while (i < len && http_space(content_type[i])) {
        i++;
    }
    for (n = 0; n < sizeof want - 1; n++, i++) {
        char ch = '\0';
        if (i < len) {
            ch = content_type[i];
        }
        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != want[n]) {
            return SSE_ERR_CONTENT_TYPE;
        }
    }
    while (i < len && http_space(content_type[i])) {
        i++;
    }
    return i == len || content_type[i] == ';' ? SSE_OK : SSE_ERR_CONTENT_TYPE;
}

int sse_status_retryable(int status)
{
    switch (status) {
    case 408: case 429: case 500: case 502: case 503: case 504: return 1;
    default: return 0;
    }
}

uint64_t sse_reconnect_delay(const sse_parser *p, unsigned failures, uint64_t cap_ms,
                             uint32_t rnd)
{
    uint64_t retry = sse_parser_retry(p), delay = retry, half;
    if (failures > 1) {
        if (delay < SSE_RECONNECT_FLOOR_MS) {
            delay = SSE_RECONNECT_FLOOR_MS;
        }
        if (cap_ms < delay) { /* neither the server's time nor the floor is cut */
            cap_ms = delay;
        }
        for (; failures > 1 && delay < cap_ms; failures--) {
            delay = delay > UINT64_MAX / 2 ? UINT64_MAX : delay * 2;
        }
        if (delay > cap_ms) {
            delay = cap_ms;
        }
    }
    /* jitter: delay/2 * rnd / 2^32, in two 32-bit halves so no product can wrap */
    half = delay / 2;
    half = (half >> 32) * rnd + (((half & 0xFFFFFFFFu) * rnd) >> 32);
    return delay > UINT64_MAX - half ? UINT64_MAX : delay + half;
}

/* ---------------------------------------------------------------------------------------
 * Serializer
 * ------------------------------------------------------------------------------------- */

/* Output cursor: writes while the bytes fit, counts them all. len never wraps: every
 * public call first checks with frame_fits() that its SSE_FRAME_MAX bound fits in
 * size_t, and what it writes stays within that bound. */
typedef struct sink {
    char *out;
    size_t cap, len;
} sink;

static void sink_init(sink *k, void *out, size_t cap)
{
    k->out = (char *)out;
    k->cap = out ? cap : 0;
    k->len = 0;
}

static void emit(sink *k, const char *s, size_t n)
{
    if (k->out && k->len <= k->cap && n <= k->cap - k->len) {
        memcpy(k->out + k->len, s, n);
    }
    k->len += n;
}

static sse_error finish_sink(const sink *k, size_t *len)
{
    *len = k->len;
    return k->out && k->len > k->cap ? SSE_ERR_BUFFER_TOO_SMALL : SSE_OK;
}

/* Whether SSE_FRAME_MAX of these lengths fits in size_t, computed without wrapping (and
 * without a division that is not by a constant). */
static int frame_fits(size_t comment_len, size_t type_len, size_t id_len, size_t data_len)
{
    size_t total = SSE_FRAME_MAX(0, 0, 0, 0);
    if ((comment_len | type_len | id_len | data_len) <= SIZE_MAX / 16u) {
        return 1; /* the usual case: 3 + 1 + 1 + 7 shares of SIZE_MAX / 16, plus 53 */
    }
    if (comment_len > SIZE_MAX / 3u || data_len > SIZE_MAX / 7u) {
        return 0;
    }
    comment_len *= 3u;
    data_len *= 7u;
    if (comment_len > SIZE_MAX - total) {
        return 0;
    }
    total += comment_len;
    if (data_len > SIZE_MAX - total) {
        return 0;
    }
    total += data_len;
    if (type_len > SIZE_MAX - total) {
        return 0;
    }
    total += type_len;
    return id_len <= SIZE_MAX - total;
}

/* The lengths of f's present fields (absent: 0), for frame_fits. */
static int frame_fields_fit(const sse_frame *f, size_t data_len)
{
    return frame_fits(f->comment ? f->comment_len : 0, f->type ? f->type_len : 0,
                      f->id ? f->id_len : 0, data_len);
}

/* Writes text as "prefix line\n" lines, split at CR, LF and CR LF. */
static void emit_lines(sink *k, const char *prefix, size_t prefix_len, const char *s, size_t n)
{
    eol_scan scan;
    size_t at = 0;
    scan_init(&scan, s, 0, n);
    for (;;) {
        size_t eol = next_eol(&scan, s, at, n);
        emit(k, prefix, prefix_len);
        emit(k, s + at, eol - at);
        emit(k, LIT("\n"));
        if (eol == n) {
            return;
        }
        at = past_eol(s, eol, n);
    }
}

/* Writes r in decimal into out (UINT64_DIGITS bytes); returns the digit count. Powers
 * of ten are subtracted rather than divided by: no 64-bit division is compiled in. */
static size_t decimal(char *out, uint64_t r)
{
    static const uint64_t pow10[UINT64_DIGITS] = {
        10000000000000000000u, 1000000000000000000u, 100000000000000000u,
        10000000000000000u, 1000000000000000u, 100000000000000u, 10000000000000u,
        1000000000000u, 100000000000u, 10000000000u, 1000000000u, 100000000u, 10000000u,
        1000000u, 100000u, 10000u, 1000u, 100u, 10u, 1u
    };
    size_t n = 0, i;
    for (i = 0; i < UINT64_DIGITS; i++) {
        char digit = '0';
        while (r >= pow10[i]) {
            r -= pow10[i];
            digit++;
        }
        if (n > 0 || digit != '0' || i == UINT64_DIGITS - 1) {
            out[n++] = digit;
        }
    }
    return n;
}

/* Writes "name: value\n". */
static void emit_field(sink *k, const char *name, size_t name_len, const char *v, size_t vn)
{
    emit(k, name, name_len);
    emit(k, v, vn);
    emit(k, LIT("\n"));
}

static sse_error check_fields(const sse_frame *f)
{
    if (f->type && (memchr(f->type, '\r', f->type_len) || memchr(f->type, '\n', f->type_len))) {
        return SSE_ERR_BAD_TYPE;
    }
    if (f->id && (memchr(f->id, '\r', f->id_len) || memchr(f->id, '\n', f->id_len) ||
                  memchr(f->id, '\0', f->id_len))) {
        return SSE_ERR_BAD_ID;
    }
    return SSE_OK;
}

/* Everything of a frame but its data lines and the blank line. */
static void emit_head(sink *k, const sse_frame *f)
{
    if (f->comment) {
        emit_lines(k, LIT(": "), f->comment, f->comment_len);
    }
    if (f->type) {
        emit_field(k, LIT("event: "), f->type, f->type_len);
    }
    if (f->id) {
        emit_field(k, LIT("id: "), f->id, f->id_len);
    }
    if (f->has_retry) {
        char digits[UINT64_DIGITS];
        emit_field(k, LIT("retry: "), digits, decimal(digits, f->retry));
    }
}

#ifdef VEC_AVX2
/* Copies s[a..a+32) and s[b..b+32) to out if neither holds a CR or LF. */
AVX2 static int avx2_copy2(char *out, const char *s, size_t a, size_t b)
{
    const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)(s + a));
    __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(s + b));
    __m256i e0 = _mm256_or_si256(_mm256_cmpeq_epi8(x0, lf), _mm256_cmpeq_epi8(x0, cr));
    __m256i e1 = _mm256_or_si256(_mm256_cmpeq_epi8(x1, lf), _mm256_cmpeq_epi8(x1, cr));
    if (!_mm256_testz_si256(_mm256_or_si256(e0, e1), _mm256_or_si256(e0, e1))) {
        return 0;
    }
    _mm256_storeu_si256((__m256i *)(void *)(out + a), x0);
    _mm256_storeu_si256((__m256i *)(void *)(out + b), x1);
    return 1;
}

/* copy_line for n >= 32: 64 bytes a step, then the last 32 to 64 bytes as two vectors
 * that may overlap each other and the step before. */
AVX2 static int avx2_copy_line(char *out, const char *s, size_t n)
{
    size_t i;
    for (i = 0; n - i > BLOCK; i += BLOCK) {
        if (!avx2_copy2(out, s, i, i + 32)) {
            return 0;
        }
    }
    return avx2_copy2(out, s, n >= BLOCK ? n - BLOCK : 0, n - 32);
}
#endif

#ifdef VEC_SSE2
/* Copies s[a..a+16) and s[b..b+16) to out if neither holds a CR or LF. */
static int sse2_copy2(char *out, const char *s, size_t a, size_t b)
{
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)(s + a));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(s + b));
    __m128i eol = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x0, lf), _mm_cmpeq_epi8(x0, cr)),
                               _mm_or_si128(_mm_cmpeq_epi8(x1, lf), _mm_cmpeq_epi8(x1, cr)));
    if (_mm_movemask_epi8(eol)) {
        return 0;
    }
    _mm_storeu_si128((__m128i *)(void *)(out + a), x0);
    _mm_storeu_si128((__m128i *)(void *)(out + b), x1);
    return 1;
}

/* copy_line for n >= 16, as avx2_copy_line with 16-byte vectors. */
static int sse2_copy_line(char *out, const char *s, size_t n)
{
    size_t i;
    /* cppcheck takes __builtin_cpu_supports("avx2") in copy_line as always true, so n < 32
     * here; without AVX2 any n >= 16 comes */
    /* cppcheck-suppress knownConditionTrueFalse */
    for (i = 0; n - i > 32; i += 32) {
        if (!sse2_copy2(out, s, i, i + 16)) {
            return 0;
        }
    }
    return sse2_copy2(out, s, n >= 32 ? n - 32 : 0, n - 16);
}
#endif

/* Copies s[0..n) to out if it holds no CR or LF; returns 0 otherwise, out's bytes then
 * unspecified. With vectors the check and the copy are one pass (a check, then memcpy,
 * made 64 KiB data lines 0.54x memcpy; one pass: 0.92x); a line of 32 to 128 bytes is
 * two or four AVX2 vectors. */
static int copy_line(char *out, const char *s, size_t n)
{
#ifdef VEC_AVX2
    if (n >= 32 && __builtin_cpu_supports("avx2")) {
        return avx2_copy_line(out, s, n);
    }
#endif
#ifdef VEC_SSE2
    if (n >= 16) {
        return sse2_copy_line(out, s, n);
    }
#endif
    if (has_eol(s, n)) {
        return 0;
    }
    memcpy(out, s, n);
    return 1;
}

/* sse_encode's general path, the definition: every frame, in the spec's field order. */
static NOINLINE sse_error encode(void *out, size_t cap, const sse_frame *f, size_t *len)
{
    sink k;
    sse_error err;
    *len = 0;
    if (!frame_fields_fit(f, f->data ? f->data_len : 0)) {
        return SSE_ERR_TOO_LARGE;
    }
    err = check_fields(f);
    if (err != SSE_OK) {
        return err;
    }
    sink_init(&k, out, cap);
    emit_head(&k, f);
    if (f->data) {
        emit_lines(&k, LIT("data: "), f->data, f->data_len);
    }
    if (f->type || f->id || f->has_retry || f->data) {
        emit(&k, LIT("\n"));
    }
    return finish_sink(&k, len);
}

/* sse_encode's fast path, for the frame most streams send: only data, one line of it,
 * and room in out (the caller checked). Writes what encode() writes for it ("data: ", the
 * data, "\n\n") with no sink, or hands the frame to encode() at a line break. An 81-byte
 * data line: 444 -> 298 instructions a frame (callgrind); llm_tokens (76 bytes a line
 * on average), with the path chosen first and copy_line's vectors: 139 -> 104, and
 * 125 -> 148 M frames/s, 0.47x -> 0.55x memcpy of the output (sse_bench, 64 MiB, -O3). */
static NOINLINE sse_error encode_data_line(void *out, size_t cap, const sse_frame *f, size_t *len)
{
    static const char head[8] = { 'd', 'a', 't', 'a', ':', ' ', '\n', '\n' }; /* no NUL */
    char *o = (char *)out;
    size_t n = f->data_len;
    /* "data: " and two more bytes in one store: the line (or, when n is 0, the two LFs
     * below) writes over them. A line break found half-way leaves bytes in out[0..6+n):
     * encode() writes over them (a break makes the output longer than n + 8). */
    memcpy(o, head, sizeof head);
    if (!copy_line(o + 6, f->data, n)) {
        return encode(out, cap, f, len);
    }
    memcpy(o + 6 + n, head + 6, 2);
    *len = n + 8;
    return SSE_OK;
}

/* The checks that choose the path call nothing, so that the general path's frames pay
 * for no saved registers (with the fast path inline, gcc saved six on every call). */
sse_error sse_encode(void *out, size_t cap, const sse_frame *f, size_t *len)
{
    if (!f || !len) {
        return SSE_ERR_ARG;
    }
    /* encode_data_line's frames; their bound fits (frame_fits is 1 up to SIZE_MAX / 16) */
    if (out && f->data && !f->comment && !f->type && !f->id && !f->has_retry &&
        f->data_len <= SIZE_MAX / 16u && f->data_len + 8 <= cap) {
        return encode_data_line(out, cap, f, len);
    }
    return encode(out, cap, f, len);
}

/* sse_writer priv.state: where the frame's output stands. */
enum {
    W_IDLE,     /* no frame open */
    W_OPEN,     /* inside a "data: " line */
    W_BREAK,    /* the data so far ends with a line break, written; the next data line's
                   "data: " is not written yet */
    W_BREAK_CR, /* as W_BREAK, the break was a CR: an LF next belongs to it */
    W_SPLIT     /* fields closed the open data line; the next piece must start with the
                   line break that this "\n" already stands for */
};

/* The checks every writer call makes before writing: its arguments (bad_arg: one the
 * caller found wrong), a frame open (or, for begin, not), f without data, the bound
 * fits, type and id clean. On an error *len is 0. */
static sse_error writer_check(const sse_writer *w, int want_open, int bad_arg, const sse_frame *f,
                              size_t data_len, size_t *len)
{
    sse_error err = SSE_OK;
    if (!w || !len || bad_arg || (w->priv.state != W_IDLE) != want_open || (f && f->data)) {
        err = SSE_ERR_ARG;
    } else if (f ? !frame_fields_fit(f, data_len) : !frame_fits(0, 0, 0, data_len)) {
        err = SSE_ERR_TOO_LARGE;
    } else if (f) {
        err = check_fields(f);
    }
    if (err != SSE_OK && len) {
        *len = 0;
    }
    return err;
}

/* The state becomes next if the output was written. */
static sse_error writer_done(sse_writer *w, const sink *k, unsigned next, size_t *len)
{
    sse_error err = finish_sink(k, len);
    if (err == SSE_OK && k->out) {
        w->priv.state = (unsigned char)next;
    }
    return err;
}

sse_error sse_writer_begin(sse_writer *w, const sse_frame *f, void *out, size_t cap, size_t *len)
{
    sink k;
    sse_error err = writer_check(w, 0, !f, f, 0, len);
    if (err != SSE_OK) {
        return err;
    }
    sink_init(&k, out, cap);
    emit_head(&k, f);
    emit(&k, LIT("data: "));
    return writer_done(w, &k, W_OPEN, len);
}

sse_error sse_writer_data(sse_writer *w, const void *piece, size_t piece_len, void *out,
                          size_t cap, size_t *len)
{
    const char *s = (const char *)piece;
    unsigned state;
    size_t at = 0;
    eol_scan scan;
    sink k;
    sse_error err = writer_check(w, 1, !piece && piece_len, NULL, piece_len, len);
    if (err != SSE_OK) {
        return err;
    }
    sink_init(&k, out, cap);
    state = w->priv.state;
    if (piece_len == 0) {
        return finish_sink(&k, len);
    }
    if (state == W_SPLIT) { /* the line break already written comes first */
        if (s[0] != '\r' && s[0] != '\n') {
            *len = 0;
            return SSE_ERR_ARG;
        }
        state = s[0] == '\r' ? W_BREAK_CR : W_BREAK;
        at = 1;
    }
    scan_init(&scan, s, at, piece_len);
    while (at < piece_len) {
        size_t eol;
        if (state == W_BREAK_CR && s[at] == '\n') { /* the LF of a CR LF */
            state = W_BREAK;
            at++;
            continue;
        }
        eol = next_eol(&scan, s, at, piece_len);
        if (state != W_OPEN) {
            emit(&k, LIT("data: "));
        }
        emit(&k, s + at, eol - at);
        if (eol == piece_len) {
            state = W_OPEN;
            break;
        }
        emit(&k, LIT("\n"));
        state = s[eol] == '\r' ? W_BREAK_CR : W_BREAK;
        at = eol + 1;
    }
    return writer_done(w, &k, state, len);
}

sse_error sse_writer_fields(sse_writer *w, const sse_frame *f, void *out, size_t cap,
                            size_t *len)
{
    sink k;
    sse_error err = writer_check(w, 1, !f, f, 0, len);
    if (err != SSE_OK) {
        return err;
    }
    sink_init(&k, out, cap);
    if (w->priv.state == W_OPEN) {
        emit(&k, LIT("\n"));
    }
    emit_head(&k, f);
    return writer_done(w, &k, w->priv.state == W_OPEN ? W_SPLIT : w->priv.state, len);
}

sse_error sse_writer_end(sse_writer *w, void *out, size_t cap, size_t *len)
{
    sink k;
    sse_error err = writer_check(w, 1, 0, NULL, 0, len);
    if (err != SSE_OK) {
        return err;
    }
    sink_init(&k, out, cap);
    switch (w->priv.state) {
    case W_OPEN: emit(&k, LIT("\n\n")); break;
    case W_SPLIT: emit(&k, LIT("\n")); break;
    default: emit(&k, LIT("data: \n\n")); break; /* the data ends with a line break */
    }
    return writer_done(w, &k, W_IDLE, len);
}

/* The client helper writes through the serializer's sink. */
sse_error sse_last_id_header(const sse_parser *p, char *out, size_t cap, size_t *len)
{
    size_t id_len;
    const char *id;
    sink k;
    sse_error err;
    if (!p || !len) {
        return SSE_ERR_ARG;
    }
    id = sse_parser_last_id(p, &id_len);
    sink_init(&k, out, cap);
    if (id_len) {
        emit(&k, LIT("Last-Event-ID: "));
        emit(&k, id, id_len);
    }
    emit(&k, "", 1); /* the NUL, not counted in *len */
    err = finish_sink(&k, len);
    *len -= 1;
    return err;
}

/* The private macros end with this file, so a unity build that includes it stays clean.
 * SSE_SIMD stays: it is the caller's switch. */
#undef FL_AFTER_CR
#undef FL_HAS_DATA
#undef FL_HAS_ID
#undef FL_HAS_EVENT
#undef FL_DATA_OVER
#undef FL_TYPE_OVER
#undef FL_ID_OVER
#undef FL_VAL_OVER
#undef FL_VAL_BAD
#undef FL_STARTED
#undef FL_STOPPED
#undef FL_BUSY
#undef FL_BLOCK
#undef SSE_MIN_CAP
#undef RETRY_MAX_TENTH
#undef RETRY_MAX_LAST
#undef UINT64_DIGITS
#undef SMALL_FEED
#undef MAX_NAME_LEN
#undef FIELD_SHARES
#undef ID_SLOTS
#undef DEFAULT_TYPE
#undef DEFAULT_TYPE_LEN
#undef LIT
#undef NOINLINE
#undef SSE_ALL_OPTS
#undef VEC_SSE2
#undef VEC_AVX2
#undef VEC_NEON
#undef VEC
#undef BLOCK
#undef U8_SHORT
#undef U8_LONG
#undef U8_OVER3
#undef U8_LARGE
#undef U8_SURR
#undef U8_OVER2
#undef U8_L1000
#undef U8_TWO
#undef U8_CARRY
#undef AVX2
