/*
 * sse.h - Server-Sent Events (text/event-stream) parser and serializer.
 *
 * What it is
 *   A streaming parser (bytes in, events out) and a matching serializer (fields in,
 *   frames out) for the format browsers read through EventSource, implemented from
 *   the WHATWG HTML Living Standard, section "Server-sent events".
 *
 * Vendoring
 *   The whole library is this header and src/sse.c. Copy both, compile sse.c with
 *   -I<dir of sse.h>. C99, libc only, no configuration macros.
 *   Vector code: with GCC or Clang, sse.c reads each chunk in 64-byte blocks with SSE2 on
 *   x86 (AVX2 when the CPU has it, chosen at run time) and NEON on aarch64, and plain C
 *   elsewhere; every path gives identical results. -DSSE_SIMD=0 forces the plain C path
 *   (for testing; SSE_SIMD=1 stops at SSE2 / NEON).
 *
 * Memory and threads
 *   The library never allocates and has no global state. The caller owns every byte:
 *   the parser struct (it can live on the stack, in a connection struct or in static
 *   storage) and one storage buffer whose size sets the limits. Every function is
 *   reentrant; different objects may be used from different threads at once; one
 *   object must not be used from two threads at once.
 *
 * Parser sketch
 *     static int on_event(void *user, const sse_event *ev) {
 *         if (ev->kind == SSE_KIND_EVENT)
 *             printf("%s: %.*s\n", ev->type, (int)ev->data_len, ev->data);
 *         return 0;                                   // non-zero stops the parser
 *     }
 *     char storage[16384];
 *     sse_parser p;
 *     sse_parser_init(&p, storage, sizeof storage, 0);
 *     while ((n = read(fd, chunk, sizeof chunk)) > 0)
 *         sse_parser_feed(&p, chunk, (size_t)n, on_event, NULL);
 *     sse_parser_finish(&p, on_event, NULL);          // end of stream
 *
 * Serializer sketch
 *     sse_frame f = {0};
 *     SSE_FIELD_STR(f.type, "tick");             // sets f.type and f.type_len
 *     SSE_FIELD_STR(f.data, "line 1\nline 2");   // or set f.data and f.data_len yourself
 *     size_t len;
 *     if (sse_encode(out, sizeof out, &f, &len) == SSE_OK)
 *         write(fd, out, len);     // "event: tick\ndata: line 1\ndata: line 2\n\n"
 *
 * Relay sketch (parser in piece mode -> streaming writer; type and id are final only at
 * the LAST piece, so they are written after the data: the spec allows fields in any
 * order inside a block)
 *     SSE_KIND_EVENT, FIRST: sse_writer_begin(&w, &empty_frame, ...)
 *                    every piece: sse_writer_data(&w, ev->data, ev->data_len, ...)
 *                    LAST: sse_writer_fields(&w, &{type, id}, ...); sse_writer_end(&w, ...)
 *     SSE_KIND_RETRY, SSE_KIND_COMMENT: sse_writer_fields if a frame is open, else sse_encode
 *     SSE_KIND_ID (SSE_OPT_ID_RECORDS): sse_encode of a frame with only the id
 *     SSE_KIND_DROPPED with SSE_FLAG_LAST: pieces already written cannot be recalled;
 *                    close each downstream connection without ending the frame, so its
 *                    client discards the event as upstream's parser did
 *   A buffer of SSE_FRAME_MAX(0, T, I, P) bytes holds the output of any one of these calls
 *   for pieces up to P bytes, types up to T, ids up to I (comments: see SSE_FRAME_MAX).
 *
 * Limits (for a storage buffer of CAP bytes, CAP >= 16; F = CAP / 16)
 *   event type  up to F - 1 bytes       (longer: event dropped, SSE_ERR_TYPE_TOO_LONG)
 *   id          up to F - 1 bytes       (longer: SSE_ERR_ID_TOO_LONG, never truncated)
 *   data        up to CAP - 4*F - 1 bytes, counting the LF between lines and the
 *               U+FFFD bytes UTF-8 repair writes (longer: SSE_ERR_DATA_TOO_LONG);
 *               unlimited in piece mode (SSE_OPT_PIECES)
 *   comment     up to the data room left beside the pending event's data
 *   Example: CAP = 4096 gives type and id up to 255 bytes, data up to 3071 bytes.
 *   sizeof(sse_parser) is 120 bytes on 64-bit targets, 80 on i386, 88 on armhf and
 *   powerpc (32-bit, 8-byte aligned uint64_t); the library keeps nothing else.
 */
