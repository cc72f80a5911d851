/*
 * test_api.c - every error path of the public API, NULL and nonsense arguments, the
 * accessors and client helpers, and reads past len caught by a guard page.
 *
 * Out-parameters are filled with a sentinel before each call, so a call that forgets to
 * write one fails.
 */
#if !defined(_WIN32)
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define HAVE_GUARD_PAGE 1
#endif

#include "sse.h"
#include "test_recorder.h"

#define SENTINEL ((size_t)0x5EE5u)

static const sse_error all_errors[] = {
    SSE_OK,
    SSE_ERR_ARG,
    SSE_ERR_STOPPED,
    SSE_ERR_BUSY,
    SSE_ERR_DATA_TOO_LONG,
    SSE_ERR_TYPE_TOO_LONG,
    SSE_ERR_ID_TOO_LONG,
    SSE_ERR_COMMENT_TOO_LONG,
    SSE_ERR_TRUNCATED,
    SSE_ERR_BUFFER_TOO_SMALL,
    SSE_ERR_BAD_TYPE,
    SSE_ERR_BAD_ID,
    SSE_ERR_NO_CONTENT,
    SSE_ERR_HTTP_STATUS,
    SSE_ERR_CONTENT_TYPE,
    SSE_ERR_TOO_LARGE,
};

static int count_cb(void *user, const sse_event *ev)
{
    (void)ev;
    ++*(int *)user;
    return 0;
}

/* ---- version and errors --------------------------------------------------------------- */

static void version_matches_header(void **state)
{
    (void)state;
    assert_int_equal(sse_version(), SSE_VERSION_NUMBER);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", SSE_VERSION_MAJOR, SSE_VERSION_MINOR, SSE_VERSION_PATCH);
    assert_string_equal(v, SSE_VERSION_STRING);
}

/* sse.h and README.md promise 120 bytes on 64-bit targets, 80 on i386 and 88 on 32-bit
 * targets that align uint64_t to 8 bytes (armhf, powerpc) (the design target: <= 128). */
struct u64_align {
    char c;
    uint64_t u;
};

static void parser_struct_is_small(void **state)
{
    (void)state;
    if (sizeof(void *) == 8) {
        assert_int_equal(sizeof(sse_parser), 120);
    } else if (sizeof(void *) == 4) {
        assert_int_equal(sizeof(sse_parser), 
                         offsetof(struct u64_align, u) == 4 ? 80 : 88);
    }
    assert_true(sizeof(sse_parser) <= 128);
}

/* SSE_VERSION_NUMBER is unsigned long arithmetic (int may have 16 bits): usable in a
 * file-scope initialiser and equal to the shifted parts. */
static const unsigned long version_at_file_scope = SSE_VERSION_NUMBER;

static void version_number_is_unsigned_long(void **state)
{
    (void)state;
    assert_true(version_at_file_scope == ((unsigned long)SSE_VERSION_MAJOR * 65536ul +
                                          (unsigned long)SSE_VERSION_MINOR * 256ul +
                                          (unsigned long)SSE_VERSION_PATCH));
    assert_int_equal(sizeof(SSE_VERSION_NUMBER), sizeof(unsigned long));
}

static void strerror_is_distinct_for_every_error(void **state)
{
    (void)state;
    size_t n = sizeof all_errors / sizeof all_errors[0];
    for (size_t i = 0; i < n; i++) {
        const char *a = sse_strerror(all_errors[i]);
        assert_non_null(a);
        assert_true(a[0] != '\0');
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a, sse_strerror(all_errors[j]));
    }
}

static void strerror_of_unknown_value_is_not_null(void **state)
{
    (void)state;
    const int unknown[] = { 1, 2, -16, -17, -100, 12345, -2147483647 - 1, 2147483647 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *t = sse_strerror((sse_error)unknown[i]);
        assert_non_null(t);
        assert_true(t[0] != '\0');
    }
}

/* ---- sse_parser_init ------------------------------------------------------------------ */

static void init_rejects_bad_arguments_and_leaves_parser_unchanged(void **state)
{
    (void)state;
    char storage[64];
    sse_parser p, snap;
    memset(&p, 0x5A, sizeof p);
    snap = p;
    assert_int_equal(sse_parser_init(NULL, storage, sizeof storage, 0), SSE_ERR_ARG);
    assert_int_equal(sse_parser_init(&p, NULL, sizeof storage, 0), SSE_ERR_ARG);
    assert_int_equal(sse_parser_init(&p, storage, 0, 0), SSE_ERR_ARG);
    assert_int_equal(sse_parser_init(&p, storage, 15, 0), SSE_ERR_ARG);
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 32u), SSE_ERR_ARG);
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0x80000000u), SSE_ERR_ARG);
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, ~0u), SSE_ERR_ARG);
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, SSE_OPT_PIECES | 64u),
                     SSE_ERR_ARG);
    assert_memory_equal(&p, &snap, sizeof p);
}

