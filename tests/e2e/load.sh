#!/bin/bash
# load.sh SERVER LOAD_CLIENT full|stall
#   full:  1,000 concurrent connections, 100 events at --interval-ms 10: every connection
#          receives all 100 in order; prints events/s and the server's RSS per connection.
#   stall: 50 reading connections and 5 that never read, 2,000 events at 2 ms: the readers
#          get everything in order, the server disconnects the stalled ones.
. "$(dirname "$0")/lib.sh"
server=$1 load=$2 mode=$3
if [ "$mode" = full ]; then
    start_server server "$server" --port 0 --interval-ms 10 --history 200
    sleep 0.2 # let the server settle before its RSS baseline
    timeout 50 "$load" --port "$PORT" --connections 1000 --events 100 --server-pid "$SERVER_PID" --timeout-s 40
else
    start_server server "$server" --port 0 --interval-ms 2 --history 100
    timeout 50 "$load" --port "$PORT" --connections 50 --events 2000 --stall 5 --timeout-s 40
fi
rc=$?
grep -c "behind, disconnecting" "$E2E_DIR/server.err" | sed 's/^/server: slow clients disconnected: /'
[ $rc = 0 ] || fail "load_client exit status $rc"
echo PASS