#ifndef SSE_H
#define SSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h> /* strlen, for SSE_FIELD_STR */

#define SSE_VERSION_MAJOR  1
#define SSE_VERSION_MINOR  0
#define SSE_VERSION_PATCH  0
#define SSE_VERSION_STRING "1.0.0"
/* unsigned long arithmetic: correct where int has 16 bits */
#define SSE_VERSION_NUMBER                                                                   \
    (((unsigned long)SSE_VERSION_MAJOR << 16) | ((unsigned long)SSE_VERSION_MINOR << 8) |    \
     (unsigned long)SSE_VERSION_PATCH)

#ifndef SSE_API
#if defined(_WIN32) && defined(SSE_BUILDING_DLL)
#define SSE_API __declspec(dllexport)
#elif defined(_WIN32) && defined(SSE_USING_DLL)
#define SSE_API __declspec(dllimport)
#elif defined(__GNUC__)
#define SSE_API __attribute__((visibility("default")))
#else
#define SSE_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

/* Status of every call: SSE_OK or a negative error. */
typedef enum sse_error {
    SSE_OK = 0,
    /* A NULL pointer where one is required, a storage buffer under 16 bytes, or an
     * argument out of range. Nothing was done; the object is unchanged. */
    SSE_ERR_ARG = -1,
    /* Parser: your callback returned non-zero. The rest of that chunk was not parsed;
     * every later feed returns this again until sse_parser_reconnect() or
     * sse_parser_finish() (which resets the parser and returns it once more). */
    SSE_ERR_STOPPED = -2,
    /* Parser: called from inside its own callback. Nothing was done. */
    SSE_ERR_BUSY = -3,
    /* Parser, in an SSE_KIND_DROPPED record: the event's data did not fit the storage.
     * The event was dropped; its id still counts; parsing continues with the next event. */
    SSE_ERR_DATA_TOO_LONG = -4,
    /* Parser, in an SSE_KIND_DROPPED record: the event type did not fit. The event was
     * dropped; its id still counts; parsing continues with the next event. */
    SSE_ERR_TYPE_TOO_LONG = -5,
    /* Parser, in an SSE_KIND_DROPPED record: the id did not fit. The event (or id-only
     * block) was dropped and the last event ID is unchanged; parsing continues. */
    SSE_ERR_ID_TOO_LONG = -6,
    /* Parser, in an SSE_KIND_DROPPED record: a comment (SSE_OPT_COMMENTS) did not fit.
     * Only the comment was dropped; the pending event is intact. */
    SSE_ERR_COMMENT_TOO_LONG = -7,
    /* sse_parser_finish: the stream ended inside a line or inside an event that was
     * never dispatched; that event was discarded, as the spec and browsers do. */
    SSE_ERR_TRUNCATED = -8,
    /* Serializer: the output buffer is too small. *len holds the size needed; the
     * buffer's contents are unspecified; the writer's state is unchanged. */
    SSE_ERR_BUFFER_TOO_SMALL = -9,
    /* Serializer: the event type contains CR or LF. Nothing was written. */
    SSE_ERR_BAD_TYPE = -10,
    /* Serializer: the id contains CR, LF or NUL. Nothing was written. */
    SSE_ERR_BAD_ID = -11,
    /* sse_check_response: HTTP 204, the server asks the client to stop; do not reconnect. */
    SSE_ERR_NO_CONTENT = -12,
    /* sse_check_response: a status other than 200 or 204; fail, do not reconnect. */
    SSE_ERR_HTTP_STATUS = -13,
    /* sse_check_response: status 200 but the Content-Type is not text/event-stream (or
     * missing); fail, do not reconnect. */
    SSE_ERR_CONTENT_TYPE = -14,
    /* Serializer: the frame's upper bound (SSE_FRAME_MAX of its field lengths) does not
     * fit in size_t, so its size cannot be counted. Nothing was read or written, *len = 0.
     * Only reachable with fields of about SIZE_MAX / 7 bytes (613 MB on 32-bit targets). */
    SSE_ERR_TOO_LARGE = -15
} sse_error;

