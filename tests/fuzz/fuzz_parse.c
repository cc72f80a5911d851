/*
 * fuzz_parse - arbitrary bytes through the parser: no crash, no sanitizer report, no
 * access outside the buffers it was given, and every record sane.
 *
 * Input: byte 0 = options (low 4 bits) and test switches (high 4 bits), byte 1 = storage
 * size (16..143 or 256..33,657 bytes; an odd byte also sets SSE_OPT_ID_RECORDS), byte 2 =
 * chunking seed; the rest is the stream. With SW_ODD the last event ID is first set from
 * the stream's first bytes (sse_parser_set_last_id, checked against the id-field rules
 * and, without SSE_OPT_RAW, UTF-8 validity).
 * The parser struct, the storage and every chunk are exactly-sized heap blocks, so ASan
 * reports any byte read or written outside them. The callback checks each record
 * against sse.h (kinds, flags, limits, NUL terminators, UTF-8 repair, piece protocol)
 * and reads every byte of type, data and id.
 */
#include "fuzz_common.h"

#define SW_REENTER 0x10u /* the callback calls the parser back: must get SSE_ERR_BUSY */
#define SW_STOP    0x20u /* the callback stops the parser once, then we reconnect */
#define SW_AGAIN   0x40u /* after finish, the same bytes again as a second connection */
#define SW_ODD     0x80u /* NULL/empty feeds between chunks, argument errors */

typedef struct run {
    sse_parser *p;
    unsigned opts, sw;
    size_t cap, field_max, data_max;
    unsigned long records, stop_at;
    int in_event; /* piece mode: FIRST seen, LAST not yet */
    fz_buf piece; /* piece mode: the event's data so far */
    unsigned sink;
} run;

/* sse_parser_set_last_id with the stream's first bytes as the ID: the rules of an id
 * field (CR, LF, NUL refused; longer than the limit refused; else taken as given), and
 * a refused ID changes nothing. */
static void set_last_id(const run *r, const uint8_t *s, size_t size)
{
    size_t n = size < 40 ? size : (size_t)s[0] % 40u, lid_len = 99;
    const char *id = (const char *)s;
    sse_error want = SSE_OK, got;
    if (n > size) {
        n = size;
    }
    if (n > r->field_max) {
        want = SSE_ERR_ID_TOO_LONG;
    } else if (memchr(id, '\0', n) || memchr(id, '\r', n) || memchr(id, '\n', n) ||
               (!(r->opts & SSE_OPT_RAW) && !fz_utf8_ok(id, n))) {
        want = SSE_ERR_BAD_ID;
    }
    got = sse_parser_set_last_id(r->p, id, n);
    FUZZ_CHECK(got == want);
    id = sse_parser_last_id(r->p, &lid_len);
    if (want == SSE_OK) {
        FUZZ_CHECK(lid_len == n && memcmp(id, s, n) == 0 && id[n] == '\0');
    } else {
        FUZZ_CHECK(lid_len == 0 && id[0] == '\0');
    }
}

static int is_default_type(const sse_event *ev)
{
    return ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0;
}

static void check_text(const run *r, const char *s, size_t n)
{
    if (n == 0) {
        return;
    }
    if (!(r->opts & SSE_OPT_RAW)) {
        FUZZ_CHECK(fz_utf8_ok(s, n)); /* repaired */
    }
    FUZZ_CHECK(memchr(s, '\r', n) == NULL); /* never across a line end */
}

