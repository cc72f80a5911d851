#!/usr/bin/env bash
# The test command of README.md; .ci/run calls it. On a Debian machine it installs
# what is missing, then builds and runs everything:
#   1. Release build: unit tests, fuzz-corpus replays, hostile streams, examples
#      end to end (servers, clients, headless Chromium), install and consumers
#   2. shared conformance vectors at chunk sizes 1, 2, 3, 7, 64, 4096
#   3. the unit tests and replays under ASan+UBSan (gcc and clang) and valgrind
#   4. fuzzers (FUZZ_SECONDS each, default 60), clang-tidy and cppcheck
#   5. the benchmark in its short mode (it checks its event counts)
# Environment: FUZZ_SECONDS (fuzz time per fuzzer), SSE_QUICK=1 (stages 1-2 only).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${SSE_SHARED:-$root/../shared}
jobs=2

stages=0
stage() { printf '\n==== %s\n' "$*"; stages=$((stages + 1)); } # set -e: any failure ends the run

# --- 0. what is missing -----------------------------------------------------------
pkgs=(cmake make gcc g++ clang libclang-rt-14-dev libcmocka-dev valgrind clang-tidy cppcheck
      python3 chromium libcurl4-openssl-dev libmicrohttpd-dev pkg-config
      libnghttp2-dev libssl-dev openssl curl
      gcc-aarch64-linux-gnu gcc-i686-linux-gnu gcc-s390x-linux-gnu libc6-dev-arm64-cross
      libc6-dev-i386-cross libc6-dev-s390x-cross qemu-user)
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
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
sh tests/e2e/browser/setup.sh
sh tests/e2e/h2/setup.sh

# --- 1. Release build and every ctest ---------------------------------------------
stage "Release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSSE_BUILD_BENCH=ON >/dev/null
cmake --build build -j$jobs
(cd build && ctest --output-on-failure -j$jobs --timeout 300) | tee build/ctest.log
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

# --- 2. shared conformance vectors --------------------------------------------------
stage "shared conformance vectors"
"$shared/conformance/run_vectors" build/examples/sse_dump --chunks 1,2,3,7,64,4096 --quiet

if [ "${SSE_QUICK:-0}" = 1 ]; then
  echo "check.sh (quick): $stages stages: $stages passed, 0 failed"
  exit 0
fi

# --- 3. sanitizers and valgrind --------------------------------------------------------
san_flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
for cc in gcc clang; do
  stage "ASan+UBSan with $cc"
  cmake -S . -B "build-san-$cc" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=$cc \
    -DCMAKE_C_FLAGS="$san_flags" -DCMAKE_EXE_LINKER_FLAGS="$san_flags" >/dev/null
  cmake --build "build-san-$cc" -j$jobs
  (cd "build-san-$cc" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j$jobs -L unit --timeout 600)
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

# --- 5. benchmark, short --------------------------------------------------------------
stage "benchmark (short mode: proves it runs and its counts match)"
build/tests/bench/sse_bench --short

echo
echo "check.sh: $stages stages: $stages passed, 0 failed"