/* Returns a static, NUL-terminated English description of err; never NULL, also for
 * values that are not in the enum. */
SSE_API const char *sse_strerror(sse_error err);

/* Returns SSE_VERSION_NUMBER of the compiled library, to catch header/library mismatch. */
SSE_API unsigned long sse_version(void);

/* ---------------------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------------------- */

/* What a record passed to your callback reports. */
typedef enum sse_kind {
    SSE_KIND_EVENT = 1, /* a dispatched event (in piece mode: one piece of its data) */
    SSE_KIND_RETRY,     /* an accepted retry field: see retry */
    SSE_KIND_COMMENT,   /* a comment line: data is its text (only with SSE_OPT_COMMENTS) */
    SSE_KIND_DROPPED,   /* something could not be delivered: error says which limit */
    SSE_KIND_ID         /* SSE_OPT_ID_RECORDS: a block set the last event ID (id) but
                           dispatched no event (it had no data field) */
} sse_kind;

/* Record flags. */
#define SSE_FLAG_HAS_ID 1u /* this event's block set the last event ID (maybe to "") */
#define SSE_FLAG_FIRST  2u /* first piece of an event's data (always set outside piece mode) */
#define SSE_FLAG_LAST   4u /* last piece of an event's data (always set outside piece mode) */

/* One record, passed to your callback. All pointers are valid only until the callback
 * returns; copy what you keep. type and id are always NUL-terminated; data is not
 * (it may point into the chunk you passed): use data_len. Lengths count bytes; NUL
 * bytes inside type and data are legal and counted.
 *
 *   kind             meaningful fields
 *   SSE_KIND_EVENT   type ("message" when the block set none), data, id (the last
 *                    event ID string at dispatch, "" when none), flags
 *   SSE_KIND_RETRY   retry (milliseconds), id
 *   SSE_KIND_COMMENT data (text after ':' minus one leading space), id
 *   SSE_KIND_ID      id (the new last event ID, maybe ""), flags (HAS_ID); sent at the
 *                    blank line ending the block, in stream order
 *   SSE_KIND_DROPPED error (which limit), id (after the drop), flags (HAS_ID); sent at
 *                    the blank line ending the event (a comment: at its line end); in
 *                    piece mode a
 *                    DROPPED record with SSE_FLAG_LAST ends an event with data: discard
 *                    the pieces of it you received (how many, if any, depends on how
 *                    the stream was chunked)
 * Fields not listed hold "" / 0. */
typedef struct sse_event {
    sse_kind kind;
    unsigned flags;    /* SSE_FLAG_* */
    const char *type;  /* event type, NUL-terminated */
    size_t type_len;   /* bytes in type */
    const char *data;  /* event data or comment text, NOT NUL-terminated */
    size_t data_len;   /* bytes in data */
    const char *id;    /* last event ID string, NUL-terminated */
    size_t id_len;     /* bytes in id */
    uint64_t retry;    /* SSE_KIND_RETRY: the accepted reconnection time in ms */
    sse_error error;   /* SSE_KIND_DROPPED: SSE_ERR_*_TOO_LONG */
} sse_event;

/* Receives every record, in stream order. user is the pointer given to feed/finish.
 * Return 0 to go on, non-zero to stop: the call that invoked you returns
 * SSE_ERR_STOPPED at once. From inside, you may call the queries sse_parser_last_id(),
 * sse_parser_retry() and sse_last_id_header(); feed, finish and reconnect on the same
 * parser return SSE_ERR_BUSY. */
typedef int (*sse_event_cb)(void *user, const sse_event *ev);

/* Options for sse_parser_init, OR-ed together; 0 is the browser's behaviour. */
#define SSE_OPT_RAW             1u /* no UTF-8 repair: values are the raw bytes */
#define SSE_OPT_COMMENTS        2u /* report comment lines as SSE_KIND_COMMENT */
#define SSE_OPT_DISPATCH_AT_EOF 4u /* finish dispatches a pending event instead of
                                      discarding it (NOT what browsers do; useful for
                                      truncated streams, such as LLM output) */
