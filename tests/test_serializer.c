/*
 * test_serializer.c - sse_encode, the streaming writer and SSE_HTTP_HEADERS against
 * SSE-SPEC rules 16-21 and sse.h.
 *
 * Every encode row is checked four ways: the size query (out NULL), the exact buffer,
 * every buffer one byte or more too small (SSE_ERR_BUFFER_TOO_SMALL, *len = size needed,
 * nothing written at or past cap: a canary follows), and a round trip through the parser
 * (raw mode, comments on) that must give back exactly the frame's fields.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "test_recorder.h"

#define S(s)     s, sizeof(s) - 1
#define ABSENT   NULL, 0
#define CANARY   32
#define SENTINEL ((size_t)0x5EE5u)

typedef struct enc_row {
    const char *name;
    sse_frame f;
    sse_error want; /* SSE_OK or the refusal */
    const char *out;
    size_t out_len;
} enc_row;

#define E(name, comment, type, id, data, has_retry, retry, out)                            \
    {                                                                                      \
#name, { comment, type, id, data, has_retry, retry }, SSE_OK, out, sizeof(out) - 1 \
    }
#define BAD(name, comment, type, id, data, err)              \
    {                                                        \
#name, { comment, type, id, data, 0, 0 }, err, "", 0 \
    }

static const enc_row enc_rows[] = {
    /* rule 16, 19: one field each */
    E(data_only, ABSENT, ABSENT, ABSENT, S("x"), 0, 0, "data: x\n\n"),
    E(data_keeps_leading_space, ABSENT, ABSENT, ABSENT, S(" a"), 0, 0, "data:  a\n\n"),
    E(data_keeps_colon, ABSENT, ABSENT, ABSENT, S(":a: b"), 0, 0, "data: :a: b\n\n"),
    E(data_keeps_nul, ABSENT, ABSENT, ABSENT, S("a\000b"), 0, 0, "data: a\000b\n\n"),
    E(data_keeps_invalid_utf8, ABSENT, ABSENT, ABSENT, S("\xFF\xC3"), 0, 0, "data: \xFF\xC3\n\n"),
    E(empty_data_is_one_data_line, ABSENT, ABSENT, ABSENT, S(""), 0, 0, "data: \n\n"),
    E(type_and_data, ABSENT, S("tick"), ABSENT, S("x"), 0, 0, "event: tick\ndata: x\n\n"),
    E(empty_type_is_written, ABSENT, S(""), ABSENT, S("x"), 0, 0, "event: \ndata: x\n\n"),
    E(type_keeps_leading_space, ABSENT, S(" t"), ABSENT, S("x"), 0, 0, "event:  t\ndata: x\n\n"),
    E(type_keeps_nul, ABSENT, S("a\000b"), ABSENT, S("x"), 0, 0, "event: a\000b\ndata: x\n\n"),
    E(type_only_frame, ABSENT, S("t"), ABSENT, ABSENT, 0, 0, "event: t\n\n"),
    E(id_only_frame, ABSENT, ABSENT, S("5"), ABSENT, 0, 0, "id: 5\n\n"),
    E(empty_id_resets, ABSENT, ABSENT, S(""), ABSENT, 0, 0, "id: \n\n"),
    E(id_keeps_colon_and_spaces, ABSENT, ABSENT, S(" a:b "), ABSENT, 0, 0, "id:  a:b \n\n"),
    E(retry_only_frame, ABSENT, ABSENT, ABSENT, ABSENT, 1, 5000, "retry: 5000\n\n"),
    E(retry_zero, ABSENT, ABSENT, ABSENT, ABSENT, 1, 0, "retry: 0\n\n"),
    E(retry_max_u64, ABSENT, ABSENT, ABSENT, ABSENT, 1, UINT64_MAX,
      "retry: 18446744073709551615\n\n"),
    E(retry_not_written_without_has_retry, ABSENT, ABSENT, ABSENT, S("x"), 0, 77, "data: x\n\n"),
    E(comment_only_is_a_keep_alive_without_blank_line, S("hi"), ABSENT, ABSENT, ABSENT, 0, 0,
      ": hi\n"),
    E(empty_comment_is_one_comment_line, S(""), ABSENT, ABSENT, ABSENT, 0, 0, ": \n"),
    E(comment_split_at_lf_crlf_cr, S("a\nb\r\nc\rd"), ABSENT, ABSENT, ABSENT, 0, 0,
      ": a\n: b\n: c\n: d\n"),
    E(comment_trailing_newline_gives_empty_comment_line, S("a\n"), ABSENT, ABSENT, ABSENT, 0, 0,
      ": a\n: \n"),
    E(comment_keeps_leading_space, S(" a"), ABSENT, ABSENT, ABSENT, 0, 0, ":  a\n"),
    E(comment_and_data, S("c"), ABSENT, ABSENT, S("x"), 0, 0, ": c\ndata: x\n\n"),
    E(comment_and_retry_end_with_blank_line, S("c"), ABSENT, ABSENT, ABSENT, 1, 1,
      ": c\nretry: 1\n\n"),
    E(every_field_in_order, S("c"), S("t"), S("i"), S("d"), 1, 7,
      ": c\nevent: t\nid: i\nretry: 7\ndata: d\n\n"),
    /* sse.h does not say; writing nothing is harmless (a blank line would dispatch nothing) */
    E(empty_frame_writes_nothing, ABSENT, ABSENT, ABSENT, ABSENT, 0, 0, ""),
    /* rule 17: data split at CR, LF, CR LF */
    E(data_split_at_lf, ABSENT, ABSENT, ABSENT, S("a\nb"), 0, 0, "data: a\ndata: b\n\n"),
    E(data_split_at_cr, ABSENT, ABSENT, ABSENT, S("a\rb"), 0, 0, "data: a\ndata: b\n\n"),
    E(data_split_at_crlf, ABSENT, ABSENT, ABSENT, S("a\r\nb"), 0, 0, "data: a\ndata: b\n\n"),
    E(data_cr_cr_is_two_line_ends, ABSENT, ABSENT, ABSENT, S("a\r\rb"), 0, 0,
      "data: a\ndata: \ndata: b\n\n"),
    E(data_lf_cr_is_two_line_ends, ABSENT, ABSENT, ABSENT, S("a\n\rb"), 0, 0,
      "data: a\ndata: \ndata: b\n\n"),
    E(data_lf_lf_is_two_line_ends, ABSENT, ABSENT, ABSENT, S("a\n\nb"), 0, 0,
      "data: a\ndata: \ndata: b\n\n"),
    E(data_trailing_lf_gives_empty_last_line, ABSENT, ABSENT, ABSENT, S("a\n"), 0, 0,
      "data: a\ndata: \n\n"),
    E(data_trailing_crlf_gives_empty_last_line, ABSENT, ABSENT, ABSENT, S("a\r\n"), 0, 0,
      "data: a\ndata: \n\n"),
    E(data_trailing_cr_gives_empty_last_line, ABSENT, ABSENT, ABSENT, S("a\r"), 0, 0,
      "data: a\ndata: \n\n"),
    E(data_of_one_lf_is_two_empty_lines, ABSENT, ABSENT, ABSENT, S("\n"), 0, 0,
      "data: \ndata: \n\n"),
    E(data_leading_crlf, ABSENT, ABSENT, ABSENT, S("\r\nx"), 0, 0, "data: \ndata: x\n\n"),
    /* rule 18: refusals */
    BAD(type_with_lf_is_refused, ABSENT, S("a\nb"), ABSENT, S("x"), SSE_ERR_BAD_TYPE),
    BAD(type_with_cr_is_refused, ABSENT, S("a\rb"), ABSENT, S("x"), SSE_ERR_BAD_TYPE),
    BAD(type_ending_with_crlf_is_refused, ABSENT, S("a\r\n"), ABSENT, ABSENT, SSE_ERR_BAD_TYPE),
    BAD(type_refused_even_with_comment_first, S("c"), S("\n"), ABSENT, S("x"), SSE_ERR_BAD_TYPE),
    BAD(id_with_lf_is_refused, ABSENT, ABSENT, S("1\n2"), S("x"), SSE_ERR_BAD_ID),
    BAD(id_with_cr_is_refused, ABSENT, ABSENT, S("1\r"), ABSENT, SSE_ERR_BAD_ID),
    BAD(id_with_nul_is_refused, ABSENT, ABSENT, S("1\0002"), S("x"), SSE_ERR_BAD_ID),
    BAD(id_refused_even_with_good_type, S("c"), S("t"), S("\000"), S("x"), SSE_ERR_BAD_ID),
};

