/*
 * hostile.c - bounded memory under hostile streams (issue 4, point 8).
 *
 * Streams gigabyte-class hostile input through the parser with a fixed 4 KiB storage:
 * a line that never ends, data lines that never end their event, 100 million empty
 * lines, a single 1 GiB event in piece mode, BOMs / NULs / invalid UTF-8, and overlong
 * id, event and comment lines and field names. The bytes are made on the fly: a 64 KiB
 * buffer holding a repeated unit is fed again and again at shifting offsets and in
 * varying chunk sizes, so nothing is stored. After each stretch a well-formed probe event
 * must arrive intact, as the last record. Each stretch checks the records the parser
 * reports (the documented SSE_KIND_DROPPED errors, exact event contents). Peak RSS
 * (getrusage ru_maxrss) is taken after a warm-up at a small scale and at the end; it may
 * not grow by more than RSS_MARGIN_KB.
 *
 * Usage: hostile [--scale-mb N]   N MiB per stretch (default 1024: 1 GiB, and 100 million
 * empty lines); ctest runs it with a small N. Prints one table row per stretch.
 */
#define _POSIX_C_SOURCE 200809L

#include "sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define STORAGE_CAP   4096u
#define PATTERN_LEN   65536u
#define UNIT_MAX      4096u
#define RSS_MARGIN_KB 1024L

static char storage[STORAGE_CAP];
static char pattern[PATTERN_LEN + UNIT_MAX]; /* the unit repeated: any 64 KiB window */
static char expect[PATTERN_LEN + UNIT_MAX];  /* piece mode: the expected data, repeated */
static sse_parser parser;
static unsigned parser_opts = ~0u;

/* What one stretch sends and what it must report. */
typedef struct stretch {
    const char *name;
    unsigned opts;       /* parser options */
    const char *prefix;  /* sent once before the body */
    const char *unit;    /* the body repeats it */
    size_t unit_len;     /* 0: strlen(unit) */
    uint64_t body_len;   /* bytes of body (a multiple of the unit) */
    const char *suffix;  /* ends the hostile block */
    sse_error drop;      /* the one DROPPED record expected (SSE_OK: none) */
    int events_per_unit; /* events expected: one per unit (stretch "bom-nul-utf8") */
    int piece_event;     /* one event in piece mode whose data is checked */
} stretch;

/* Counters of one stretch, filled by the callback. */
static struct {
    const stretch *st;
    unsigned long long records, events, drops, other, bad, pieces;
    uint64_t piece_pos;
    int probing, probe_seen, after_probe, in_event;
    char probe[8];
    size_t probe_len;
    sse_error drop_err;
    const char *why;
} run;

/* "bom-nul-utf8": the expected event of each unit (see the unit below). */
static const char BNU_TYPE[] = "\xEF\xBF\xBD"
                               "\0"
                               "x";
static const char BNU_DATA[] = "\xEF\xBB\xBF"
                               "\0"
                               "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                               "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
                               "\n\xF0\x9F\x98\x80\xEF\xBF\xBD"
                               "\na";

static void fail(const char *why)
{
    if (!run.why) {
        run.why = why;
    }
}

static int is(const char *s, size_t n, const char *want, size_t want_len)
{
    return n == want_len && memcmp(s, want, n) == 0;
}

/* Piece mode: checks a piece against the expected data at run.piece_pos. */
static void check_piece(const char *s, size_t n, size_t period)
{
    while (n > 0) {
        size_t k = n < PATTERN_LEN ? n : PATTERN_LEN;
        if (memcmp(s, expect + run.piece_pos % period, k) != 0) {
            fail("piece data differs from the stream");
            return;
        }
        s += k;
        n -= k;
        run.piece_pos += k;
    }
}