#define SSE_OPT_PIECES          8u /* piece mode: data of any size, handed out in pieces */
#define SSE_OPT_ID_RECORDS     16u /* report a block that sets the last event ID without
                                      dispatching an event as SSE_KIND_ID (a relay passes
                                      it on; browsers show nothing for it) */

/* Default reconnection time in ms before any retry field: Chromium's value. */
#define SSE_RETRY_DEFAULT 3000u

/* The parser. Declared here only so you can allocate it; all fields are private. */
typedef struct sse_parser {
    struct {
        char *buf;
        size_t field_cap, data_cap, data_len, type_len, id_len[3], value_len;
        uint64_t retry, num;
        unsigned options, flags;
        unsigned char state, field, name_len, bom, id_last, id_pending, id_reading;
        unsigned char u8_n, u8_need, u8_part[4], name[5];
    } priv; /* private; layout may change in any release */
} sse_parser;

/* Prepares p to parse a new stream.
 * storage, cap: your buffer, at least 16 bytes, used until you stop using p; its size
 *   sets the limits listed at the top of this file. Must not overlap p.
 * options: SSE_OPT_* or 0.
 * Returns SSE_OK, or SSE_ERR_ARG (p or storage NULL, cap < 16, unknown option bit). */
SSE_API sse_error sse_parser_init(sse_parser *p, void *storage, size_t cap, unsigned options);

/* Parses the next len bytes of the stream, in any split: the records are identical
 * however the stream is cut into chunks. A line ended by CR is processed at once.
 * Calls cb (user passed through) for each record, in stream order, before returning.
 * A chunk needs not outlive the call: the parser copies what it keeps.
 * Returns SSE_OK; SSE_ERR_ARG (p or cb NULL, or data NULL with len > 0); SSE_ERR_STOPPED
 * (cb returned non-zero now or earlier); SSE_ERR_BUSY (called from cb).
 * Limits never fail the call: each dropped item is a SSE_KIND_DROPPED record.
 * Piece mode: data reaches cb in SSE_KIND_EVENT records flagged FIRST (first piece),
 * LAST (the end; type, id and flags are final only there) or neither (a middle piece);
 * pieces arrive as bytes do, at the latest when feed returns. */
SSE_API sse_error sse_parser_feed(sse_parser *p, const void *data, size_t len, sse_event_cb cb,
                                  void *user);

/* Ends the stream (the connection closed). A pending event - a block with data, event
 * or id fields not yet ended by a blank line, or an unfinished line - is discarded as
 * the spec says, or dispatched through cb with SSE_OPT_DISPATCH_AT_EOF.
 * Then p is ready for a new connection of the same source, as after
 * sse_parser_reconnect(): the last event ID and reconnection time are kept.
 * Returns SSE_OK; SSE_ERR_TRUNCATED (something was discarded: in piece mode, discard the
 * pieces of an event that had no LAST piece); SSE_ERR_ARG (also when cb is NULL);
 * SSE_ERR_BUSY; SSE_ERR_STOPPED (cb returned non-zero now or in an earlier feed; p is
 * reset all the same, so the next feed starts a new connection). */
SSE_API sse_error sse_parser_finish(sse_parser *p, sse_event_cb cb, void *user);

/* Prepares p for a new connection of the same source without reporting anything: the
 * pending event and any partial line are dropped, BOM stripping is armed again, a stop
 * is cleared; the last event ID and the reconnection time are kept.
 * Returns SSE_OK, SSE_ERR_ARG or SSE_ERR_BUSY. */
SSE_API sse_error sse_parser_reconnect(sse_parser *p);

/* Returns the last event ID string (NUL-terminated, "" when none) and, when len is not
 * NULL, its length. This is what a client sends as Last-Event-ID when it reconnects.
 * Valid until the next feed, finish, init or set_last_id on p. p NULL returns "". */
SSE_API const char *sse_parser_last_id(const sse_parser *p, size_t *len);

