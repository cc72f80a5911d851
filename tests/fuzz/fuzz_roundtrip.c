/*
 * fuzz_roundtrip - frame -> sse_encode -> parser gives back exactly the frame; the
 * streaming writer writes the same bytes as sse_encode.
 *
 * Input: byte 0 = which fields are present (bit 0 comment, 1 type, 2 id, 3 data, 4 retry)
 * and test switches; then for each present field in that order a length (1 byte; 2 bytes
 * for data) and its bytes (arbitrary: CR, LF, NUL, invalid UTF-8), 8 bytes of retry when
 * present; the rest chooses where the writer's data is cut.
 *
 * Expected: SSE_ERR_BAD_TYPE when the type holds CR or LF, SSE_ERR_BAD_ID when the id holds
 * CR, LF or NUL (either when both), nothing written. Otherwise parsing the frame with
 * SSE_OPT_RAW | SSE_OPT_COMMENTS yields, in order: one COMMENT per line of the comment,
 * the RETRY, the EVENT when data is present (data and comment lines split at CR, LF and
 * CR LF, joined with LF; type "message" when absent or empty; id as given, HAS_ID when
 * present), then finish returns SSE_OK and the last event ID is the frame's id (or "").
 * The same in piece mode (data joined), and without RAW when every field is valid UTF-8.
 * A relay's frame (type and id through sse_writer_fields after the data) parses to the
 * same records; every writer call stays within SSE_FRAME_MAX.
 */
#include "fuzz_common.h"

#define HAS_COMMENT 0x01u
#define HAS_TYPE    0x02u
#define HAS_ID      0x04u
#define HAS_DATA    0x08u
#define HAS_RETRY   0x10u
#define SW_SMALL    0x20u /* also try each writer call with a buffer one byte short */

/* A CR, LF or CR LF at s[i]: returns its length, 0 when none. */
static size_t eol_at(const char *s, size_t n, size_t i)
{
    if (s[i] == '\n') {
        return 1;
    }
    if (s[i] == '\r') {
        return (i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
    }
    return 0;
}

/* The WHATWG UTF-8 decoder's output for s[0..n), re-encoded: valid sequences as they are,
 * one U+FFFD (EF BF BD) per maximal ill-formed subpart. Written independently of sse.c. */
static void repair_utf8(fz_buf *out, const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned b = s[i], need = 0, lo = 0x80, hi = 0xBF, k;
        if (b < 0x80) {
            fz_put(out, s + i, 1);
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
        } else { /* C0, C1, F5..FF, or a stray continuation byte */
            fz_put(out, "\xEF\xBF\xBD", 3);
            i++;
            continue;
        }
        for (k = 1; k <= need && i + k < n; k++) {
            unsigned c = s[i + k];
            if (c < (k == 1 ? lo : 0x80u) || c > (k == 1 ? hi : 0xBFu)) {
                break;
            }
        }
        if (k > need) {
            fz_put(out, s + i, need + 1);
        } else {
            fz_put(out, "\xEF\xBF\xBD", 3); /* the lead and the k - 1 bytes that fitted */
        }
        i += k > need ? need + 1 : k;
    }
}

/* s split into lines at CR, LF and CR LF, each repaired when repair is set, joined with
 * LF: what the parser makes of the value lines of one field. */
static void lines(fz_buf *out, const char *s, size_t n, int repair)
{
    size_t i = 0, start = 0;
    out->len = 0;
    for (;;) {
        size_t e = i < n ? eol_at(s, n, i) : 1;
        if (!e) {
            i++;
            continue;
        }
        if (repair) {
            repair_utf8(out, (const unsigned char *)s + start, i - start);
        } else {
            fz_put(out, s + start, i - start);
        }
        if (i >= n) {
            return;
        }
        fz_put(out, "\n", 1);
        i += e;
        start = i;
    }
}

