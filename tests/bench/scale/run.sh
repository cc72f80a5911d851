#!/usr/bin/env bash
# The scale-out benchmark (run by hand, not a test; README "Scaling out" has its figures):
# publish-to-receive latency p50/p99 and delivered events per second for N clients on one
# topic over 3 redis_gateway processes behind nginx, the gateways' and nginx's CPU time per
# million delivered events; then the same clients on one sse_server (no Redis, no nginx)
# as the baseline. The publisher adds RATE events a second for SECONDS seconds.
#   tests/bench/scale/run.sh BUILD_DIR [CLIENTS...]      (default: 1000 10000)
#   environment: RATE (default 100), DURATION_S (default 10)
# Everything on 127.0.0.1, started here, stopped at the end. Needs redis-server, nginx,
# python3, openssl; raises the fd limit to the hard one (10,000 clients: 10,000 in the
# client, 20,000 over the 4 nginx workers, 3,400 in each gateway).
set -u
BUILD=$(cd "$1" && pwd)
shift
GATEWAY=$BUILD/examples/redis_gateway PUBLISH=$BUILD/examples/sse_publish
CLIENT=$BUILD/tests/scale/scale_client SERVER=$BUILD/examples/sse_server
. "$(dirname "$0")/../../scale/common.sh"
RATE=${RATE:-100} SECONDS_=${DURATION_S:-10}
E=$((RATE * SECONDS_))
ulimit -n "$(ulimit -Hn)" # nginx runs 4 workers: each stays under it
echo "fd limit $(ulimit -n); $(nproc) cores; $RATE events/s for $SECONDS_ s ($E events) per run"

rss_kib() { # VmRSS of PIDs, summed, in KiB
    local p t=0
    for p in "$@"; do
        t=$((t + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
    done
    echo $t
}

cpu_s() { # utime + stime of PIDs, in seconds
    local p t=0
    for p in "$@"; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    echo "$t $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}

start_redis
for gw in gw1 gw2 gw3; do
    start_gateway $gw --max-conns 20000
done
NGINX_WORKERS=4 NGINX_WORKER_CONNECTIONS=15000 start_nginx "$GW_PORT_gw1" "$GW_PORT_gw2" "$GW_PORT_gw3"
workers=$(pgrep -P "$NGINX_PID" | tr "\n" " ")

printf '\n%-30s %8s %12s %9s %9s %14s %14s\n' setup clients events/s p50_ms p99_ms gw_cpu_s/M nginx_cpu_s/M
for n in "${@:-1000 10000}"; do
    for n1 in $n; do
        g0=$(cpu_s "$GW_PID_gw1" "$GW_PID_gw2" "$GW_PID_gw3") x0=$(cpu_s $workers)
        r0=$(rss_kib "$GW_PID_gw1" "$GW_PID_gw2" "$GW_PID_gw3")
        "$CLIENT" --port "$HTTP_PORT" --topics bench$n1 --connections "$n1" --events "$E" \
            --timeout-s $((SECONDS_ + 60)) --progress >"$E2E_DIR/c$n1.out" 2>&1 &
        cpid=$!
        wait_log "$E2E_DIR/c$n1.out" "^connected $n1\$" 120
        r1=$(rss_kib "$GW_PID_gw1" "$GW_PID_gw2" "$GW_PID_gw3")
        echo "gateways' RSS: $r0 KiB before, $r1 KiB with $n1 clients connected (3 gateways)" >&2
        publish "bench$n1" 0 $((E - 1)) "$RATE"
        wait $cpid || echo "(clients incomplete: $(tail -1 "$E2E_DIR/c$n1.out"))"
        g1=$(cpu_s "$GW_PID_gw1" "$GW_PID_gw2" "$GW_PID_gw3") x1=$(cpu_s $workers)
        line=$(tail -1 "$E2E_DIR/c$n1.out")
        echo "$line" >&2
        echo "$line" | awk -v n="$n1" -v g="$(awk -v a="$g0" -v b="$g1" 'BEGIN {print b - a}')" -v x="$(awk -v a="$x0" -v b="$x1" 'BEGIN {print b - a}')" '{
            for (i = 1; i <= NF; i++) { if ($i == "delivered") d = $(i - 2); if ($i == "(") r = $(i + 1) }
            match($0, /p50 [0-9.]+/); p50 = substr($0, RSTART + 4, RLENGTH - 4)
            match($0, /p99 [0-9.]+/); p99 = substr($0, RSTART + 4, RLENGTH - 4)
            match($0, /\([0-9]+ events\/s\)/); eps = substr($0, RSTART + 1, RLENGTH - 11)
            printf "%-30s %8d %12d %9s %9s %14.2f %14.2f\n", "3 gateways + nginx + Redis", n, eps, p50, p99, g / d * 1e6, x / d * 1e6 }'
    done
done

# the baseline: one sse_server, its own tick at the same rate, the same clients direct
for n in "${@:-1000 10000}"; do
    for n1 in $n; do
        start_server base$n1 "$SERVER" --port 0 --interval-ms $((1000 / RATE)) --history 4096
        s0=$(cpu_s "$SERVER_PID")
        "$CLIENT" --port "$PORT" --ticks $((1000 / RATE)) --topics x --connections "$n1" \
            --events "$E" --timeout-s $((SECONDS_ + 60)) >"$E2E_DIR/b$n1.out" 2>&1
        s1=$(cpu_s "$SERVER_PID")
        line=$(tail -1 "$E2E_DIR/b$n1.out")
        echo "$line" >&2
        echo "$line" | awk -v n="$n1" -v s="$(awk -v a="$s0" -v b="$s1" 'BEGIN {print b - a}')" '{
            for (i = 1; i <= NF; i++) if ($i == "delivered") d = $(i - 2)
            match($0, /p50 [0-9.]+/); p50 = substr($0, RSTART + 4, RLENGTH - 4)
            match($0, /p99 [0-9.]+/); p99 = substr($0, RSTART + 4, RLENGTH - 4)
            match($0, /\([0-9]+ events\/s\)/); eps = substr($0, RSTART + 1, RLENGTH - 11)
            printf "%-30s %8d %12d %9s %9s %14.2f %14s\n", "1 sse_server (baseline)", n, eps, p50, p99, s / d * 1e6, "-" }'
        kill "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
    done
done
