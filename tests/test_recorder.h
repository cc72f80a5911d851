/*
 * test_recorder.h - the recorder shared by the parser and serializer tests.
 *
 * A recorder is the user pointer of sse_parser_feed/finish. Its callback writes one text
 * line per record, so a whole stream is compared as one string:
 *
 *   EVENT t="<type>" d="<data>" id="<id>" f=<I or ->
 *   RETRY <ms> id="<id>"
 *   COMMENT d="<text>" id="<id>"
 *   DROPPED "<sse_strerror(error)>" id="<id>" f=<I or ->
 *   ID id="<id>"
 *   END "<sse_strerror(finish status)>" last="<sse_parser_last_id>" retry=<sse_parser_retry>
 *
 * Bytes are escaped: \\ \" \n \r \t \0, the UTF-8 of U+FFFD as \uFFFD, any other byte
 * outside 0x20..0x7e as \xhh. f=I means SSE_FLAG_HAS_ID. FIRST and LAST are checked, not
 * printed: outside piece mode every EVENT must carry both; in piece mode the pieces are
 * joined and one EVENT line is printed at the LAST piece, so a row's expected log is the
 * same in both modes and piece boundaries never show. A record that breaks the header's
 * contract (type or id not NUL-terminated, id holding NUL, id differing from
 * sse_parser_last_id(), a field that must be ""/0 not being so, a piece out of order)
 * gets " !<what>" appended to its line, so it shows in the diff.
 *
 * test_filter_from_args() gives each test program a command-line filter (cmocka only).
 *
 * Expected logs are written with two shorthands, expanded by expand():
 *   %NAME%      "<sse_strerror(SSE_ERR_NAME)>" (NAME: OK, TRUNCATED, DATA_TOO_LONG, ...)
 *   [[N*text]]  text repeated N times (also usable in inputs)
 */
#ifndef TEST_RECORDER_H
#define TEST_RECORDER_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf;

static inline void sb_grow(strbuf *b, size_t more)
{
    if (b->len + more + 1 > b->cap) {
        size_t n = b->cap ? b->cap : 256;
        while (b->len + more + 1 > n)
            n *= 2;
        char *s = (char *)realloc(b->s, n);
        if (!s) {
            fprintf(stderr, "out of memory\n");
            abort();
        }
        b->s = s;
        b->cap = n;
    }
}