/* One COMMENT record per line of text (lines joined with LF). */
static void add_lines(fz_buf *expect, const fz_buf *text)
{
    size_t i, start = 0;
    for (i = 0; i <= text->len; i++) {
        if (i == text->len || text->p[i] == '\n') {
            fz_log(expect, SSE_KIND_COMMENT, 0, 0, SSE_OK, "", 0, text->p ? text->p + start : "",
                   i - start, "", 0);
            start = i + 1;
        }
    }
}

typedef struct rec {
    unsigned opts;
    fz_buf log;
    fz_buf piece;
} rec;

static int on_record(void *user, const sse_event *ev)
{
    rec *r = (rec *)user;
    const char *id = ev->id;
    size_t id_len = ev->id_len;
    if (ev->kind == SSE_KIND_RETRY || ev->kind == SSE_KIND_COMMENT) {
        id = ""; /* before the blank line: not compared */
        id_len = 0;
    }
    if ((r->opts & SSE_OPT_PIECES) && ev->kind == SSE_KIND_EVENT) {
        if (ev->flags & SSE_FLAG_FIRST) {
            r->piece.len = 0;
        }
        fz_put(&r->piece, ev->data, ev->data_len);
        if (ev->flags & SSE_FLAG_LAST) {
            fz_log(&r->log, ev->kind, ev->flags & SSE_FLAG_HAS_ID, 0, ev->error, ev->type,
                   ev->type_len, r->piece.p, r->piece.len, id, id_len);
        }
        return 0;
    }
    fz_log(&r->log, ev->kind, ev->kind == SSE_KIND_EVENT ? ev->flags & SSE_FLAG_HAS_ID : ev->flags,
           ev->retry, ev->error, ev->type, ev->type_len, ev->data, ev->data_len, id, id_len);
    return 0;
}

/* Parses out[0..n) and compares with the expected log. */
static void parse_check(const char *out, size_t n, unsigned opts, size_t cap, const fz_buf *expect,
                        const fz_buf *want_id, const sse_frame *f)
{
    rec r;
    sse_parser p;
    char *storage = (char *)fz_alloc(cap);
    size_t lid_len = 0;
    const char *lid;
    sse_error st;
    memset(&r, 0, sizeof r);
    r.opts = opts;
    FUZZ_CHECK(sse_parser_init(&p, storage, cap, opts) == SSE_OK);
    FUZZ_CHECK(sse_parser_feed(&p, out, n, on_record, &r) == SSE_OK);
    st = sse_parser_finish(&p, on_record, &r);
    lid = sse_parser_last_id(&p, &lid_len);
    if (st != SSE_OK || r.log.len != expect->len ||
        (r.log.len && memcmp(r.log.p, expect->p, r.log.len) != 0) || lid_len != want_id->len ||
        (lid_len && memcmp(lid, want_id->p, lid_len) != 0) ||
        (f->has_retry && sse_parser_retry(&p) != f->retry)) {
        fprintf(stderr, "fuzz_roundtrip: options %u, storage %zu, encoded ", opts, cap);
        fz_print(stderr, out, n);
        fprintf(stderr, "\n");
        fz_dump_log(stderr, "expected", expect);
        fz_dump_log(stderr, "parsed", &r.log);
        fprintf(stderr, "finish: %s; last id ", sse_strerror(st));
        fz_print(stderr, lid, lid_len);
        fprintf(stderr, "\n");
        FUZZ_CHECK(!"parsing the encoded frame does not give the frame back");
    }
    fz_free(&r.log);
    fz_free(&r.piece);
    free(storage);
}

/* Calls the writer (size query, optional short buffer, exact buffer) and appends the
 * bytes to out. which: 0 begin, 1 data, 2 end, 3 fields. Every size is within
 * SSE_FRAME_MAX of the call's lengths. */
