# Shared by the h2 test scripts (sourced, POSIX sh). Every server started here listens on
# 127.0.0.1 only and is killed on exit; the caller bounds its own time with `timeout`.
SKIP=77
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sse-h2.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

skip() { echo "SKIP: $*"; exit $SKIP; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need_tool() { command -v "$1" >/dev/null 2>&1 || skip "$1 not found"; }
need_file() { [ -x "$1" ] || skip "$1 not built"; }

# make_cert: a throw-away self-signed certificate for 127.0.0.1 in $TMP (never committed).
make_cert() {
    need_tool openssl
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 \
        -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 ||
        fail "openssl req failed"
    CERT=$TMP/cert.pem KEY=$TMP/key.pem
}

# start NAME BINARY ARGS...: runs a server with --port (given in ARGS) in the background
# under `timeout` (it dies by itself even if this script is killed), its stdout/stderr in
# $TMP/NAME.out and $TMP/NAME.err; waits for "listening on ...PORT/" and sets PORT and SPID
# (the server's own pid, for /proc/SPID/status).
start() {
    name=$1
    shift
    timeout -k 5 "${SERVER_TIMEOUT:-150}" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    eval "TPID_$name=$!"
    PIDS="$PIDS $!"
    i=0
    while ! grep -q '^listening on ' "$TMP/$name.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 100 ] || fail "$name did not start: $(cat "$TMP/$name.err")"
        eval "kill -0 \$TPID_$name" 2>/dev/null || fail "$name exited: $(cat "$TMP/$name.err")"
        sleep 0.05
    done
    PORT=$(sed -n 's#^listening on https*://127.0.0.1:\([0-9]*\)/.*#\1#p' "$TMP/$name.out")
    eval "SPID=\$(child_of \$TPID_$name)"
    [ -n "$SPID" ] || fail "no pid for $name"
}

child_of() { # the pid of the one child of $1 (timeout's child: the server)
    if [ -r "/proc/$1/task/$1/children" ]; then
        tr -d ' \n' <"/proc/$1/task/$1/children"
    else
        pgrep -P "$1"
    fi
}

# stop NAME: SIGTERM to the server, then its exit status (0 for a clean exit).
stop() {
    eval "t=\$TPID_$1"
    kill -TERM "$(child_of "$t")" 2>/dev/null || return 1
    wait "$t"
}