static void init_accepts_minimum_cap_and_every_option(void **state)
{
    (void)state;
    char storage[16];
    sse_parser p;
    assert_int_equal(sse_parser_init(&p, storage, 16, 0), SSE_OK);
    assert_int_equal(
        sse_parser_init(&p, storage, 16,
                        SSE_OPT_RAW | SSE_OPT_COMMENTS | SSE_OPT_DISPATCH_AT_EOF | SSE_OPT_PIECES |
                            SSE_OPT_ID_RECORDS),
        SSE_OK);
    size_t n = SENTINEL;
    assert_string_equal(sse_parser_last_id(&p, &n), "");
    assert_int_equal(n, 0);
    assert_int_equal(sse_parser_retry(&p), SSE_RETRY_DEFAULT);
    assert_int_equal(SSE_RETRY_DEFAULT, 3000);
    /* init again resets the last id and the retry */
    int count = 0;
    assert_int_equal(sse_parser_init(&p, storage, 16, 0), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "retry: 7\nid\n\n", 13, count_cb, &count), SSE_OK);
    assert_int_equal(sse_parser_retry(&p), 7);
    assert_int_equal(sse_parser_init(&p, storage, 16, 0), SSE_OK);
    assert_int_equal(sse_parser_retry(&p), SSE_RETRY_DEFAULT);
}

/* ---- feed, finish, reconnect arguments ------------------------------------------------ */

static void feed_finish_reconnect_reject_null_and_leave_parser_unchanged(void **state)
{
    (void)state;
    char storage[64];
    sse_parser p, snap;
    int count = 0;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "id: 1\n\ndata: x", 14, count_cb, &count), SSE_OK);
    snap = p;
    assert_int_equal(sse_parser_feed(NULL, "x", 1, count_cb, &count), SSE_ERR_ARG);
    assert_int_equal(sse_parser_feed(&p, "\n\n", 2, NULL, &count), SSE_ERR_ARG);
    assert_int_equal(sse_parser_feed(&p, NULL, 1, count_cb, &count), SSE_ERR_ARG);
    assert_int_equal(sse_parser_finish(NULL, count_cb, &count), SSE_ERR_ARG);
    assert_int_equal(sse_parser_finish(&p, NULL, &count), SSE_ERR_ARG);
    assert_int_equal(sse_parser_reconnect(NULL), SSE_ERR_ARG);
    assert_memory_equal(&p, &snap, sizeof p);
    assert_int_equal(count, 0);
    /* NULL data with len 0 is a valid empty chunk */
    assert_int_equal(sse_parser_feed(&p, NULL, 0, count_cb, &count), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "\n\n", 2, count_cb, &count), SSE_OK);
    assert_int_equal(count, 1);
}

static void accessors_with_null_parser(void **state)
{
    (void)state;
    size_t n = SENTINEL;
    const char *id = sse_parser_last_id(NULL, &n);
    assert_non_null(id);
    assert_string_equal(id, "");
    assert_int_equal(n, 0);
    assert_string_equal(sse_parser_last_id(NULL, NULL), "");
    assert_int_equal(sse_parser_retry(NULL), SSE_RETRY_DEFAULT);
}

static void last_id_accessor_tracks_committed_id(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    int count = 0;
    size_t n;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "id: abc\n", 8, count_cb, &count), SSE_OK);
    n = SENTINEL;
    assert_string_equal(sse_parser_last_id(&p, &n), ""); /* not committed yet */
    assert_int_equal(n, 0);
    assert_int_equal(sse_parser_feed(&p, "\n", 1, count_cb, &count), SSE_OK);
    n = SENTINEL;
    assert_string_equal(sse_parser_last_id(&p, &n), "abc");
    assert_int_equal(n, 3);
    assert_string_equal(sse_parser_last_id(&p, NULL), "abc");
    assert_int_equal(sse_parser_feed(&p, "id\n\n", 4, count_cb, &count), SSE_OK);
    n = SENTINEL;
    assert_string_equal(sse_parser_last_id(&p, &n), "");
    assert_int_equal(n, 0);
    assert_int_equal(count, 0);
}

/* ---- SSE_ERR_STOPPED ------------------------------------------------------------------ */

typedef struct stopper {
    int records;
    int stop_at;
    char seen[256];
} stopper;

static int stop_cb(void *user, const sse_event *ev)
{
    stopper *s = (stopper *)user;
    s->records++;
    size_t n = strlen(s->seen);
    if (ev->kind == SSE_KIND_EVENT && n + ev->data_len + 2 < sizeof s->seen) {
        memcpy(s->seen + n, ev->data, ev->data_len);
        s->seen[n + ev->data_len] = ';';
        s->seen[n + ev->data_len + 1] = '\0';
    }
    return s->records == s->stop_at;
}

