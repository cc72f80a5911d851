#!/bin/sh
# Bounded load and flow-control tests of h2_server with h2_load (h2c, 127.0.0.1 only):
#   1. 1,000 streams on 10 connections, each stream >= 10 events with consecutive ids;
#      the server's VmRSS before and with all streams open -> memory per stream;
#   2. 1,000 streams on 1 connection (the server's --max-streams is 1000);
#   3. a stalled stream (its reader gives no window back) next to 9 others: the others get
#      all their events, the server resets the stalled one (RST_STREAM CANCEL).
# A fresh server for each, so that one run's heap does not hide the next one's growth.
#   h2_load.sh H2_SERVER H2_LOAD      Exit: 0 pass, 1 fail, 77 skip.
. "$(dirname "$0")/common.sh"
server=$1
load=$2
need_file "$server"
need_file "$load"
[ -r /proc/self/status ] || skip "no /proc/PID/status to read VmRSS from"

run() { # name, server args, then -- and h2_load args
    name=$1
    shift
    sargs=""
    while [ "$1" != -- ]; do sargs="$sargs $1"; shift; done
    shift
    start "$name" "$server" --port 0 $sargs
    timeout 60 "$load" --port "$PORT" --pid "$SPID" "$@" >"$TMP/$name.load" 2>&1 ||
        fail "$name: $(cat "$TMP/$name.load")"
    stop "$name" || fail "$name: h2_server did not exit cleanly"
    grep "^h2_load: " "$TMP/$name.load" | grep -v "passed,\|stream per\|VmRSS.* 10 open" | sed "s/^h2_load:/$name:/"
    sed -n "s/^h2_server: shutting down.*peak: /$name: server peak: /p" "$TMP/$name.err"
}
run 10x100 --interval-ms 100 -- --connections 10 --streams 100 --events 10 --timeout 30
run 1x1000 --interval-ms 100 -- --connections 1 --streams 1000 --events 10 --timeout 30
grep -q 'peak: 1000 event streams, 1000 streams on one connection' "$TMP/1x1000.err" ||
    fail "one connection did not hold 1000 streams"
run stall --interval-ms 50 --history 16 -- --connections 2 --streams 5 --events 30 --stall --timeout 30
grep -q 'is [0-9]* events behind, resetting it' "$TMP/stall.err" || fail "no reset logged"
echo "1 passed, 0 failed"