static void writer_step(sse_writer *w, int which, const sse_frame *f, const char *piece,
                        size_t piece_len, int small, fz_buf *out)
{
    size_t need = 12345, len = 12345;
    char *buf;
    sse_error st;
    st = which == 0   ? sse_writer_begin(w, f, NULL, 0, &need)
         : which == 1 ? sse_writer_data(w, piece, piece_len, NULL, 0, &need)
         : which == 3 ? sse_writer_fields(w, f, NULL, 0, &need)
                      : sse_writer_end(w, NULL, 0, &need);
    FUZZ_CHECK(st == SSE_OK);
    FUZZ_CHECK(need <= (f ? SSE_FRAME_MAX(f->comment ? f->comment_len : 0,
                                          f->type ? f->type_len : 0, f->id ? f->id_len : 0, 0)
                          : SSE_FRAME_MAX(0, 0, 0, piece_len)));
    if (small && need > 0) { /* too small: the size needed, the writer unchanged */
        buf = (char *)fz_alloc(need - 1);
        st = which == 0   ? sse_writer_begin(w, f, buf, need - 1, &len)
             : which == 1 ? sse_writer_data(w, piece, piece_len, buf, need - 1, &len)
             : which == 3 ? sse_writer_fields(w, f, buf, need - 1, &len)
                          : sse_writer_end(w, buf, need - 1, &len);
        FUZZ_CHECK(st == SSE_ERR_BUFFER_TOO_SMALL && len == need);
        free(buf);
    }
    buf = (char *)fz_alloc(need);
    st = which == 0   ? sse_writer_begin(w, f, buf, need, &len)
         : which == 1 ? sse_writer_data(w, piece, piece_len, buf, need, &len)
         : which == 3 ? sse_writer_fields(w, f, buf, need, &len)
                      : sse_writer_end(w, buf, need, &len);
    FUZZ_CHECK(st == SSE_OK && len == need);
    fz_put(out, buf, len);
    free(buf);
}

/* The frame as a relay writes it: begin with the comment and retry, the data in one
 * piece, then sse_writer_fields with the type and id, then end. Parses to the same
 * records as sse_encode's frame. */
