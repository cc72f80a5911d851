#!/bin/bash
# relay_hostile.sh SSE_RELAY SSE_DUMP
# A hostile upstream (hostile_upstream.py: ~69 MiB in random writes of 1 B to 70 KB,
# chunked, with a 2 MiB and a 64 MiB single-line event, an unfinished tail) feeds
# sse_relay; two clients (curl, raw bytes to a file) read the relay. Checked:
#   - each client's records equal upstream's records (sse_dump of the raw stream);
#   - the relay's memory stays flat: its peak RSS (VmHWM) after the 64 MiB event is
#     within RSS_BOUND_KB of its RSS before it;
#   - the unfinished tail: the relay closes the clients (their parsers discard it),
#     reconnects upstream with Last-Event-ID of the last whole event, and exits 0 on the
#     204 that answers it.
# Every wait is bounded; 1.5 to 2.2 s here.
. "$(dirname "$0")/../lib.sh"
relay=$1 dump=$2
here=$(dirname "$0")
RSS_BOUND_KB=1024 # the output buffer holds about --queue-kb (256 KiB); 64 MiB would show
d=$E2E_DIR
start=$(date +%s%N)

python3 "$here/hostile_upstream.py" gen "$d" 7 || fail "generator"
cat "$d/seg1" "$d/seg2" "$d/seg3" | "$dump" >"$d/want" 2>/dev/null || fail "sse_dump of upstream"
n1=$("$dump" <"$d/seg1" 2>/dev/null | wc -l)
n2=$(cat "$d/seg1" "$d/seg2" | "$dump" 2>/dev/null | wc -l)
total=$(wc -l <"$d/want")
bytes=$(cat "$d/seg1" "$d/seg2" "$d/seg3" | wc -c)

mkfifo "$d/ctl"
start_server upstream python3 "$here/hostile_upstream.py" serve "$d" "$d/ctl"
UPID=$SERVER_PID
exec 3>"$d/ctl" # the upstream waits for a "go" per segment
start_server relay "$relay" --port 0 "http://127.0.0.1:$PORT/stream"
RPID=$SERVER_PID

for i in 1 2; do
    curl -sN --max-time 100 -D "$d/c$i.head" -o "$d/raw$i" "http://127.0.0.1:$PORT/" \
        2>"$d/curl$i.err" &
    cpid[$i]=$!
    E2E_PIDS="$E2E_PIDS $!"
done
for i in 1 2; do # streaming: the relay sent its response head
    for t in $(seq 100); do grep -q '^HTTP/1.1 200' "$d/c$i.head" 2>/dev/null && break; sleep 0.05; done
    grep -q '^HTTP/1.1 200' "$d/c$i.head" || fail "client $i got no response head"
done

# wait_records I N SECONDS: until client I's bytes so far hold N records
wait_records() {
    local t
    for t in $(seq $(($3 * 5))); do
        [ "$("$dump" <"$d/raw$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
        sleep 0.2
    done
    fail "client $1 has $("$dump" <"$d/raw$1" 2>/dev/null | wc -l) records, wanted $2 within $3 s"
}
rss() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$RPID/status"; }
echo go >&3
wait_records 1 "$n1" 30
wait_records 2 "$n1" 30
rss_before=$(rss VmRSS) hwm_before=$(rss VmHWM)
echo go >&3 # the 64 MiB event
wait_records 1 "$n2" 60
wait_records 2 "$n2" 60
rss_after=$(rss VmRSS) hwm_after=$(rss VmHWM)
echo go >&3 # the rest and the unfinished tail
wait_exit "$RPID" 30
[ "$EXIT_STATUS" = 0 ] || fail "relay exit status $EXIT_STATUS"
wait_exit "$UPID" 10
for i in 1 2; do
    wait_exit "${cpid[$i]}" 10 # the relay closed it
    "$dump" <"$d/raw$i" >"$d/c$i" 2>/dev/null
    cmp -s "$d/want" "$d/c$i" || {
        diff "$d/want" "$d/c$i" | cut -c1-200 | head -10 >&2
        fail "client $i: $(wc -l <"$d/c$i") records, upstream $total, first difference above"
    }
done
grep -q '^Last-Event-ID: last-id' "$d/request2" || fail "upstream reconnect without Last-Event-ID: last-id"
grep -q 'event cut off' "$E2E_DIR/relay.err" || fail "the unfinished tail was not cut off"
growth=$((hwm_after - rss_before))
[ "$growth" -le "$RSS_BOUND_KB" ] || fail "relay peak RSS grew by $growth kB over the 64 MiB event (bound $RSS_BOUND_KB)"
echo "relay: $bytes bytes upstream, $total records (events and retries), 2 clients, each identical"
echo "relay RSS: $rss_before kB before the 64 MiB event (peak $hwm_before), peak $hwm_after kB after (now $rss_after): +$growth kB, bound $RSS_BOUND_KB"
echo "relay stderr:"; cat "$E2E_DIR/relay.err"
echo "time: $((($(date +%s%N) - start) / 1000000)) ms"
