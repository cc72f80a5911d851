#!/bin/bash
# stream.sh SERVER CLIENT order|restart
#   order:   the client receives 20 events in order, with the right ids and data.
#   restart: the server is killed (SIGKILL) mid-stream and started again on the same port
#            with the same history; the client reconnects by itself and receives all 60
#            events exactly once.
. "$(dirname "$0")/lib.sh"
server=$1 client=$2 mode=$3
here=$(dirname "$0")
args="--interval-ms 50 --history 100 --retry-ms 100"

start_server server "$server" --port 0 $args
url="http://127.0.0.1:$PORT/dates"
if [ "$mode" = order ]; then
    timeout 10 "$client" --max-events 20 "$url" >"$E2E_DIR/events" 2>"$E2E_DIR/client.err"
    rc=$?
    [ $rc = 0 ] || fail "client exit status $rc"
    python3 "$here/check_events.py" "$E2E_DIR/events" 20 50 || fail "events"
    exit 0
fi

timeout 20 "$client" --max-events 60 "$url" >"$E2E_DIR/events" 2>"$E2E_DIR/client.err" &
cpid=$!
E2E_PIDS="$E2E_PIDS $cpid"
wait_lines "$E2E_DIR/events" 15 5
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null # (and no "Killed" notice)
sleep 0.5 # the client meets a refused connection or two, and backs off
start_server server2 "$server" --port "$PORT" $args
wait_exit "$cpid" 15
[ "$EXIT_STATUS" = 0 ] || fail "client exit status $EXIT_STATUS"
grep -q "reconnecting" "$E2E_DIR/client.err" || fail "the client did not reconnect"
python3 "$here/check_events.py" "$E2E_DIR/events" 60 50 || fail "events across the restart"
echo "client stderr:"; cat "$E2E_DIR/client.err"