static int on_record(void *user, const sse_event *ev)
{
    run *r = (run *)user;
    const int pieces = (r->opts & SSE_OPT_PIECES) != 0;
    size_t lid_len = 0;
    const char *lid = sse_parser_last_id(r->p, &lid_len);

    FUZZ_CHECK(ev != NULL);
    r->records++;

    /* pointers and lengths: type and id NUL-terminated, everything readable */
    FUZZ_CHECK(ev->type != NULL && ev->id != NULL);
    FUZZ_CHECK(ev->type[ev->type_len] == '\0');
    FUZZ_CHECK(ev->id[ev->id_len] == '\0');
    FUZZ_CHECK(ev->data != NULL || ev->data_len == 0);
    r->sink += fz_touch(ev->type, ev->type_len + 1);
    r->sink += fz_touch(ev->id, ev->id_len + 1);
    r->sink += fz_touch(ev->data, ev->data_len);

    /* an id never holds NUL, CR or LF, and never exceeds its limit */
    FUZZ_CHECK(memchr(ev->id, '\0', ev->id_len) == NULL);
    FUZZ_CHECK(memchr(ev->id, '\n', ev->id_len) == NULL);
    check_text(r, ev->id, ev->id_len);
    FUZZ_CHECK(ev->id_len <= r->field_max);
    FUZZ_CHECK(lid[lid_len] == '\0' && lid_len <= r->field_max);
    FUZZ_CHECK(sse_parser_retry(r->p) == sse_parser_retry(r->p));
    FUZZ_CHECK((ev->flags & ~(SSE_FLAG_HAS_ID | SSE_FLAG_FIRST | SSE_FLAG_LAST)) == 0);

    switch (ev->kind) {
    case SSE_KIND_EVENT:
        FUZZ_CHECK(ev->retry == 0 && ev->error == SSE_OK);
        FUZZ_CHECK(memchr(ev->data, '\r', ev->data_len) == NULL);
        if (!pieces) {
            FUZZ_CHECK((ev->flags & (SSE_FLAG_FIRST | SSE_FLAG_LAST)) ==
                       (SSE_FLAG_FIRST | SSE_FLAG_LAST));
            FUZZ_CHECK(ev->data_len <= r->data_max);
            check_text(r, ev->data, ev->data_len);
        } else {
            if (ev->flags & SSE_FLAG_FIRST) {
                FUZZ_CHECK(!r->in_event);
                r->in_event = 1;
                r->piece.len = 0;
            } else {
                FUZZ_CHECK(r->in_event);
            }
            fz_put(&r->piece, ev->data, ev->data_len);
        }
        if (ev->flags & SSE_FLAG_LAST) { /* type, id and flags are final here */
            FUZZ_CHECK(ev->type_len > 0);
            FUZZ_CHECK(ev->type_len <= r->field_max || is_default_type(ev));
            FUZZ_CHECK(memchr(ev->type, '\n', ev->type_len) == NULL);
            check_text(r, ev->type, ev->type_len);
            /* the event carries the last event ID string in force at dispatch */
            FUZZ_CHECK(ev->id_len == lid_len && memcmp(ev->id, lid, lid_len) == 0);
            if (pieces) {
                check_text(r, r->piece.p, r->piece.len);
                r->in_event = 0;
            }
        }
        break;
    case SSE_KIND_RETRY:
        FUZZ_CHECK(ev->flags == 0 && ev->type_len == 0 && ev->data_len == 0);
        FUZZ_CHECK(ev->error == SSE_OK);
        FUZZ_CHECK(sse_parser_retry(r->p) == ev->retry);
        FUZZ_CHECK(ev->id_len == lid_len && memcmp(ev->id, lid, lid_len) == 0);
        break;
    case SSE_KIND_COMMENT:
        FUZZ_CHECK(r->opts & SSE_OPT_COMMENTS);
        FUZZ_CHECK(ev->flags == 0 && ev->type_len == 0 && ev->retry == 0);
        FUZZ_CHECK(ev->error == SSE_OK);
        FUZZ_CHECK(memchr(ev->data, '\n', ev->data_len) == NULL);
        check_text(r, ev->data, ev->data_len);
        FUZZ_CHECK(ev->data_len <= r->data_max);
        FUZZ_CHECK(ev->id_len == lid_len && memcmp(ev->id, lid, lid_len) == 0);
        break;
    case SSE_KIND_ID:
        FUZZ_CHECK(r->opts & SSE_OPT_ID_RECORDS);
        FUZZ_CHECK(ev->flags == SSE_FLAG_HAS_ID && ev->type_len == 0 && ev->data_len == 0);
        FUZZ_CHECK(ev->retry == 0 && ev->error == SSE_OK);
        FUZZ_CHECK(ev->id_len == lid_len && memcmp(ev->id, lid, lid_len) == 0);
        FUZZ_CHECK(!(pieces && r->in_event));
        break;
    case SSE_KIND_DROPPED:
        FUZZ_CHECK(ev->type_len == 0 && ev->data_len == 0 && ev->retry == 0);
        FUZZ_CHECK(ev->error == SSE_ERR_DATA_TOO_LONG || ev->error == SSE_ERR_TYPE_TOO_LONG ||
                   ev->error == SSE_ERR_ID_TOO_LONG || ev->error == SSE_ERR_COMMENT_TOO_LONG);
        if (ev->error == SSE_ERR_COMMENT_TOO_LONG) {
            FUZZ_CHECK(r->opts & SSE_OPT_COMMENTS);
        }
        if (ev->error == SSE_ERR_DATA_TOO_LONG) {
            FUZZ_CHECK(!pieces); /* data is unlimited in piece mode */
        }
        FUZZ_CHECK(ev->id_len == lid_len && memcmp(ev->id, lid, lid_len) == 0);
        if (pieces && r->in_event && ev->error != SSE_ERR_COMMENT_TOO_LONG) {
            /* an event whose pieces went out must be ended by LAST */
            FUZZ_CHECK(ev->flags & SSE_FLAG_LAST);
        }
        if (pieces && (ev->flags & SSE_FLAG_LAST)) {
            /* ends an event with data, whether or not pieces of it went out */
            FUZZ_CHECK(ev->error != SSE_ERR_COMMENT_TOO_LONG);
            r->in_event = 0;
        }
        break;
    default: FUZZ_CHECK(!"unknown record kind");
    }

    if (r->sw & SW_REENTER) { /* nothing but the two accessors works from inside */
        FUZZ_CHECK(sse_parser_feed(r->p, "data: x\n\n", 9, on_record, r) == SSE_ERR_BUSY);
        FUZZ_CHECK(sse_parser_feed(r->p, NULL, 0, on_record, r) == SSE_ERR_BUSY);
        FUZZ_CHECK(sse_parser_finish(r->p, on_record, r) == SSE_ERR_BUSY);
        FUZZ_CHECK(sse_parser_reconnect(r->p) == SSE_ERR_BUSY);
    }
    if (r->stop_at && r->records == r->stop_at) {
        return 1;
    }
    return 0;
}

