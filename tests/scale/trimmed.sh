#!/usr/bin/env bash
# The resume rules of redis_gateway (its header comment) against a real Redis:
#   a Last-Event-ID older than the stream (trimmed by MAXLEN) gets one "gap" event naming
#   the lost IDs, then the oldest entries, then live ones; an ID inside the stream replays
#   exactly what follows it (also as ?lastEventId=); an ID that is not an entry ID, or newer
#   than the newest, gets live events only; no ID starts at the tail.
#   trimmed.sh GATEWAY PUBLISH                                        (about 3 s)
set -u
GATEWAY=$1 PUBLISH=$2
HERE=$(dirname "$0")
. "$HERE/common.sh"
cli() { redis-cli -p "$REDIS_PORT" "$@"; }
read_sse() { python3 "$HERE/sse_read.py" "$GW_PORT_gw" "$@"; }

start_redis
start_gateway gw --keepalive-ms 500 -v
echo 0 | "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" tr || fail "sse_publish"
first=$(cli XRANGE tr - + COUNT 1 | head -1)
MAXLEN=100 publish tr 1 999
oldest=$(cli XRANGE tr - + COUNT 1 | head -1)
oldest_seq=$(cli XRANGE tr - + COUNT 1 | sed -n 3p | cut -d' ' -f1)
kept=$(cli XLEN tr)
[ "$oldest_seq" -gt 1 ] || fail "MAXLEN did not trim (oldest seq $oldest_seq)"
if [ "${oldest#*-}" -gt 0 ]; then # R-1, the last lost ID
    before="${oldest%-*}-$((${oldest#*-} - 1))"
else
    before="$((${oldest%-*} - 1))-18446744073709551615"
fi
echo "stream tr: 1,000 entries, $kept kept (seq $oldest_seq..999 from $oldest)"

# 1. trimmed: gap "<first+1> <R-1>", then seq oldest_seq..999
ms=${first%-*} seq=${first#*-}
out=$(read_sse /streams/tr $((kept + 1)) "$first") || fail "trimmed: $out"
line2=$(echo "$out" | sed -n 2p)
[ "$line2" = "gap - $ms-$((seq + 1)) $before" ] || fail "trimmed: wanted the gap event, got '$line2'"
got=$(echo "$out" | sed -n '3,$p' | awk '{print $3}' | tr '\n' ' ')
want=$(seq "$oldest_seq" 999 | tr '\n' ' ')
[ "$got" = "$want" ] || fail "trimmed: after the gap wanted seq $oldest_seq..999, got $got"
echo "ok: Last-Event-ID $first (trimmed): gap $ms-$((seq + 1)) $before, then $kept entries"

# 2. inside: the entries after it, exactly; the same through ?lastEventId=
mid=$(cli XRANGE tr - + | sed -n "$((3 * 10 + 1))p") # the 11th kept entry's ID
for how in header query; do
    if [ $how = header ]; then
        out=$(read_sse /streams/tr $((kept - 11)) "$mid") || fail "inside ($how): $out"
    else
        out=$(read_sse "/streams/tr?lastEventId=$mid" $((kept - 11))) || fail "inside ($how): $out"
    fi
    got=$(echo "$out" | sed -n '2,$p' | awk '{print $3}' | tr '\n' ' ')
    want=$(seq $((oldest_seq + 11)) 999 | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "inside ($how): wanted seq $((oldest_seq + 11))..999, got $got"
    echo "$out" | grep -q '^gap' && fail "inside ($how): a gap event"
done
echo "ok: Last-Event-ID $mid (inside), as header and as ?lastEventId=: seq $((oldest_seq + 11))..999"

# 3. not an entry ID, newer than the newest, none: live only (the next entry published)
n=1000
for id in garbage 99999999999999-0 1-2-3 none; do
    if [ $id = none ]; then
        python3 "$HERE/sse_read.py" "$GW_PORT_gw" /streams/tr 1 >"$E2E_DIR/live$n.out" &
    else
        python3 "$HERE/sse_read.py" "$GW_PORT_gw" /streams/tr 1 "$id" >"$E2E_DIR/live$n.out" &
    fi
    reader=$!
    wait_log "$E2E_DIR/live$n.out" '^head 200' 5
    echo "$n" | "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" tr || fail "sse_publish"
    wait $reader || fail "live ($id): $(cat "$E2E_DIR/live$n.out")"
    got=$(sed -n 2p "$E2E_DIR/live$n.out" | awk '{print $3}')
    [ "$got" = "$n" ] || fail "live ($id): wanted only the new entry $n, got $(cat "$E2E_DIR/live$n.out")"
    n=$((n + 1))
done
echo "ok: Last-Event-ID garbage, 99999999999999-0, 1-2-3 and none: live events only"

# 4. no such stream with an ID: live only, too
python3 "$HERE/sse_read.py" "$GW_PORT_gw" /streams/fresh 1 "5-0" >"$E2E_DIR/fresh.out" &
reader=$!
wait_log "$E2E_DIR/fresh.out" '^head 200' 5
echo "first" | "$PUBLISH" --redis "127.0.0.1:$REDIS_PORT" fresh || fail "sse_publish"
wait $reader || fail "fresh: $(cat "$E2E_DIR/fresh.out")"
grep -q '^message [0-9]*-0 first$' "$E2E_DIR/fresh.out" || fail "fresh: $(cat "$E2E_DIR/fresh.out")"
echo "PASS: trimmed, inside, garbage, newer, none, new stream"
