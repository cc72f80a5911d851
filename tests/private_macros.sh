#!/bin/sh
# tests/private_macros.sh CC SRC_DIR - src/sse.c ends by undefining every macro it defines
# (STYLE.md: a unity build, or a project that #includes sse.c, stays clean). Preprocesses
# sse.c, lists the macros still defined at its end, and fails on any that sse.c itself
# defines, but SSE_SIMD (the caller's switch, defaulted there).
cc=$1
src=$2
own=$(sed -n 's/^#define \([A-Za-z0-9_]*\).*/\1/p' "$src/src/sse.c" | sort -u)
[ -n "$own" ] || { echo "private_macros: no #define found in $src/src/sse.c"; exit 1; }
left=$("$cc" -E -dM -I"$src/include" "$src/src/sse.c" | sed -n 's/^#define \([A-Za-z0-9_]*\).*/\1/p' | sort -u)
leaks=$(printf '%s\n' "$own" | grep -v -x SSE_SIMD | while read -r m; do
  printf '%s\n' "$left" | grep -q -x "$m" && printf '%s ' "$m"
done)
if [ -n "$leaks" ]; then
  echo "private_macros: still defined after src/sse.c: $leaks"
  exit 1
fi
echo "private_macros: $(printf '%s\n' "$own" | wc -l) macros defined in src/sse.c, none left after it"
