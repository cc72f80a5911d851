#!/usr/bin/env bash
# redis_gateway's limits and Redis going away, each checked against a real Redis:
#   --max-conns (503), --idle-timeout-ms, --head-timeout-ms (408), 404/405, --keepalive-ms,
#   a stalled client reset by --max-queue-kb 64 while a normal one receives everything,
#   --send-timeout-ms,
#   clients kept (with keep-alives) while Redis is down, then served again, and
#   sse_publish waiting for Redis and adding its line once it is back.
#   limits.sh GATEWAY PUBLISH                                          (about 8 s)
set -u
GATEWAY=$1 PUBLISH=$2
HERE=$(dirname "$0")
. "$HERE/common.sh"
L() { python3 "$HERE/limits.py" "$@"; }

start_redis
start_gateway cap --max-conns 3
L cap "$GW_PORT_cap" 3 || fail "cap"
start_gateway gw --idle-timeout-ms 700 --head-timeout-ms 1200 --keepalive-ms 200 \
    --max-queue-kb 64
L idle "$GW_PORT_gw" 700 || fail "idle timeout"
L head "$GW_PORT_gw" 1200 || fail "head timeout"
L errors "$GW_PORT_gw" || fail "errors"

# keep-alives, and a stream that lives through Redis going away
L keepalive "$GW_PORT_gw" k >"$E2E_DIR/ka.out" &
E2E_PIDS="$E2E_PIDS $!"
wait_log "$E2E_DIR/ka.out" '^keep-alive' 5 2
echo "ok: ': keep-alive' every 200 ms on an idle stream"
python3 "$HERE/sse_read.py" "$GW_PORT_gw" /streams/k 1 >"$E2E_DIR/after.out" &
reader=$!
wait_log "$E2E_DIR/after.out" '^head 200' 5
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
wait_log "$E2E_DIR/gw.err" 'lost Redis' 5
before=$(grep -c '^keep-alive' "$E2E_DIR/ka.out")
wait_log "$E2E_DIR/ka.out" '^keep-alive' 5 $((before + 3))
echo "ok: Redis down, the streams stay open and get keep-alives"
echo "after" | "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" k 2>"$E2E_DIR/pub.err" &
pub=$!
wait_log "$E2E_DIR/pub.err" 'retrying in' 5
start_redis
wait $pub || fail "sse_publish: $(cat "$E2E_DIR/pub.err")"
wait $reader || fail "after the restart: $(cat "$E2E_DIR/after.out")"
grep -q ' after$' "$E2E_DIR/after.out" || fail "after the restart: $(cat "$E2E_DIR/after.out")"
echo "ok: Redis back: sse_publish (started while it was down) added its line, the same stream received it"

# a stalled client is reset at --max-queue-kb 64 while a reading one gets all 2,000 entries
L stall "$GW_PORT_gw" s >"$E2E_DIR/stall.out" &
stall=$!
E2E_PIDS="$E2E_PIDS $stall"
wait_log "$E2E_DIR/stall.out" '^ready' 5
python3 "$HERE/sse_read.py" "$GW_PORT_gw" /streams/s 2000 >"$E2E_DIR/fast.out" &
fast=$!
wait_log "$E2E_DIR/fast.out" '^head 200' 5
python3 -c '
import sys, time
for i in range(2000):  # 440 kB in about 1 s: a reader keeps up, a stalled one cannot
    print("%d %s" % (i, "x" * 200), flush=True)
    if i % 40 == 39:
        time.sleep(0.02)
' | "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" s || fail "sse_publish"
wait $stall || fail "stalled client: $(cat "$E2E_DIR/stall.out")"
grep -q 'more than 64 KiB behind, disconnecting' "$E2E_DIR/gw.err" || fail "no queue-cap log line"
wait $fast || fail "the reading client: $(tail -2 "$E2E_DIR/fast.out")"
echo "ok: the stalled client was reset at 64 KiB of queue; the reading one got 2,000 entries"

# --send-timeout-ms: a queue under its cap that the client takes nothing of
start_gateway idle --send-timeout-ms 800 --max-queue-kb 4096
L stall "$GW_PORT_idle" i >"$E2E_DIR/idle.out" &
stall=$!
E2E_PIDS="$E2E_PIDS $stall"
wait_log "$E2E_DIR/idle.out" '^ready' 5
python3 -c 'print("\n".join("%d %s" % (i, "x" * 200) for i in range(2000)))' |
    "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" i || fail "sse_publish"
wait $stall || fail "idle client: $(cat "$E2E_DIR/idle.out")"
grep -q 'took no output for 800 ms, disconnecting' "$E2E_DIR/idle.err" || fail "no idle log line"
echo "ok: a client that took nothing for 800 ms was disconnected"
echo PASS