/* Feeds s[0..n) in chunks; returns the status of the last feed. */
static sse_error feed_all(run *r, fz_rng *rng, unsigned mode, const uint8_t *s, size_t n)
{
    size_t at = 0;
    sse_error st = SSE_OK;
    while (at < n) {
        size_t k = fz_chunk(rng, mode);
        void *chunk;
        unsigned long before = r->records;
        if (k > n - at) {
            k = n - at;
        }
        chunk = fz_dup(s + at, k);
        st = sse_parser_feed(r->p, chunk, k, on_record, r);
        free(chunk);
        if (st == SSE_ERR_STOPPED) {
            /* stopped: the rest of that chunk was not parsed; nothing works until reconnect */
            FUZZ_CHECK(r->stop_at && r->records >= r->stop_at);
            before = r->records;
            FUZZ_CHECK(sse_parser_feed(r->p, "data: y\n\n", 9, on_record, r) == SSE_ERR_STOPPED);
            FUZZ_CHECK(r->records == before);
            if (r->records & 1) {
                FUZZ_CHECK(sse_parser_reconnect(r->p) == SSE_OK);
            } else { /* finish reports the stop and resets p all the same */
                FUZZ_CHECK(sse_parser_finish(r->p, on_record, r) == SSE_ERR_STOPPED);
                FUZZ_CHECK(r->records == before);
            }
            r->stop_at = 0;
            r->in_event = 0; /* the pending event is gone with the connection */
        } else {
            FUZZ_CHECK(st == SSE_OK);
        }
        (void)before;
        at += k;
        if (r->sw & SW_ODD) {
            FUZZ_CHECK(sse_parser_feed(r->p, NULL, 0, on_record, r) == SSE_OK);
            FUZZ_CHECK(sse_parser_feed(r->p, s, 0, on_record, r) == SSE_OK);
        }
    }
    return st;
}

