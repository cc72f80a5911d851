/*
 * sse_dump - reads an event stream on stdin, prints one JSON line per event and per
 * accepted retry field (the dump format of shared/conformance/README.md).
 *
 *   printf 'data: hello\n\n' | build/examples/sse_dump
 *   {"type":"message","data":"hello","id":""}
 *
 * Events of any size: the parser runs in piece mode and the pieces of an event are
 * gathered in a buffer that grows as needed (an event without a line ending inside one
 * chunk is printed straight from the chunk, without a copy). Event types and ids up to
 * 65535 bytes; a longer one drops its event, reported on stderr.
 *
 * SSE_CHUNK=N feeds the parser N bytes at a time (default 4096). Exit status: 0 after
 * the whole stream, 1 on a read error or when memory for an event runs out (one line on
 * stderr says which), 2 on a bad SSE_CHUNK.
 */
#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif

/* The data of the event being received, gathered from its pieces. */
struct gather {
    char *data;
    size_t len, cap;
};

static void json_string(const char *s, size_t n)
{
    size_t i, run = 0; /* s[run..i) needs no escape: written in one call */
    putchar('"');
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        fwrite(s + run, 1, i - run, stdout);
        run = i + 1;
        if (ch == '"' || ch == '\\') {
            printf("\\%c", ch);
        } else if (ch == '\n') {
            fputs("\\n", stdout);
        } else {
            printf("\\u%04x", ch);
        }
    }
    fwrite(s + run, 1, n - run, stdout);
    putchar('"');
}

/* Appends a piece; exits with status 1 when memory runs out (the event cannot be shown
 * whole, and showing it cut would be a lie). */
static void gather_piece(struct gather *g, const char *piece, size_t len)
{
    if (len > g->cap - g->len) {
        size_t cap = g->cap ? g->cap : 65536;
        char *grown;
        while (cap - g->len < len && cap <= (size_t)-1 / 2) {
            cap *= 2;
        }
        grown = cap - g->len < len ? NULL : realloc(g->data, cap);
        if (grown == NULL) {
            fprintf(stderr, "sse_dump: out of memory for an event of more than %zu bytes\n",
                    g->len);
            exit(1);
        }
        g->data = grown;
        g->cap = cap;
    }
    memcpy(g->data + g->len, piece, len);
    g->len += len;
}

static int on_record(void *user, const sse_event *ev)
{
    struct gather *g = user;
    const char *data = ev->data;
    size_t data_len = ev->data_len;

    switch (ev->kind) {
    case SSE_KIND_EVENT:
        if (ev->flags & SSE_FLAG_FIRST) {
            g->len = 0;
        }
        if ((ev->flags & (SSE_FLAG_FIRST | SSE_FLAG_LAST)) != (SSE_FLAG_FIRST | SSE_FLAG_LAST)) {
            gather_piece(g, ev->data, ev->data_len); /* an event in several pieces */
            data = g->data;
            data_len = g->len;
        }
        if (ev->flags & SSE_FLAG_LAST) {
            fputs("{\"type\":", stdout);
            json_string(ev->type, ev->type_len);
            fputs(",\"data\":", stdout);
            json_string(data, data_len);
            fputs(",\"id\":", stdout);
            json_string(ev->id, ev->id_len);
            fputs("}\n", stdout);
        }
        break;
    case SSE_KIND_RETRY: printf("{\"retry\":%llu}\n", (unsigned long long)ev->retry); break;
    case SSE_KIND_DROPPED: fprintf(stderr, "sse_dump: %s\n", sse_strerror(ev->error)); break;
    case SSE_KIND_COMMENT: /* not asked for (no SSE_OPT_COMMENTS, no SSE_OPT_ID_RECORDS) */
    case SSE_KIND_ID: break;
    }
    return 0;
}

int main(void)
{
    static char storage[1 << 20]; /* F = 64 KiB: type and id up to 65535 bytes */
    static char chunk[1 << 16];
    const char *env = getenv("SSE_CHUNK");
    long size = env ? strtol(env, NULL, 10) : 4096;
    struct gather g = { NULL, 0, 0 };
    sse_parser p;
    size_t n;

#ifdef _WIN32 /* the stream is bytes: no CR LF translation, no stop at ^Z */
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
#endif
    if (size < 1 || size > (long)sizeof chunk) {
        fprintf(stderr, "sse_dump: SSE_CHUNK must be 1..%zu\n", sizeof chunk);
        return 2;
    }
    sse_parser_init(&p, storage, sizeof storage, SSE_OPT_PIECES);
    while ((n = fread(chunk, 1, (size_t)size, stdin)) > 0) {
        sse_parser_feed(&p, chunk, n, on_record, &g);
    }
    if (ferror(stdin)) {
        perror("sse_dump: stdin");
        return 1;
    }
    sse_parser_finish(&p, on_record, &g); /* an unfinished event is discarded */
    free(g.data);
    return 0;
}
