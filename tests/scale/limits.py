#!/usr/bin/env python3
"""limits.py CASE PORT [ARGS]: one client-side check against redis_gateway on 127.0.0.1:PORT
(limits.sh starts the gateway with the flags each case needs). Every wait is bounded.
  cap PORT N             N idle connections are held; the next one gets 503
  idle PORT MS           a connection that sends nothing is closed after about MS
  head PORT MS           an unfinished request head gets 408 after about MS
  errors PORT            404 for another path or a bad topic, 405 for POST
  keepalive PORT TOPIC   a stream gets ": keep-alive" comments (prints them: limits.sh counts)
  stall PORT TOPIC       a client that never reads (tiny receive buffer): prints "ready"
                         once its stream is open, then "closed" when the gateway drops it
Exit 0 when the check holds."""
import socket
import sys
import time

case, port = sys.argv[1], int(sys.argv[2])


def connect(rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def request(s, path, method="GET"):
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % (method, path)).encode())


def read_until(s, marker, limit=65536):
    buf = b""
    while marker not in buf and len(buf) < limit:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


if case == "cap":
    n = int(sys.argv[3])
    held = [connect() for _ in range(n)]  # accepted before the next: in backlog order
    s = connect()
    head = read_until(s, b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 503"):
        fail("connection %d got %r, wanted 503" % (n + 1, head[:40]))
    print("ok: %d connections held, the next got 503" % n)
elif case == "idle":
    ms = int(sys.argv[3])
    s = connect()
    t0 = time.monotonic()
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    took = (time.monotonic() - t0) * 1000
    if data != b"" or not (ms * 0.8 <= took <= ms + 3000):
        fail("closed after %.0f ms with %r, wanted about %d ms and nothing" % (took, data, ms))
    print("ok: a silent connection was closed after %.0f ms (--idle-timeout-ms %d)" % (took, ms))
elif case == "head":
    ms = int(sys.argv[3])
    s = connect()
    s.sendall(b"GET /streams/x HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
    t0 = time.monotonic()
    head = read_until(s, b"\r\n\r\n")
    took = (time.monotonic() - t0) * 1000
    if not head.startswith(b"HTTP/1.1 408") or not (ms * 0.8 <= took <= ms + 3000):
        fail("got %r after %.0f ms, wanted 408 after about %d ms" % (head[:40], took, ms))
    print("ok: an unfinished head got 408 after %.0f ms (--head-timeout-ms %d)" % (took, ms))
elif case == "errors":
    for path, method, want in (("/other", "GET", b"404"), ("/streams/bad%20topic", "GET", b"404"),
                               ("/streams/", "GET", b"404"), ("/streams/x", "POST", b"405")):
        s = connect()
        request(s, path, method)
        head = read_until(s, b"\r\n\r\n")
        if head.split(b" ")[1:2] != [want]:
            fail("%s %s: got %r, wanted %s" % (method, path, head[:40], want.decode()))
    print("ok: 404 for other paths and bad topics, 405 for POST")
elif case == "keepalive":
    s = connect()
    request(s, "/streams/" + sys.argv[3])
    buf = read_until(s, b"\r\n\r\n")
    if b"X-Accel-Buffering: no" not in buf or b"text/event-stream" not in buf:
        fail("stream head: %r" % buf)
    print("open", flush=True)
    s.settimeout(15)
    while True:
        chunk = s.recv(4096)
        if not chunk:
            fail("the stream ended")
        for line in chunk.split(b"\n"):
            if line == b": keep-alive":
                print("keep-alive", flush=True)
elif case == "stall":
    s = connect(rcvbuf=1024)
    request(s, "/streams/" + sys.argv[3])
    read_until(s, b"retry:")
    print("ready", flush=True)
    # never read again; watch the socket's TCP state for the gateway's reset or close
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] in (7, 8):  # CLOSE, CLOSE_WAIT
            break
        time.sleep(0.05)
    else:
        fail("the gateway did not drop the stalled client within 30 s")
    print("closed", flush=True)
else:
    fail("unknown case " + case)
