# Helpers for the e2e scripts (sourced). Every wait is bounded.
set -u
E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sse-e2e.XXXXXX")
E2E_PIDS=""
e2e_cleanup() {
    local p i
    # TERM first: `timeout` passes it on to its child (KILL would orphan the child).
    for p in $E2E_PIDS; do kill "$p" 2>/dev/null; done
    for p in $E2E_PIDS; do
        for i in $(seq 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$E2E_DIR"
}
trap e2e_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$E2E_DIR"/*.err; do [ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
    exit 1
}

# start_server NAME BINARY ARGS...: runs it in the background, sets SERVER_PID and PORT
# from its "listening on http://127.0.0.1:PORT/" line (5 s at most).
start_server() {
    local name=$1 bin=$2 i
    shift 2
    : >"$E2E_DIR/$name.out"
    "$bin" "$@" >"$E2E_DIR/$name.out" 2>>"$E2E_DIR/$name.err" &
    SERVER_PID=$!
    E2E_PIDS="$E2E_PIDS $SERVER_PID"
    for i in $(seq 100); do
        PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$E2E_DIR/$name.out")
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || fail "$name exited: $(cat "$E2E_DIR/$name.err")"
        sleep 0.05
    done
    fail "$name printed no port"
}

# wait_lines FILE N SECONDS: until FILE has N lines.
wait_lines() {
    local i
    for i in $(seq $(($3 * 20))); do
        [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$1 has $(wc -l <"$1") lines, wanted $2 within $3 s"
}

# wait_exit PID SECONDS: until PID is gone; sets EXIT_STATUS (for a child of this shell).
wait_exit() {
    local i
    for i in $(seq $(($2 * 20))); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            EXIT_STATUS=$?
            return 0
        fi
        sleep 0.05
    done
    fail "process $1 still running after $2 s"
}
