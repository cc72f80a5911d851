#!/bin/sh
# 20 concurrent /dates streams on one HTTP/2 connection; every stream must receive the same
# events, in order, with consecutive ids and the date that belongs to each id.
#   h2_streams.sh h2c H2_SERVER H2_LOAD   h2c (prior knowledge), client: h2_load --dump
#   h2_streams.sh tls H2_SERVER           h2 over TLS (ALPN), client: curl --parallel
# (curl 7.88's --parallel fails every multiplexed transfer but the first with
# --http2-prior-knowledge, "Error in the HTTP2 framing layer", before sending it: the
# server never sees them; over TLS it multiplexes fine, hence two clients.)
# Exit: 0 pass, 1 fail, 77 skip (a tool is missing).
. "$(dirname "$0")/common.sh"
mode=$1
server=$2
need_file "$server"
need_tool curl
curl --version | grep -q HTTP2 || skip "this curl has no HTTP/2"

N=20
INTERVAL=100
SECONDS_=3
if [ "$mode" = tls ]; then
    make_cert
    start h2 "$server" --port 0 --interval-ms $INTERVAL --history 64 -v --cert "$CERT" --key "$KEY"
    url=https://127.0.0.1:$PORT/dates
    first="curl -skN --http2"
else
    need_file "$3"
    start h2 "$server" --port 0 --interval-ms $INTERVAL --history 64 -v
    url=http://127.0.0.1:$PORT/dates
    first="curl -sN --http2-prior-knowledge"
fi

# The newest id now, so that every stream can start from the same one (Last-Event-ID).
last=$(timeout 5 $first --max-time 1 "$url" | sed -n 's/^id: //p' | head -n 1)
[ -n "$last" ] || fail "no event from $url"
from=$((last - 5))

if [ "$mode" = tls ]; then
    # one curl, N transfers multiplexed on one connection; each stops after 3 s (exit 28)
    timeout 20 curl -skN --http2 --parallel --parallel-max $N --max-time $SECONDS_ \
        -H "Last-Event-ID: $from" -w '%{num_connects} %{http_version} %{http_code}\n' \
        "$url?stream=[1-$N]" -o "$TMP/stream_#1.txt" >"$TMP/transfers.txt" 2>"$TMP/curl.err"
    connects=$(awk '{ n += $1 } END { print n }' "$TMP/transfers.txt")
    [ "$(grep -c ' 2 200$' "$TMP/transfers.txt")" = $N ] ||
        fail "not $N HTTP/2 200 transfers: $(cat "$TMP/transfers.txt")"
    [ "$connects" = 1 ] || fail "$N streams used $connects connections, not 1"
else
    timeout 20 "$3" --port "$PORT" --connections 1 --streams $N \
        --events $((SECONDS_ * 1000 / INTERVAL)) --timeout 10 --last-event-id "$from" \
        --dump "$TMP" >"$TMP/load.txt" 2>&1 || fail "h2_load: $(cat "$TMP/load.txt")"
fi

# Each file -> "id<TAB>data" per complete event; a cut last event is dropped.
min=""
i=1
while [ $i -le $N ]; do
    f=$TMP/stream_$i.txt
    [ -s "$f" ] || fail "stream $i received nothing"
    awk -v complete="$(tail -c 2 "$f" | od -An -c | tr -d ' ')" '
        BEGIN { RS = "" }
        { id = ""; data = ""
          n = split($0, line, "\n")
          for (k = 1; k <= n; k++) {
              if (line[k] ~ /^id: /) id = substr(line[k], 5)
              else if (line[k] ~ /^data: /) data = substr(line[k], 7)
          }
          if (id != "") rec[++m] = id "\t" data }
        END { last = complete == "\\n\\n" ? m : m - 1
              for (k = 1; k <= last; k++) print rec[k] }' "$f" >"$TMP/events_$i.txt"
    count=$(wc -l <"$TMP/events_$i.txt")
    if [ -z "$min" ] || [ "$count" -lt "$min" ]; then min=$count; fi
    awk -F'\t' -v from="$from" -v f="$i" '
        $1 != from + NR { printf "stream %s: event %d has id %s, expected %d\n", f, NR, $1, from + NR; bad = 1; exit }
        END { exit bad }' "$TMP/events_$i.txt" >&2 || fail "ids not consecutive"
    i=$((i + 1))
done
[ "$min" -ge 20 ] || fail "a stream received only $min events in $SECONDS_ s (interval $INTERVAL ms)"

# The same events on every stream: the first $min of each are identical.
head -n "$min" "$TMP/events_1.txt" >"$TMP/expected.txt"
i=2
while [ $i -le $N ]; do
    head -n "$min" "$TMP/events_$i.txt" | cmp -s - "$TMP/expected.txt" ||
        fail "stream $i differs from stream 1"
    i=$((i + 1))
done
# Each id carries its own date: id k is 2024-01-01T00:00:00Z + k * interval.
first_id=$(head -n 1 "$TMP/expected.txt" | cut -f1)
first_date=$(head -n 1 "$TMP/expected.txt" | cut -f2)
ms=$((1704067200000 + first_id * INTERVAL))
want=$(date -u -d "@$((ms / 1000))" +%Y-%m-%dT%H:%M:%S).$(printf %03d $((ms % 1000)))Z
[ "$first_date" = "$want" ] || fail "id $first_id carries $first_date, expected $want"

stop h2 || fail "h2_server did not exit cleanly"
[ "$(grep -c "h2 stream .*/dates last-event-id $from -> 200" "$TMP/h2.err")" = $N ] ||
    fail "the server did not log $N HTTP/2 requests with Last-Event-ID $from"
grep -q "peak: .* $N streams on one connection" "$TMP/h2.err" ||
    fail "server log: $(tail -n 1 "$TMP/h2.err")"
echo "h2_streams $mode: $N streams on 1 connection, each $min+ identical events in order" \
    "(ids $((from + 1))..$((from + min)))"
echo "1 passed, 0 failed"
