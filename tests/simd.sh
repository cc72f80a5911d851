#!/usr/bin/env bash
# tests/simd.sh - every scanner path of src/sse.c (issue 14), beyond what ctest runs:
#   1. the conformance vectors (the project's own, and ../shared's when present) with
#      sse_dump built with SSE_SIMD=0 (scalar) and SSE_SIMD=1 (SSE2); check.sh's stage 2
#      runs the default build (AVX2 here);
#   2. src/sse.c compiles warning-free at the project's flags for x86-64 (each path),
#      i686, s390x (scalar) and aarch64 (NEON and scalar), with gcc and clang;
#   3. aarch64 under qemu-user: fuzz_simd_gen (NEON as linked, NEON again, scalar:
#      identical records and bytes) and the vectors through an aarch64 sse_dump (NEON).
# Usage: bash tests/simd.sh BUILD_DIR [SHARED_DIR]   (BUILD_DIR: a configured and built
# tree with SSE_BUILD_TESTS=ON). About 1 minute on 2 cores, mostly qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: tests/simd.sh BUILD_DIR [SHARED_DIR]}
shared=${2:-../shared}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror -O2 -Iinclude)

# vectors DUMP ENCODE CHUNKS: the project's own vectors (decoding through DUMP, encoding
# through ENCODE), then the shared ones when present.
vectors() {
  python3 tests/conformance/run_vectors.py "$1" --encode "$2" --chunks "$3" | tail -1
  if [ -x "$shared/conformance/run_vectors" ]; then
    "$shared/conformance/run_vectors" "$1" --chunks "$3" --quiet
  else
    echo "(no $shared/conformance: the project's own vectors only)"
  fi
}

echo "== conformance vectors, each path forced"
for v in 0 1; do
  echo "SSE_SIMD=$v:"
  vectors "$build/tests/sse_dump_simd$v" "$build/tests/sse_encode_simd$v" 1,2,3,7,64,4096
done

echo "== warning-free on each target and path"
for cc in gcc clang; do
  for v in "" -DSSE_SIMD=0 -DSSE_SIMD=1; do
    $cc "${flags[@]}" $v -c src/sse.c -o "$work/x.o"
  done
done
i686-linux-gnu-gcc "${flags[@]}" -c src/sse.c -o "$work/x.o"
i686-linux-gnu-gcc "${flags[@]}" -msse2 -c src/sse.c -o "$work/x.o"
s390x-linux-gnu-gcc "${flags[@]}" -c src/sse.c -o "$work/x.o"
for v in "" -DSSE_SIMD=0; do
  aarch64-linux-gnu-gcc "${flags[@]}" $v -c src/sse.c -o "$work/x.o"
done
clang --target=aarch64-linux-gnu "${flags[@]}" -c src/sse.c -o "$work/x.o"
echo "gcc, clang (x86-64: default, SSE_SIMD=0, 1), i686 (+ -msse2), s390x, aarch64: ok"

echo "== aarch64 NEON under qemu-user"
a64=(aarch64-linux-gnu-gcc -std=c99 -O2 -Iinclude -Itests/fuzz -static)
for v in 0 1; do
  "${a64[@]}" -DSSE_SIMD=$v -DSIMD_TABLE=simd${v}_api -Wno-unused-function \
    -c tests/fuzz/simd_variant.c -o "$work/simd$v.o"
done
"${a64[@]}" tests/fuzz/fuzz_simd.c tests/fuzz/simd_gen.c src/sse.c "$work/simd0.o" \
  "$work/simd1.o" -o "$work/fuzz_simd_gen"
for ex in sse_dump sse_encode; do
  "${a64[@]}" examples/$ex.c src/sse.c -o "$work/$ex"
  printf '#!/bin/sh\nexec qemu-aarch64 %s "$@"\n' "$work/$ex" >"$work/$ex.a64"
  chmod +x "$work/$ex.a64"
done
macros=$(aarch64-linux-gnu-gcc -dM -E -x c /dev/null)
if [[ $macros == *__ARM_NEON* ]]; then
  echo "aarch64 build uses NEON"
else
  echo "simd.sh: the aarch64 compiler does not define __ARM_NEON" >&2
  exit 1
fi
qemu-aarch64 "$work/fuzz_simd_gen" 3000 120
vectors "$work/sse_dump.a64" "$work/sse_encode.a64" 1,7,64,4096
echo "simd.sh: every path alike"
