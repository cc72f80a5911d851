#!/bin/bash
# refuse.sh CLIENT MODE: the client against stub_server.py MODE.
#   204:     exits 0 ("stop reconnecting" is a normal end), one request, a clear message.
#   404:     exits 1 with "HTTP 404, not retrying", one request.
#   html:    exits 1 with "Content-Type text/html is not text/event-stream", one request.
#   chunked: decodes the chunked body, reconnects after the body ends with Last-Event-ID: 3
#            and exits 0 after 5 events.
. "$(dirname "$0")/lib.sh"
client=$1 mode=$2
start_server stub python3 "$(dirname "$0")/stub_server.py" "$mode"
url="http://127.0.0.1:$PORT/events"
timeout 10 "$client" --max-events 5 "$url" >"$E2E_DIR/events" 2>"$E2E_DIR/client.err"
rc=$?
msg=$(cat "$E2E_DIR/client.err")
echo "exit status $rc, stderr: $msg"
requests=$(grep -c '^request' "$E2E_DIR/stub.out")
case $mode in
204) want_rc=0 want_msg="HTTP 204" want_requests=1 ;;
404) want_rc=1 want_msg="HTTP 404, not retrying" want_requests=1 ;;
html) want_rc=1 want_msg="Content-Type text/html is not text/event-stream, not retrying" want_requests=1 ;;
chunked) want_rc=0 want_msg="reconnecting in 50 ms" want_requests=2 ;;
*) fail "unknown mode $mode" ;;
esac
[ "$rc" = "$want_rc" ] || fail "exit status $rc, expected $want_rc"
case $msg in *"$want_msg"*) ;; *) fail "stderr lacks '$want_msg'" ;; esac
[ "$requests" = "$want_requests" ] || fail "$requests requests, expected $want_requests"
[ "$mode" = chunked ] || [ ! -s "$E2E_DIR/events" ] || fail "events printed: $(cat "$E2E_DIR/events")"
if [ "$mode" = chunked ]; then
    printf 'message\t1\tone\ntick\t2\ttwo\\nlines\nmessage\t3\tthree\nmessage\t4\tfour\nmessage\t5\tfive\n' >"$E2E_DIR/want"
    diff "$E2E_DIR/want" "$E2E_DIR/events" || fail "events differ"
    grep -q "^request 2 last-event-id=3$" "$E2E_DIR/stub.out" || fail "no Last-Event-ID: 3 on reconnect: $(cat "$E2E_DIR/stub.out")"
fi
echo PASS