static void stop_is_sticky_until_reconnect(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    stopper s = { 0, 1, "" };
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    const char *in = "data: a\n\ndata: b\n\n";
    assert_int_equal(sse_parser_feed(&p, in, strlen(in), stop_cb, &s), SSE_ERR_STOPPED);
    assert_int_equal(s.records, 1); /* the rest of the chunk was not parsed */
    assert_string_equal(s.seen, "a;");
    assert_int_equal(sse_parser_feed(&p, "data: c\n\n", 9, stop_cb, &s), SSE_ERR_STOPPED);
    assert_int_equal(sse_parser_feed(&p, NULL, 0, stop_cb, &s), SSE_ERR_STOPPED);
    assert_int_equal(sse_parser_finish(&p, stop_cb, &s), SSE_ERR_STOPPED);
    assert_int_equal(s.records, 1);
    assert_int_equal(sse_parser_reconnect(&p), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "data: d\n\n", 9, stop_cb, &s), SSE_OK);
    assert_string_equal(s.seen, "a;d;");
    assert_int_equal(sse_parser_finish(&p, stop_cb, &s), SSE_OK);
}

static void stop_on_retry_record_keeps_the_retry(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    stopper s = { 0, 1, "" };
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    const char *in = "retry: 5\ndata: x\n\n";
    assert_int_equal(sse_parser_feed(&p, in, strlen(in), stop_cb, &s), SSE_ERR_STOPPED);
    assert_int_equal(s.records, 1);
    assert_int_equal(sse_parser_retry(&p), 5);
    assert_int_equal(sse_parser_reconnect(&p), SSE_OK);
    assert_int_equal(sse_parser_retry(&p), 5);
}

static void stop_inside_finish_still_resets(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    stopper s = { 0, 1, "" };
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, SSE_OPT_DISPATCH_AT_EOF), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "id: 3\ndata: x", 13, stop_cb, &s), SSE_OK);
    assert_int_equal(sse_parser_finish(&p, stop_cb, &s), SSE_ERR_STOPPED);
    assert_int_equal(s.records, 1);
    assert_string_equal(sse_parser_last_id(&p, NULL), "3");
    /* "p is reset all the same": ready for a new connection */
    s.stop_at = 0;
    assert_int_equal(sse_parser_feed(&p, "data: y\n\n", 9, stop_cb, &s), SSE_OK);
    assert_string_equal(s.seen, "x;y;");
}

static void stop_in_piece_mode_then_reconnect(void **state)
{
    (void)state;
    char storage[64];
    sse_parser p;
    stopper s = { 0, 1, "" };
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, SSE_OPT_PIECES), SSE_OK);
    char in[300];
    memcpy(in, "data: ", 6);
    memset(in + 6, 'x', 200);
    memcpy(in + 206, "\n\n", 2);
    assert_int_equal(sse_parser_feed(&p, in, 208, stop_cb, &s), SSE_ERR_STOPPED);
    assert_int_equal(s.records, 1);
    assert_int_equal(sse_parser_reconnect(&p), SSE_OK);
    s.stop_at = 0;
    s.seen[0] = '\0';
    assert_int_equal(sse_parser_feed(&p, "data: y\n\n", 9, stop_cb, &s), SSE_OK);
    /* the new event starts clean: only "y" after the reconnect */
    assert_string_equal(s.seen, "y;");
}

/* ---- SSE_ERR_BUSY --------------------------------------------------------------------- */

typedef struct nester {
    sse_parser *p;
    sse_parser *other;
    int records;
    sse_error feed, finish, reconnect, other_feed;
    size_t id_len;
    uint64_t retry;
} nester;

static int nest_cb(void *user, const sse_event *ev)
{
    nester *n = (nester *)user;
    int dummy = 0;
    n->records++;
    if (ev->kind == SSE_KIND_EVENT) {
        n->feed = sse_parser_feed(n->p, "data: z\n\n", 9, nest_cb, n);
        n->finish = sse_parser_finish(n->p, nest_cb, n);
        n->reconnect = sse_parser_reconnect(n->p);
        n->other_feed = sse_parser_feed(n->other, "data: o\n\n", 9, count_cb, &dummy);
        n->id_len = SENTINEL;
        (void)sse_parser_last_id(n->p, &n->id_len);
        n->retry = sse_parser_retry(n->p);
    }
    return 0;
}

