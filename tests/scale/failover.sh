#!/usr/bin/env bash
# The failure test: Redis (no persistence), 3 redis_gateway processes, nginx in front, 300
# clients (scale_client, through nginx) on 3 topics, 3 x 6,667 = 20,001 events. In the
# middle one gateway is killed with SIGKILL (its clients reconnect through nginx to the
# others, resuming with Last-Event-ID), later Redis is killed and restarted empty (the
# gateways keep their clients, reconnect, find the streams gone and say so with one "gap"
# event per client, then go on). Every client must receive every event of its topic
# exactly once and in order; the only gap events allowed are those of the Redis restart,
# and they must have cost no event (the publisher was idle and every client caught up).
#   failover.sh GATEWAY PUBLISH SCALE_CLIENT          (about 30 s on 2 cores)
set -u
GATEWAY=$1 PUBLISH=$2 CLIENT=$3
. "$(dirname "$0")/common.sh"
E=6667
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

start_redis
for gw in gw1 gw2 gw3; do
    start_gateway $gw --retry-ms 100 --keepalive-ms 1000 -v
done
start_nginx "$GW_PORT_gw1" "$GW_PORT_gw2" "$GW_PORT_gw3"

"$CLIENT" --port "$HTTP_PORT" --topics t0,t1,t2 --connections 300 --events $E \
    --timeout-s 150 --progress >"$E2E_DIR/client.out" 2>"$E2E_DIR/client.err" &
CLIENT_PID=$!
E2E_PIDS="$E2E_PIDS $CLIENT_PID"
wait_log "$E2E_DIR/client.out" '^connected 300$' 30
progress() { sed -n 's/^progress //p' "$E2E_DIR/client.out" | tail -1; }
wait_progress() { # N SECONDS: every client has N events
    local i
    for i in $(seq $(($2 * 10))); do
        [ "$(progress)" -ge "$1" ] && return 0
        kill -0 "$CLIENT_PID" 2>/dev/null || fail "scale_client exited: $(tail -3 "$E2E_DIR/client.out")"
        sleep 0.1
    done
    fail "clients at $(progress) events, wanted $1 within $2 s"
}
t0=$(date +%s)

# 1. the first 2,500 events of each topic, all gateways up
pubs=""
for t in t0 t1 t2; do publish $t 0 2499 & pubs="$pubs $!"; done
wait $pubs || fail "sse_publish failed"
wait_progress 2500 60
echo "phase 1: 300 clients have events 0..2499 of their topic ($(($(date +%s) - t0)) s)"

# 2. the next 2,500, and gw2 killed with SIGKILL once every client has passed 2,600
pubs=""
for t in t0 t1 t2; do publish $t 2500 4999 2000 & pubs="$pubs $!"; done
wait_progress 2600 60
kill -9 "$GW_PID_gw2"
echo "phase 2: gw2 killed at progress $(progress)"
wait $pubs || fail "sse_publish failed"
wait_progress 5000 90
moved=$(grep -c 'Last-Event-ID [0-9]' "$E2E_DIR/gw1.err" "$E2E_DIR/gw3.err" | awk -F: '{s += $2} END {print s}')
[ "$moved" -ge 50 ] || fail "only $moved clients resumed on gw1/gw3 after gw2 was killed"
echo "phase 2: $moved clients resumed on gw1 and gw3 with Last-Event-ID ($(($(date +%s) - t0)) s)"

# 3. Redis killed and restarted empty while idle; the gateways must find the streams gone
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
wait_log "$E2E_DIR/gw1.err" 'lost Redis' 10
start_redis
for gw in gw1 gw3; do
    wait_log "$E2E_DIR/$gw.err" 'connected to Redis' 15 2
    wait_log "$E2E_DIR/$gw.err" 'is gone or new' 10 3
done
pubs=""
for t in t0 t1 t2; do publish $t 5000 $((E - 1)) & pubs="$pubs $!"; done
wait $pubs || fail "sse_publish failed"
wait "$CLIENT_PID"
status=$?
summary=$(tail -1 "$E2E_DIR/client.out")
echo "phase 3: $summary ($(($(date +%s) - t0)) s)"
[ $status -eq 0 ] || fail "clients: $summary $(cat "$E2E_DIR/client.err")"
echo "$summary" | grep -q ' 300 gap events, 0 events lost, 0 problems' ||
    fail "one reset gap per client expected: $summary"
for gw in gw1 gw3; do
    kill -0 "$(eval echo \$GW_PID_$gw)" || fail "$gw died"
done
echo "PASS: 300 clients, 3 topics, $((3 * E)) events, every one exactly once and in order"