/* Sets the last event ID, as an id field would but at once and without a record: for a
 * client that restores it (from disk) before its first connection, or between
 * connections. id holds len bytes (need not be NUL-terminated), stored as given; len 0
 * resets it to "". A block already pending keeps its own id field if it has one; BOM
 * stripping and the pending event are untouched.
 * Returns SSE_OK; SSE_ERR_BAD_ID (id holds CR, LF or NUL, or without SSE_OPT_RAW is not
 * valid UTF-8, which no id the parser reports can be: the ID is unchanged);
 * SSE_ERR_ID_TOO_LONG (len above the id limit, F - 1: unchanged); SSE_ERR_BUSY (called
 * from the callback); SSE_ERR_ARG (p NULL, or id NULL with len > 0).
 * A pointer from sse_parser_last_id() is invalid after SSE_OK. */
SSE_API sse_error sse_parser_set_last_id(sse_parser *p, const char *id, size_t len);

/* Returns the reconnection time in ms: the last accepted retry field, or
 * SSE_RETRY_DEFAULT when none arrived since init. p NULL returns SSE_RETRY_DEFAULT. */
SSE_API uint64_t sse_parser_retry(const sse_parser *p);

/* ---------------------------------------------------------------------------------------
 * Client helpers
 * ------------------------------------------------------------------------------------- */

/* A client's decision on a response, by the spec's rules:
 *   SSE_OK               status 200 and a Content-Type whose essence is
 *                        text/event-stream: feed the body to the parser;
 *   SSE_ERR_NO_CONTENT   status 204: the server says stop; do not reconnect;
 *   SSE_ERR_HTTP_STATUS  any other status: fail; do not reconnect;
 *   SSE_ERR_CONTENT_TYPE status 200 with another Content-Type, or none
 *                        (content_type NULL): fail; do not reconnect.
 * content_type is the header's value (need not be NUL-terminated); the essence is
 * compared ASCII case-insensitively, parameters such as ";charset=utf-8" and surrounding
 * spaces, tabs, CR and LF are ignored.
 *
 * Browsers never reconnect after a failed response. A non-browser client may retry
 * statuses that say "try later" (sse_status_retryable); its verdict table:
 *   200 + text/event-stream  read the stream; reconnect when it ends (back-off below)
 *   204                      stop for good (the server says so)
 *   301 302 303 307 308      follow the redirect (your HTTP library), then decide again
 *   408 429 500 502 503 504  reconnect after sse_reconnect_delay (longer if the server
 *                            sent Retry-After), counting a failure
 *   any other status, or 200 with another Content-Type: stop and report the error */
SSE_API sse_error sse_check_response(int status, const char *content_type, size_t len);

/* Returns 1 for the statuses a non-browser client retries with back-off (408, 429, 500,
 * 502, 503, 504: the server or a proxy is overloaded or restarting), 0 for all others. */
SSE_API int sse_status_retryable(int status);

/* Floor of the back-off in ms: from the second failure in a row on, the delay doubles
 * from at least this, whatever the server's retry (retry: 0 cannot cause a storm). */
#define SSE_RECONNECT_FLOOR_MS 1000u

/* Returns how long to wait before reconnecting, in ms.
 * failures: connection attempts in a row that failed. Count an attempt as a success (and
 *   pass 0 next) only when it delivered an event AND stayed open at least
 *   SSE_RECONNECT_FLOOR_MS; a server that sends "retry: 0", one event and closes, over
 *   and over, is failing, and the floor must hold for it too.
 *   failures 0 or 1: the reconnection time R (sse_parser_retry), as browsers wait;
 *   failures n >= 2: B * 2^(n-1) with B = max(R, SSE_RECONNECT_FLOOR_MS), at most
 *   max(cap_ms, B) (neither the server's R nor the floor is cut by cap_ms).
 * rnd: a random value from your generator (any 32 bits), or 0 for no jitter; the delay
 *   d becomes d + d/2 * rnd / 2^32, so clients that failed together spread over
 *   [d, 1.5 d) instead of reconnecting at once. The library keeps no random state.
 * p NULL: SSE_RETRY_DEFAULT stands in for R. No 64-bit division is used. */
