/*
 * sse.c - Server-Sent Events parser and serializer. See sse.h for the contract.
 *
 * The parser reads in the order data flows: bytes (BOM, line ends), lines (field name,
 * value), values (UTF-8 repair, storage), events (dispatch). The storage buffer is cut
 * into five regions: [type | id slot 0 | id slot 1 | id slot 2 | data], F = cap / 16
 * bytes each but data, which gets the rest. The three id slots hold the last event ID
 * string (cur), the block's pending id (pend) and the id being read (slot), so an id
 * line that turns out to hold a NUL, or a block that never ends, leaves the others
 * intact without copying.
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

#define SSE_MIN_CAP   16u

/* A retry value fits in 64 bits while num * 10 + d <= UINT64_MAX: compared against
 * these constants, so no 64-bit division is compiled in (libgcc on Cortex-M0+). */
#define RETRY_MAX_TENTH (UINT64_MAX / 10u)
#define RETRY_MAX_LAST  (UINT64_MAX % 10u)
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
 * Parser: records and storage
 * ------------------------------------------------------------------------------------- */

typedef struct ctx {
    sse_parser *p;
    sse_event_cb cb;
    void *user;
    const char *zc;  /* data of the block's only data line, still in the caller's chunk */
    const char *end; /* end of the chunk */
    const char *ok;  /* the chunk is valid UTF-8 from the line being parsed up to here */
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
    return p->priv.buf + p->priv.field_cap * 4u;
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
    ev->id = id_buf(p, p->priv.cur);
    ev->id_len = p->priv.id_len[p->priv.cur];
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
        ev.id = id_buf(p, p->priv.pend);
        ev.id_len = p->priv.id_len[p->priv.pend];
    }
    type_buf(p)[p->priv.type_len] = '\0';
    ev.type = p->priv.type_len ? type_buf(p) : "message";
    ev.type_len = p->priv.type_len ? p->priv.type_len : 7;
    ev.data = s;
    ev.data_len = n;
    p->priv.flags |= FL_STARTED;
    return deliver(c, &ev);
}

/* Appends to a region of cap bytes holding *len; sets over instead when it would not fit. */
static void put(char *region, size_t *len, size_t cap, const char *s, size_t n, unsigned over,
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
    const char *zc = c->zc;
    size_t n = c->p->priv.data_len;
    if (!zc) {
        return 0;
    }
    c->zc = NULL;
    if (c->p->priv.options & SSE_OPT_PIECES) {
        c->p->priv.data_len = 0;
        return piece(c, zc, n);
    }
    memcpy(data_buf(c->p), zc, n);
    return 0;
}

