#!/bin/sh
# curl_client over HTTP/2 with a server restart in the middle: the client reconnects with
# Last-Event-ID and must print every id exactly once (no gap, no duplicate, no "gap" event).
#   h2_restart.sh h2c|tls H2_SERVER CURL_CLIENT
# Exit: 0 pass, 1 fail, 77 skip (curl_client not built: no libcurl).
. "$(dirname "$0")/common.sh"
mode=$1
server=$2
client=$3
need_file "$server"
need_file "$client"

EVENTS=40
args="--interval-ms 100 --history 64 --retry-ms 200 -v"
if [ "$mode" = tls ]; then
    make_cert
    args="$args --cert $CERT --key $KEY"
    scheme=https
    cargs="--http2 --insecure"
else
    scheme=http
    cargs="--http2"
fi
start first "$server" --port 0 $args

: >"$TMP/events.txt" # exists before the loop below reads it (the client opens it later)
timeout 30 "$client" $cargs --max-events $EVENTS "$scheme://127.0.0.1:$PORT/dates" \
    >"$TMP/events.txt" 2>"$TMP/client.err" &
cpid=$!
PIDS="$PIDS $cpid"

# Restart once the client has 10 events.
i=0
while [ "$(wc -l <"$TMP/events.txt")" -lt 10 ]; do
    i=$((i + 1))
    [ $i -le 100 ] || fail "no 10 events in 5 s: $(cat "$TMP/client.err")"
    sleep 0.05
done
stop first || fail "h2_server did not exit cleanly on SIGTERM"
sleep 0.3 # the client notices, waits its retry time, finds the port closed, waits again
start second "$server" --port "$PORT" $args
wait "$cpid" || fail "curl_client exited with $?: $(cat "$TMP/client.err")"

[ "$(wc -l <"$TMP/events.txt")" = $EVENTS ] || fail "not $EVENTS events: $(cat "$TMP/events.txt")"
grep -qv '^message	' "$TMP/events.txt" && fail "an event other than a message: $(grep -v '^message' "$TMP/events.txt")"
awk -F'\t' 'NR > 1 && $2 != prev + 1 { printf "id %s after %s\n", $2, prev; bad = 1 } { prev = $2 }
            END { exit bad }' "$TMP/events.txt" >&2 || fail "gap or duplicate across the restart"
grep -q 'reconnecting' "$TMP/client.err" || fail "the client never reconnected"
# The second server saw an HTTP/2 request resuming from an id the first one sent.
resumed=$(sed -n 's/.* h2 stream .*GET \/dates last-event-id \([0-9]*\) -> 200/\1/p' "$TMP/second.err" | head -n 1)
[ -n "$resumed" ] || fail "no HTTP/2 request with Last-Event-ID at the second server: $(cat "$TMP/second.err")"
grep -q "	$resumed	" "$TMP/events.txt" || fail "resumed from $resumed, an id the client never printed"
if [ "$mode" = tls ]; then
    grep -q 'ALPN h2' "$TMP/second.err" || fail "no ALPN h2 at the second server"
fi
n_first=$(awk -F'\t' -v r="$resumed" '$2 <= r' "$TMP/events.txt" | wc -l)
echo "h2_restart $mode: $EVENTS events, ids $(head -n 1 "$TMP/events.txt" | cut -f2)..$(tail -n 1 "$TMP/events.txt" | cut -f2)" \
    "consecutive; $n_first from the first server, the rest after Last-Event-ID $resumed from the second"
stop second || fail "the second h2_server did not exit cleanly"
echo "1 passed, 0 failed"