/* ---- the expected parse of a frame ---------------------------------------------------- */

/* Appends to log what parsing frame f (after a stream whose last id is *last) gives with
 * SSE_OPT_RAW | SSE_OPT_COMMENTS, and updates *last. */
static void frame_log(strbuf *log, const sse_frame *f, strbuf *last)
{
    if (f->comment) {
        size_t i = 0, start = 0;
        for (;;) {
            if (i == f->comment_len || f->comment[i] == '\r' || f->comment[i] == '\n') {
                sb_puts(log, "COMMENT d=");
                sb_escaped(log, f->comment + start, i - start);
                sb_puts(log, " id=");
                sb_escaped(log, sb_str(last), last->len);
                sb_puts(log, "\n");
                if (i == f->comment_len)
                    break;
                if (f->comment[i] == '\r' && i + 1 < f->comment_len && f->comment[i + 1] == '\n')
                    i++;
                start = ++i;
            } else {
                i++;
            }
        }
    }
    if (f->has_retry) {
        sb_printf(log, "RETRY %llu id=", (unsigned long long)f->retry);
        sb_escaped(log, sb_str(last), last->len);
        sb_puts(log, "\n");
    }
    if (f->id) {
        sb_reset(last);
        sb_add(last, f->id, f->id_len);
    }
    if (f->data) {
        strbuf d = { 0 };
        sb_add(&d, "", 0);
        for (size_t i = 0; i < f->data_len; i++) {
            char c = f->data[i];
            if (c == '\r') {
                if (i + 1 < f->data_len && f->data[i + 1] == '\n')
                    i++;
                c = '\n';
            }
            sb_add(&d, &c, 1);
        }
        sb_puts(log, "EVENT t=");
        if (f->type && f->type_len)
            sb_escaped(log, f->type, f->type_len);
        else
            sb_puts(log, "\"message\"");
        sb_puts(log, " d=");
        sb_escaped(log, d.s, d.len);
        sb_puts(log, " id=");
        sb_escaped(log, sb_str(last), last->len);
        sb_puts(log, f->id ? " f=I\n" : " f=-\n");
        sb_free(&d);
    }
}

static void end_log(strbuf *log, const strbuf *last, uint64_t retry)
{
    const char *t = sse_strerror(SSE_OK);
    sb_puts(log, "END ");
    sb_escaped(log, t, strlen(t));
    sb_puts(log, " last=");
    sb_escaped(log, sb_str(last), last->len);
    sb_printf(log, " retry=%llu\n", (unsigned long long)retry);
}

/* Parses in[0..n) with the given options, fed in chunks cut at the offsets in cuts. */
static void parse_log(strbuf *out, const void *in, size_t n, unsigned opt, const size_t *cuts,
                      size_t ncuts)
{
    static char storage[1 << 16];
    sse_parser p;
    recorder r;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, opt), SSE_OK);
    rec_init(&r, &p, opt);
    size_t from = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        if (to < from)
            to = from;
        if (to > n)
            to = n;
        assert_int_equal(sse_parser_feed(&p, (const char *)in + from, to - from, rec_cb, &r),
                         SSE_OK);
        from = to;
    }
    rec_end(&r, sse_parser_finish(&p, rec_cb, &r));
    sb_reset(out);
    sb_add(out, r.log.s, r.log.len);
    rec_free(&r);
}

static void expect_same(const char *what, const char *name, const strbuf *want, const strbuf *got)
{
    if (strcmp(sb_str(want), sb_str(got)) != 0) {
        print_error("%s %s:\n--- expected\n%s--- actual\n%s---\n", what, name, sb_str(want),
                    sb_str(got));
        fail();
    }
}

static void print_bytes(const char *label, const void *p, size_t n)
{
    strbuf b = { 0 };
    sb_escaped(&b, (const char *)p, n);
    print_error("%s (%zu bytes): %s\n", label, n, sb_str(&b));
    sb_free(&b);
}

/* ---- sse_encode rows ------------------------------------------------------------------ */