static void finish(run *r)
{
    sse_error st = sse_parser_finish(r->p, on_record, r);
    size_t len = 0, need = 0, lid_len = 0;
    const char *lid;
    char *hdr;
    if (st == SSE_ERR_STOPPED) {
        FUZZ_CHECK(r->stop_at && r->records >= r->stop_at);
        r->stop_at = 0;
    } else {
        FUZZ_CHECK(st == SSE_OK || st == SSE_ERR_TRUNCATED);
    }
    if (r->in_event) { /* piece mode: pieces went out, the event was discarded */
        FUZZ_CHECK(st == SSE_ERR_TRUNCATED || st == SSE_ERR_STOPPED);
        r->in_event = 0;
    }

    /* the Last-Event-ID header: "Last-Event-ID: <id>" and a NUL, or only the NUL */
    lid = sse_parser_last_id(r->p, &lid_len);
    FUZZ_CHECK(strlen(lid) == lid_len);
    FUZZ_CHECK(sse_last_id_header(r->p, NULL, 0, &need) == SSE_OK);
    FUZZ_CHECK(need == (lid_len ? lid_len + 15 : 0));
    hdr = (char *)fz_alloc(need + 1);
    FUZZ_CHECK(sse_last_id_header(r->p, hdr, need + 1, &len) == SSE_OK && len == need);
    FUZZ_CHECK(hdr[need] == '\0');
    if (need) {
        FUZZ_CHECK(memcmp(hdr, "Last-Event-ID: ", 15) == 0);
        FUZZ_CHECK(memcmp(hdr + 15, lid, lid_len) == 0);
        len = 0;
        FUZZ_CHECK(sse_last_id_header(r->p, hdr, need, &len) == SSE_ERR_BUFFER_TOO_SMALL);
        FUZZ_CHECK(len == need);
    }
    free(hdr);

    /* reconnection delay: never below the server's time, capped, growing with failures */
    {
        uint64_t retry = sse_parser_retry(r->p), cap = (uint64_t)r->records * 977u, prev = 0;
        unsigned f;
        for (f = 0; f < 70; f += 1 + f / 8) {
            uint64_t d = sse_reconnect_delay(r->p, f, cap, 0);
            uint64_t dj = sse_reconnect_delay(r->p, f, cap, (uint32_t)((uint32_t)r->records * 2654435761u));
            FUZZ_CHECK(d >= retry && d >= prev);
            uint64_t base = retry > SSE_RECONNECT_FLOOR_MS ? retry : SSE_RECONNECT_FLOOR_MS;
            FUZZ_CHECK(d <= (cap > base ? cap : base));
            FUZZ_CHECK(dj >= d && dj - d <= d / 2);
            if (f <= 1) {
                FUZZ_CHECK(d == retry);
            } else {
                FUZZ_CHECK(d >= SSE_RECONNECT_FLOOR_MS);
            }
            prev = d;
        }
    }
}

/* Reference for sse_check_response with status 200: the bytes, less surrounding HTTP
 * whitespace and any ";parameters", are text/event-stream in any ASCII case. */
static sse_error ref_check(const char *v, size_t n)
{
    static const char want[] = "text/event-stream";
    size_t i = 0, end, k;
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n')) {
        i++;
    }
    end = i;
    while (end < n && v[end] != ';') {
        end++;
    }
    while (end > i &&
           (v[end - 1] == ' ' || v[end - 1] == '\t' || v[end - 1] == '\r' || v[end - 1] == '\n')) {
        end--;
    }
    if (end - i != sizeof want - 1) {
        return SSE_ERR_CONTENT_TYPE;
    }
    for (k = 0; k < sizeof want - 1; k++) {
        char ch = v[i + k];
        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (ch != want[k]) {
            return SSE_ERR_CONTENT_TYPE;
        }
    }
    return SSE_OK;
}