static void calls_from_inside_the_callback_are_busy(void **state)
{
    (void)state;
    char storage[256], storage2[256];
    sse_parser p, other;
    nester n;
    memset(&n, 0, sizeof n);
    n.p = &p;
    n.other = &other;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, SSE_OPT_DISPATCH_AT_EOF), SSE_OK);
    assert_int_equal(sse_parser_init(&other, storage2, sizeof storage2, 0), SSE_OK);
    const char *in = "retry: 9\nid: 12\ndata: a\n\ndata: b\n\ndata: c";
    assert_int_equal(sse_parser_feed(&p, in, strlen(in), nest_cb, &n), SSE_OK);
    assert_int_equal(n.feed, SSE_ERR_BUSY);
    assert_int_equal(n.finish, SSE_ERR_BUSY);
    assert_int_equal(n.reconnect, SSE_ERR_BUSY);
    assert_int_equal(n.other_feed, SSE_OK); /* another parser is independent */
    assert_int_equal(n.id_len, 2);
    assert_int_equal(n.retry, 9);
    /* 1 retry + 2 events: the nested calls did nothing */
    assert_int_equal(n.records, 3);
    n.feed = n.finish = n.reconnect = SSE_OK;
    assert_int_equal(sse_parser_finish(&p, nest_cb, &n), SSE_OK); /* dispatches "c" */
    assert_int_equal(n.records, 4);
    assert_int_equal(n.feed, SSE_ERR_BUSY);
    assert_int_equal(n.finish, SSE_ERR_BUSY);
    assert_int_equal(n.reconnect, SSE_ERR_BUSY);
    /* after the callback returned, calls work again */
    int count = 0;
    assert_int_equal(sse_parser_feed(&p, "data: q\n\n", 9, count_cb, &count), SSE_OK);
    assert_int_equal(count, 1);
}

/* ---- finish --------------------------------------------------------------------------- */

static void finish_reports_truncation(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    int count = 0;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    assert_int_equal(sse_parser_feed(&p, "data: x", 7, count_cb, &count), SSE_OK);
    assert_int_equal(sse_parser_finish(&p, count_cb, &count), SSE_ERR_TRUNCATED);
    assert_int_equal(sse_parser_finish(&p, count_cb, &count), SSE_OK); /* nothing left */
    assert_int_equal(sse_parser_feed(&p, "data: x\n\n", 9, count_cb, &count), SSE_OK);
    assert_int_equal(sse_parser_finish(&p, count_cb, &count), SSE_OK);
    assert_int_equal(count, 1);
}

/* ---- sse_check_response --------------------------------------------------------------- */

static void check_response(void **state)
{
    (void)state;
    static const struct {
        int status;
        const char *ct;
        sse_error want;
    } cases[] = {
        { 200, "text/event-stream", SSE_OK },
        { 200, "Text/Event-Stream; charset=utf-8", SSE_OK },
        { 200, "TEXT/EVENT-STREAM", SSE_OK },
        { 200, " text/event-stream ", SSE_OK },
        { 200, "\ttext/event-stream\t", SSE_OK },
        { 200, " text/event-stream\r\n", SSE_OK }, /* a header line as libcurl hands it */
        { 200, "text/event-stream;charset=utf-8", SSE_OK },
        { 200, "text/event-stream ;charset=utf-8", SSE_OK },
        { 200, "text/event-stream;", SSE_OK },
        { 200, "text/event-streams", SSE_ERR_CONTENT_TYPE },
        { 200, "text/event-strea", SSE_ERR_CONTENT_TYPE },
        { 200, "text/event", SSE_ERR_CONTENT_TYPE },
        { 200, "text /event-stream", SSE_ERR_CONTENT_TYPE },
        { 200, "text/ event-stream", SSE_ERR_CONTENT_TYPE },
        { 200, "xtext/event-stream", SSE_ERR_CONTENT_TYPE },
        { 200, "text/html", SSE_ERR_CONTENT_TYPE },
        { 200, "application/json", SSE_ERR_CONTENT_TYPE },
        { 200, "text/event-stream,text/html", SSE_ERR_CONTENT_TYPE },
        { 200, "", SSE_ERR_CONTENT_TYPE },
        { 200, " ", SSE_ERR_CONTENT_TYPE },
        { 200, ";charset=utf-8", SSE_ERR_CONTENT_TYPE },
        { 204, "text/event-stream", SSE_ERR_NO_CONTENT },
        { 204, "text/html", SSE_ERR_NO_CONTENT },
        { 404, "text/event-stream", SSE_ERR_HTTP_STATUS },
        { 201, "text/event-stream", SSE_ERR_HTTP_STATUS },
        { 301, "text/event-stream", SSE_ERR_HTTP_STATUS },
        { 500, "text/html", SSE_ERR_HTTP_STATUS },
        { 0, "text/event-stream", SSE_ERR_HTTP_STATUS },
        { -1, "text/event-stream", SSE_ERR_HTTP_STATUS },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sse_error got = sse_check_response(cases[i].status, cases[i].ct, strlen(cases[i].ct));
        if (got != cases[i].want) {
            print_error("sse_check_response(%d, \"%s\") = %s, expected %s\n", cases[i].status,
                        cases[i].ct, sse_strerror(got), sse_strerror(cases[i].want));
            fail();
        }
    }
    /* no Content-Type at all */
    assert_int_equal(sse_check_response(200, NULL, 0), SSE_ERR_CONTENT_TYPE);
    assert_int_equal(sse_check_response(200, NULL, 17), SSE_ERR_CONTENT_TYPE);
    assert_int_equal(sse_check_response(204, NULL, 0), SSE_ERR_NO_CONTENT);
    /* value need not be NUL-terminated: only len bytes count */
    assert_int_equal(sse_check_response(200, "text/event-streamXYZ", 17), SSE_OK);
    assert_int_equal(sse_check_response(200, "text/event-stream", 16), SSE_ERR_CONTENT_TYPE);
}

