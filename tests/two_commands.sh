#!/usr/bin/env bash
# README's two commands, `sh examples/demo.sh` and `bash tests/check.sh`, must work in
# either order on a fresh clone that has no ../shared beside it. For each order this
# clones the repository (HEAD: uncommitted changes are not in the clone) into an empty
# temp dir and runs both commands there:
#   demo      runs until the server prints its URL; then the page and one event of
#             /dates are fetched, and the server is stopped;
#   check.sh  runs as SSE_QUICK=1 (stages 1-2: build, install and consumers, conformance)
#             with its ctest limited to the unit and conformance tests, to stay short;
#             the full check.sh is the run that calls this.
# Last, check.sh must fail when its ctest runs no test. node_modules of the browser tests
# are copied from this tree when present (no npm download per clone). Bounded: every wait
# has a deadline; 25 to 35 s in all here (2 shared cores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
demo_pid=
cleanup() {
  if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
unset SSE_SHARED

# demo DIR: README's first command in DIR, stopped once it served the page and an event.
demo() {
  local dir=$1 log=$1/../demo.log url= i
  : >"$log" # exists before the background job opens it
  (cd "$dir" && PORT=0 exec sh examples/demo.sh) >"$log" 2>&1 &
  demo_pid=$!
  for i in $(seq 1 3000); do # up to 300 s: the first command may install and build
    url=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\/\)$/\1/p' "$log")
    [ -n "$url" ] && break
    kill -0 "$demo_pid" 2>/dev/null || { cat "$log"; echo "FAIL: demo.sh exited" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$log"; echo "FAIL: demo.sh printed no URL in 300 s" >&2; exit 1; }
  python3 - "$url" <<'PY'
import sys, urllib.request
url = sys.argv[1]
with urllib.request.urlopen(url, timeout=10) as r:
    page = r.read().decode()
    assert r.status == 200 and "new EventSource('/dates" in page, page[:200]
req = urllib.request.Request(url + "dates", headers={"Accept": "text/event-stream"})
with urllib.request.urlopen(req, timeout=10) as r:   # one event arrives within an interval
    assert r.headers["Content-Type"] == "text/event-stream", r.headers["Content-Type"]
    lines = []
    while not (lines and lines[-1] == "" and any(l.startswith("data: ") for l in lines)):
        lines.append(r.readline().decode().rstrip("\n"))
print("demo: page and event " + " | ".join(l for l in lines if l))
PY
  kill "$demo_pid"
  wait "$demo_pid" || true
  demo_pid=
}

check() {
  (cd "$1" && SSE_QUICK=1 SSE_CTEST_ARGS="-L unit|conformance" bash tests/check.sh) \
    >"$1/../check.log" 2>&1 || { cat "$1/../check.log"; echo "FAIL: check.sh in $1" >&2; exit 1; }
  grep -E 'passed, [0-9]+ failed|tests passed|vectors that ran|stages:' "$1/../check.log"
}

echo "testing commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (the work tree has uncommitted changes, not tested)')"
for order in "demo check" "check demo"; do
  dir=$work/${order// /-}/sse
  mkdir -p "$(dirname "$dir")"
  git clone -q "$root" "$dir"
  for d in tests/e2e/browser tests/e2e/h2; do
    if [ -d "$root/$d/node_modules" ] && cmp -s "$root/$d/package-lock.json" "$dir/$d/package-lock.json"; then
      cp -a "$root/$d/node_modules" "$dir/$d/"
      touch "$dir/$d/node_modules/.package-lock.json" # installed from this very lock file
    fi
  done
  [ ! -e "$dir/../shared" ] || { echo "FAIL: $dir/../shared exists" >&2; exit 1; }
  start=$(date +%s)
  for cmd in $order; do
    echo "== $order: $cmd"
    $cmd "$dir"
  done
  echo "== $order: ok in $(($(date +%s) - start)) s"
done
# A stage that runs no test fails the run: check.sh with a ctest filter that matches none.
if (cd "$dir" && SSE_QUICK=1 SSE_CTEST_ARGS="-R ^no_such_test$" bash tests/check.sh) \
    >"$work/none.log" 2>&1 || ! grep -q 'ctest ran no test' "$work/none.log"; then
  cat "$work/none.log"
  echo "FAIL: check.sh passed although its ctest ran no test" >&2
  exit 1
fi
echo "check.sh fails when a ctest runs no test: ok"
echo "two commands: both orders passed on fresh clones"
