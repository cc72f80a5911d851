#!/usr/bin/env bash
# Portability stage of tests/check.sh (issue 13): the library built by other compilers, for
# other CPUs and C libraries, and run there under emulation.
#   i386        unit tests (cmocka from Debian's i386 multiarch) and corpus replays, run
#               under qemu-i386
#   s390x       sse_dump, sse_encode and the corpus replays, static, under qemu-s390x
#               (64-bit big-endian)
#   aarch64     the same under qemu-aarch64
#   musl        sse_dump and sse_encode, static, built with musl-gcc
#   mingw-w64   sse_dump.exe and sse_encode.exe under wine (headless, its own WINEPREFIX)
#   code size   src/sse.c -Os for Cortex-M0+ (-ffreestanding, held under a budget),
#               Cortex-M4 and x86-64
# Conformance vectors: the project's (tests/conformance) and the shared ones
# (../shared/conformance, or SSE_SHARED) when present, at every chunk size; each run says
# which ran, and a sub-step that ran nothing fails.
# Ends with "portability: N passed, M failed"; exit status 1 on any failure.
# Takes 45 to 65 s on 2 shared cores (i386 5-7 s, s390x and aarch64 13-18 s each, wine 9-23 s).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${SSE_SHARED:-$root/../shared}
tmp=$(mktemp -d)
chunks=1,2,3,7,64,4096
# src/sse.c under the library's warning rule; examples and tests show their warnings but,
# as in the CMake build, a warning there does not fail the stage
strict=(-std=c99 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror)
loose=(-std=c99 -Wall -Wextra)
fuzzers="fuzz_parse fuzz_chunking fuzz_roundtrip fuzz_limits"
limit=120 # seconds for any one emulated program (the vector runners have their own 20 s)
# Cortex-M0+ budget: src/sse.c plus the libc and libgcc routines it calls, linked with
# every public function kept. Measured: 7760 B before issue 9, 8196 B with issue 9's API
# and its retry check without 64-bit division (which cost about 620 B of libgcc: the
# budget catches its return), 8722 B with issue 14's small-feed and frame paths, 10208 B
# with its byte-at-a-time small feeds and one-copy cut lines (callgrind: 1-byte feeding,
# a UART's way, 12-25% fewer instructions a byte on line-heavy and CJK text; 256-byte
# chunks 10-25% fewer). The budget leaves about 500 B, as before.
m0_budget=10752

export WINEPREFIX=$tmp/wine WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY # wine stays headless
cleanup() {
    if [ -d "$WINEPREFIX" ]; then
        wineserver -k 2>/dev/null # the server of this prefix only, started by this script
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
# substep NAME FUNCTION ARGS...: runs FUNCTION ARGS under set -e and counts the result.
substep() {
    local name=$1 t0=$SECONDS rc
    shift
    printf -- '-- %s\n' "$name"
    (set -e; "$@")
    rc=$?
    if [ $rc = 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1))
        echo "FAIL $name (exit status $rc, $((SECONDS - t0)) s)"
    fi
}

# wrap FILE CMD...: writes an executable FILE that runs CMD with its own arguments appended
# (the vector runners take one program; this puts qemu or wine in front of it).
wrap() {
    local f=$1
    shift
    { echo '#!/bin/sh'; printf 'exec'; printf ' %q' "$@"; echo ' "$@"'; } >"$f"
    chmod +x "$f"
}

# vectors DUMP ENCODE CHUNKS: every conformance vector set present, through DUMP (and
# ENCODE for the project's encoding vectors). Fails when a set fails or none is present.
vectors() {
    local ran=0 out
    if [ -f tests/conformance/run_vectors.py ]; then
        out=$(python3 tests/conformance/run_vectors.py "$1" --encode "$2" --chunks "$3") || {
            printf '%s\n' "$out"
            return 1
        }
        echo "   project vectors (tests/conformance), chunks $3: ${out##*$'\n'}"
        ran=1
    fi
    if [ -x "$shared/conformance/run_vectors" ]; then
        out=$("$shared/conformance/run_vectors" "$(printf %q "$1")" --chunks "$3") || {
            printf '%s\n' "$out"
            return 1
        }
        echo "   shared vectors ($shared/conformance), chunks $3: ${out##*$'\n'}"
        ran=1
    fi
    if [ $ran = 0 ]; then
        echo "   no vectors: neither tests/conformance/run_vectors.py nor $shared/conformance"
        return 1
    fi
}