/* ---- sse_reconnect_delay --------------------------------------------------------------- */

static void feed_str(sse_parser *p, const char *s)
{
    int count = 0;
    assert_int_equal(sse_parser_feed(p, s, strlen(s), count_cb, &count), SSE_OK);
}

static void reconnect_delay(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    /* no retry yet: the default, doubled for each failure after the first */
    assert_int_equal(sse_reconnect_delay(&p, 0, 30000, 0), SSE_RETRY_DEFAULT);
    assert_int_equal(sse_reconnect_delay(&p, 1, 30000, 0), SSE_RETRY_DEFAULT);
    assert_int_equal(sse_reconnect_delay(&p, 2, 30000, 0), 2 * SSE_RETRY_DEFAULT);
    assert_int_equal(sse_reconnect_delay(&p, 3, 30000, 0), 4 * SSE_RETRY_DEFAULT);
    assert_int_equal(sse_reconnect_delay(&p, 4, 30000, 0), 8 * SSE_RETRY_DEFAULT);
    assert_int_equal(sse_reconnect_delay(&p, 5, 30000, 0), 30000); /* capped */
    assert_int_equal(sse_reconnect_delay(&p, 4000000000u, 30000, 0), 30000);
    assert_int_equal(sse_reconnect_delay(NULL, 2, 30000, 0), 2 * SSE_RETRY_DEFAULT);
    /* the server's retry, below the floor: taken as it is for the first failure, then
     * the back-off doubles from the floor */
    feed_str(&p, "retry: 100\n");
    assert_int_equal(sse_reconnect_delay(&p, 0, 30000, 0), 100);
    assert_int_equal(sse_reconnect_delay(&p, 1, 30000, 0), 100);
    assert_int_equal(sse_reconnect_delay(&p, 2, 30000, 0), 2 * SSE_RECONNECT_FLOOR_MS);
    assert_int_equal(sse_reconnect_delay(&p, 3, 30000, 0), 4 * SSE_RECONNECT_FLOOR_MS);
    /* a retry above the cap is the server's wish: kept, never doubled */
    feed_str(&p, "retry: 60000\n");
    assert_int_equal(sse_reconnect_delay(&p, 0, 30000, 0), 60000);
    assert_int_equal(sse_reconnect_delay(&p, 9, 30000, 0), 60000);
    /* no overflow near 2^64 */
    feed_str(&p, "retry: 18446744073709551615\n");
    assert_true(sse_reconnect_delay(&p, 70, UINT64_MAX, 0) == UINT64_MAX);
    assert_true(sse_reconnect_delay(&p, 70, UINT64_MAX, UINT32_MAX) == UINT64_MAX);
    feed_str(&p, "retry: 9223372036854775809\n");
    assert_true(sse_reconnect_delay(&p, 3, UINT64_MAX, 0) == UINT64_MAX);
}

/* retry: 0 from a server that fails every connection (issue 9: 1,002 connections per
 * second): the delay grows with consecutive failures all the same. */
static void reconnect_delay_retry_zero(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    unsigned f;
    uint64_t prev = 0;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    feed_str(&p, "retry: 0\n");
    assert_int_equal(sse_reconnect_delay(&p, 0, 30000, 0), 0);
    assert_int_equal(sse_reconnect_delay(&p, 1, 30000, 0), 0);
    for (f = 2; f < 40; f++) {
        uint64_t d = sse_reconnect_delay(&p, f, 30000, 0);
        assert_true(d >= SSE_RECONNECT_FLOOR_MS && d >= prev && d <= 30000);
        prev = d;
    }
    assert_int_equal(prev, 30000);
    /* cap 0 (a caller that wants no cap of its own) still backs off from the floor */
    assert_int_equal(sse_reconnect_delay(&p, 2, 0, 0), SSE_RECONNECT_FLOOR_MS);
}

