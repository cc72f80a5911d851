#!/bin/sh
# The README's demo command: installs a C toolchain and CMake when missing (Debian),
# builds the library and examples, and starts examples/sse_server. Open the URL it
# prints in a browser: the page shows the server's date live over EventSource.
# Stop it with Ctrl-C. PORT=N picks the port (default 8080).
set -eu
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
    sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cmake make gcc >/dev/null
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSSE_BUILD_TESTS=OFF >/dev/null
cmake --build build -j2 --target sse_server >/dev/null
echo "sse demo: open the URL below in a browser (Ctrl-C stops the server)"
exec build/examples/sse_server --port "${PORT:-8080}"
