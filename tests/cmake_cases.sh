#!/bin/sh
# How the build behaves for its users, each case a fresh configure in a temp dir (a few
# seconds each):
#   subproject  a parent project with no build type does add_subdirectory(sse): its
#               CMAKE_BUILD_TYPE stays empty, sse's tests stay off, sse::sse links.
#   no_cmocka   without cmocka (-DCMAKE_DISABLE_FIND_PACKAGE_cmocka=ON) a plain configure
#               works with the tests off and says so; -DSSE_BUILD_TESTS=ON fails clearly.
#   cxx_probe   a C++ compiler that cannot link the current flags (here a linker option it
#               rejects) leaves the C++ header test off instead of failing the configure.
#   install_only  README's three "Installing only the library" commands, as written there
#               (build and install dirs moved to temp dirs), without cmocka; then a
#               consumer built with find_package and with pkg-config.
# usage: cmake_cases.sh SOURCE_DIR CASE
set -eu
src=$1 case=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL ($case): $*" >&2; exit 1; }
# 'configure LOG ARGS...' runs cmake; its output goes to LOG; returns its status.
configure() {
    log=$1
    shift
    cmake "$@" >"$log" 2>&1
}

case $case in
subproject)
    mkdir "$work/parent"
    cat >"$work/parent/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(parent C)
set(before "\${CMAKE_BUILD_TYPE}")
add_subdirectory("$src" sse)
if(NOT "\${CMAKE_BUILD_TYPE}" STREQUAL "\${before}")
  message(FATAL_ERROR "add_subdirectory(sse) changed CMAKE_BUILD_TYPE to '\${CMAKE_BUILD_TYPE}'")
endif()
if(TARGET test_parser OR TARGET sse_server)
  message(FATAL_ERROR "sse built its tests or examples as a subproject")
endif()
add_executable(app main.c)
target_link_libraries(app PRIVATE sse::sse)
CMAKE
    cat >"$work/parent/main.c" <<'C'
#include <sse.h>
int main(void) { return sse_version() == SSE_VERSION_NUMBER ? 0 : 1; }
C
    configure "$work/log" -S "$work/parent" -B "$work/build" || { cat "$work/log"; fail "configure"; }
    cached=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$work/build/CMakeCache.txt")
    [ -z "$cached" ] || fail "the parent's cached CMAKE_BUILD_TYPE became '$cached'"
    cmake --build "$work/build" >"$work/log" 2>&1 || { cat "$work/log"; fail "build"; }
    "$work/build/app" || fail "app"
    echo "subproject: parent build type untouched, no tests or examples, sse::sse links"
    ;;
no_cmocka)
    configure "$work/log" -S "$src" -B "$work/plain" -DCMAKE_DISABLE_FIND_PACKAGE_cmocka=ON ||
        { cat "$work/log"; fail "a plain configure without cmocka failed"; }
    grep -q "cmocka not found, tests off" "$work/log" || fail "no message about the tests being off"
    grep -q '^SSE_BUILD_TESTS:BOOL=OFF' "$work/plain/CMakeCache.txt" || fail "tests not off"
    if configure "$work/log" -S "$src" -B "$work/asked" -DCMAKE_DISABLE_FIND_PACKAGE_cmocka=ON \
        -DSSE_BUILD_TESTS=ON; then
        fail "-DSSE_BUILD_TESTS=ON without cmocka configured"
    fi
    grep -q "SSE_BUILD_TESTS=ON needs cmocka" "$work/log" || { cat "$work/log"; fail "unclear error"; }
    echo "no cmocka: plain configure has tests off with a message; asking for them fails clearly"
    ;;
cxx_probe)
    configure "$work/log" -S "$src" -B "$work/build" -DSSE_BUILD_TESTS=ON \
        -DCMAKE_CXX_FLAGS=-Wl,--no-such-linker-option ||
        { cat "$work/log"; fail "configure failed"; }
    grep -q "C++ header test off" "$work/log" || { cat "$work/log"; fail "no 'C++ header test off'"; }
    ! grep -q "cxx_header" "$work/build/tests/CTestTestfile.cmake" || fail "cxx_header registered"
    configure "$work/log" -S "$src" -B "$work/good" -DSSE_BUILD_TESTS=ON ||
        { cat "$work/log"; fail "configure failed"; }
    grep -q "C++ header test on" "$work/log" || { cat "$work/log"; fail "a working C++ compiler was not used"; }
    echo "cxx probe: a C++ compiler that cannot link is left out; a working one is used"
    ;;
install_only)
    cmds=$(awk '/^## Installing only the library/ { on = 1; next } /^## / { on = 0 }
                on && /^    cmake / { sub(/^    /, ""); print }' "$src/README.md")
    [ "$(echo "$cmds" | wc -l)" = 3 ] || fail "README's install section should hold 3 cmake commands: $cmds"
    echo "$cmds" | while IFS= read -r cmd; do
        cmd=$(echo "$cmd" | sed -e "s|build-install|$work/build|g" -e "s|--prefix [^ ]*|--prefix $work/usr|")
        case $cmd in *" -S . "*) cmd="$cmd -DCMAKE_DISABLE_FIND_PACKAGE_cmocka=ON" ;; esac
        echo "+ $cmd"
        (cd "$src" && eval "$cmd") >"$work/log" 2>&1 || { cat "$work/log"; fail "$cmd"; }
    done
    [ -f "$work/usr/include/sse.h" ] || fail "no sse.h installed"
    mkdir "$work/app"
    cat >"$work/app/main.c" <<'C'
#include <sse.h>
int main(void) { return sse_version() == SSE_VERSION_NUMBER ? 0 : 1; }
C
    cat >"$work/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(sse 1.0 REQUIRED)
add_executable(app main.c)
target_link_libraries(app PRIVATE sse::sse)
CMAKE
    configure "$work/log" -S "$work/app" -B "$work/app/build" -DCMAKE_PREFIX_PATH="$work/usr" &&
        cmake --build "$work/app/build" >"$work/log" 2>&1 || { cat "$work/log"; fail "find_package consumer"; }
    "$work/app/build/app" || fail "find_package consumer run"
    pc=$(dirname "$(find "$work/usr" -name sse.pc)")
    # shellcheck disable=SC2046 # pkg-config prints a list of flags
    cc -std=c99 "$work/app/main.c" $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs sse) \
        -o "$work/app/pc" && "$work/app/pc" || fail "pkg-config consumer"
    echo "install only: README's commands installed without cmocka; find_package and pkg-config consumers run"
    ;;
*)
    echo "usage: cmake_cases.sh SOURCE_DIR subproject|no_cmocka|cxx_probe|install_only" >&2
    exit 2
    ;;
esac