static void run_enc_row(void **state)
{
    const enc_row *r = (const enc_row *)*state;
    size_t need = r->want == SSE_OK ? r->out_len : 0;
    size_t bufsize = need + 64 + CANARY;
    unsigned char *buf = (unsigned char *)malloc(bufsize);
    assert_non_null(buf);
    size_t len;

    /* size query: out NULL, cap ignored */
    len = SENTINEL;
    assert_int_equal(sse_encode(NULL, 0, &r->f, &len), r->want);
    assert_int_equal(len, need);
    assert_true(need <= SSE_FRAME_MAX(r->f.comment_len, r->f.type_len, r->f.id_len, r->f.data_len));
    len = SENTINEL;
    assert_int_equal(sse_encode(NULL, 3, &r->f, &len), r->want);
    assert_int_equal(len, need);

    if (r->want != SSE_OK) {
        /* refused: nothing written, *len = 0, whatever the cap */
        size_t caps[] = { 0, 1, 5, 64 };
        for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            memset(buf, 0xA5, bufsize);
            len = SENTINEL;
            assert_int_equal(sse_encode(buf, caps[k], &r->f, &len), r->want);
            assert_int_equal(len, 0);
            for (size_t i = 0; i < bufsize; i++)
                assert_int_equal(buf[i], 0xA5);
        }
        free(buf);
        return;
    }

    /* exact and larger buffers */
    size_t caps[] = { need, need + 1, need + 64 };
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        memset(buf, 0xA5, bufsize);
        len = SENTINEL;
        assert_int_equal(sse_encode(buf, caps[k], &r->f, &len), SSE_OK);
        assert_int_equal(len, need);
        if (memcmp(buf, r->out, need) != 0) {
            print_bytes("expected", r->out, need);
            print_bytes("actual  ", buf, need);
            fail();
        }
        for (size_t i = caps[k]; i < bufsize; i++)
            assert_int_equal(buf[i], 0xA5);
    }

    /* every cap below the size needed */
    for (size_t cap = 0; cap < need; cap++) {
        memset(buf, 0xA5, bufsize);
        len = SENTINEL;
        assert_int_equal(sse_encode(buf, cap, &r->f, &len), SSE_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(len, need);
        for (size_t i = cap; i < bufsize; i++) {
            if (buf[i] != 0xA5) {
                print_error("cap %zu: byte %zu written\n", cap, i);
                fail();
            }
        }
    }

    /* round trip, whole and one byte at a time */
    strbuf want = { 0 }, got = { 0 }, last = { 0 };
    sb_add(&want, "", 0);
    sb_add(&last, "", 0);
    frame_log(&want, &r->f, &last);
    end_log(&want, &last, r->f.has_retry ? r->f.retry : SSE_RETRY_DEFAULT);
    parse_log(&got, r->out, need, SSE_OPT_RAW | SSE_OPT_COMMENTS, NULL, 0);
    expect_same("round trip of", r->name, &want, &got);
    size_t *cuts = (size_t *)malloc((need + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (size_t i = 0; i < need; i++)
        cuts[i] = i;
    parse_log(&got, r->out, need, SSE_OPT_RAW | SSE_OPT_COMMENTS, cuts, need);
    expect_same("round trip (one byte at a time) of", r->name, &want, &got);
    free(cuts);
    sb_free(&want);
    sb_free(&got);
    sb_free(&last);
    free(buf);
}

/* ---- adversarial round trips ---------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, the same sequence on every platform */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t rnd(size_t n)
{
    return (size_t)(rng() % n);
}

static const char hostile[] = { 'a',        'b',        ' ',        ':',        '\r',
                                '\n',       '\0',       '\t',       (char)0xFF, (char)0xC3,
                                (char)0xA9, (char)0xE2, (char)0x80, (char)0xEF, (char)0xBB,
                                (char)0xBF, 'd',        'i',        'e' };

/* Fills buf with up to max bytes of hostile text, leaving out the bytes in banned.
 * Returns the length, or (size_t)-1 for an absent field. */
static size_t gen_field(char *buf, size_t max, const char *banned, size_t nbanned)
{
    size_t pick = rnd(8);
    if (pick == 0)
        return (size_t)-1;
    if (pick == 1)
        return 0;
    size_t n = rnd(max + 1), i = 0;
    while (i < n) {
        char c = hostile[rnd(sizeof hostile)];
        if (nbanned && memchr(banned, c, nbanned))
            continue;
        buf[i++] = c;
    }
    return n;
}

typedef struct gen_frame {
    char comment[24], type[24], id[24], data[40];
    sse_frame f;
} gen_frame;

static void gen(gen_frame *g)
{
    memset(&g->f, 0, sizeof g->f);
    size_t n;
    if ((n = gen_field(g->comment, sizeof g->comment, NULL, 0)) != (size_t)-1 && rnd(3) == 0) {
        g->f.comment = g->comment;
        g->f.comment_len = n;
    }
    if ((n = gen_field(g->type, sizeof g->type, "\r\n", 2)) != (size_t)-1) {
        g->f.type = g->type;
        g->f.type_len = n;
    }
    if ((n = gen_field(g->id, sizeof g->id, "\r\n", 3)) != (size_t)-1) {
        g->f.id = g->id;
        g->f.id_len = n;
    }
    if ((n = gen_field(g->data, sizeof g->data, NULL, 0)) != (size_t)-1) {
        g->f.data = g->data;
        g->f.data_len = n;
    }
    if (rnd(4) == 0) {
        g->f.has_retry = 1;
        g->f.retry = rnd(2) ? rng() : rnd(100);
    }
}

static void random_frames_round_trip(void **state)
{
    (void)state;
    enum {
        FRAMES = 4000
    };
    strbuf stream = { 0 }, want_all = { 0 }, last_all = { 0 }, want = { 0 }, got = { 0 },
           last = { 0 };
    sb_add(&stream, "", 0);
    sb_add(&want_all, "", 0);
    sb_add(&last_all, "", 0);
    uint64_t retry_all = SSE_RETRY_DEFAULT;
    char out[512];
    for (int k = 0; k < FRAMES; k++) {
        gen_frame g;
        gen(&g);
        size_t need = SENTINEL, len = SENTINEL;
        assert_int_equal(sse_encode(NULL, 0, &g.f, &need), SSE_OK);
        assert_true(need <= sizeof out);
        assert_int_equal(sse_encode(out, sizeof out, &g.f, &len), SSE_OK);
        assert_int_equal(len, need);
        if (len > 0) {
            len = SENTINEL;
            assert_int_equal(sse_encode(out, need - 1, &g.f, &len), SSE_ERR_BUFFER_TOO_SMALL);
            assert_int_equal(len, need);
            assert_int_equal(sse_encode(out, sizeof out, &g.f, &len), SSE_OK);
        }
        /* alone, with a random split */
        sb_reset(&want);
        sb_reset(&last);
        sb_add(&last, "", 0);
        frame_log(&want, &g.f, &last);
        end_log(&want, &last, g.f.has_retry ? g.f.retry : SSE_RETRY_DEFAULT);
        size_t cut = rnd(len + 1);
        parse_log(&got, out, len, SSE_OPT_RAW | SSE_OPT_COMMENTS, &cut, 1);
        if (strcmp(sb_str(&want), sb_str(&got)) != 0) {
            print_error("frame %d:\n", k);
            print_bytes("encoded", out, len);
            expect_same("random frame", "", &want, &got);
        }
        /* and as part of one long stream */
        sb_add(&stream, out, len);
        frame_log(&want_all, &g.f, &last_all);
        if (g.f.has_retry)
            retry_all = g.f.retry;
    }
    end_log(&want_all, &last_all, retry_all);
    size_t cuts[64];
    for (size_t i = 0; i < 64; i++)
        cuts[i] = (stream.len / 64) * i + rnd(stream.len / 64 + 1);
    parse_log(&got, stream.s, stream.len, SSE_OPT_RAW | SSE_OPT_COMMENTS, cuts, 64);
    expect_same("random stream", "", &want_all, &got);
    sb_free(&stream);
    sb_free(&want_all);
    sb_free(&last_all);
    sb_free(&want);
    sb_free(&got);
    sb_free(&last);
}

/* Frames refused at random: a type with CR/LF or an id with CR/LF/NUL is never written. */
static void random_bad_frames_are_refused(void **state)
{
    (void)state;
    char out[512];
    for (int k = 0; k < 2000; k++) {
        gen_frame g;
        gen(&g);
        int bad_type = (int)rnd(2);
        const char *bad = bad_type ? "\r\n" : "\r\n\0";
        char c = bad[rnd(bad_type ? 2 : 3)];
        sse_error want = bad_type ? SSE_ERR_BAD_TYPE : SSE_ERR_BAD_ID;
        char *field = bad_type ? g.type : g.id;
        size_t *flen = bad_type ? &g.f.type_len : &g.f.id_len;
        if (bad_type) {
            g.f.type = g.type;
            if (g.f.type_len == 0)
                g.f.type_len = 1;
        } else {
            g.f.id = g.id;
            if (g.f.id_len == 0)
                g.f.id_len = 1;
            g.f.type = NULL; /* so the id's refusal is the only one */
        }
        field[rnd(*flen)] = c;
        memset(out, 0xA5, sizeof out);
        size_t len = SENTINEL;
        assert_int_equal(sse_encode(out, sizeof out, &g.f, &len), want);
        assert_int_equal(len, 0);
        for (size_t i = 0; i < sizeof out; i++)
            assert_int_equal((unsigned char)out[i], 0xA5);
    }
}

/* ---- the streaming writer ------------------------------------------------------------- */

/* Runs one writer call both as a size query and at every cap up to the size needed, then
 * appends its output to out. which: 0 begin, 1 data, 2 end, 3 fields. The size needed
 * must be within SSE_FRAME_MAX of the call's lengths. */
static void writer_step(sse_writer *w, int which, const sse_frame *f, const char *piece,
                        size_t piece_len, strbuf *out, const char *ctx)
{
    unsigned char buf[512 + CANARY];
    sse_writer snap = *w;
    size_t need = SENTINEL, len;
    sse_error e;
    size_t bound = f ? SSE_FRAME_MAX(f->comment_len, f->type_len, f->id_len, 0)
                     : SSE_FRAME_MAX(0, 0, 0, piece_len);
    switch (which) {
    case 0: e = sse_writer_begin(w, f, NULL, 0, &need); break;
    case 1: e = sse_writer_data(w, piece, piece_len, NULL, 0, &need); break;
    case 3: e = sse_writer_fields(w, f, NULL, 0, &need); break;
    default: e = sse_writer_end(w, NULL, 0, &need); break;
    }
    if (e != SSE_OK || need == SENTINEL || need > 512 || need > bound ||
        memcmp(&snap, w, sizeof snap) != 0) {
        print_error("%s: step %d size query: %s, need %zu, writer %s\n", ctx, which,
                    sse_strerror(e), need, memcmp(&snap, w, sizeof snap) ? "changed" : "same");
        fail();
    }
    for (size_t cap = 0; cap < need; cap++) {
        memset(buf, 0xA5, sizeof buf);
        len = SENTINEL;
        switch (which) {
        case 0: e = sse_writer_begin(w, f, buf, cap, &len); break;
        case 1: e = sse_writer_data(w, piece, piece_len, buf, cap, &len); break;
        case 3: e = sse_writer_fields(w, f, buf, cap, &len); break;
        default: e = sse_writer_end(w, buf, cap, &len); break;
        }
        int bad =
            e != SSE_ERR_BUFFER_TOO_SMALL || len != need || memcmp(&snap, w, sizeof snap) != 0;
        for (size_t i = cap; i < sizeof buf; i++)
            bad |= buf[i] != 0xA5;
        if (bad) {
            print_error("%s: step %d cap %zu of %zu: %s, len %zu, writer %s\n", ctx, which, cap,
                        need, sse_strerror(e), len,
                        memcmp(&snap, w, sizeof snap) ? "changed" : "same");
            fail();
        }
    }
    memset(buf, 0xA5, sizeof buf);
    len = SENTINEL;
    switch (which) {
    case 0: e = sse_writer_begin(w, f, buf, need, &len); break;
    case 1: e = sse_writer_data(w, piece, piece_len, buf, need, &len); break;
    case 3: e = sse_writer_fields(w, f, buf, need, &len); break;
    default: e = sse_writer_end(w, buf, need, &len); break;
    }
    if (e != SSE_OK || len != need || buf[need] != 0xA5) {
        print_error("%s: step %d with cap %zu: %s, len %zu\n", ctx, which, need, sse_strerror(e),
                    len);
        fail();
    }
    sb_add(out, buf, len);
}

static void expect_bytes(const char *ctx, const char *want, size_t want_len, const strbuf *got)
{
    if (got->len != want_len || memcmp(got->s, want, want_len) != 0) {
        print_error("%s\n", ctx);
        print_bytes("expected", want, want_len);
        print_bytes("actual  ", got->s, got->len);
        fail();
    }
}

static const char *const writer_data[] = {
    "a\r\nb", "\r\n",         "a\rb\nc\r\n\rd\n", "",       "\r",
    "\n\n",   "x\r\r\n\n\ry", "plain text",       "\r\r\r", "\n\r\n\r",
};

static void writer_equals_encode_for_every_split(void **state)
{
    (void)state;
    sse_frame frames[3];
    memset(frames, 0, sizeof frames);
    frames[1].comment = "c\nd";
    frames[1].comment_len = 3;
    frames[1].type = "t";
    frames[1].type_len = 1;
    frames[1].id = "42";
    frames[1].id_len = 2;
    frames[1].has_retry = 1;
    frames[1].retry = 1000;
    frames[2].id = "";
    frames[2].id_len = 0;
    strbuf got = { 0 };
    char want[512], ctx[256];
    for (size_t fi = 0; fi < 3; fi++) {
        for (size_t di = 0; di < sizeof writer_data / sizeof writer_data[0]; di++) {
            const char *d = writer_data[di];
            size_t n = strlen(d);
            sse_frame full = frames[fi];
            full.data = d;
            full.data_len = n;
            size_t want_len = SENTINEL;
            assert_int_equal(sse_encode(want, sizeof want, &full, &want_len), SSE_OK);
            /* no data call at all, then every split into one, two and three pieces */
            for (size_t a = 0; a <= n; a++) {
                for (size_t b = a; b <= n; b++) {
                    for (int pieces = 0; pieces <= 3; pieces++) {
                        if (pieces < 3 && b != a)
                            continue;
                        if (pieces < 2 && a != 0)
                            continue;
                        if (pieces == 0 && n != 0)
                            continue;
                        snprintf(ctx, sizeof ctx, "frame %zu data %zu, %d pieces at %zu,%zu", fi,
                                 di, pieces, a, b);
                        sse_writer w;
                        memset(&w, 0, sizeof w);
                        sb_reset(&got);
                        sb_add(&got, "", 0);
                        writer_step(&w, 0, &frames[fi], NULL, 0, &got, ctx);
                        if (pieces == 1)
                            writer_step(&w, 1, NULL, d, n, &got, ctx);
                        if (pieces == 2) {
                            writer_step(&w, 1, NULL, d, a, &got, ctx);
                            writer_step(&w, 1, NULL, d + a, n - a, &got, ctx);
                        }
                        if (pieces == 3) {
                            writer_step(&w, 1, NULL, d, a, &got, ctx);
                            writer_step(&w, 1, NULL, d + a, b - a, &got, ctx);
                            writer_step(&w, 1, NULL, d + b, n - b, &got, ctx);
                        }
                        writer_step(&w, 2, NULL, NULL, 0, &got, ctx);
                        expect_bytes(ctx, want, want_len, &got);
                    }
                }
            }
            /* one byte at a time, with empty NULL pieces between */
            snprintf(ctx, sizeof ctx, "frame %zu data %zu, one byte at a time", fi, di);
            sse_writer w;
            memset(&w, 0, sizeof w);
            sb_reset(&got);
            sb_add(&got, "", 0);
            writer_step(&w, 0, &frames[fi], NULL, 0, &got, ctx);
            for (size_t i = 0; i < n; i++) {
                writer_step(&w, 1, NULL, d + i, 1, &got, ctx);
                writer_step(&w, 1, NULL, NULL, 0, &got, ctx);
            }
            writer_step(&w, 2, NULL, NULL, 0, &got, ctx);
            expect_bytes(ctx, want, want_len, &got);
            /* the writer is ready for the next frame */
            writer_step(&w, 0, &frames[fi], NULL, 0, &got, ctx);
            writer_step(&w, 1, NULL, d, n, &got, ctx);
            writer_step(&w, 2, NULL, NULL, 0, &got, ctx);
            if (got.len != 2 * want_len || memcmp(got.s + want_len, want, want_len) != 0) {
                print_error("%s: second frame differs\n", ctx);
                fail();
            }
        }
    }
    sb_free(&got);
}

static void writer_begin_refuses_bad_type_and_id(void **state)
{
    (void)state;
    sse_writer w, snap;
    memset(&w, 0, sizeof w);
    snap = w;
    sse_frame f = { 0 };
    f.type = "a\nb";
    f.type_len = 3;
    char buf[64];
    memset(buf, 0xA5, sizeof buf);
    size_t len = SENTINEL;
    assert_int_equal(sse_writer_begin(&w, &f, buf, sizeof buf, &len), SSE_ERR_BAD_TYPE);
    assert_int_equal(len, 0);
    assert_memory_equal(&w, &snap, sizeof w);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal((unsigned char)buf[i], 0xA5);
    f.type = NULL;
    f.id = "1\0002";
    f.id_len = 3;
    len = SENTINEL;
    assert_int_equal(sse_writer_begin(&w, &f, buf, sizeof buf, &len), SSE_ERR_BAD_ID);
    assert_int_equal(len, 0);
    assert_memory_equal(&w, &snap, sizeof w);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal((unsigned char)buf[i], 0xA5);
}

/* A piece ending in CR then one starting with LF: one line ending, also when the call
 * carrying the LF first fails with BUFFER_TOO_SMALL. */
static void writer_cr_lf_across_pieces_after_retry(void **state)
{
    (void)state;
    sse_writer w;
    memset(&w, 0, sizeof w);
    sse_frame f = { 0 };
    char buf[64];
    strbuf got = { 0 };
    sb_add(&got, "", 0);
    size_t len;
    assert_int_equal(sse_writer_begin(&w, &f, buf, sizeof buf, &len), SSE_OK);
    sb_add(&got, buf, len);
    assert_int_equal(sse_writer_data(&w, "a\r", 2, buf, sizeof buf, &len), SSE_OK);
    sb_add(&got, buf, len);
    len = SENTINEL;
    assert_int_equal(sse_writer_data(&w, "\nb", 2, buf, 0, &len), SSE_ERR_BUFFER_TOO_SMALL);
    assert_true(len > 0 && len != SENTINEL);
    assert_int_equal(sse_writer_data(&w, "\nb", 2, buf, sizeof buf, &len), SSE_OK);
    sb_add(&got, buf, len);
    assert_int_equal(sse_writer_end(&w, buf, sizeof buf, &len), SSE_OK);
    sb_add(&got, buf, len);
    expect_bytes("a\\r | \\nb", "data: a\ndata: b\n\n", 17, &got);
    sb_free(&got);
}


/* ---- fields inside an open frame ------------------------------------------------------ */

#define W_BEGIN  0
#define W_DATA   1
#define W_END    2
#define W_FIELDS 3

/* The exact bytes: a comment among the data closes the open line, and the piece after
 * it continues the data with the line break that line end stands for; type and id come
 * after the data. */
static void writer_fields_inside_frame(void **state)
{
    (void)state;
    sse_writer w;
    memset(&w, 0, sizeof w);
    sse_frame empty = { 0 }, comment = { 0 }, tail = { 0 }, retry = { 0 };
    SSE_FIELD_STR(comment.comment, "c");
    SSE_FIELD_STR(tail.type, "late");
    SSE_FIELD_STR(tail.id, "2");
    retry.has_retry = 1;
    retry.retry = 5;
    strbuf got = { 0 };
    sb_add(&got, "", 0);
    writer_step(&w, W_BEGIN, &empty, NULL, 0, &got, "begin");
    writer_step(&w, W_DATA, NULL, "a", 1, &got, "a");
    writer_step(&w, W_FIELDS, &comment, NULL, 0, &got, "comment on an open line");
    writer_step(&w, W_FIELDS, &retry, NULL, 0, &got, "retry after it");
    writer_step(&w, W_DATA, NULL, "\nb\r", 3, &got, "\\nb\\r");
    writer_step(&w, W_FIELDS, &comment, NULL, 0, &got, "comment after a CR");
    writer_step(&w, W_DATA, NULL, "\nc\n", 3, &got, "\\nc\\n (the LF of the CR LF first)");
    writer_step(&w, W_FIELDS, &tail, NULL, 0, &got, "type and id at the end");
    writer_step(&w, W_END, NULL, NULL, 0, &got, "end");
    static const char want[] = "data: a\n: c\nretry: 5\ndata: b\n: c\ndata: c\nevent: late\n"
                               "id: 2\ndata: \n\n";
    expect_bytes("fields inside a frame", want, sizeof want - 1, &got);
    strbuf log = { 0 };
    parse_log(&log, got.s, got.len, SSE_OPT_COMMENTS, NULL, 0);
    expect_same("parse of", "fields inside a frame", &(strbuf){ .s = (char *)"COMMENT d=\"c\" id=\"\"\n"
                "RETRY 5 id=\"\"\nCOMMENT d=\"c\" id=\"\"\n"
                "EVENT t=\"late\" d=\"a\\nb\\nc\\n\" id=\"2\" f=I\n"
                "END \"success\" last=\"2\" retry=5\n" }, &log);
    sb_free(&log);
    sb_free(&got);
}

/* Refusals: begin on an open frame (issue 9: it glued "event: a" onto the data line),
 * fields or end with no frame, fields with data, a piece that does not start with a
 * line break after fields closed the line. Each leaves the writer and the buffer as
 * they were, with *len = 0. */
static void writer_refusals_leave_everything_unchanged(void **state)
{
    (void)state;
    sse_writer w, snap;
    sse_frame f = { 0 }, with_data = { 0 }, comment = { 0 };
    SSE_FIELD_STR(f.type, "a");
    SSE_FIELD_STR(with_data.data, "x");
    SSE_FIELD_STR(comment.comment, "c");
    char buf[64];
    size_t len;
    memset(&w, 0, sizeof w);
#define REFUSED(call, err)                                                                  \
    do {                                                                                     \
        snap = w;                                                                            \
        memset(buf, 0xA5, sizeof buf);                                                       \
        len = SENTINEL;                                                                      \
        assert_int_equal((call), (err));                                                     \
        assert_int_equal(len, 0);                                                            \
        assert_memory_equal(&w, &snap, sizeof w);                                            \
        for (size_t i = 0; i < sizeof buf; i++)                                              \
            assert_int_equal((unsigned char)buf[i], 0xA5);                                   \
    } while (0)
    REFUSED(sse_writer_fields(&w, &comment, buf, sizeof buf, &len), SSE_ERR_ARG);
    REFUSED(sse_writer_end(&w, buf, sizeof buf, &len), SSE_ERR_ARG);
    REFUSED(sse_writer_data(&w, "x", 1, buf, sizeof buf, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_begin(&w, &f, buf, sizeof buf, &len), SSE_OK);
    REFUSED(sse_writer_begin(&w, &f, buf, sizeof buf, &len), SSE_ERR_ARG);
    REFUSED(sse_writer_begin(&w, &f, NULL, 0, &len), SSE_ERR_ARG);
    REFUSED(sse_writer_fields(&w, &with_data, buf, sizeof buf, &len), SSE_ERR_ARG);
    REFUSED(sse_writer_fields(&w, NULL, buf, sizeof buf, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_data(&w, "ab", 2, buf, sizeof buf, &len), SSE_OK);
    assert_int_equal(sse_writer_fields(&w, &comment, buf, sizeof buf, &len), SSE_OK);
    REFUSED(sse_writer_data(&w, "x\n", 2, buf, sizeof buf, &len), SSE_ERR_ARG);
    REFUSED(sse_writer_data(&w, "x", 1, NULL, 0, &len), SSE_ERR_ARG);
    /* an empty piece is fine, and a piece that starts with the break */
    assert_int_equal(sse_writer_data(&w, NULL, 0, buf, sizeof buf, &len), SSE_OK);
    assert_int_equal(len, 0);
    assert_int_equal(sse_writer_data(&w, "\r\nx", 3, buf, sizeof buf, &len), SSE_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(buf, "data: x", 7);
    assert_int_equal(sse_writer_end(&w, buf, sizeof buf, &len), SSE_OK);
    REFUSED(sse_writer_end(&w, buf, sizeof buf, &len), SSE_ERR_ARG);
    /* to abandon a frame, zero the writer: begin works again */
    assert_int_equal(sse_writer_begin(&w, &f, buf, sizeof buf, &len), SSE_OK);
    memset(&w, 0, sizeof w);
    assert_int_equal(sse_writer_begin(&w, &f, buf, sizeof buf, &len), SSE_OK);
#undef REFUSED
}

/* SSE_FIELD_STR sets a field and its length together (issue 9: "f.data = \"abc\"" without
 * data_len wrote an empty data line); through a pointer too; NULL makes the field absent. */
static void field_str_sets_pointer_and_length(void **state)
{
    (void)state;
    sse_frame f, *fp = &f;
    const char *none = NULL;
    char out[64];
    size_t len;
    memset(&f, 0, sizeof f);
    SSE_FIELD_STR(f.data, "abc");
    SSE_FIELD_STR(fp->type, "t");
    SSE_FIELD_STR(f.comment, "");
    SSE_FIELD_STR(f.id, none);
    assert_int_equal(f.data_len, 3);
    assert_int_equal(f.type_len, 1);
    assert_non_null(f.comment);
    assert_int_equal(f.comment_len, 0);
    assert_null(f.id);
    assert_int_equal(f.id_len, 0);
    assert_int_equal(sse_encode(out, sizeof out, &f, &len), SSE_OK);
    assert_int_equal(len, 23);
    assert_memory_equal(out, ": \nevent: t\ndata: abc\n\n", 23);
}

/* ---- sizes: SSE_FRAME_MAX and SSE_ERR_TOO_LARGE --------------------------------------- */

/* The bound check runs before any byte of a field is read, so lengths near SIZE_MAX are
 * tested without memory behind them. A type (or id) starting with CR proves a frame got
 * past the check (SSE_ERR_BAD_TYPE: memchr stops at that first byte), one byte more
 * gives SSE_ERR_TOO_LARGE: the arithmetic is tested at its exact edge on any word size. */
static void frame_bound_edge(void **state)
{
    (void)state;
    static const char cr[] = "\r";
    size_t fixed = SSE_FRAME_MAX(0, 0, 0, 0), len;
    size_t d = (SIZE_MAX - fixed) / 7u, c = (SIZE_MAX - fixed) / 3u;
    sse_frame f;

    /* type alone: bound = type_len + fixed */
    memset(&f, 0, sizeof f);
    f.type = cr;
    f.type_len = SIZE_MAX - fixed;
    len = SENTINEL;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_BAD_TYPE);
    assert_int_equal(len, 0);
    f.type_len++;
    len = SENTINEL;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_TOO_LARGE);
    assert_int_equal(len, 0);
    f.type_len = SIZE_MAX;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_TOO_LARGE);

    /* id beside the largest data: 7 d + id_len + fixed (data is never reached) */
    memset(&f, 0, sizeof f);
    f.id = cr;
    f.data = cr;
    f.data_len = d;
    f.id_len = SIZE_MAX - fixed - 7u * d;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_BAD_ID);
    f.id_len++;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_TOO_LARGE);
    f.id_len = 0;
    f.data_len = d + 1; /* 7 (d + 1) alone is past the edge */
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_TOO_LARGE);

    /* comment: 3 c + type_len + fixed */
    memset(&f, 0, sizeof f);
    f.comment = cr;
    f.comment_len = c;
    f.type = cr;
    f.type_len = SIZE_MAX - fixed - 3u * c;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_BAD_TYPE);
    f.type_len++;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_TOO_LARGE);
    f.type_len = 0;
    f.comment_len = c + 1;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_TOO_LARGE);
    /* each term fits alone, the sum does not */
    f.comment_len = c / 2 + 1;
    f.data = cr;
    f.data_len = d / 2 + 1;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_ERR_TOO_LARGE);
    /* absent fields do not count, whatever their length says */
    memset(&f, 0, sizeof f);
    f.type_len = f.id_len = f.comment_len = f.data_len = SIZE_MAX;
    assert_int_equal(sse_encode(NULL, 0, &f, &len), SSE_OK);
    assert_int_equal(len, 0);

    /* the writer: the same check for each call, nothing written, w unchanged */
    sse_writer w, snap;
    sse_frame empty = { 0 };
    memset(&w, 0, sizeof w);
    memset(&f, 0, sizeof f);
    f.type = cr;
    f.type_len = SIZE_MAX - fixed + 1u;
    assert_int_equal(sse_writer_begin(&w, &f, NULL, 0, &len), SSE_ERR_TOO_LARGE);
    f.type_len--;
    assert_int_equal(sse_writer_begin(&w, &f, NULL, 0, &len), SSE_ERR_BAD_TYPE);
    char buf[64];
    assert_int_equal(sse_writer_begin(&w, &empty, buf, sizeof buf, &len), SSE_OK);
    snap = w;
    len = SENTINEL;
    assert_int_equal(sse_writer_data(&w, cr, d + 1, buf, sizeof buf, &len), SSE_ERR_TOO_LARGE);
    assert_int_equal(len, 0);
    assert_int_equal(sse_writer_data(&w, cr, SIZE_MAX, NULL, 0, &len), SSE_ERR_TOO_LARGE);
    f.type_len++;
    assert_int_equal(sse_writer_fields(&w, &f, NULL, 0, &len), SSE_ERR_TOO_LARGE);
    f.type_len--;
    assert_int_equal(sse_writer_fields(&w, &f, NULL, 0, &len), SSE_ERR_BAD_TYPE);
    assert_memory_equal(&w, &snap, sizeof w);
}

