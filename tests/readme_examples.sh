#!/bin/sh
# Compiles every complete C program (a ```c block with "int main") of README.md
# warning-free against the library, runs it on a small stream and checks its output.
# usage: readme_examples.sh SOURCE_DIR WORK_DIR
set -eu
src=$1 work=$2
mkdir -p "$work"
awk -v dir="$work" '
  /^```c$/ { n++; f = dir "/block" n ".c"; inblock = 1; printf "" > f; next }
  /^```$/ && inblock { inblock = 0; close(f); next }
  inblock { print >> f }
' "$src/README.md"
programs=0
for f in "$work"/block*.c; do
  grep -q 'int main' "$f" || continue
  programs=$((programs + 1))
  cc -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Werror -I"$src/include" \
    "$f" "$src/src/sse.c" -o "${f%.c}"
  out=$(printf 'event: greet\nid: 7\ndata: hi\n\n' | "${f%.c}")
  case "$out" in
    *"greet [7]: hi"*"Last-Event-ID: 7"*) ;;   # the parser example
    "event: update"*"data: line two") ;;        # the serializer example
    *) echo "unexpected output of $f:"; echo "$out"; exit 1 ;;
  esac
done
[ "$programs" -ge 2 ] || { echo "expected at least 2 programs in README.md, found $programs"; exit 1; }
echo "README examples: $programs programs compiled and checked"