/* Jitter adds d/2 * rnd / 2^32: 0 adds nothing, the largest rnd almost half. */
static void reconnect_delay_jitter(void **state)
{
    (void)state;
    char storage[256];
    sse_parser p;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);
    assert_int_equal(sse_reconnect_delay(&p, 2, 30000, 0), 6000);
    assert_int_equal(sse_reconnect_delay(&p, 2, 30000, 0x80000000u), 6000 + 1500);
    assert_int_equal(sse_reconnect_delay(&p, 2, 30000, UINT32_MAX), 6000 + 2999);
    assert_int_equal(sse_reconnect_delay(&p, 1, 30000, 0x40000000u), 3000 + 375);
    /* beyond 2^32 ms, both halves of the product count */
    feed_str(&p, "retry: 17179869184\n"); /* 2^34 */
    assert_true(sse_reconnect_delay(&p, 0, 0, 0x80000000u) == 17179869184u + 4294967296u);
}

static void status_retryable(void **state)
{
    (void)state;
    static const int yes[] = { 408, 429, 500, 502, 503, 504 };
    static const int no[] = { 0, 100, 200, 204, 301, 400, 401, 403, 404, 405, 410, 501, 505,
                              599, -1 };
    size_t i;
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        assert_int_equal(sse_status_retryable(yes[i]), 1);
    }
    for (i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_int_equal(sse_status_retryable(no[i]), 0);
    }
}

/* ---- sse_last_id_header --------------------------------------------------------------- */