/* The one-line data frame takes its own path (vector copies of 16, 32 and 64 bytes with
 * overlapping tails): every length up to 3 x 64 + 8, with no line break and with a CR,
 * an LF or a CR LF at every offset, must give what the general rule gives (built here
 * byte by byte), at the exact size and one byte short (nothing written at or past cap).
 * The data ends its own allocation, so a read past it shows under ASan. */
static void data_line_every_length_and_break_offset(void **state)
{
    (void)state;
    enum {
        MAX_N = 3 * 64 + 8
    };
    static const char *const breaks[] = { NULL, "\n", "\r", "\r\n" };
    strbuf want = { 0 };
    unsigned char *out = (unsigned char *)malloc(7 * MAX_N + 16 + CANARY);
    assert_non_null(out);
    for (size_t n = 0; n <= MAX_N; n++) {
        char *data = (char *)malloc(n ? n : 1);
        assert_non_null(data);
        for (size_t b = 0; b < sizeof breaks / sizeof breaks[0]; b++) {
            size_t blen = breaks[b] ? strlen(breaks[b]) : 0;
            for (size_t at = 0; at + blen <= n && (breaks[b] || at == 0); at++) {
                for (size_t i = 0; i < n; i++) /* no CR or LF; NUL and bytes >= 0x80 too */
                    data[i] = (char)(i % 7 == 3 ? 0x80 + i % 100 : i % 11 == 5 ? 0 : 'a' + i % 26);
                if (blen)
                    memcpy(data + at, breaks[b], blen);
                sb_reset(&want);
                sb_add(&want, "data: ", 6);
                for (size_t i = 0; i < n; i++) {
                    if (data[i] == '\r' || data[i] == '\n') {
                        sb_add(&want, "\ndata: ", 7);
                        i += data[i] == '\r' && i + 1 < n && data[i + 1] == '\n';
                    } else {
                        sb_add(&want, data + i, 1);
                    }
                }
                sb_add(&want, "\n\n", 2);
                sse_frame f;
                memset(&f, 0, sizeof f);
                f.data = data;
                f.data_len = n;
                size_t caps[] = { want.len, want.len - 1 };
                for (size_t k = 0; k < 2; k++) {
                    size_t len = SENTINEL;
                    memset(out, 0xA5, want.len + CANARY);
                    sse_error err = sse_encode(out, caps[k], &f, &len);
                    if (err != (k ? SSE_ERR_BUFFER_TOO_SMALL : SSE_OK) || len != want.len ||
                        (k == 0 && memcmp(out, want.s, want.len) != 0)) {
                        print_error("n %zu, break %zu at %zu, cap %zu: %s, len %zu\n", n, b, at,
                                    caps[k], sse_strerror(err), len);
                        print_bytes("expected", want.s, want.len);
                        print_bytes("actual  ", out, want.len);
                        fail();
                    }
                    for (size_t i = caps[k]; i < want.len + CANARY; i++) {
                        if (out[i] != 0xA5) {
                            print_error("n %zu, break %zu at %zu, cap %zu: byte %zu written\n", n,
                                        b, at, caps[k], i);
                            fail();
                        }
                    }
                }
            }
        }
        free(data);
    }
    /* a data-only frame whose bound passes SIZE_MAX is refused before its data is read,
     * even when cap claims room for it */
    sse_frame f;
    size_t len = SENTINEL;
    memset(&f, 0, sizeof f);
    f.data = "x";
    f.data_len = (SIZE_MAX - SSE_FRAME_MAX(0, 0, 0, 0)) / 7u + 1u;
    memset(out, 0xA5, 8);
    assert_int_equal(sse_encode(out, SIZE_MAX, &f, &len), SSE_ERR_TOO_LARGE);
    assert_int_equal(len, 0);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(out[i], 0xA5);
    sb_free(&want);
    free(out);
}