static void trailing_fields(const sse_frame *f, unsigned opts, size_t cap, const fz_buf *expect,
                            const fz_buf *want_id)
{
    sse_writer w;
    sse_frame head = *f, tail;
    fz_buf out = { NULL, 0, 0 };
    memset(&w, 0, sizeof w);
    memset(&tail, 0, sizeof tail);
    head.type = NULL;
    head.id = NULL;
    head.data = NULL;
    tail.type = f->type;
    tail.type_len = f->type_len;
    tail.id = f->id;
    tail.id_len = f->id_len;
    writer_step(&w, 0, &head, NULL, 0, 0, &out);
    writer_step(&w, 1, NULL, f->data, f->data_len, 0, &out);
    writer_step(&w, 3, &tail, NULL, 0, 0, &out);
    writer_step(&w, 2, NULL, NULL, 0, 0, &out);
    parse_check(out.p ? out.p : "", out.len, opts, cap, expect, want_id, f);
    fz_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    fz_in in;
    sse_frame f;
    unsigned sw;
    size_t n, len = 12345, need = 12345, i;
    const uint8_t *b;
    char *out;
    sse_error st, want_type, want_id;
    fz_buf expect = { NULL, 0, 0 }, norm = { NULL, 0, 0 }, wout = { NULL, 0, 0 };
    int repair;

    in.p = input;
    in.n = size;
    sw = fz_u8(&in);
    memset(&f, 0, sizeof f);
    if (sw & HAS_COMMENT) {
        b = fz_bytes(&in, fz_u8(&in), &n);
        f.comment = (const char *)b;
        f.comment_len = n;
    }
    if (sw & HAS_TYPE) {
        b = fz_bytes(&in, fz_u8(&in), &n);
        f.type = (const char *)b;
        f.type_len = n;
    }
    if (sw & HAS_ID) {
        b = fz_bytes(&in, fz_u8(&in), &n);
        f.id = (const char *)b;
        f.id_len = n;
    }
    if (sw & HAS_DATA) {
        size_t want = fz_u8(&in);
        want |= (size_t)fz_u8(&in) << 8;
        b = fz_bytes(&in, want, &n);
        f.data = (const char *)b;
        f.data_len = n;
    }
    if (sw & HAS_RETRY) {
        f.has_retry = 1;
        for (i = 0; i < 8; i++) {
            f.retry = f.retry << 8 | fz_u8(&in);
        }
    }
    /* a present field with length 0 may sit at the very end: keep its pointer valid */
    if (f.comment && !f.comment_len) {
        f.comment = "";
    }
    if (f.type && !f.type_len) {
        f.type = "";
    }
    if (f.id && !f.id_len) {
        f.id = "";
    }
    if (f.data && !f.data_len) {
        f.data = "";
    }

    want_type = f.type && (memchr(f.type, '\r', f.type_len) || memchr(f.type, '\n', f.type_len))
                    ? SSE_ERR_BAD_TYPE
                    : SSE_OK;
    want_id = f.id && (memchr(f.id, '\r', f.id_len) || memchr(f.id, '\n', f.id_len) ||
                       memchr(f.id, '\0', f.id_len))
                  ? SSE_ERR_BAD_ID
                  : SSE_OK;

    st = sse_encode(NULL, 0, &f, &need);
    if (want_type != SSE_OK || want_id != SSE_OK) {
        sse_writer w;
        sse_frame head = f;
        FUZZ_CHECK(st == want_type || st == want_id);
        FUZZ_CHECK(need == 0);
        out = (char *)fz_alloc(64);
        len = 12345;
        FUZZ_CHECK(sse_encode(out, 64, &f, &len) == st && len == 0);
        head.data = NULL;
        head.data_len = 0;
        len = 12345;
        memset(&w, 0, sizeof w);
        st = sse_writer_begin(&w, &head, out, 64, &len);
        FUZZ_CHECK((st == want_type || st == want_id) && len == 0);
        /* the same fields inside an open frame (a relay's trailing fields): refused alike */
        {
            sse_frame none;
            memset(&none, 0, sizeof none);
            FUZZ_CHECK(sse_writer_begin(&w, &none, out, 64, &len) == SSE_OK);
            len = 12345;
            st = sse_writer_fields(&w, &head, out, 64, &len);
            FUZZ_CHECK((st == want_type || st == want_id) && len == 0);
        }
        free(out);
        return 0;
    }
    FUZZ_CHECK(st == SSE_OK);

    /* exactly sized, and one byte short */
    out = (char *)fz_alloc(need);
    FUZZ_CHECK(sse_encode(out, need, &f, &len) == SSE_OK && len == need);
    if (need > 0) {
        char *small = (char *)fz_alloc(need - 1);
        len = 12345;
        FUZZ_CHECK(sse_encode(small, need - 1, &f, &len) == SSE_ERR_BUFFER_TOO_SMALL);
        FUZZ_CHECK(len == need);
        free(small);
    }

    /* what the parser must give back: raw bytes, and UTF-8 repaired as WHATWG does */
    for (repair = 0; repair < 2; repair++) {
        fz_buf lid = { NULL, 0, 0 };
        size_t cap, field = 0, text;
        expect.len = 0;
        if (f.comment) {
            lines(&norm, f.comment, f.comment_len, repair);
            text = norm.len;
            add_lines(&expect, &norm);
        } else {
            text = 0;
        }
        if (f.has_retry) {
            fz_log(&expect, SSE_KIND_RETRY, 0, f.retry, SSE_OK, "", 0, "", 0, "", 0);
        }
        if (f.id) {
            lines(&lid, f.id, f.id_len, repair);
            field = lid.len;
        }
        if (f.data) {
            fz_buf type = { NULL, 0, 0 };
            if (f.type) {
                lines(&type, f.type, f.type_len, repair);
            }
            if (type.len > field) {
                field = type.len;
            }
            lines(&norm, f.data, f.data_len, repair);
            if (norm.len > text) {
                text = norm.len;
            }
            fz_log(&expect, SSE_KIND_EVENT, f.id ? SSE_FLAG_HAS_ID : 0u, 0, SSE_OK,
                   type.len ? type.p : "message", type.len ? type.len : 7, norm.p ? norm.p : "",
                   norm.len, lid.p ? lid.p : "", lid.len);
            fz_free(&type);
        }
        /* storage: F - 1 >= type and id, CAP - 4F - 1 >= data and comment lines */
        cap = 16 * (field + 1);
        if (cap < 2 * text + 64) {
            cap = 2 * text + 64;
        }
        if (!repair) {
            parse_check(out, len, SSE_OPT_RAW | SSE_OPT_COMMENTS, cap, &expect, &lid, &f);
            if (f.data) { /* a relay's frame: type and id after the data, same records */
                trailing_fields(&f, SSE_OPT_RAW | SSE_OPT_COMMENTS, cap, &expect, &lid);
            }
            parse_check(out, len, SSE_OPT_RAW | SSE_OPT_COMMENTS | SSE_OPT_PIECES, cap, &expect,
                        &lid, &f);
        } else {
            parse_check(out, len, SSE_OPT_COMMENTS, cap, &expect, &lid, &f);
            parse_check(out, len, SSE_OPT_COMMENTS | SSE_OPT_PIECES, cap, &expect, &lid, &f);
        }
        fz_free(&lid);
    }

    /* the streaming writer: begin, the data cut where the input says, end */
    {
        sse_writer w;
        sse_frame head = f, full = f;
        const char *d = f.data ? f.data : "";
        size_t dn = f.data ? f.data_len : 0, at = 0;
        char *ref;
        size_t ref_len = 0;
        int small = (sw & SW_SMALL) != 0;
        head.data = NULL;
        head.data_len = 0;
        full.data = d;
        full.data_len = dn;
        FUZZ_CHECK(sse_encode(NULL, 0, &full, &ref_len) == SSE_OK);
        ref = (char *)fz_alloc(ref_len);
        FUZZ_CHECK(sse_encode(ref, ref_len, &full, &ref_len) == SSE_OK);

        memset(&w, 0, sizeof w); /* sse.h: a writer starts zeroed */
        writer_step(&w, 0, &head, NULL, 0, small, &wout);
        while (at < dn) {
            size_t k;
            char *piece;
            if (in.n == 0) {
                k = dn - at; /* input used up: the rest in one piece */
            } else {
                k = fz_u8(&in) % 64u; /* 0: an empty piece, NULL pointer */
            }
            if (k > dn - at) {
                k = dn - at;
            }
            if (k == 0) {
                writer_step(&w, 1, NULL, NULL, 0, small, &wout);
                continue;
            }
            piece = (char *)fz_dup(d + at, k);
            writer_step(&w, 1, NULL, piece, k, small, &wout);
            free(piece);
            at += k;
        }
        writer_step(&w, 2, NULL, NULL, 0, small, &wout);
        if (wout.len != ref_len || memcmp(wout.p, ref, ref_len) != 0) {
            fprintf(stderr, "fuzz_roundtrip: writer ");
            fz_print(stderr, wout.p, wout.len);
            fprintf(stderr, "\n        encode ");
            fz_print(stderr, ref, ref_len);
            fprintf(stderr, "\n");
            FUZZ_CHECK(!"writer and sse_encode differ");
        }
        /* ended: the writer is idle, data needs a new begin */
        len = 12345;
        FUZZ_CHECK(sse_writer_data(&w, "x", 1, NULL, 0, &len) == SSE_ERR_ARG);
        free(ref);
    }

    free(out);
    fz_free(&expect);
    fz_free(&norm);
    fz_free(&wout);
    return 0;
}
