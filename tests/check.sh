#!/usr/bin/env bash
# The test command of README.md; .ci/run calls it. On a Debian machine it installs
# what is missing, then builds and runs everything:
#   1. Release build: unit tests, fuzz-corpus replays, hostile streams, examples
#      end to end (servers, clients, headless Chromium), install and consumers
#   2. conformance vectors at chunk sizes 1, 2, 3, 7, 64, 4096: the project's own
#      (tests/conformance), and the shared ones when ../shared is beside the clone
#   3. the unit tests and replays under ASan+UBSan (gcc and clang) and valgrind; the
#      examples' end-to-end and attack tests against their ASan+UBSan builds
#   4. fuzzers (FUZZ_SECONDS each, default 60), clang-tidy and cppcheck
#   5. portability: cross builds run under qemu-user and wine (tests/portability.sh)
#   6. the benchmark in its short mode (it checks its event counts)
#   7. README's two commands in both orders, each on a fresh clone (tests/two_commands.sh)
# Every configure states every SSE_ option, whatever a previous one cached; a ctest that
# finds no test, or any stage that runs nothing, fails the run.
# Environment: FUZZ_SECONDS (fuzz time per fuzzer), SSE_QUICK=1 (stages 1-2 only),
# SSE_CTEST_ARGS (ctest arguments selecting stage 1's tests, e.g. "-L unit"),
# SSE_SHARED (where the shared conformance vectors are; default ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${SSE_SHARED:-$root/../shared}
jobs=2

stages=0
stage() { printf '\n==== %s\n' "$*"; stages=$((stages + 1)); } # set -e: any failure ends the run
# ctest in DIR with ARGS; fails like ctest, and also when it found or ran no test.
run_ctest() {
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure -j$jobs "$@") | tee "$dir/ctest.log"
  if grep -q 'No tests were found' "$dir/ctest.log" ||
     ! grep -Eq 'tests failed out of [1-9]' "$dir/ctest.log"; then
    echo "check.sh: ctest ran no test in $dir ($*)" >&2
    exit 1
  fi
}

# --- 0. what is missing -----------------------------------------------------------
pkgs=(cmake make gcc g++ clang libclang-rt-14-dev libcmocka-dev valgrind clang-tidy cppcheck
      python3 chromium libcurl4-openssl-dev libmicrohttpd-dev pkg-config
      libnghttp2-dev libssl-dev openssl curl git)
# tests/portability.sh: cross compilers, emulators, wine; cmocka for i386 (multiarch)
pkgs+=(qemu-user gcc-i686-linux-gnu libc6-dev-i386-cross libcmocka-dev:i386
       gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-s390x-linux-gnu libc6-dev-s390x-cross
       musl-tools mingw-w64 wine gcc-arm-none-eabi libnewlib-arm-none-eabi)
pkgs+=(libcjson-dev) # examples/llm_stream: JSON through cJSON
pkgs+=(redis-server nginx libhiredis-dev) # tests/scale: gateways over Redis behind nginx
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node and npm by command: some machines carry a Node.js build that bundles npm
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  stage "installing: ${missing[*]}"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo dpkg --add-architecture i386 # for libcmocka-dev:i386; a no-op when already added
  # a mirror mid-sync can fail one index (seen with i386); install from what it got
  $sudo apt-get update -qq || echo "check.sh: apt-get update reported errors; installing anyway" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
sh tests/e2e/browser/setup.sh
sh tests/e2e/h2/setup.sh

# --- 1. Release build and every ctest ---------------------------------------------
stage "Release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSSE_BUILD_TESTS=ON -DSSE_BUILD_EXAMPLES=ON \
  -DSSE_BUILD_BENCH=ON -DSSE_BUILD_FUZZ=OFF >/dev/null
cmake --build build -j$jobs
# shellcheck disable=SC2086 # SSE_CTEST_ARGS is a list of arguments
run_ctest build --timeout 300 ${SSE_CTEST_ARGS:-}
# everything this script needs is installed above: a skipped test is a failure here
if grep -q 'Skipped' build/ctest.log; then
  echo "check.sh: tests were skipped (see above); they must run" >&2
  exit 1
fi