# build_examples CC DIR EXT FLAGS...: DIR/sse.o and DIR/sse_dump, DIR/sse_encode.
build_examples() {
    local cc=$1 o=$2 ext=$3 ex
    shift 3
    mkdir -p "$o"
    "$cc" "${strict[@]}" -O2 "$@" -Iinclude -c src/sse.c -o "$o/sse.o"
    for ex in sse_dump sse_encode; do
        "$cc" "${loose[@]}" -O2 "$@" -Iinclude "examples/$ex.c" "$o/sse.o" -o "$o/$ex$ext"
    done
    echo "   built sse_dump$ext, sse_encode$ext with $cc $*"
}

# replays CC DIR RUNNER...: the four corpus replays built with CC, run by RUNNER.
replays() {
    local cc=$1 o=$2 f out
    shift 2
    for f in $fuzzers; do
        "$cc" "${loose[@]}" -O2 -static -Iinclude "tests/fuzz/$f.c" tests/fuzz/replay.c "$o/sse.o" \
            -o "$o/${f}_replay"
        out=$(timeout $limit "$@" "$o/${f}_replay" "tests/fuzz/corpus/$f")
        echo "   ${out##*/}"
    done
}

# --- i386: unit tests and replays under qemu-i386 ---------------------------------------------
i386() {
    local cc=i686-linux-gnu-gcc o=$tmp/i386 t n out
    mkdir -p "$o/include"
    # cmocka.h alone: the rest of /usr/include is amd64's and must not shadow the cross libc
    ln -s /usr/include/cmocka.h "$o/include/cmocka.h"
    "$cc" "${strict[@]}" -O2 -Iinclude -c src/sse.c -o "$o/sse.o"
    for t in tests/test_*.c; do
        n=$(basename "$t" .c)
        "$cc" "${loose[@]}" -O2 -Iinclude -I"$o/include" "$t" "$o/sse.o" \
            -L/usr/lib/i386-linux-gnu -lcmocka -o "$o/$n"
        out=$(timeout $limit qemu-i386 "$o/$n" 2>&1) || {
            printf '%s\n' "$out"
            return 1
        }
        # cmocka prints "[  PASSED  ] N test(s)." on success; zero tests is a failure
        n="$n: $(grep -o 'PASSED  \] [0-9]* test' <<<"$out" | grep -o '[0-9]*')"
        echo "   $n passed (i386, qemu-i386)"
        [ "${n##*: }" -gt 0 ]
    done
    replays "$cc" "$o" qemu-i386
    # replay.c sets 64-bit file offsets itself; built with 32-bit ones, readdir() may fail
    # with EOVERFLOW (large inode numbers): then it must say so, never report no input
    "$cc" "${loose[@]}" -O2 -D_FILE_OFFSET_BITS=32 -Iinclude tests/fuzz/fuzz_parse.c \
        tests/fuzz/replay.c "$o/sse.o" -o "$o/replay_off32"
    if out=$(timeout $limit qemu-i386 "$o/replay_off32" tests/fuzz/corpus/fuzz_parse 2>&1); then
        echo "   32-bit offsets: ${out##*/} (no overflow on this file system)"
    else
        echo "   32-bit offsets: $out"
        if grep -q 'no input found' <<<"$out"; then
            return 1
        fi
    fi
}

# --- s390x and aarch64: static, under qemu-user ---------------------------------------------------
cross() {
    local arch=$1 o=$tmp/$1
    build_examples "$arch-linux-gnu-gcc" "$o" "" -static
    wrap "$o/dump" "qemu-$arch" "$o/sse_dump"
    wrap "$o/encode" "qemu-$arch" "$o/sse_encode"
    vectors "$o/dump" "$o/encode" $chunks
    replays "$arch-linux-gnu-gcc" "$o" "qemu-$arch"
}

# --- musl, static ---------------------------------------------------------------------------------
musl() {
    local o=$tmp/musl
    build_examples musl-gcc "$o" "" -static
    vectors "$o/sse_dump" "$o/sse_encode" $chunks
}

