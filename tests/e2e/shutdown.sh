#!/bin/bash
# shutdown.sh SERVER: with three clients streaming, SIGTERM (then, on a second run,
# SIGINT) stops the server within 3 s with exit status 0 and every socket closed: the
# clients see the end of the stream. Under valgrind when it is installed (E2E_VALGRIND=0
# turns it off): no definite leak, and no socket open at exit (--track-fds).
. "$(dirname "$0")/lib.sh"
server=$1 client=$2
vg=""
if command -v valgrind >/dev/null && [ "${E2E_VALGRIND:-1}" = 1 ] &&
    ! nm -a "$server" 2>/dev/null | grep -q '__[amt]san_init' &&
    ! ldd "$server" 2>/dev/null | grep -q 'lib[amt]san'; then # not with a sanitizer
    vg="valgrind --quiet --track-fds=yes --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3"
fi
for sig in TERM INT; do
    start_server "server$sig" $vg "$server" --port 0 --interval-ms 50 --history 10
    cpids=""
    for i in 1 2 3; do
        timeout 20 "$client" "http://127.0.0.1:$PORT/dates" >"$E2E_DIR/events$sig$i" 2>"$E2E_DIR/client$sig$i.log" &
        cpids="$cpids $!"
        E2E_PIDS="$E2E_PIDS $!"
    done
    for i in 1 2 3; do wait_lines "$E2E_DIR/events$sig$i" 3 10; done
    kill -$sig "$SERVER_PID"
    wait_exit "$SERVER_PID" 5
    [ "$EXIT_STATUS" = 0 ] || fail "SIG$sig: server exit status $EXIT_STATUS"
    # each client noticed the closed stream and is about to reconnect
    for i in 1 2 3; do wait_lines "$E2E_DIR/client$sig$i.log" 2 3; done
    for i in 1 2 3; do
        grep -q "reconnecting" "$E2E_DIR/client$sig$i.log" || fail "SIG$sig: client $i saw no end of stream"
    done
    if [ -n "$vg" ]; then
        grep -q "FILE DESCRIPTORS" "$E2E_DIR/server$sig.err" || fail "SIG$sig: no valgrind fd report"
        ! grep -qi "socket" "$E2E_DIR/server$sig.err" ||
            fail "SIG$sig: sockets left open: $(grep -i -A2 socket "$E2E_DIR/server$sig.err")"
    fi
    for p in $cpids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    echo "SIG$sig: server exited 0, clients saw the end of the stream${vg:+, valgrind clean}"
done
echo PASS