stage "install, then consume with find_package, pkg-config and plain cc"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install build --prefix "$prefix/usr" >/dev/null
mkdir -p "$prefix/consumer"
cat >"$prefix/consumer/main.c" <<'C'
#include <sse.h>
static int cb(void *u, const sse_event *ev) { (void)ev; ++*(int *)u; return 0; }
int main(void) {
    char st[64]; sse_parser p; int n = 0;
    sse_parser_init(&p, st, sizeof st, 0);
    sse_parser_feed(&p, "data: x\n\n", 9, cb, &n);
    return n == 1 && sse_version() == SSE_VERSION_NUMBER ? 0 : 1;
}
C
cat >"$prefix/consumer/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(sse 1.0 REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE sse::sse)
C
cmake -S "$prefix/consumer" -B "$prefix/consumer/build" -DCMAKE_PREFIX_PATH="$prefix/usr" >/dev/null
cmake --build "$prefix/consumer/build" >/dev/null
"$prefix/consumer/build/consumer"
PKG_CONFIG_PATH=$(dirname "$(find "$prefix/usr" -name sse.pc)") \
  sh -c 'cc -std=c99 "$1/consumer/main.c" $(pkg-config --cflags --libs sse) -o "$1/pc" && "$1/pc"' _ "$prefix"
cc -std=c99 -Wall -Wextra -Werror -Iinclude src/sse.c "$prefix/consumer/main.c" -o "$prefix/vendored"
"$prefix/vendored"
echo "find_package, pkg-config and vendored builds: ok"

# --- 2. conformance vectors -----------------------------------------------------------
stage "conformance vectors"
python3 tests/conformance/run_vectors.py build/examples/sse_dump
ran="own (tests/conformance/vectors.jsonl)"
if [ -x "$shared/conformance/run_vectors" ]; then
  out=$("$shared/conformance/run_vectors" build/examples/sse_dump --chunks 1,2,3,7,64,4096 --quiet)
  echo "$out"
  echo "$out" | grep -Eq '^[1-9][0-9]* passed, 0 failed' || { echo "check.sh: shared vectors ran nothing" >&2; exit 1; }
  ran="$ran and shared ($shared/conformance/vectors.jsonl)"
else
  echo "no shared vectors at $shared/conformance (a clone without ../shared): not run"
fi
echo "conformance vectors that ran: $ran"

if [ "${SSE_QUICK:-0}" = 1 ]; then
  echo "check.sh (quick): $stages stages: $stages passed, 0 failed"
  exit 0
fi

# --- 3. sanitizers and valgrind --------------------------------------------------------
san_flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
for cc in gcc clang; do
  stage "ASan+UBSan with $cc"
  cmake -S . -B "build-san-$cc" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=$cc \
    -DCMAKE_C_FLAGS="$san_flags" -DCMAKE_EXE_LINKER_FLAGS="$san_flags" \
    -DSSE_BUILD_TESTS=ON -DSSE_BUILD_EXAMPLES=ON -DSSE_BUILD_BENCH=OFF -DSSE_BUILD_FUZZ=OFF >/dev/null
  cmake --build "build-san-$cc" -j$jobs
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest "build-san-$cc" -L unit --timeout 600
done
# The servers and clients built above with the sanitizers, under the end-to-end tests and
# the attacks (labels e2e, attack; not load or browser, whose figures want a plain build).
# About a minute per compiler; attack.py relaxes its memory and timing bounds here.
for cc in gcc clang; do
  stage "examples under ASan+UBSan with $cc: end-to-end and attack tests"
  ATTACK_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest "build-san-$cc" -L 'e2e|attack' -LE 'load|browser' --timeout 300
done
stage "valgrind memcheck"
# every test labelled unit, its command run under memcheck; any report fails the run
(cd build && ctest -L unit --show-only=json-v1) | python3 -c '
import json, subprocess, sys
tests = json.load(sys.stdin)["tests"]
bad = 0
for t in tests:
    cmd = ["valgrind", "-q", "--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=all"] + t["command"]
    rc = subprocess.call(cmd, stdout=subprocess.DEVNULL)
    print(("ok    " if rc == 0 else "FAIL  ") + t["name"], flush=True)
    bad += rc != 0
print(f"valgrind: {len(tests) - bad} passed, {bad} failed")
sys.exit(1 if bad or not tests else 0)
'

# --- 4. fuzzers and static analysis ------------------------------------------------------
stage "fuzzers, clang-tidy, cppcheck"
bash .ci/hostile.sh

# --- 4b. every scanner path (issue 14): forced paths, cross targets, NEON under qemu -----
stage "scanner paths: vectors with each path forced, cross compilers, aarch64 NEON (qemu)"
bash tests/simd.sh build "$shared"

stage "portability"; bash tests/portability.sh

# --- 5. benchmark, short --------------------------------------------------------------
stage "benchmark (short mode: proves it runs and its counts match)"
build/tests/bench/sse_bench --short

# --- 6. the README's two commands ---------------------------------------------------------
stage "README's two commands in both orders, each on a fresh clone without ../shared"
bash tests/two_commands.sh

echo
echo "check.sh: $stages stages: $stages passed, 0 failed"
