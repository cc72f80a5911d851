/*
 * simd_gen.c - main() for fuzz_simd without libFuzzer: generated inputs, then any
 * corpus paths given (through replay.c's loader is not needed: each path is one file).
 *
 * Usage: fuzz_simd_gen [COUNT [SECONDS]]   (default 4000 inputs, at most 60 s)
 * First a sweep: each sequence of SWEEP (valid, cut short, ill-formed) at every offset
 * 0..140 of a data line, before each line end (or an ASCII or 2-byte character and
 * then the line end), then a line of ASCII long enough to fill
 * a whole block, so a sequence cut by a block end meets an all-ASCII block. Then inputs
 * from a fixed-seed generator: every option combination in turn, mostly in
 * token mode (see fuzz_simd.c), 1 to 600 tokens or bytes, so UTF-8 sequences and line
 * ends fall on every offset of every vector block. Stops at COUNT or SECONDS, whichever
 * comes first, and prints how many ran; a difference aborts with both logs.
 */
#include "sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15u); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static const char *const SWEEP[] = {
    "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF", "\xC3", "\xE4\xB8",
    "\xF0\x9F\x98", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC0\xAF", "\x80",
    "\xFF", "\xF5\x80\x80\x80", "\xEF\xBB\xBF",
};
static const char *const EOLS[] = { "\n", "\r", "\r\n", "z\n", "~\r", "\xC3\xA9\n" };

/* Runs the sweep; returns how many inputs it ran. */
static unsigned long sweep(void)
{
    static uint8_t buf[512];
    unsigned long ran = 0;
    size_t q, off, e, o;
    for (q = 0; q < sizeof SWEEP / sizeof SWEEP[0]; q++) {
        for (off = 0; off <= 140; off++) {
            for (e = 0; e < sizeof EOLS / sizeof EOLS[0]; e++) {
                for (o = 0; o < 2; o++) { /* default options, and SSE_OPT_PIECES */
                    size_t n = 3;
                    buf[0] = (uint8_t)(o ? SSE_OPT_PIECES : 0);
                    buf[1] = 0x80; /* 128 KiB of storage */
                    buf[2] = (uint8_t)off;
                    memcpy(buf + n, "data: ", 6);
                    n += 6;
                    memset(buf + n, 'x', off);
                    n += off;
                    memcpy(buf + n, SWEEP[q], strlen(SWEEP[q]));
                    n += strlen(SWEEP[q]);
                    memcpy(buf + n, EOLS[e], strlen(EOLS[e]));
                    n += strlen(EOLS[e]);
                    memcpy(buf + n, "data: ", 6);
                    n += 6;
                    memset(buf + n, 'y', 140);
                    n += 140;
                    memcpy(buf + n, "\n\n", 2);
                    n += 2;
                    LLVMFuzzerTestOneInput(buf, n);
                    ran++;
                }
            }
        }
    }
    return ran;
}

int main(int argc, char **argv)
{
    unsigned long count = argc > 1 ? strtoul(argv[1], NULL, 10) : 4000, i;
    double seconds = argc > 2 ? atof(argv[2]) : 60.0;
    clock_t start = clock();
    uint64_t seed = 14;
    static uint8_t buf[3 + 600];
    unsigned long swept = sweep();
    for (i = 0; i < count; i++) {
        size_t n = 3 + (size_t)(next(&seed) % 600u), k;
        buf[0] = (uint8_t)((i & 31u) | (next(&seed) % 8u ? 32u : 0u) | ((i / 32u) % 4u) << 6);
        buf[1] = (uint8_t)next(&seed);
        buf[2] = (uint8_t)next(&seed);
        for (k = 3; k < n; k++) {
            buf[k] = (uint8_t)next(&seed);
        }
        LLVMFuzzerTestOneInput(buf, n);
        if ((double)(clock() - start) / CLOCKS_PER_SEC > seconds) {
            i++;
            break;
        }
    }
    printf("fuzz_simd_gen: %lu sweep inputs and %lu generated inputs, every path alike\n",
           swept, i);
    return i > 0 ? 0 : 1;
}