static int on_record(void *user, const sse_event *ev)
{
    (void)user;
    run.records++;
    if (run.probe_seen) {
        run.after_probe = 1;
    }
    switch (ev->kind) {
    case SSE_KIND_EVENT:
        if (ev->flags & SSE_FLAG_FIRST) {
            run.in_event = 1;
        }
        if (run.probing) { /* the probe, maybe in pieces */
            if (ev->data_len > sizeof run.probe - run.probe_len) {
                fail("probe data too long");
                break;
            }
            memcpy(run.probe + run.probe_len, ev->data, ev->data_len);
            run.probe_len += ev->data_len;
            if (ev->flags & SSE_FLAG_LAST) {
                if (!is(ev->type, ev->type_len, "probe", 5) ||
                    !is(run.probe, run.probe_len, "ok", 2)) {
                    fail("probe event differs");
                }
                run.probe_seen++;
                run.in_event = 0;
            }
            break;
        }
        if (run.st->piece_event) {
            run.pieces++;
            check_piece(ev->data, ev->data_len, 58);
            if (ev->flags & SSE_FLAG_LAST) {
                run.events++;
                run.in_event = 0;
                if (!is(ev->type, ev->type_len, "big", 3)) {
                    fail("piece-mode event type");
                }
            }
        } else if (run.st->events_per_unit) {
            run.events++;
            if (!is(ev->type, ev->type_len, BNU_TYPE, sizeof BNU_TYPE - 1) ||
                !is(ev->data, ev->data_len, BNU_DATA, sizeof BNU_DATA - 1)) {
                fail("repaired event differs");
            }
            run.in_event = 0;
        } else {
            run.events++;
            fail("unexpected event");
        }
        break;
    case SSE_KIND_DROPPED:
        run.drops++;
        run.drop_err = ev->error;
        run.in_event = 0;
        break;
    default: run.other++; break;
    }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int feed(const char *s, size_t n)
{
    sse_error st = sse_parser_feed(&parser, s, n, on_record, NULL);
    if (st != SSE_OK) {
        fprintf(stderr, "feed: %s\n", sse_strerror(st));
        fail("feed did not return SSE_OK");
        return -1;
    }
    return 0;
}

/* Chunk sizes cycle through these: mostly full windows, some that cut lines, CR LF
 * pairs and UTF-8 sequences at odd places. */
static const size_t CHUNKS[] = { 65536, 65536, 1, 65536, 4093, 2, 65536, 777, 65536, 3, 65521 };

/* Runs one stretch; returns 0 when every check passed. */
static int run_stretch(const stretch *st, int quiet)
{
    size_t unit_len = st->unit_len ? st->unit_len : strlen(st->unit), i, ci = 0;
    uint64_t body = st->body_len - st->body_len % unit_len, off = 0, total;
    double t0, secs;
    size_t last_id_len_before = 0, last_id_len_after = 0;
    char last_id_before[256];
    static const char PROBE[] = "event: probe\ndata: ok\n\n";

    if (unit_len > UNIT_MAX) {
        return -1;
    }
    for (i = 0; i < sizeof pattern; i++) {
        pattern[i] = st->unit[i % unit_len];
    }
    if (st->opts != parser_opts) { /* a new stream */
        if (sse_parser_init(&parser, storage, sizeof storage, st->opts) != SSE_OK) {
            return -1;
        }
        parser_opts = st->opts;
    }
    memset(&run, 0, sizeof run);
    run.st = st;
    {
        size_t n;
        const char *id = sse_parser_last_id(&parser, &n);
        memcpy(last_id_before, id, n + 1);
        last_id_len_before = n;
    }

    t0 = now();
    feed(st->prefix, strlen(st->prefix));
    while (off < body && !run.why) {
        size_t k = CHUNKS[ci++ % (sizeof CHUNKS / sizeof CHUNKS[0])];
        if (k > body - off) {
            k = (size_t)(body - off);
        }
        feed(pattern + off % unit_len, k);
        off += k;
    }
    feed(st->suffix, strlen(st->suffix));
    secs = now() - t0;
    run.probing = 1;
    feed(PROBE, sizeof PROBE - 1);
    total = strlen(st->prefix) + body + strlen(st->suffix);

    /* the checks */
    if (st->drop != SSE_OK) {
        if (run.drops != 1 || run.drop_err != st->drop) {
            fail("expected exactly one DROPPED record with the stretch's error");
        }
    } else if (run.drops != 0) {
        fail("unexpected DROPPED record");
    }
    if (st->events_per_unit && run.events != body / unit_len) {
        fail("wrong number of events");
    }
    if (st->piece_event) {
        uint64_t lines = body / unit_len;
        if (run.events != 1 || run.piece_pos != lines * 58 - 1) {
            fail("piece-mode event: wrong size or not ended");
        }
    }
    if (run.other != 0) {
        fail("unexpected retry or comment record");
    }
    if (run.probe_seen != 1 || run.after_probe) {
        fail("the probe event after the stretch did not arrive intact, last");
    }
    (void)sse_parser_last_id(&parser, &last_id_len_after);
    if (st->drop == SSE_ERR_ID_TOO_LONG &&
        (last_id_len_after != last_id_len_before ||
         memcmp(sse_parser_last_id(&parser, NULL), last_id_before, last_id_len_before) != 0)) {
        fail("an id too long changed the last event ID");
    }
    if (!quiet) {
        printf("%-22s %14llu %8.2f %9.1f %9llu %10ld  %s\n", st->name, (unsigned long long)total,
               secs, secs > 0 ? (double)total / secs / 1048576.0 : 0.0, run.records, peak_rss_kb(),
               run.why ? run.why : "ok");
    } else if (run.why) {
        printf("warm-up %s: %s\n", st->name, run.why);
    }
    return run.why ? -1 : 0;
}

int main(int argc, char **argv)
{
    uint64_t scale_mb = 1024, mib;
    static const char LETTERS[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
    /* text without line ends: ASCII and valid multi-byte sequences, cut anywhere */
    static const char NOEOL[] = "lorem ipsum \xC3\xA9t\xC3\xA9 \xE2\x82\xAC 100 \xF0\x9F\x98\x80 "
                                "dolor: sit amet, id: 7 data: x retry: 9 \xE4\xB8\xAD\xE6\x96\x87.";
    /* one event per unit: BOMs, NULs, invalid UTF-8 (expected: BNU_TYPE / BNU_DATA) */
    static const char BNU[] = "\xEF\xBB\xBF\n" /* a BOM line: no field */
                              "\xEF\xBB\xBF"
                              "data: x\n" /* field "\xEF\xBB\xBF" "data" */
                              "data: \xEF\xBB\xBF"
                              "\0" /* BOM kept inside data, NUL */
                              "\xFF\xC0\x80\xED\xA0\x80\xF0\x9F\x98\n" /* 7 x U+FFFD */
                              "data:\xF0\x9F\x98\x80\xF0\x9F\r"        /* valid, then cut by CR */
                              "event: \xFF"
                              "\0"
                              "x\r\n" /* type U+FFFD NUL x */
                              "id: a"
                              "\0"
                              "b\n"        /* id with NUL: ignored */
                              "\0: \xFE\n" /* field "\0": ignored */
                              "data: a\n"
                              "\n";
    char data_line[65];
    stretch s[10];
    size_t ns = 0, i;
    int failed = 0, warm_failed = 0, warm;
    long rss_base = 0, rss_end;
    uint64_t empty_lines;

    for (i = 1; i < (size_t)argc; i++) {
        if (strcmp(argv[i], "--scale-mb") == 0 && i + 1 < (size_t)argc) {
            scale_mb = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--scale-mb N]  (N MiB per stretch, default 1024)\n",
                    argv[0]);
            return 2;
        }
    }
    if (scale_mb == 0) {
        scale_mb = 1;
    }
    mib = scale_mb * 1048576u;
    empty_lines = scale_mb * 100000000u / 1024u; /* 100 million at 1 GiB */

    /* "data: " + 57 letters + LF = 64 bytes; the piece-mode data repeats 57 letters + LF */
    memcpy(data_line, "data: ", 6);
    memcpy(data_line + 6, LETTERS, 57);
    data_line[63] = '\n';
    data_line[64] = '\0';
    for (i = 0; i < sizeof expect; i++) {
        expect[i] = i % 58 == 57 ? '\n' : LETTERS[i % 58];
    }

    memset(s, 0, sizeof s);
    s[ns].name = "no-line-end";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = "data: ";
    s[ns].unit = NOEOL;
    s[ns].body_len = mib;
    s[ns].suffix = "\n\n";
    s[ns++].drop = SSE_ERR_DATA_TOO_LONG;

    s[ns].name = "data-lines-no-blank";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = "";
    s[ns].unit = data_line;
    s[ns].body_len = mib;
    s[ns].suffix = "\n";
    s[ns++].drop = SSE_ERR_DATA_TOO_LONG;

    s[ns].name = "empty-lines";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = "";
    s[ns].unit = "\n";
    s[ns].body_len = empty_lines;
    s[ns++].suffix = "";

    s[ns].name = "bom-nul-utf8";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = "";
    s[ns].unit = BNU;
    s[ns].unit_len = sizeof BNU - 1;
    s[ns].body_len = mib;
    s[ns].suffix = "";
    s[ns++].events_per_unit = 1;

    s[ns].name = "long-id-line";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = "id: ";
    s[ns].unit = LETTERS;
    s[ns].body_len = mib;
    s[ns].suffix = "\n\n";
    s[ns++].drop = SSE_ERR_ID_TOO_LONG;

    s[ns].name = "long-event-line";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = "data: x\nevent: ";
    s[ns].unit = NOEOL;
    s[ns].body_len = mib;
    s[ns].suffix = "\r\n\r\n";
    s[ns++].drop = SSE_ERR_TYPE_TOO_LONG;

    s[ns].name = "long-comment-line";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = ":";
    s[ns].unit = NOEOL;
    s[ns].body_len = mib;
    s[ns].suffix = "\r\r";
    s[ns++].drop = SSE_ERR_COMMENT_TOO_LONG;

    s[ns].name = "long-field-name";
    s[ns].opts = SSE_OPT_COMMENTS;
    s[ns].prefix = "";
    s[ns].unit = LETTERS;
    s[ns].body_len = mib;
    s[ns++].suffix = "\n\n";

    s[ns].name = "piece-mode-1-event";
    s[ns].opts = SSE_OPT_PIECES;
    s[ns].prefix = "event: big\n";
    s[ns].unit = data_line;
    s[ns].body_len = mib;
    s[ns].suffix = "\n";
    s[ns++].piece_event = 1;

    /* warm-up: every stretch at 64 KiB, so every path and buffer has been touched */
    for (warm = 0; warm < 2; warm++) {
        for (i = 0; i < ns; i++) {
            stretch w = s[i];
            w.body_len = w.body_len < 65536u ? w.body_len : 65536u;
            if (run_stretch(&w, 1) != 0) {
                warm_failed++;
            }
        }
    }
    printf("hostile: storage %u bytes, %llu MiB per stretch, %llu empty lines\n", STORAGE_CAP,
           (unsigned long long)scale_mb, (unsigned long long)empty_lines);
    printf("%-22s %14s %8s %9s %9s %10s  %s\n", "stretch", "bytes", "seconds", "MiB/s", "records",
           "peakRSS_KB", "result");
    fflush(stdout);
    rss_base = peak_rss_kb();
    for (i = 0; i < ns; i++) {
        if (run_stretch(&s[i], 0) != 0) {
            failed++;
        }
        fflush(stdout);
    }
    rss_end = peak_rss_kb();
    printf("peak RSS after warm-up %ld KB, at the end %ld KB (margin %ld KB)\n", rss_base, rss_end,
           RSS_MARGIN_KB);
    if (rss_end - rss_base > RSS_MARGIN_KB) {
        printf("FAIL: peak RSS grew by %ld KB\n", rss_end - rss_base);
        failed++;
    }
    if (warm_failed) {
        printf("FAIL: %d warm-up stretches failed\n", warm_failed);
        failed++;
    }
    /* the stretches, the RSS check and the warm-up */
    printf("hostile: %d passed, %d failed\n", (int)ns + 2 - failed, failed);
    return failed ? 1 : 0;
}
