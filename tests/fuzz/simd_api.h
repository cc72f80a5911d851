/*
 * simd_api.h - the library's functions as a table, so one program can run the parser
 * and serializer built with each scanner (issue 14) side by side: sse_default_api is the
 * library as linked (the best path the CPU has), simd0_api and simd1_api are copies of
 * src/sse.c built by simd_variant.c with SSE_SIMD=0 (scalar) and SSE_SIMD=1 (SSE2 on
 * x86, NEON on aarch64), their functions static, so no name clashes.
 */
#ifndef SIMD_API_H
#define SIMD_API_H

#include "sse.h"

typedef struct sse_api {
    const char *name;
    sse_error (*parser_init)(sse_parser *p, void *storage, size_t cap, unsigned options);
    sse_error (*parser_feed)(sse_parser *p, const void *data, size_t len, sse_event_cb cb,
                             void *user);
    sse_error (*parser_finish)(sse_parser *p, sse_event_cb cb, void *user);
    const char *(*parser_last_id)(const sse_parser *p, size_t *len);
    sse_error (*parser_set_last_id)(sse_parser *p, const char *id, size_t len);
    uint64_t (*parser_retry)(const sse_parser *p);
    sse_error (*encode)(void *out, size_t cap, const sse_frame *f, size_t *len);
    sse_error (*writer_begin)(sse_writer *w, const sse_frame *f, void *out, size_t cap,
                              size_t *len);
    sse_error (*writer_data)(sse_writer *w, const void *piece, size_t piece_len, void *out,
                             size_t cap, size_t *len);
    sse_error (*writer_fields)(sse_writer *w, const sse_frame *f, void *out, size_t cap,
                               size_t *len);
    sse_error (*writer_end)(sse_writer *w, void *out, size_t cap, size_t *len);
} sse_api;

extern const sse_api simd0_api, simd1_api;

#define SSE_API_TABLE(name)                                                                  \
    {                                                                                        \
        name, sse_parser_init, sse_parser_feed, sse_parser_finish, sse_parser_last_id,       \
            sse_parser_set_last_id, sse_parser_retry, sse_encode, sse_writer_begin,          \
            sse_writer_data, sse_writer_fields, sse_writer_end                               \
    }

#endif /* SIMD_API_H */
