/*
 * sse_dump - reads an event stream on stdin, prints one JSON line per event and per
 * accepted retry field (the dump format of shared/conformance/README.md).
 *
 *   printf 'data: hello\n\n' | build/examples/sse_dump
 *   {"type":"message","data":"hello","id":""}
 *
 * SSE_CHUNK=N feeds the parser N bytes at a time (default 4096). Exit status: 0 after
 * the whole stream, 1 on a read error, 2 on a bad SSE_CHUNK. Dropped events (too large
 * for the 1 MiB storage) are reported on stderr.
 */
#include "sse.h"

#include <stdio.h>
#include <stdlib.h>

static void json_string(const char *s, size_t n)
{
    size_t i;
    putchar('"');
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            printf("\\%c", ch);
        } else if (ch == '\n') {
            fputs("\\n", stdout);
        } else if (ch < 0x20) {
            printf("\\u%04x", ch);
        } else {
            putchar(ch);
        }
    }
    putchar('"');
}

static int on_record(void *user, const sse_event *ev)
{
    (void)user;
    switch (ev->kind) {
    case SSE_KIND_EVENT:
        fputs("{\"type\":", stdout);
        json_string(ev->type, ev->type_len);
        fputs(",\"data\":", stdout);
        json_string(ev->data, ev->data_len);
        fputs(",\"id\":", stdout);
        json_string(ev->id, ev->id_len);
        fputs("}\n", stdout);
        break;
    case SSE_KIND_RETRY: printf("{\"retry\":%llu}\n", (unsigned long long)ev->retry); break;
    case SSE_KIND_DROPPED: fprintf(stderr, "sse_dump: %s\n", sse_strerror(ev->error)); break;
    case SSE_KIND_COMMENT: break;
    }
    return 0;
}

int main(void)
{
    static char storage[1 << 20];
    static char chunk[1 << 16];
    const char *env = getenv("SSE_CHUNK");
    long size = env ? strtol(env, NULL, 10) : 4096;
    sse_parser p;
    size_t n;

    if (size < 1 || size > (long)sizeof chunk) {
        fprintf(stderr, "sse_dump: SSE_CHUNK must be 1..%zu\n", sizeof chunk);
        return 2;
    }
    sse_parser_init(&p, storage, sizeof storage, 0);
    while ((n = fread(chunk, 1, (size_t)size, stdin)) > 0) {
        sse_parser_feed(&p, chunk, n, on_record, NULL);
    }
    if (ferror(stdin)) {
        perror("sse_dump: stdin");
        return 1;
    }
    sse_parser_finish(&p, on_record, NULL);
    return 0;
}