static void last_id_header(void **state)
{
    (void)state;
    char storage[4096];
    sse_parser p;
    char out[300 + 32];
    size_t len;
    assert_int_equal(sse_parser_init(&p, storage, sizeof storage, 0), SSE_OK);

    /* no id: only the NUL, *len = 0 */
    len = SENTINEL;
    assert_int_equal(sse_last_id_header(&p, NULL, 0, &len), SSE_OK);
    assert_int_equal(len, 0);
    len = SENTINEL;
    memset(out, 0xA5, sizeof out);
    assert_int_equal(sse_last_id_header(&p, out, 0, &len), SSE_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 0);
    assert_int_equal((unsigned char)out[0], 0xA5);
    len = SENTINEL;
    assert_int_equal(sse_last_id_header(&p, out, 1, &len), SSE_OK);
    assert_int_equal(len, 0);
    assert_int_equal(out[0], '\0');
    assert_int_equal((unsigned char)out[1], 0xA5);

    feed_str(&p, "id: abc\n\n");
    const char want[] = "Last-Event-ID: abc"; /* no CR LF; a NUL follows */
    const size_t need = sizeof want - 1;
    len = SENTINEL;
    assert_int_equal(sse_last_id_header(&p, NULL, 0, &len), SSE_OK);
    assert_int_equal(len, need);
    for (size_t cap = 0; cap < need + 1; cap++) {
        memset(out, 0xA5, sizeof out);
        len = SENTINEL;
        assert_int_equal(sse_last_id_header(&p, out, cap, &len), SSE_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(len, need);
        for (size_t i = cap; i < sizeof out; i++)
            assert_int_equal((unsigned char)out[i], 0xA5);
    }
    memset(out, 0xA5, sizeof out);
    len = SENTINEL;
    assert_int_equal(sse_last_id_header(&p, out, need + 1, &len), SSE_OK);
    assert_int_equal(len, need);
    assert_memory_equal(out, want, need + 1);
    assert_int_equal((unsigned char)out[need + 1], 0xA5);

    /* the longest id the storage allows */
    char in[300];
    memcpy(in, "id: ", 4);
    memset(in + 4, 'z', 255);
    memcpy(in + 259, "\n\n", 3);
    feed_str(&p, in);
    len = SENTINEL;
    assert_int_equal(sse_last_id_header(&p, out, sizeof out, &len), SSE_OK);
    assert_int_equal(len, 15 + 255);
    assert_memory_equal(out, "Last-Event-ID: zzz", 18);
    assert_int_equal(out[len], '\0');

    /* an empty id resets: nothing again */
    feed_str(&p, "id\n\n");
    len = SENTINEL;
    assert_int_equal(sse_last_id_header(&p, out, sizeof out, &len), SSE_OK);
    assert_int_equal(len, 0);
    assert_int_equal(out[0], '\0');

    /* arguments */
    len = SENTINEL;
    assert_int_equal(sse_last_id_header(NULL, out, sizeof out, &len), SSE_ERR_ARG);
    assert_int_equal(sse_last_id_header(&p, out, sizeof out, NULL), SSE_ERR_ARG);
}

/* ---- serializer arguments ------------------------------------------------------------- */

static void encode_rejects_null(void **state)
{
    (void)state;
    sse_frame f = { 0 };
    f.data = "x";
    f.data_len = 1;
    char out[64];
    size_t len = SENTINEL;
    assert_int_equal(sse_encode(out, sizeof out, NULL, &len), SSE_ERR_ARG);
    assert_int_equal(sse_encode(out, sizeof out, &f, NULL), SSE_ERR_ARG);
    assert_int_equal(sse_encode(NULL, 0, &f, NULL), SSE_ERR_ARG);
    /* absent fields: their lengths are ignored */
    f.type_len = 99;
    f.id_len = 99;
    f.comment_len = 99;
    len = SENTINEL;
    assert_int_equal(sse_encode(out, sizeof out, &f, &len), SSE_OK);
    assert_int_equal(len, 9);
    assert_memory_equal(out, "data: x\n\n", 9);
}

static void writer_rejects_bad_arguments(void **state)
{
    (void)state;
    sse_writer w, snap;
    sse_frame f = { 0 };
    char out[64];
    size_t len;
    memset(&w, 0, sizeof w);
    snap = w;
    /* no frame begun */
    len = SENTINEL;
    assert_int_equal(sse_writer_data(&w, "x", 1, out, sizeof out, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_data(&w, "x", 1, NULL, 0, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_end(&w, out, sizeof out, &len), SSE_ERR_ARG);
    assert_memory_equal(&w, &snap, sizeof w);
    /* NULL pointers */
    assert_int_equal(sse_writer_begin(NULL, &f, out, sizeof out, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_begin(&w, NULL, out, sizeof out, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_begin(&w, &f, out, sizeof out, NULL), SSE_ERR_ARG);
    /* f->data must be NULL */
    f.data = "x";
    f.data_len = 1;
    assert_int_equal(sse_writer_begin(&w, &f, out, sizeof out, &len), SSE_ERR_ARG);
    assert_memory_equal(&w, &snap, sizeof w);
    f.data = NULL;
    f.data_len = 0;
    /* a size query does not begin a frame */
    len = SENTINEL;
    assert_int_equal(sse_writer_begin(&w, &f, NULL, 0, &len), SSE_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(&w, &snap, sizeof w);
    assert_int_equal(sse_writer_data(&w, "x", 1, out, sizeof out, &len), SSE_ERR_ARG);
    /* begun */
    assert_int_equal(sse_writer_begin(&w, &f, out, sizeof out, &len), SSE_OK);
    assert_int_equal(sse_writer_data(NULL, "x", 1, out, sizeof out, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_data(&w, "x", 1, out, sizeof out, NULL), SSE_ERR_ARG);
    assert_int_equal(sse_writer_data(&w, NULL, 1, out, sizeof out, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_end(NULL, out, sizeof out, &len), SSE_ERR_ARG);
    assert_int_equal(sse_writer_end(&w, out, sizeof out, NULL), SSE_ERR_ARG);
    len = SENTINEL;
    assert_int_equal(sse_writer_data(&w, NULL, 0, out, sizeof out, &len), SSE_OK);
    assert_int_equal(len, 0);
    len = SENTINEL;
    assert_int_equal(sse_writer_end(&w, out, sizeof out, &len), SSE_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "\n\n", 2);
    /* ended: no frame begun any more */
    assert_int_equal(sse_writer_data(&w, "x", 1, out, sizeof out, &len), SSE_ERR_ARG);
}

/* ---- reads past len: input that ends right before an unmapped page --------------------- */

#ifdef HAVE_GUARD_PAGE
typedef struct guard {
    unsigned char *base;
    size_t page;
} guard;

static void guard_open(guard *g)
{
    long ps = sysconf(_SC_PAGESIZE);
    assert_true(ps > 0);
    g->page = (size_t)ps;
    void *m = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    g->base = (unsigned char *)m;
    assert_int_equal(mprotect(g->base + g->page, g->page, PROT_NONE), 0);
}

/* Copies s[0..n) so that it ends exactly at the guard page. */
static const char *guard_put(guard *g, const char *s, size_t n)
{
    unsigned char *at = g->base + g->page - n;
    memcpy(at, s, n);
    return (const char *)at;
}

static void guard_close(guard *g)
{
    munmap(g->base, 2 * g->page);
}

static void no_read_past_len(void **state)
{
    (void)state;
    guard g;
    guard_open(&g);
    static const char *const streams[] = {
        "data: abc\n\ndata: x", "data: a\r", "data: a\r\n\r", "\xEF\xBB", "\xEF",  "data: \xE2\x82",
        "retry: 123",           "id: 5",     ": comment",     "data",     "data:", "\r",
        "data: \xF0\x9F\x9A",
    };
    static const unsigned opts[] = { 0, SSE_OPT_RAW | SSE_OPT_COMMENTS, SSE_OPT_PIECES,
                                     SSE_OPT_DISPATCH_AT_EOF };
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++) {
        for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
            size_t n = strlen(streams[i]);
            char storage[256];
            sse_parser p;
            int count = 0;
            /* whole, ending at the guard */
            assert_int_equal(sse_parser_init(&p, storage, sizeof storage, opts[o]), SSE_OK);
            const char *at = guard_put(&g, streams[i], n);
            assert_int_equal(sse_parser_feed(&p, at, n, count_cb, &count), SSE_OK);
            (void)sse_parser_finish(&p, count_cb, &count);
            /* one byte at a time, each byte ending at the guard */
            assert_int_equal(sse_parser_init(&p, storage, sizeof storage, opts[o]), SSE_OK);
            for (size_t k = 0; k < n; k++) {
                at = guard_put(&g, streams[i] + k, 1);
                assert_int_equal(sse_parser_feed(&p, at, 1, count_cb, &count), SSE_OK);
            }
            (void)sse_parser_finish(&p, count_cb, &count);
            /* an empty chunk right at the guard */
            assert_int_equal(sse_parser_feed(&p, g.base + g.page, 0, count_cb, &count), SSE_OK);
        }
    }

    /* client helpers */
    static const char *const types[] = { "text/event-stream",
                                         "Text/Event-Stream ",
                                         "text/event-stream;",
                                         "text/event-",
                                         "text",
                                         "text/event-stream; charset=utf-8",
                                         " " };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        (void)sse_check_response(200, guard_put(&g, types[i], n), n);
    }
    assert_int_equal(sse_check_response(200, guard_put(&g, "text/event-stream", 17), 17), SSE_OK);

    /* serializer: every field ending at the guard */
    char out[256];
    size_t len;
    sse_frame f = { 0 };
    f.data = guard_put(&g, "a\r", 2);
    f.data_len = 2;
    assert_int_equal(sse_encode(out, sizeof out, &f, &len), SSE_OK);
    assert_int_equal(len, 16);
    f.data = NULL;
    f.comment = guard_put(&g, "c\r", 2);
    f.comment_len = 2;
    assert_int_equal(sse_encode(out, sizeof out, &f, &len), SSE_OK);
    f.comment = NULL;
    f.type = guard_put(&g, "t", 1);
    f.type_len = 1;
    assert_int_equal(sse_encode(out, sizeof out, &f, &len), SSE_OK);
    f.type = NULL;
    f.id = guard_put(&g, "i", 1);
    f.id_len = 1;
    assert_int_equal(sse_encode(out, sizeof out, &f, &len), SSE_OK);
    f.id = NULL;
    sse_writer w;
    memset(&w, 0, sizeof w);
    assert_int_equal(sse_writer_begin(&w, &f, out, sizeof out, &len), SSE_OK);
    assert_int_equal(sse_writer_data(&w, guard_put(&g, "x\r", 2), 2, out, sizeof out, &len),
                     SSE_OK);
    assert_int_equal(sse_writer_data(&w, guard_put(&g, "\n", 1), 1, out, sizeof out, &len), SSE_OK);
    assert_int_equal(sse_writer_end(&w, out, sizeof out, &len), SSE_OK);

    /* output ending at the guard: exactly the size needed, never past */
    f.data = "hello";
    f.data_len = 5;
    char *o = (char *)(g.base + g.page - 13);
    assert_int_equal(sse_encode(o, 13, &f, &len), SSE_OK);
    assert_int_equal(len, 13);
    assert_memory_equal(o, "data: hello\n\n", 13);
    o = (char *)(g.base + g.page - 12);
    assert_int_equal(sse_encode(o, 12, &f, &len), SSE_ERR_BUFFER_TOO_SMALL);
    guard_close(&g);
}
#endif

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_matches_header),
        cmocka_unit_test(parser_struct_is_small),
        cmocka_unit_test(version_number_is_unsigned_long),
        cmocka_unit_test(strerror_is_distinct_for_every_error),
        cmocka_unit_test(strerror_of_unknown_value_is_not_null),
        cmocka_unit_test(init_rejects_bad_arguments_and_leaves_parser_unchanged),
        cmocka_unit_test(init_accepts_minimum_cap_and_every_option),
        cmocka_unit_test(feed_finish_reconnect_reject_null_and_leave_parser_unchanged),
        cmocka_unit_test(accessors_with_null_parser),
        cmocka_unit_test(last_id_accessor_tracks_committed_id),
        cmocka_unit_test(stop_is_sticky_until_reconnect),
        cmocka_unit_test(stop_on_retry_record_keeps_the_retry),
        cmocka_unit_test(stop_inside_finish_still_resets),
        cmocka_unit_test(stop_in_piece_mode_then_reconnect),
        cmocka_unit_test(calls_from_inside_the_callback_are_busy),
        cmocka_unit_test(finish_reports_truncation),
        cmocka_unit_test(check_response),
        cmocka_unit_test(reconnect_delay),
        cmocka_unit_test(reconnect_delay_retry_zero),
        cmocka_unit_test(reconnect_delay_jitter),
        cmocka_unit_test(status_retryable),
        cmocka_unit_test(last_id_header),
        cmocka_unit_test(encode_rejects_null),
        cmocka_unit_test(writer_rejects_bad_arguments),
#ifdef HAVE_GUARD_PAGE
        cmocka_unit_test(no_read_past_len),
#endif
    };
    test_filter_from_args(argc, argv);
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