static inline void sb_add(strbuf *b, const void *p, size_t n)
{
    sb_grow(b, n);
    if (n)
        memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static inline void sb_puts(strbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static inline void sb_printf(strbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if ((size_t)n >= sizeof tmp) {
        sb_grow(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
    } else {
        sb_add(b, tmp, (size_t)n);
    }
}

static inline void sb_reset(strbuf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

static inline void sb_free(strbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static inline const char *sb_str(const strbuf *b)
{
    return b->s ? b->s : "";
}

/* Appends p[0..n) quoted and escaped. */
static inline void sb_escaped(strbuf *b, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    sb_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        if (c == 0xEF && i + 2 < n && u[i + 1] == 0xBF && u[i + 2] == 0xBD) {
            sb_puts(b, "\\uFFFD");
            i += 2;
        } else if (c == '\\') {
            sb_puts(b, "\\\\");
        } else if (c == '"') {
            sb_puts(b, "\\\"");
        } else if (c == '\n') {
            sb_puts(b, "\\n");
        } else if (c == '\r') {
            sb_puts(b, "\\r");
        } else if (c == '\t') {
            sb_puts(b, "\\t");
        } else if (c == 0) {
            sb_puts(b, "\\0");
        } else if (c < 0x20 || c > 0x7e) {
            sb_printf(b, "\\x%02x", (unsigned)c);
        } else {
            sb_add(b, &c, 1);
        }
    }
    sb_add(b, "\"", 1);
}

static inline const char *err_name_to_text(const char *name, size_t n)
{
    static const struct {
        const char *name;
        sse_error err;
    } names[] = {
        { "OK", SSE_OK },
        { "ARG", SSE_ERR_ARG },
        { "STOPPED", SSE_ERR_STOPPED },
        { "BUSY", SSE_ERR_BUSY },
        { "DATA_TOO_LONG", SSE_ERR_DATA_TOO_LONG },
        { "TYPE_TOO_LONG", SSE_ERR_TYPE_TOO_LONG },
        { "ID_TOO_LONG", SSE_ERR_ID_TOO_LONG },
        { "COMMENT_TOO_LONG", SSE_ERR_COMMENT_TOO_LONG },
        { "TRUNCATED", SSE_ERR_TRUNCATED },
        { "BUFFER_TOO_SMALL", SSE_ERR_BUFFER_TOO_SMALL },
        { "BAD_TYPE", SSE_ERR_BAD_TYPE },
        { "BAD_ID", SSE_ERR_BAD_ID },
        { "TOO_LARGE", SSE_ERR_TOO_LARGE },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && memcmp(names[i].name, name, n) == 0)
            return sse_strerror(names[i].err);
    return NULL;
}

/* Expands %NAME% (only when errors is non-zero) and [[N*text]] in src[0..n) into out. */
static inline void expand(strbuf *out, const char *src, size_t n, int errors)
{
    sb_reset(out);
    sb_add(out, "", 0);
    size_t i = 0;
    while (i < n) {
        if (errors && src[i] == '%') {
            const char *end = (const char *)memchr(src + i + 1, '%', n - i - 1);
            const char *text =
                end ? err_name_to_text(src + i + 1, (size_t)(end - src) - i - 1) : NULL;
            if (text) {
                sb_escaped(out, text, strlen(text));
                i = (size_t)(end - src) + 1;
                continue;
            }
        }
        if (src[i] == '[' && i + 1 < n && src[i + 1] == '[') {
            size_t j = i + 2, count = 0;
            while (j < n && src[j] >= '0' && src[j] <= '9')
                count = count * 10 + (size_t)(src[j++] - '0');
            if (j < n && src[j] == '*') {
                size_t k = j + 1;
                while (k + 1 < n && !(src[k] == ']' && src[k + 1] == ']'))
                    k++;
                if (k + 1 < n) {
                    for (size_t r = 0; r < count; r++)
                        sb_add(out, src + j + 1, k - j - 1);
                    i = k + 2;
                    continue;
                }
            }
        }
        sb_add(out, src + i, 1);
        i++;
    }
}

/* The recorder. */
typedef struct recorder {
    strbuf log;
    const sse_parser *p;
    unsigned options;
    long stop_at; /* return non-zero from the record with this 1-based number; 0: never */
    long records;
    /* piece mode: the event being assembled */
    int open;
    strbuf piece;
    long pieces;
} recorder;

static inline void rec_init(recorder *r, const sse_parser *p, unsigned options)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->options = options;
    sb_add(&r->log, "", 0);
    sb_add(&r->piece, "", 0);
}

static inline void rec_free(recorder *r)
{
    sb_free(&r->log);
    sb_free(&r->piece);
}

static inline void rec_flags(strbuf *b, unsigned flags)
{
    sb_puts(b, (flags & SSE_FLAG_HAS_ID) ? " f=I" : " f=-");
}

static inline void rec_check_id(recorder *r, const sse_event *ev)
{
    size_t n = (size_t)-1;
    const char *id = sse_parser_last_id(r->p, &n);
    if (id == NULL || n != strlen(id) || n != ev->id_len || memcmp(id, ev->id, n) != 0)
        sb_puts(&r->log, " !id-differs-from-sse_parser_last_id");
}

static inline int rec_cb(void *user, const sse_event *ev)
{
    recorder *r = (recorder *)user;
    strbuf *b = &r->log;
    int pieces = (r->options & SSE_OPT_PIECES) != 0;
    r->records++;
    if (ev == NULL) {
        sb_puts(b, "NULL-RECORD\n");
        return 0;
    }
    if (ev->type == NULL || ev->id == NULL || (ev->data == NULL && ev->data_len != 0)) {
        sb_puts(b, "RECORD-WITH-NULL-POINTER\n");
        return 0;
    }
    switch (ev->kind) {
    case SSE_KIND_EVENT: {
        int last = (ev->flags & SSE_FLAG_LAST) != 0;
        if (pieces) {
            const char *note = NULL;
            if (!r->open && !(ev->flags & SSE_FLAG_FIRST))
                note = " !piece-without-FIRST";
            else if (r->open && (ev->flags & SSE_FLAG_FIRST))
                note = " !FIRST-while-event-open";
            if (!r->open) {
                sb_reset(&r->piece);
                r->open = 1;
            }
            sb_add(&r->piece, ev->data, ev->data_len);
            r->pieces++;
            if (note) {
                sb_puts(b, "PIECE");
                sb_puts(b, note);
                sb_puts(b, "\n");
            }
            if (!last)
                break;
            r->open = 0;
        }
        sb_puts(b, "EVENT t=");
        sb_escaped(b, ev->type, ev->type_len);
        sb_puts(b, " d=");
        if (pieces)
            sb_escaped(b, r->piece.s, r->piece.len);
        else
            sb_escaped(b, ev->data, ev->data_len);
        sb_puts(b, " id=");
        sb_escaped(b, ev->id, ev->id_len);
        rec_flags(b, ev->flags);
        if (!pieces &&
            (ev->flags & (SSE_FLAG_FIRST | SSE_FLAG_LAST)) != (SSE_FLAG_FIRST | SSE_FLAG_LAST))
            sb_puts(b, " !not-FIRST|LAST");
        if (ev->flags & ~(SSE_FLAG_HAS_ID | SSE_FLAG_FIRST | SSE_FLAG_LAST))
            sb_puts(b, " !unknown-flag");
        if (ev->type[ev->type_len] != '\0')
            sb_puts(b, " !type-not-NUL-terminated");
        if (ev->retry != 0 || ev->error != SSE_OK)
            sb_puts(b, " !retry-or-error-set");
        break;
    }
    case SSE_KIND_RETRY:
        sb_printf(b, "RETRY %llu id=", (unsigned long long)ev->retry);
        sb_escaped(b, ev->id, ev->id_len);
        if (ev->type_len != 0 || ev->type[0] != '\0' || ev->data_len != 0 || ev->flags != 0 ||
            ev->error != SSE_OK)
            sb_puts(b, " !unlisted-field-set");
        break;
    case SSE_KIND_COMMENT:
        sb_puts(b, "COMMENT d=");
        sb_escaped(b, ev->data, ev->data_len);
        sb_puts(b, " id=");
        sb_escaped(b, ev->id, ev->id_len);
        if (ev->type_len != 0 || ev->type[0] != '\0' || ev->flags != 0 || ev->retry != 0 ||
            ev->error != SSE_OK)
            sb_puts(b, " !unlisted-field-set");
        if (!(r->options & SSE_OPT_COMMENTS))
            sb_puts(b, " !comment-without-SSE_OPT_COMMENTS");
        break;
    case SSE_KIND_DROPPED:
        if (pieces && r->open) {
            if (!(ev->flags & SSE_FLAG_LAST))
                sb_puts(b, "PIECE !DROPPED-in-open-event-without-LAST\n");
            r->open = 0;
        }
        sb_puts(b, "DROPPED ");
        {
            const char *t = sse_strerror(ev->error);
            sb_escaped(b, t ? t : "(null)", t ? strlen(t) : 6);
        }
        sb_puts(b, " id=");
        sb_escaped(b, ev->id, ev->id_len);
        rec_flags(b, ev->flags);
        if (ev->type_len != 0 || ev->data_len != 0 || ev->retry != 0)
            sb_puts(b, " !unlisted-field-set");
        if (ev->error != SSE_ERR_DATA_TOO_LONG && ev->error != SSE_ERR_TYPE_TOO_LONG &&
            ev->error != SSE_ERR_ID_TOO_LONG && ev->error != SSE_ERR_COMMENT_TOO_LONG)
            sb_puts(b, " !not-a-limit-error");
        break;
    case SSE_KIND_ID:
        sb_puts(b, "ID id=");
        sb_escaped(b, ev->id, ev->id_len);
        if (ev->type_len != 0 || ev->type[0] != '\0' || ev->data_len != 0 ||
            ev->flags != SSE_FLAG_HAS_ID || ev->retry != 0 || ev->error != SSE_OK)
            sb_puts(b, " !unlisted-field-set");
        if (!(r->options & SSE_OPT_ID_RECORDS))
            sb_puts(b, " !id-record-without-SSE_OPT_ID_RECORDS");
        break;
    default: sb_printf(b, "UNKNOWN-KIND %d", (int)ev->kind); break;
    }
    if (!(pieces && ev->kind == SSE_KIND_EVENT && !(ev->flags & SSE_FLAG_LAST))) {
        if (ev->id[ev->id_len] != '\0')
            sb_puts(b, " !id-not-NUL-terminated");
        if (memchr(ev->id, '\0', ev->id_len))
            sb_puts(b, " !id-holds-NUL");
        rec_check_id(r, ev);
    }
    if (!(pieces && ev->kind == SSE_KIND_EVENT && !(ev->flags & SSE_FLAG_LAST)))
        sb_puts(b, "\n");
    return r->stop_at != 0 && r->records == r->stop_at;
}

/* Appends the END line: finish status, last id and retry. */
static inline void rec_end(recorder *r, sse_error status)
{
    strbuf *b = &r->log;
    size_t n = (size_t)-1;
    const char *id = sse_parser_last_id(r->p, &n);
    const char *t = sse_strerror(status);
    /* Piece mode: an event whose earlier pieces were delivered may end unfinished only
     * when finish reports it discarded (TRUNCATED) or the callback stopped the parser. */
    if (r->open && status != SSE_ERR_TRUNCATED && status != SSE_ERR_STOPPED)
        sb_puts(b, "PIECE !event-without-LAST-piece\n");
    r->open = 0;
    sb_puts(b, "END ");
    sb_escaped(b, t ? t : "(null)", t ? strlen(t) : 6);
    sb_puts(b, " last=");
    sb_escaped(b, id ? id : "", id ? strlen(id) : 0);
    sb_printf(b, " retry=%llu", (unsigned long long)sse_parser_retry(r->p));
    if (id && n != strlen(id))
        sb_puts(b, " !last-id-len");
    sb_puts(b, "\n");
}

/* Runs only the tests whose name contains argv[1], when given:
 *     build/tests/test_parser id_records        every row with "id_records" in its name
 * (cmocka_set_test_filter takes a glob: the substring is wrapped in '*'). */
static inline void test_filter_from_args(int argc, char **argv)
{
    static char pattern[256];
    if (argc > 1) {
        snprintf(pattern, sizeof pattern, "*%s*", argv[1]);
        cmocka_set_test_filter(pattern);
    }
}

#endif /* TEST_RECORDER_H */
