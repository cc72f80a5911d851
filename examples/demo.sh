#!/bin/sh
# The README's demo command: installs a C toolchain and CMake when missing (Debian),
# builds the library and examples, and starts examples/sse_server. Open the URL it
# prints in a browser: the page shows the events arriving live, the connection's state,
# a chart of events per second, and a button that has the server drop the connection so
# you can watch the browser reconnect and resume with Last-Event-ID.
# Stop it with Ctrl-C. PORT=N picks the port (default 8080; 0: any free port).
# It shares build/ with tests/check.sh; each states all its options, so either may run
# first.
set -eu
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cmake make gcc >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSSE_BUILD_EXAMPLES=ON -DSSE_BUILD_TESTS=OFF \
    -DSSE_BUILD_BENCH=OFF -DSSE_BUILD_FUZZ=OFF >/dev/null
cmake --build build -j2 --target sse_server >/dev/null
echo "sse demo: open the URL below in a browser (Ctrl-C stops the server)"
exec build/examples/sse_server --port "${PORT:-8080}"
