/*
 * sse_encode - writes one event-stream frame to stdout.
 *
 *   printf 'a\nb' | build/examples/sse_encode --event tick --id 7
 *   event: tick
 *   id: 7
 *   data: a
 *   data: b
 *
 * Options: --event T, --id I, --retry N, --comment C; data is read from stdin unless
 * --no-data. A field the serializer refuses (CR or LF in the type; CR, LF or NUL in the
 * id) exits with status 2 and a one-line reason on stderr, writing nothing to stdout.
 */
#include "sse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif

static char data[1 << 20];
static char out[(1 << 20) * 8];

static int usage(void)
{
    fputs("usage: sse_encode [--event T] [--id I] [--retry N] [--comment C] [--no-data]"
          " < data\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    sse_frame f = { 0 };
    int read_data = 1, i;
    size_t len = 0;
    sse_error err;

#ifdef _WIN32 /* the frame is bytes: no CR LF translation, no stop at ^Z */
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
#endif
    for (i = 1; i < argc; i++) {
        const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--no-data") == 0) {
            read_data = 0;
            continue;
        }
        if (!arg) {
            return usage();
        }
        i++;
        if (strcmp(opt, "--event") == 0) {
            f.type = arg;
            f.type_len = strlen(arg);
        } else if (strcmp(opt, "--id") == 0) {
            f.id = arg;
            f.id_len = strlen(arg);
        } else if (strcmp(opt, "--comment") == 0) {
            f.comment = arg;
            f.comment_len = strlen(arg);
        } else if (strcmp(opt, "--retry") == 0) {
            char *end;
            errno = 0;
            f.retry = strtoull(arg, &end, 10);
            if (errno || *end || arg[0] < '0' || arg[0] > '9') {
                fprintf(stderr, "sse_encode: --retry needs a number of milliseconds\n");
                return 2;
            }
            f.has_retry = 1;
        } else {
            return usage();
        }
    }
    if (read_data) {
        f.data_len = fread(data, 1, sizeof data, stdin);
        if (ferror(stdin) || !feof(stdin)) {
            fprintf(stderr, "sse_encode: cannot read data (at most %zu bytes)\n", sizeof data);
            return 1;
        }
        f.data = data;
    }
    err = sse_encode(out, sizeof out, &f, &len);
    if (err != SSE_OK) {
        fprintf(stderr, "sse_encode: %s\n", sse_strerror(err));
        return 2;
    }
    return fwrite(out, 1, len, stdout) == len ? 0 : 1;
}