static void check_response(const uint8_t *data, size_t size, unsigned sel)
{
    char *v = (char *)fz_dup(data, size); /* exact size: an overread is an ASan report */
    static const int statuses[] = { 200, 204, 0, 199, 201, 301, 404, 500, -1, 2147483647 };
    int status = statuses[sel % 10];
    sse_error want = status == 204   ? SSE_ERR_NO_CONTENT
                     : status != 200 ? SSE_ERR_HTTP_STATUS
                                     : ref_check(v ? v : "", size);
    FUZZ_CHECK(sse_check_response(status, v ? v : "", size) == want);
    FUZZ_CHECK(sse_check_response(status, NULL, 0) ==
               (status == 200 ? SSE_ERR_CONTENT_TYPE : want));
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run r;
    fz_rng rng;
    unsigned b0, b1, mode;
    char *storage;
    if (size < 3) {
        return 0;
    }
    b0 = data[0];
    b1 = data[1];
    memset(&r, 0, sizeof r);
    r.opts = (b0 & 15u) | ((b1 & 1u) ? SSE_OPT_ID_RECORDS : 0u);
    r.sw = b0 & 0xF0u;
    r.cap = b1 < 128 ? 16u + b1 : 256u + (size_t)(b1 - 128) * 263u;
    r.field_max = r.cap / 16 - 1;
    r.data_max = r.cap - 4 * (r.cap / 16) - 1;
    rng.s = (uint64_t)data[2] * 0x100000001B3u ^ size;
    mode = data[2] & 3u;
    r.stop_at = (r.sw & SW_STOP) ? (unsigned long)(data[2] >> 2) + 1 : 0;
    data += 3;
    size -= 3;

    r.p = (sse_parser *)fz_alloc(sizeof *r.p);
    storage = (char *)fz_alloc(r.cap);
    if (r.sw & SW_ODD) { /* refused arguments leave everything alone */
        FUZZ_CHECK(sse_parser_init(r.p, storage, 15, 0) == SSE_ERR_ARG);
        FUZZ_CHECK(sse_parser_init(r.p, NULL, r.cap, 0) == SSE_ERR_ARG);
        FUZZ_CHECK(sse_parser_init(NULL, storage, r.cap, 0) == SSE_ERR_ARG);
        FUZZ_CHECK(sse_parser_init(r.p, storage, r.cap, r.opts | 32u) == SSE_ERR_ARG);
    }
    FUZZ_CHECK(sse_parser_init(r.p, storage, r.cap, r.opts) == SSE_OK);
    FUZZ_CHECK(sse_parser_retry(r.p) == SSE_RETRY_DEFAULT);
    if (r.sw & SW_ODD) {
        FUZZ_CHECK(sse_parser_feed(r.p, NULL, 1, on_record, &r) == SSE_ERR_ARG);
        FUZZ_CHECK(sse_parser_feed(r.p, data, size, NULL, &r) == SSE_ERR_ARG);
        FUZZ_CHECK(sse_parser_feed(NULL, data, size, on_record, &r) == SSE_ERR_ARG);
        FUZZ_CHECK(sse_parser_finish(r.p, NULL, &r) == SSE_ERR_ARG);
        FUZZ_CHECK(r.records == 0);
    }

    if (r.sw & SW_ODD) {
        set_last_id(&r, data, size);
    }
    check_response(data, size < 64 ? size : 64, b1);
    feed_all(&r, &rng, mode, data, size);
    finish(&r);
    if (r.sw & SW_AGAIN) { /* a reconnection of the same source */
        feed_all(&r, &rng, mode + 1, data, size);
        finish(&r);
    }
    FUZZ_CHECK(sse_parser_reconnect(r.p) == SSE_OK);

    fz_free(&r.piece);
    free(storage);
    free(r.p);
    return 0;
}