/* SSE_FRAME_MAX is a constant expression (a static buffer can be sized with it) and
 * bounds the worst cases: every data byte a line break, every comment byte too. */
static char reserved[SSE_FRAME_MAX(8, 8, 8, 8)];

static void frame_max_bounds_worst_cases(void **state)
{
    (void)state;
    static const char lf[] = "\n\n\n\n\n\n\n\n", cr[] = "\r\r\r\r\r\r\r\r";
    sse_frame f = { 0 };
    size_t len;
    f.comment = lf;
    f.comment_len = 8;
    f.type = "tttttttt";
    f.type_len = 8;
    f.id = "iiiiiiii";
    f.id_len = 8;
    f.data = cr;
    f.data_len = 8;
    f.has_retry = 1;
    f.retry = UINT64_MAX;
    assert_int_equal(sse_encode(reserved, sizeof reserved, &f, &len), SSE_OK);
    assert_true(len <= sizeof reserved);
    /* a writer piece of line breaks only, after fields closed the line */
    sse_writer w;
    sse_frame empty = { 0 };
    memset(&w, 0, sizeof w);
    assert_int_equal(sse_writer_begin(&w, &empty, reserved, sizeof reserved, &len), SSE_OK);
    assert_int_equal(sse_writer_data(&w, lf, 8, reserved, SSE_FRAME_MAX(0, 0, 0, 8), &len), SSE_OK);
    assert_int_equal(len, 7u * 8u - 6u); /* "data: \n" for 7 lines, "\n" for the first */
    assert_int_equal(sse_writer_end(&w, reserved, SSE_FRAME_MAX(0, 0, 0, 0), &len), SSE_OK);
    assert_int_equal(len, 8);
}

