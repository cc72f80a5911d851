# Shared by the scale tests and the scale benchmark (sourced, bash). Starts Redis, the
# gateways and nginx on 127.0.0.1, each with its own config and files in one temp dir,
# on free ports; every wait is bounded and waits on readiness (a port printed, a log line).
# Uses ../e2e/lib.sh: E2E_DIR (the temp dir), fail, start_server, cleanup on exit. A
# missing tool is a skip (exit 77), which tests/check.sh counts as a failure.
for tool in redis-server redis-cli nginx openssl python3 curl; do # tests/check.sh installs them
    command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
SCALE_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# free_port: prints a port nothing listens on now (bound to 0, read, released).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_log FILE PATTERN SECONDS [COUNT]: until FILE has COUNT (default 1) lines matching.
wait_log() {
    local i want=${4:-1}
    for i in $(seq $(($3 * 20))); do
        [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$want" ] 2>/dev/null && return 0
        sleep 0.05
    done
    fail "$1: no $want line(s) matching '$2' within $3 s"
}

# start_redis: Redis without persistence on REDIS_PORT (chosen once, reused by a restart).
start_redis() {
    : "${REDIS_PORT:=$(free_port)}"
    mkdir -p "$E2E_DIR/redis"
    : >"$E2E_DIR/redis.log"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$E2E_DIR/redis" --logfile "$E2E_DIR/redis.log" --daemonize no &
    REDIS_PID=$!
    E2E_PIDS="$E2E_PIDS $REDIS_PID"
    wait_log "$E2E_DIR/redis.log" 'Ready to accept connections' 10
}

# start_gateway NAME ARGS...: sets GW_PID_<NAME> and GW_PORT_<NAME>; waits for Redis.
start_gateway() {
    local name=$1
    shift
    start_server "$name" "$GATEWAY" --port 0 --redis "127.0.0.1:$REDIS_PORT" "$@"
    eval "GW_PID_$name=$SERVER_PID GW_PORT_$name=$PORT"
    wait_log "$E2E_DIR/$name.err" 'connected to Redis' 10
}

# start_nginx GATEWAY_PORT...: nginx from examples/nginx/sse-gateways.conf on HTTP_PORT
# (plain) and HTTPS_PORT (h2 + TLS, a throw-away certificate), root $E2E_DIR/www.
start_nginx() {
    local d=$E2E_DIR/nginx up="" p
    mkdir -p "$d" "$E2E_DIR/www"
    chmod 755 "$E2E_DIR" "$E2E_DIR/www" # nginx workers run as nobody when we are root
    HTTP_PORT=$(free_port)
    HTTPS_PORT=$(free_port)
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$d/key.pem" -out "$d/cert.pem" \
        >/dev/null 2>&1 || fail "openssl req failed"
    for p in "$@"; do up="$up        server 127.0.0.1:$p;\n"; done
    sed -e "s|@PREFIX@|$d|g" -e "s|@HTTP_PORT@|$HTTP_PORT|" -e "s|@HTTPS_PORT@|$HTTPS_PORT|" \
        -e "s|@CERT@|$d/cert.pem|" -e "s|@KEY@|$d/key.pem|" -e "s|@ROOT@|$E2E_DIR/www|" \
        -e "s|@WORKERS@|${NGINX_WORKERS:-1}|" \
        -e "s|@WORKER_CONNECTIONS@|${NGINX_WORKER_CONNECTIONS:-4096}|" \
        -e "s|^@UPSTREAM_SERVERS@|$up|" \
        "$SCALE_SRC/examples/nginx/sse-gateways.conf" >"$d/nginx.conf"
    nginx -t -q -p "$d" -c "$d/nginx.conf" -e "$d/error.log" 2>"$E2E_DIR/nginx.err" ||
        fail "nginx -t: $(cat "$E2E_DIR/nginx.err")"
    nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" 2>>"$E2E_DIR/nginx.err" &
    NGINX_PID=$!
    E2E_PIDS="$E2E_PIDS $NGINX_PID"
    for p in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/" && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx exited: $(cat "$E2E_DIR/nginx.err")"
        sleep 0.05
    done
    fail "nginx is not answering on $HTTP_PORT"
}

# publish TOPIC FIRST LAST [RATE]: entries with data "<seq> <unix us>" for seq FIRST..LAST,
# as fast as possible or RATE a second (paced in steps of 10 ms, flushed each step).
PUBLISH_GEN='
import sys, time
first, last, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
out, start = sys.stdout, time.monotonic()
for s in range(first, last + 1):
    if rate > 0 and (s - first) % max(1, int(rate / 100)) == 0:
        out.flush()
        delay = start + (s - first) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    out.write("%d %d\n" % (s, time.time_ns() // 1000))
'
publish() {
    python3 -c "$PUBLISH_GEN" "$2" "$3" "${4:-0}" |
        "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" --maxlen "${MAXLEN:-100000}" "$1"
}

# publish_bg TOPIC FIRST LAST RATE: the same in the background, both processes in
# E2E_PIDS (sse_publish retries forever while Redis is away: the cleanup must stop it).
publish_bg() {
    local fifo=$E2E_DIR/publish.$1.fifo
    mkfifo "$fifo"
    python3 -c "$PUBLISH_GEN" "$2" "$3" "${4:-0}" >"$fifo" &
    E2E_PIDS="$E2E_PIDS $!"
    "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" --maxlen "${MAXLEN:-100000}" "$1" <"$fifo" \
        2>>"$E2E_DIR/publish.err" &
    E2E_PIDS="$E2E_PIDS $!"
}
