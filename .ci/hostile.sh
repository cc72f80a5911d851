#!/usr/bin/env bash
# .ci/hostile.sh - the hostile-input defenses (issue 4), from the repo root:
#   1. builds the libFuzzer fuzzers of tests/fuzz with -fsanitize=fuzzer,address,undefined;
#   2. runs each for FUZZ_SECONDS (default 60), one at a time, with tests/fuzz/sse.dict on
#      a temporary copy of its corpus (the repo is never modified); any crash, sanitizer
#      report, failed check or timeout fails the script, and the reproducer is printed
#      (base64) with the fuzzer's log tail;
#   3. runs clang-tidy (.clang-tidy) and cppcheck on src/sse.c: zero findings allowed.
# About 5 minutes with the default FUZZ_SECONDS on 2 cores.
# Env: FUZZ_SECONDS, HOSTILE_BUILD_DIR (default build-hostile), FUZZERS (space-separated
# subset), HOSTILE_SKIP_FUZZ=1 / HOSTILE_SKIP_STATIC=1 to run one half only.
set -euo pipefail

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
build=${HOSTILE_BUILD_DIR:-build-hostile}
fuzzers=${FUZZERS:-fuzz_parse fuzz_chunking fuzz_roundtrip fuzz_limits fuzz_relay fuzz_simd}
failed=()

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "hostile.sh: $1 not found (Debian: apt-get install -y $2)" >&2
    exit 1
  fi
}
need clang "clang libclang-rt-14-dev"
need cmake cmake

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ "${HOSTILE_SKIP_FUZZ:-0}" != 1 ]]; then
  echo "== build fuzzers ($build)"
  CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSSE_BUILD_FUZZ=ON \
    -DSSE_BUILD_TESTS=OFF -DSSE_BUILD_EXAMPLES=OFF -DSSE_BUILD_BENCH=OFF >"$work/cmake.log" 2>&1 \
    || { cat "$work/cmake.log"; exit 1; }
  # shellcheck disable=SC2086
  cmake --build "$build" -j2 --target $fuzzers

  cp -r tests/fuzz/corpus "$work/corpus"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  printf '%-16s %10s %10s %8s  %s\n' fuzzer executions exec/s new result
  for f in $fuzzers; do
    mkdir -p "$work/corpus/$f" "$work/artifacts/$f"
    rc=0
    "$build/tests/fuzz/$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -dict=tests/fuzz/sse.dict -artifact_prefix="$work/artifacts/$f/" -print_final_stats=1 \
      "$work/corpus/$f" >"$work/$f.log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$f.log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$f.log")
    added=$(sed -n 's/^stat::new_units_added: *//p' "$work/$f.log")
    if [[ $rc -eq 0 ]]; then
      printf '%-16s %10s %10s %8s  %s\n' "$f" "${execs:-?}" "${speed:-?}" "${added:-?}" ok
    else
      printf '%-16s %10s %10s %8s  %s\n' "$f" "${execs:-?}" "${speed:-?}" "${added:-?}" "FAILED (exit $rc)"
      echo "---- $f: last lines of the log"
      tail -n 60 "$work/$f.log"
      for a in "$work/artifacts/$f"/*; do
        [[ -e "$a" ]] || continue
        echo "---- $f reproducer $(basename "$a") ($(wc -c <"$a") bytes), base64:"
        base64 -w 0 "$a"
        echo
      done
      echo "---- reproduce: $build/tests/fuzz/$f FILE  (or ${f}_replay FILE, built by ctest)"
      failed+=("$f")
    fi
  done
fi

if [[ "${HOSTILE_SKIP_STATIC:-0}" != 1 ]]; then
  need clang-tidy clang-tidy
  need cppcheck cppcheck
  echo "== clang-tidy src/sse.c (checks from .clang-tidy)"
  if clang-tidy --quiet --warnings-as-errors='*' src/sse.c -- -std=c99 -Iinclude \
      >"$work/tidy.log" 2>&1; then
    echo "clang-tidy: no findings"
  else
    grep -E '(warning|error):' "$work/tidy.log" || cat "$work/tidy.log"
    failed+=(clang-tidy)
  fi
  echo "== cppcheck src/sse.c"
  if cppcheck --enable=warning,style,performance,portability --std=c99 --error-exitcode=1 \
      --inline-suppr --quiet -Iinclude src/sse.c >"$work/cppcheck.log" 2>&1; then
    echo "cppcheck: no findings"
  else
    cat "$work/cppcheck.log"
    failed+=(cppcheck)
  fi
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "hostile.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "hostile.sh: all passed"