SSE_API uint64_t sse_reconnect_delay(const sse_parser *p, unsigned failures, uint64_t cap_ms,
                                     uint32_t rnd);

/* Writes the request header "Last-Event-ID: <id>" for p's last event ID into out,
 * without CR LF (raw HTTP/1.1 adds it; libcurl's header lists want it without) and
 * followed by a NUL, or only the NUL (*len = 0) when the ID is empty: then send no such
 * header. *len counts the header's bytes without the NUL, so cap must be at least
 * *len + 1; out NULL is a size query. The header is always safe: an ID never holds CR,
 * LF or NUL. Returns SSE_OK, SSE_ERR_BUFFER_TOO_SMALL (*len = the header's length) or
 * SSE_ERR_ARG. */
SSE_API sse_error sse_last_id_header(const sse_parser *p, char *out, size_t cap, size_t *len);

/* ---------------------------------------------------------------------------------------
 * Serializer
 * ------------------------------------------------------------------------------------- */

/* The media type of an event stream, for libraries that take header values. */
#define SSE_CONTENT_TYPE "text/event-stream"

/* Response header lines for an HTTP/1.1 event stream, each ended by CR LF. Send them
 * after your status line, add your own, then the empty line:
 *     "HTTP/1.1 200 OK\r\n" SSE_HTTP_HEADERS "\r\n"
 * HTTP/2 forbids the Connection header: there send content-type SSE_CONTENT_TYPE and
 * cache-control no-cache only. */
#define SSE_HTTP_HEADERS                                                                     \
    "Content-Type: " SSE_CONTENT_TYPE "\r\n"                                                 \
    "Cache-Control: no-cache\r\n"                                                            \
    "Connection: keep-alive\r\n"

/* The fields of one frame. A NULL pointer means the field is absent (its length is then
 * ignored); a non-NULL pointer with length 0 is present and empty. Zero-initialise it
 * ("sse_frame f = {0};" in C) and set what you need, each pointer with its length: a
 * pointer set without its length writes an empty field. SSE_FIELD_STR sets both from a
 * NUL-terminated string. Written in this order:
 *   comment  ": text" lines, one per line of the text (split at CR, LF, CR LF)
 *   type     "event: type"  (CR or LF refused: SSE_ERR_BAD_TYPE)
 *   id       "id: id"       (CR, LF or NUL refused: SSE_ERR_BAD_ID; empty resets the
 *                            client's last event ID)
 *   retry    "retry: N"     when has_retry is non-zero
 *   data     "data: line", one per line of data split at CR, LF and CR LF (so CR and
 *            CR LF arrive as LF); empty data is one "data: " line
 *   then one empty line, unless the frame holds only a comment (a keep-alive) or
 *   nothing (an empty frame writes nothing). */
typedef struct sse_frame {
    const char *comment;
    size_t comment_len;
    const char *type;
    size_t type_len;
    const char *id;
    size_t id_len;
    const char *data;
    size_t data_len;
    int has_retry;  /* non-zero: write retry */
    uint64_t retry; /* reconnection time in ms */
} sse_frame;

/* Sets a text field and its length from a C string (NULL: the field is absent):
 *     SSE_FIELD_STR(f.type, "tick");   // f.type = "tick", f.type_len = 4
 * field is a member expression ending in comment, type, id or data (f.id, fp->data);
 * field and s are evaluated more than once. */
#define SSE_FIELD_STR(field, s) ((field) = (s), field##_len = (field) ? strlen(field) : 0u)

/* Upper bound, in bytes, of what one serializer call writes for fields of these lengths
 * (0 for an absent field): sse_encode of such a frame, and each sse_writer_begin,
 * sse_writer_data (data_len = the piece's length), sse_writer_fields and sse_writer_end
 * call of a frame. A buffer this large never gets SSE_ERR_BUFFER_TOO_SMALL, so a caller
 * can reserve once (the exact size is the size query's *len). Every line break can turn
 * into a new "data: " or ": " line, hence the factors. A constant expression when the
 * lengths are; the caller's arithmetic must not wrap (the library's own does not: a
 * frame whose bound exceeds SIZE_MAX is refused with SSE_ERR_TOO_LARGE). */
