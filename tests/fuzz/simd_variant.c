/*
 * simd_variant.c - src/sse.c again, built with SSE_SIMD=0 (table simd0_api) or 1
 * (simd1_api): the compile definitions SSE_SIMD and SIMD_TABLE choose. SSE_API is
 * static here (the header allows overriding it), so the copy's functions clash with no
 * other copy; the table is how simd_api.h users reach them. The functions the table
 * leaves out are unused: this file is compiled with -Wno-unused-function.
 */
#define SSE_API static
#include "../../src/sse.c"

#include "simd_api.h"

#define SIMD_STR2(x) #x
#define SIMD_STR(x) SIMD_STR2(x)

const sse_api SIMD_TABLE = SSE_API_TABLE("SSE_SIMD=" SIMD_STR(SSE_SIMD));