static int out_data(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    if (materialize(c)) {
        return 1;
    }
    if (!(p->priv.options & SSE_OPT_PIECES)) {
        /* data_cap - 1: the spec's buffer also stores the LF that ends the last line */
        put(data_buf(p), &p->priv.data_len, p->priv.data_cap - 1, s, n, FL_DATA_OVER,
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
    if (!(p->priv.options & SSE_OPT_PIECES) || n == 0 || c->zc) {
        return materialize(c);
    }
    p->priv.data_len = 0;
    return piece(c, data_buf(p), n);
}

/* Final bytes of the current text value (data, event, id or comment) go to its storage. */
static int out(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    if (p->priv.field == F_DATA) {
        return out_data(c, s, n);
    }
    if (p->priv.field == F_EVENT) {
        put(type_buf(p), &p->priv.type_len, p->priv.field_cap - 1, s, n, FL_TYPE_OVER,
            &p->priv.flags);
    } else if (p->priv.field == F_ID) {
        if (memchr(s, '\0', n)) { /* WHATWG: an id containing NUL is ignored */
            p->priv.flags |= FL_VAL_BAD;
        }
        put(id_buf(p, p->priv.slot), &p->priv.value_len, p->priv.field_cap - 1, s, n,
            FL_VAL_OVER, &p->priv.flags);
    } else { /* a comment, stored after the pending data in the room the data left */
        put(data_buf(p) + p->priv.data_len, &p->priv.value_len,
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

/* Passes value bytes on, repairing ill-formed UTF-8 unless SSE_OPT_RAW. A sequence cut
 * by the end of a chunk is held in priv.u8_part until the next chunk completes it. */
static int text(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    const unsigned char *u = (const unsigned char *)s;
    if (p->priv.options & SSE_OPT_RAW) {
        return out(c, s, n);
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
                    if (out(c, (const char *)p->priv.u8_part, p->priv.u8_need)) {
                        return 1;
                    }
                }
                continue;
            }
            p->priv.u8_n = 0; /* ill-formed: the held bytes become one U+FFFD */
            if (out(c, FFFD, 3)) {
                return 1;
            }
        }
        v = valid_prefix(u, n);
        if (v && out(c, (const char *)u, v)) {
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
        if (out(c, FFFD, 3)) { /* the maximal ill-formed subpart: k bytes, at least 1 */
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
static unsigned free_slot(const sse_parser *p)
{
    return p->priv.cur == p->priv.pend ? (p->priv.cur + 1u) % 3u
                                       : 3u - p->priv.cur - p->priv.pend;
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
            return out_data(c, "\n", 1);
        }
        p->priv.flags |= FL_HAS_DATA;
        break;
    case F_EVENT:
        p->priv.type_len = 0;
        p->priv.flags = (p->priv.flags & ~FL_TYPE_OVER) | FL_HAS_EVENT;
        break;
    case F_ID: p->priv.slot = (unsigned char)free_slot(p); break;
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
    default: return text(c, s, n);
    }
}

static int field_end(ctx *c)
{
    sse_parser *p = c->p;
    sse_event ev;
    if (p->priv.u8_n) { /* a sequence cut by the line end is ill-formed */
        p->priv.u8_n = 0;
        if (out(c, FFFD, 3)) {
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
        p->priv.pend = p->priv.slot;
        p->priv.id_len[p->priv.slot] = p->priv.value_len;
        id_buf(p, p->priv.slot)[p->priv.value_len] = '\0';
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
    const char *data = c->zc ? c->zc : data_buf(p);
    sse_error err = (fl & FL_DATA_OVER)   ? SSE_ERR_DATA_TOO_LONG
                    : (fl & FL_TYPE_OVER) ? SSE_ERR_TYPE_TOO_LONG
                    : (fl & FL_ID_OVER)   ? SSE_ERR_ID_TOO_LONG
                                          : SSE_OK;
    sse_event ev;

    if (!(fl & FL_ID_OVER)) { /* the last event ID string takes the buffer, event or not */
        p->priv.cur = p->priv.pend;
    }
    p->priv.pend = p->priv.cur; /* a dropped id's earlier one in the block goes too */
    p->priv.flags &= ~FL_BLOCK;
    p->priv.data_len = 0;
    p->priv.type_len = 0;
    c->zc = NULL;
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
    record(p, SSE_KIND_EVENT, &ev);
    ev.flags = flags | SSE_FLAG_LAST | ((fl & FL_STARTED) ? 0u : SSE_FLAG_FIRST);
    if (type_len) {
        type_buf(p)[type_len] = '\0';
        ev.type = type_buf(p);
        ev.type_len = type_len;
    } else {
        ev.type = "message";
        ev.type_len = 7;
    }
    ev.data = data;
    ev.data_len = data_len;
    return deliver(c, &ev);
}

/* ---------------------------------------------------------------------------------------
 * Parser: lines
 * ------------------------------------------------------------------------------------- */

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
            for (i = 0; i < k && p->priv.name_len < 6; i++) {
                if (p->priv.name_len < 5) {
                    p->priv.name[p->priv.name_len] = (unsigned char)s[i];
                }
                p->priv.name_len++;
            }
            if (!colon) {
                return 0;
            }
            p->priv.state = ST_SPACE;
            if (field_begin(c, p->priv.name_len == 0
                                   ? F_COMMENT
                                   : field_of((const char *)p->priv.name, p->priv.name_len))) {
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

/* A whole line inside the chunk, starting at a line start: the hot path. */
static int line(ctx *c, const char *s, size_t n)
{
    sse_parser *p = c->p;
    const char *colon, *v;
    size_t vn;
    unsigned f;
    int clean;
    if (p->priv.state != ST_NAME || p->priv.name_len != 0) {
        return line_part(c, s, n) || line_end(c);
    }
    if (n == 0) {
        return dispatch(c);
    }
    if (n >= 5 && memcmp(s, "data:", 5) == 0) { /* the most frequent line, checked first */
        colon = s + 4;
        f = F_DATA;
    } else {
        size_t k;
        for (k = 0; k < n && k < 6 && s[k] != ':'; k++) { /* names we know are short */
        }
        colon = k < n && s[k] == ':' ? s + k : NULL;
        if (!colon && n > 5) { /* a name of 6 bytes or more is no field we know */
            return 0;
        }
        f = colon == s ? F_COMMENT : field_of(s, k);
    }
    if (f == F_IGNORE || (f == F_COMMENT && !(p->priv.options & SSE_OPT_COMMENTS))) {
        return 0;
    }
    v = colon ? colon + 1 : s + n;
    vn = (size_t)(s + n - v);
    if (vn > 0 && *v == ' ') {
        v++;
        vn--;
    }
    if (!(p->priv.options & SSE_OPT_RAW) && v + vn > c->ok && v >= c->ok) {
        /* UTF-8 is checked once per chunk, not per value: CR and LF never occur inside
         * a sequence, so every line before the first ill-formed byte is clean. Calling
         * valid_prefix per value cost 39% of the time on LLM-token streams. */
        c->ok = v + valid_prefix((const unsigned char *)v, (size_t)(c->end - v));
    }
    clean = (p->priv.options & SSE_OPT_RAW) || v + vn <= c->ok;
    if (clean && f == F_DATA && !(p->priv.flags & FL_HAS_DATA) &&
        ((p->priv.options & SSE_OPT_PIECES) || vn < p->priv.data_cap)) {
        /* Zero-copy: the block's first data line stays in the chunk; it is copied (or
         * handed out as a piece) only if more data follows or the chunk ends first. */
        p->priv.flags |= FL_HAS_DATA;
        p->priv.data_len = vn;
        c->zc = v;
        return 0;
    }
    if (clean && f == F_DATA && (p->priv.options & SSE_OPT_PIECES)) {
        /* a further line (the first went zero-copy above): no second UTF-8 check */
        p->priv.field = F_DATA;
        return out_data(c, "\n", 1) || out_data(c, v, vn);
    }
    if (clean && f == F_DATA) {
        /* one room check for separator and value, then one copy */
        size_t sep = (p->priv.flags & FL_HAS_DATA) ? 1 : 0;
        materialize(c);
        p->priv.flags |= FL_HAS_DATA;
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
    if (clean && f == F_EVENT) { /* whole clean values skip the streaming machinery */
        p->priv.flags |= FL_HAS_EVENT;
        p->priv.type_len = vn <= p->priv.field_cap - 1 ? vn : 0;
        p->priv.flags = vn == p->priv.type_len ? p->priv.flags & ~FL_TYPE_OVER
                                               : p->priv.flags | FL_TYPE_OVER;
        memcpy(type_buf(p), v, p->priv.type_len);
        return 0;
    }
    if (clean && f == F_ID && vn < p->priv.field_cap && !memchr(v, '\0', vn)) {
        unsigned slot = free_slot(p);
        memcpy(id_buf(p, slot), v, vn);
        id_buf(p, slot)[vn] = '\0';
        p->priv.id_len[slot] = vn;
        p->priv.pend = (unsigned char)slot;
        p->priv.flags = (p->priv.flags & ~FL_ID_OVER) | FL_HAS_ID;
        return 0;
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
    p->priv.pend = p->priv.cur;
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
    p->priv.field_cap = cap / 16;
    p->priv.data_cap = cap - 4 * p->priv.field_cap;
    p->priv.options = options;
    p->priv.retry = SSE_RETRY_DEFAULT;
    for (i = 0; i < 4; i++) {
        p->priv.buf[p->priv.field_cap * i] = '\0';
    }
    rearm(p);
    return SSE_OK;
}

/* Offset of the first ch in d[from..len), or len. */
static size_t find(const char *d, size_t from, size_t len, char ch)
{
    const char *q = (const char *)memchr(d + from, ch, len - from);
    return q ? (size_t)(q - d) : len;
}

sse_error sse_parser_feed(sse_parser *p, const void *data, size_t len, sse_event_cb cb,
                          void *user)
{
    const char *d = (const char *)data, *s = d;
    size_t at, lf, cr;
    ctx c;
    if (!p || !cb || (!data && len)) {
        return SSE_ERR_ARG;
    }
    if (p->priv.flags & FL_BUSY) {
        return SSE_ERR_BUSY;
    }
    if (p->priv.flags & FL_STOPPED) {
        return SSE_ERR_STOPPED;
    }
    if (len == 0) {
        return SSE_OK;
    }
    c.p = p;
    c.cb = cb;
    c.user = user;
    c.zc = NULL;
    c.end = d + len;
    c.ok = d;
    if (p->priv.state == ST_BOM) {
        bom(p, &s, d + len);
    }
    at = (size_t)(s - d);
    if ((p->priv.flags & FL_AFTER_CR) && at < len) { /* the LF of a CR LF cut by the chunk */
        p->priv.flags &= ~FL_AFTER_CR;
        at += d[at] == '\n';
    }
    /* The next LF and the next CR are found by memchr and kept until passed, so each
     * byte is scanned once for each, whatever mix of line endings the stream uses. */
    lf = find(d, at, len, '\n');
    cr = find(d, at, len, '\r');
    while (at < len) {
        size_t eol;
        if (lf < at) {
            lf = find(d, at, len, '\n');
        }
        if (cr < at) {
            cr = find(d, at, len, '\r');
        }
        eol = lf < cr ? lf : cr;
        if (eol == len) {
            if (line_part(&c, d + at, len - at)) {
                return SSE_ERR_STOPPED;
            }
            break;
        }
        if (line(&c, d + at, eol - at)) {
            return SSE_ERR_STOPPED;
        }
        at = eol + 1;
        if (eol == cr) {
            if (at == len) {
                p->priv.flags |= FL_AFTER_CR;
            } else {
                at += d[at] == '\n';
            }
        }
    }
    return flush_data(&c) ? SSE_ERR_STOPPED : SSE_OK;
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
    c.p = p;
    c.cb = cb;
    c.user = user;
    c.zc = NULL;
    c.end = NULL;
    c.ok = NULL;
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
        *len = p->priv.id_len[p->priv.cur];
    }
    return id_buf(p, p->priv.cur);
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
    if (len && (memchr(id, '\0', len) || memchr(id, '\r', len) || memchr(id, '\n', len))) {
        return SSE_ERR_BAD_ID;
    }
    /* In place: the slot of the last event ID is no block's pending id nor the id being
     * read (a block without an id of its own shares it, and takes the new one) */
    slot = id_buf(p, p->priv.cur);
    if (len) {
        memcpy(slot, id, len);
    }
    slot[len] = '\0';
    p->priv.id_len[p->priv.cur] = len;
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

/* Output cursor: writes while the bytes fit, counts them all. */
typedef struct sink {
    char *out;
    size_t cap, len;
} sink;

static void emit(sink *k, const char *s, size_t n)
{
    if (k->out && k->len <= k->cap && n <= k->cap - k->len) {
        memcpy(k->out + k->len, s, n);
    }
    k->len += n;
}

/* Writes text as "prefix line\n" lines, split at CR, LF and CR LF. */
static void emit_lines(sink *k, const char *prefix, size_t plen, const char *s, size_t n)
{
    size_t at = 0, lf = find(s, 0, n, '\n'), cr = find(s, 0, n, '\r');
    for (;;) {
        size_t eol;
        if (lf < at) {
            lf = find(s, at, n, '\n');
        }
        if (cr < at) {
            cr = find(s, at, n, '\r');
        }
        eol = lf < cr ? lf : cr;
        emit(k, prefix, plen);
        emit(k, s + at, eol - at);
        emit(k, "\n", 1);
        if (eol == n) {
            return;
        }
        at = eol + 1 + (eol == cr && eol + 1 < n && s[eol + 1] == '\n');
    }
}

/* Writes "name: value\n". */
static void emit_field(sink *k, const char *name, size_t nlen, const char *v, size_t vn)
{
    emit(k, name, nlen);
    emit(k, v, vn);
    emit(k, "\n", 1);
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

/* Everything of a frame before its data lines. */
static void emit_head(sink *k, const sse_frame *f)
{
    if (f->comment) {
        emit_lines(k, ": ", 2, f->comment, f->comment_len);
    }
    if (f->type) {
        emit_field(k, "event: ", 7, f->type, f->type_len);
    }
    if (f->id) {
        emit_field(k, "id: ", 4, f->id, f->id_len);
    }
    if (f->has_retry) {
        char digits[20];
        size_t i = sizeof digits;
        uint64_t r = f->retry;
        do {
            digits[--i] = (char)('0' + r % 10);
            r /= 10;
        } while (r);
        emit_field(k, "retry: ", 7, digits + i, sizeof digits - i);
    }
}

static sse_error finish_sink(const sink *k, size_t *len)
{
    *len = k->len;
    return k->out && k->len > k->cap ? SSE_ERR_BUFFER_TOO_SMALL : SSE_OK;
}

sse_error sse_encode(void *out, size_t cap, const sse_frame *f, size_t *len)
{
    sink k;
    sse_error err;
    if (!f || !len) {
        return SSE_ERR_ARG;
    }
    *len = 0;
    err = check_fields(f);
    if (err != SSE_OK) {
        return err;
    }
    k.out = (char *)out;
    k.cap = out ? cap : 0;
    k.len = 0;
    emit_head(&k, f);
    if (f->data) {
        emit_lines(&k, "data: ", 6, f->data, f->data_len);
    }
    if (f->type || f->id || f->has_retry || f->data) {
        emit(&k, "\n", 1);
    }
    return finish_sink(&k, len);
}

/* sse_writer priv.state */
enum { W_IDLE, W_DATA, W_DATA_AFTER_CR };

sse_error sse_writer_begin(sse_writer *w, const sse_frame *f, void *out, size_t cap, size_t *len)
{
    sink k;
    sse_error err;
    if (!w || !f || !len || f->data) {
        return SSE_ERR_ARG;
    }
    *len = 0;
    err = check_fields(f);
    if (err != SSE_OK) {
        return err;
    }
    k.out = (char *)out;
    k.cap = out ? cap : 0;
    k.len = 0;
    emit_head(&k, f);
    emit(&k, "data: ", 6);
    err = finish_sink(&k, len);
    if (err == SSE_OK && out) {
        w->priv.state = W_DATA;
    }
    return err;
}

sse_error sse_writer_data(sse_writer *w, const void *piece, size_t piece_len, void *out,
                          size_t cap, size_t *len)
{
    const char *s = (const char *)piece;
    size_t at = 0;
    sink k;
    sse_error err;
    if (!w || !len || (!piece && piece_len) ||
        (w->priv.state != W_DATA && w->priv.state != W_DATA_AFTER_CR)) {
        return SSE_ERR_ARG;
    }
    k.out = (char *)out;
    k.cap = out ? cap : 0;
    k.len = 0;
    if (piece_len == 0) {
        return finish_sink(&k, len);
    }
    if (w->priv.state == W_DATA_AFTER_CR && s[0] == '\n') { /* CR | LF across pieces */
        at = 1;
    }
    {
        size_t lf = find(s, at, piece_len, '\n'), cr = find(s, at, piece_len, '\r');
        while (at < piece_len) {
            size_t eol;
            if (lf < at) {
                lf = find(s, at, piece_len, '\n');
            }
            if (cr < at) {
                cr = find(s, at, piece_len, '\r');
            }
            eol = lf < cr ? lf : cr;
            emit(&k, s + at, eol - at);
            if (eol == piece_len) {
                break;
            }
            emit(&k, "\ndata: ", 7);
            at = eol + 1 + (eol == cr && eol + 1 < piece_len && s[eol + 1] == '\n');
        }
    }
    err = finish_sink(&k, len);
    if (err == SSE_OK && out) {
        w->priv.state = s[piece_len - 1] == '\r' ? W_DATA_AFTER_CR : W_DATA;
    }
    return err;
}

sse_error sse_writer_end(sse_writer *w, void *out, size_t cap, size_t *len)
{
    sink k;
    sse_error err;
    if (!w || !len || (w->priv.state != W_DATA && w->priv.state != W_DATA_AFTER_CR)) {
        return SSE_ERR_ARG;
    }
    k.out = (char *)out;
    k.cap = out ? cap : 0;
    k.len = 0;
    emit(&k, "\n\n", 2);
    err = finish_sink(&k, len);
    if (err == SSE_OK && out) {
        w->priv.state = W_IDLE;
    }
    return err;
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
    k.out = out;
    k.cap = out ? cap : 0;
    k.len = 0;
    if (id_len) {
        emit(&k, "Last-Event-ID: ", 15);
        emit(&k, id, id_len);
    }
    emit(&k, "", 1); /* the NUL, not counted in *len */
    err = finish_sink(&k, len);
    *len -= 1;
    return err;
}