#define SSE_FRAME_MAX(comment_len, type_len, id_len, data_len)                               \
    (3u * (size_t)(comment_len) + (size_t)(type_len) + (size_t)(id_len) +                    \
     7u * (size_t)(data_len) + 53u)

/* Writes frame f into out, never past out + cap.
 * out NULL (cap ignored) is a size query: returns SSE_OK with *len = the exact size.
 * Returns SSE_OK (*len = bytes written, at most SSE_FRAME_MAX of f's lengths);
 * SSE_ERR_BUFFER_TOO_SMALL (*len = size needed); SSE_ERR_BAD_TYPE or SSE_ERR_BAD_ID
 * (nothing written, *len = 0); SSE_ERR_TOO_LARGE (*len = 0); SSE_ERR_ARG (f or len
 * NULL). Every frame it writes parses back to exactly f's fields. */
SSE_API sse_error sse_encode(void *out, size_t cap, const sse_frame *f, size_t *len);

/* Streaming data writer, for data that arrives in pieces (a relay): begin writes the
 * frame's leading fields, each data call writes a piece, fields writes fields inside the
 * open frame (a comment or retry met among the data, or the type and id known only at
 * the end), end closes the frame. Without fields calls the bytes equal sse_encode of the
 * same frame with all pieces joined; a CR ending one piece and an LF starting the next
 * are one line ending. Fields are private; begin initialises them (zero-initialise the
 * struct so that data, fields or end before begin is refused; zero it again to abandon
 * an open frame, e.g. when its connection closed). Every call checks its arguments and
 * the frame state first: on an error nothing is written, *len is 0 and w is unchanged. */
typedef struct sse_writer {
    struct {
        unsigned char state;
    } priv; /* private; layout may change in any release */
} sse_writer;

/* Starts a frame: writes f's comment, type, id and retry (f->data must be NULL) and the
 * start of the first data line. Sizes, errors and out NULL as for sse_encode; w is
 * changed only when SSE_OK is returned with out not NULL. SSE_ERR_ARG also when a frame
 * is open (begun and not ended): end it first. */
SSE_API sse_error sse_writer_begin(sse_writer *w, const sse_frame *f, void *out, size_t cap,
                                   size_t *len);

/* Writes the next piece_len bytes of data (piece may be NULL when piece_len is 0).
 * Sizes and out NULL as for sse_encode; w is changed only when SSE_OK is returned with
 * out not NULL. Returns SSE_OK, SSE_ERR_BUFFER_TOO_SMALL, SSE_ERR_TOO_LARGE, or
 * SSE_ERR_ARG (also when no frame was begun, or when the piece does not start with a
 * line break after sse_writer_fields closed the data line). */
SSE_API sse_error sse_writer_data(sse_writer *w, const void *piece, size_t piece_len, void *out,
                                  size_t cap, size_t *len);

/* Writes f's comment, type, id and retry (f->data must be NULL) inside the open frame,
 * in that order, without changing its data: a data line left open by the last piece is
 * closed, and the next piece must then start with a line break (CR, LF or CR LF), which
 * continues the data as the line break already written (a piece from a parser in piece
 * mode after a comment or retry record always does; else SSE_ERR_ARG, nothing written).
 * A type or id written here overrides one written by begin (the last one counts) and
 * applies to the whole event: this is how a relay writes the type and id that its
 * parser made final only at the LAST piece. A comment or retry is passed on in stream
 * order; the client sees it before the event, as from the original stream.
 * Sizes, errors and out NULL as for sse_encode; w is changed only when SSE_OK is
 * returned with out not NULL. SSE_ERR_ARG also when no frame is open. */
SSE_API sse_error sse_writer_fields(sse_writer *w, const sse_frame *f, void *out, size_t cap,
                                    size_t *len);

/* Ends the frame. Sizes and out NULL as for sse_encode. After SSE_OK with out not NULL,
 * w is ready for sse_writer_begin again. Returns SSE_OK, SSE_ERR_BUFFER_TOO_SMALL, or
 * SSE_ERR_ARG (also when no frame was begun). */
SSE_API sse_error sse_writer_end(sse_writer *w, void *out, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SSE_H */