# --- mingw-w64 under wine ----------------------------------------------------------------------
mingw() {
    local o=$tmp/mingw h=$tmp/host
    build_examples x86_64-w64-mingw32-gcc "$o" .exe
    # a persistent wineserver: each later start takes about 20 ms instead of 2 s
    mkdir -p "$WINEPREFIX"
    wineserver -p
    timeout $limit wine "$o/sse_dump.exe" </dev/null 2>/dev/null # fills the prefix
    wrap "$o/dump" wine "$o/sse_dump.exe"
    wrap "$o/encode" wine "$o/sse_encode.exe"
    # one chunk size: the chunking logic is the same C as natively (every size runs there
    # and under qemu-user); this checks the Windows build and its CRT. Six sizes meant 1,100
    # wine starts, and one of them once exited 1 with no message on a loaded machine.
    vectors "$o/dump" "$o/encode" 7
    # binary mode: byte for byte what the Linux build writes, for input with CR LF and ^Z
    build_examples gcc "$h" ""
    printf 'data: a\x1ab\r\n\r\ndata: c\n\n' >"$tmp/in.dump"
    printf 'a\r\nb\x1ac\n' >"$tmp/in.encode"
    "$h/sse_dump" <"$tmp/in.dump" >"$tmp/want.dump"
    timeout $limit wine "$o/sse_dump.exe" <"$tmp/in.dump" >"$tmp/got.dump"
    cmp "$tmp/want.dump" "$tmp/got.dump"
    "$h/sse_encode" --id 7 <"$tmp/in.encode" >"$tmp/want.encode"
    timeout $limit wine "$o/sse_encode.exe" --id 7 <"$tmp/in.encode" >"$tmp/got.encode"
    cmp "$tmp/want.encode" "$tmp/got.encode"
    echo "   sse_dump.exe, sse_encode.exe: output identical to the Linux build's (CR LF, ^Z)"
}

# --- code size ----------------------------------------------------------------------------------
# code_size FILE: bytes of .text and .rodata (what goes to flash; no unwind tables)
code_size() {
    size -A "$1" | awk '$1 ~ /^\.(text|rodata)/ { n += $2 } END { print n + 0 }'
}

sizes() {
    local o=$tmp/size cpu keep s obj linked
    mkdir -p "$o"
    for cpu in cortex-m0plus cortex-m4; do
        arm-none-eabi-gcc "${strict[@]}" -Os -ffreestanding -mcpu=$cpu -mthumb -ffunction-sections \
            -fdata-sections -Iinclude -c src/sse.c -o "$o/$cpu.o"
        # every global function of sse.o kept, with the newlib-nano and libgcc routines they call
        keep=()
        for s in $(arm-none-eabi-nm -g --defined-only "$o/$cpu.o" | awk '$2 == "T" { print $3 }'); do
            keep+=("-Wl,-u,$s")
        done
        arm-none-eabi-gcc -mcpu=$cpu -mthumb -nostartfiles -specs=nano.specs -Wl,--gc-sections \
            -Wl,-e,sse_version "${keep[@]}" "$o/$cpu.o" -o "$o/$cpu.elf"
        obj=$(code_size "$o/$cpu.o")
        linked=$(code_size "$o/$cpu.elf")
        echo "   $cpu -Os: sse.o $obj B; linked with what it calls, $linked B" \
            "(calls: $(arm-none-eabi-nm -u "$o/$cpu.o" | awk '{print $2}' | tr '\n' ' '))"
    done
    gcc "${strict[@]}" -Os -Iinclude -c src/sse.c -o "$o/x86-64.o"
    echo "   x86-64 -Os (gcc $(gcc -dumpversion)): sse.o $(code_size "$o/x86-64.o") B"
    linked=$(code_size "$o/cortex-m0plus.elf")
    echo "   Cortex-M0+ budget: $linked B of $m0_budget B"
    [ "$linked" -le $m0_budget ]
}

t0=$SECONDS
substep "i386: unit tests and corpus replays under qemu-i386" i386
substep "s390x (big-endian): vectors and replays under qemu-s390x" cross s390x
substep "aarch64: vectors and replays under qemu-aarch64" cross aarch64
substep "musl static: vectors" musl
substep "mingw-w64: vectors under wine, binary stdin/stdout" mingw
substep "code size: Cortex-M0+ (budget), Cortex-M4, x86-64" sizes
echo "portability: $passed passed, $failed failed ($((SECONDS - t0)) s)"
[ $failed = 0 ]