/* ---- the relay path ------------------------------------------------------------------- */

/* What issue 9 asks a relay to do, with nothing but the library: the upstream parser in
 * piece mode with small storage, every record re-written through the writer (type and id
 * after the data, comments and retry where they came, id-only blocks as id frames). */
typedef struct relay {
    sse_writer w;
    strbuf out;
    int open;
} relay;

static void relay_put(relay *r, int which, const sse_frame *f, const char *piece, size_t n)
{
    char buf[SSE_FRAME_MAX(64, 64, 64, 256)];
    size_t len = SENTINEL;
    sse_error e;
    assert_true(n <= 256);
    switch (which) {
    case W_BEGIN: e = sse_writer_begin(&r->w, f, buf, sizeof buf, &len); break;
    case W_DATA: e = sse_writer_data(&r->w, piece, n, buf, sizeof buf, &len); break;
    case W_FIELDS: e = sse_writer_fields(&r->w, f, buf, sizeof buf, &len); break;
    case W_END: e = sse_writer_end(&r->w, buf, sizeof buf, &len); break;
    default: e = sse_encode(buf, sizeof buf, f, &len); break;
    }
    assert_int_equal(e, SSE_OK);
    sb_add(&r->out, buf, len);
}

static int relay_cb(void *user, const sse_event *ev)
{
    relay *r = (relay *)user;
    sse_frame f = { 0 };
    switch (ev->kind) {
    case SSE_KIND_EVENT:
        if (ev->flags & SSE_FLAG_FIRST) {
            relay_put(r, W_BEGIN, &f, NULL, 0);
            r->open = 1;
        }
        relay_put(r, W_DATA, NULL, ev->data, ev->data_len);
        if (ev->flags & SSE_FLAG_LAST) {
            f.type = ev->type;
            f.type_len = ev->type_len;
            if (ev->flags & SSE_FLAG_HAS_ID) {
                f.id = ev->id;
                f.id_len = ev->id_len;
            }
            relay_put(r, W_FIELDS, &f, NULL, 0);
            relay_put(r, W_END, NULL, NULL, 0);
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
        relay_put(r, -1, &f, NULL, 0);
        return 0;
    default: fail_msg("relay: unexpected record kind %d", (int)ev->kind); return 1;
    }
    relay_put(r, r->open ? W_FIELDS : -1, &f, NULL, 0);
    return 0;
}

static const char *const relay_streams[] = {
    "data: a\rdata: b\revent: late\rid: 2\r\r", /* issue 9: type and id after the data */
    "id: 5\n\ndata: x\n\nid\n\n",                /* id-only blocks, an empty one resets */
    "data: a\n: c1\nretry: 7\ndata: b\n: c2\n\n", /* comment and retry inside an event */
    "data\n: c\n\ndata:\n\ndata: \ndata\nevent\n\n", /* empty lines of data */
    "\xEF\xBB\xBFid: 1\r\ndata: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789\r\n"
    "data: second line, also longer than the relay's storage allows for one piece\r\n"
    "event: t\r\n: inside\r\nretry: 10\r\n\r\n",
    "event: t\n: before data\nid: 3\nretry: 1\ndata: x\n\nretry: 2\n\n: keep-alive\n",
    "data: \xFF\xC3 cut \xE2\x82 repaired\nid: a\0b\n\n", /* invalid UTF-8, a NUL id ignored */
    "data: tail without end\ndata: more",
};

/* Upstream's records (a plain parser) equal the records of the relay's output, for every
 * split of the upstream stream into two chunks and one byte at a time. */
static void relay_path_keeps_records_for_every_split(void **state)
{
    (void)state;
    const unsigned down_opt = SSE_OPT_COMMENTS | SSE_OPT_ID_RECORDS;
    const unsigned up_opt = down_opt | SSE_OPT_PIECES;
    strbuf want = { 0 }, got = { 0 };
    for (size_t si = 0; si < sizeof relay_streams / sizeof relay_streams[0]; si++) {
        const char *in = relay_streams[si];
        size_t n = strlen(in);
        if (si == 6)
            n = strlen(in) + 4; /* the NUL and "b\n\n" after it */
        parse_log(&want, in, n, down_opt, NULL, 0);
        for (size_t cut = 0; cut <= n + 1; cut++) {
            char storage[128]; /* F = 8: pieces of at most 96 bytes */
            sse_parser p;
            relay r;
            memset(&r, 0, sizeof r);
            sb_add(&r.out, "", 0);
            assert_int_equal(sse_parser_init(&p, storage, sizeof storage, up_opt), SSE_OK);
            if (cut <= n) {
                assert_int_equal(sse_parser_feed(&p, in, cut, relay_cb, &r), SSE_OK);
                assert_int_equal(sse_parser_feed(&p, in + cut, n - cut, relay_cb, &r), SSE_OK);
            } else {
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(sse_parser_feed(&p, in + i, 1, relay_cb, &r), SSE_OK);
            }
            sse_error fin = sse_parser_finish(&p, relay_cb, &r);
            assert_true(fin == SSE_OK || fin == SSE_ERR_TRUNCATED);
            /* a relay closes the downstream connection where upstream ended: */
            parse_log(&got, r.out.s, r.out.len, down_opt, NULL, 0);
            if (strcmp(sb_str(&want), sb_str(&got)) != 0) {
                print_error("stream %zu, cut %zu\n", si, cut);
                print_bytes("relayed", r.out.s, r.out.len);
                expect_same("relay of stream", "", &want, &got);
            }
            sb_free(&r.out);
        }
    }
    sb_free(&want);
    sb_free(&got);
}

static void http_headers_content(void **state)
{
    (void)state;
    assert_string_equal(SSE_HTTP_HEADERS, "Content-Type: text/event-stream\r\n"
                                          "Cache-Control: no-cache\r\n"
                                          "Connection: keep-alive\r\n");
    const char *h = SSE_HTTP_HEADERS;
    size_t n = strlen(h);
    assert_true(n >= 2 && h[n - 2] == '\r' && h[n - 1] == '\n');
    for (size_t i = 0; i < n; i++)
        if (h[i] == '\n')
            assert_true(i > 0 && h[i - 1] == '\r');
    /* the response head it makes is one a client accepts */
    const char *ct = strstr(h, "Content-Type: ") + 14;
    assert_int_equal(sse_check_response(200, ct, (size_t)(strchr(ct, '\n') - ct)), SSE_OK);
}

/* The rows, then the tests that are not rows; an array sized at compile time, so
 * cmocka_run_group_tests_name takes it as it is. */
#define NROWS (sizeof enc_rows / sizeof enc_rows[0])
static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(random_frames_round_trip),
        cmocka_unit_test(random_bad_frames_are_refused),
        cmocka_unit_test(writer_equals_encode_for_every_split),
        cmocka_unit_test(writer_begin_refuses_bad_type_and_id),
        cmocka_unit_test(writer_cr_lf_across_pieces_after_retry),
        cmocka_unit_test(writer_fields_inside_frame),
        cmocka_unit_test(writer_refusals_leave_everything_unchanged),
        cmocka_unit_test(field_str_sets_pointer_and_length),
        cmocka_unit_test(frame_bound_edge),
        cmocka_unit_test(data_line_every_length_and_break_offset),
        cmocka_unit_test(frame_max_bounds_worst_cases),
        cmocka_unit_test(relay_path_keeps_records_for_every_split),
        cmocka_unit_test(http_headers_content),
    };
#define NFIXED (sizeof fixed / sizeof fixed[0])
static struct CMUnitTest tests[NROWS + NFIXED];

int main(int argc, char **argv)
{
    size_t nt = 0;
    for (size_t i = 0; i < NROWS; i++) {
        tests[nt].name = enc_rows[i].name;
        tests[nt].test_func = run_enc_row;
        tests[nt].initial_state = (void *)(uintptr_t)&enc_rows[i];
        nt++;
    }
    for (size_t i = 0; i < NFIXED; i++)
        tests[nt++] = fixed[i];
    test_filter_from_args(argc, argv);
    return cmocka_run_group_tests_name("serializer", tests, NULL, NULL);
}
