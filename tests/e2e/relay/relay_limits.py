#!/usr/bin/env python3
"""relay_limits.py SSE_RELAY: sse_relay's limits and failure paths, against a scripted
upstream on 127.0.0.1. In order:
  - upstream answers 503 first: the relay backs off and reconnects;
  - the limits of server_limits.h, as in every server: a connection that sends nothing
    is closed (--idle-timeout-ms); a request head that never ends gets 408
    (--head-timeout-ms); a head with a bare LF gets 400; a 5,000-byte head gets 431; POST
    gets 405 (tests/attack runs the servers' attacks on the relay as well);
  - past --max-conns connections, the next one gets 503;
  - an idle stream gets ": keep-alive" (--keepalive-ms);
  - a client resuming with a Last-Event-ID that is not the relay's gets a "gap" event
    and the relay's id;
  - a client that never reads is cut after --stall-ms while another reads 16 MB of
    events, every one, in order;
  - an event dropped by the relay's parser (type over 255 bytes) after its first piece
    went out, and upstream closing in the middle of an event: each time the reading
    client gets every byte before the cut and is then closed without the event's end;
    the relay reconnects with Last-Event-ID and exits 0 on the 204 that answers.
Every wait is bounded. About 6 s (the back-off after the 503 is 3 to 4.5 s: no retry
field has come yet, so the default 3000 ms, jittered)."""
import os
import queue
import socket
import subprocess
import sys
import threading
import time

relay_bin = sys.argv[1]
DEADLINE = time.monotonic() + 60
requests = []          # upstream request heads, in order
upstream_q = queue.Queue()  # bytes to send on the streaming connection; None closes it
upstream_ready = threading.Event()


def fail(msg):
    sys.stderr.write("FAIL: %s\n" % msg)
    try:
        relay.kill()
        sys.stderr.write("relay stderr:\n" + relay.stderr.read().decode(errors="replace"))
    except Exception:
        pass
    sys.exit(1)


def read_head(conn):
    head = b""
    while b"\r\n\r\n" not in head:
        got = conn.recv(4096)
        if not got:
            break
        head += got
    return head


def upstream_main(ls):
    for answer in ("503", "stream", "204"):
        conn, _ = ls.accept()
        conn.settimeout(30)
        requests.append(read_head(conn))
        if answer == "503":
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n")
        elif answer == "204":
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
            upstream_ready.set()
            while True:
                item = upstream_q.get()
                if item is None:
                    break
                conn.sendall(item)
        conn.close()


def connect(port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def recv_until(s, want, limit_s=5):
    """Reads until want is in the bytes read (or EOF, or limit_s); returns them."""
    got = b""
    end = time.monotonic() + limit_s
    s.settimeout(0.2)
    while want not in got and time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        got += chunk
    return got


def until_eof(s, limit_s=5):
    got = b""
    end = time.monotonic() + limit_s
    s.settimeout(0.2)
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return got, "reset"
        if not chunk:
            return got, "eof"
        got += chunk
    return got, "open"


class Reader(threading.Thread):
    """A streaming client that reads everything until EOF."""

    def __init__(self, port, extra=b""):
        super().__init__(daemon=True)
        self.s = connect(port)
        self.s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
        self.data = bytearray()
        self.lock = threading.Lock()

    def run(self):
        self.s.settimeout(30)
        while True:
            try:
                chunk = self.s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            with self.lock:
                self.data += chunk

    def wait_for(self, want, limit_s):
        end = time.monotonic() + limit_s
        start = 0  # searched up to here already
        while time.monotonic() < end:
            with self.lock:
                if self.data.find(want, start) >= 0:
                    return True
                start = max(0, len(self.data) - len(want))
            time.sleep(0.02)
        return False


ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
ls.settimeout(30)
threading.Thread(target=upstream_main, args=(ls,), daemon=True).start()
up = "http://127.0.0.1:%d/up" % ls.getsockname()[1]
relay = subprocess.Popen([relay_bin, "--port", "0", "--max-conns", "5", "--idle-timeout-ms",
                          "300", "--head-timeout-ms", "800", "--keepalive-ms", "300",
                          "--stall-ms", "1000", "--queue-kb", "64", up],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
line = relay.stdout.readline().decode()
if not line.startswith("listening on http://127.0.0.1:"):
    fail("relay printed %r" % line)
port = int(line.rsplit(":", 1)[1].strip("/\n"))
t0 = time.monotonic()

# Request limits, while the relay backs off after the 503.
s = connect(port)
got, how = until_eof(s, 3)
if how != "eof" or got:
    fail("silent connection: %s after %r" % (how, got))
for what, request, status in (
        ("unfinished head", b"GET / HTTP/1.1\r\nHost: x\r\n", b" 408 "),
        ("bare LF", b"GET / HTTP/1.1\nHost: x\n\n", b" 400 "),
        ("5,000-byte head", b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", b" 431 "),
        ("POST", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b" 405 ")):
    s = connect(port)
    s.sendall(request)
    if status not in recv_until(s, status, 3):
        fail("%s: no%s" % (what, status.decode().rstrip()))

# Streaming clients: A reads, B never reads (small receive buffer), C and D fill the cap.
A = Reader(port)
A.start()
B = connect(port, rcvbuf=4096)
B.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
others = []
for _ in range(3):
    c = connect(port)
    c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    others.append(c)
for c in others:
    if b"200 OK" not in recv_until(c, b"\r\n\r\n", 3):
        fail("client under the cap got no stream")
over = connect(port)
over.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
if b" 503 " not in recv_until(over, b"503", 3):
    fail("connection over --max-conns: no 503")
for c in others[1:]:
    c.close()

if not A.wait_for(b": keep-alive\n", 3):
    fail("no keep-alive on an idle stream")
if not upstream_ready.wait(10):
    fail("the relay did not reconnect after 503")
backoff = time.monotonic() - t0

# Events, then a resume with a foreign Last-Event-ID.
upstream_q.put(b"retry: 200\nid: 1\ndata: one\n\nid: two\n\n")
if not A.wait_for(b"id: two\n\n", 3):
    fail("events or the id-only block did not reach the client")
G = others[0]
G.close()
G = Reader(port, b"Last-Event-ID: zero\r\n")
G.start()
if not G.wait_for(b"event: gap\nid: two\nretry: 200\ndata: zero\n\n", 3):
    fail("resume from a foreign id: no gap event, got %r" % G.data[-200:])

# 16 MB of events: A gets all of them; B, never reading, is cut after --stall-ms.
event = b"data: " + b"x" * 16000 + b"\n\n"
t1 = time.monotonic()
for i in range(1000):
    upstream_q.put(b"id: e%d\n" % i + event)
if not A.wait_for(b"id: e999\n\n", 20):
    fail("the reading client did not get all 1,000 events (a slow client held it back?)")
flood = time.monotonic() - t1
count = A.data.count(b"data: " + b"x" * 16000 + b"\n")
if count != 1000:
    fail("the reading client got %d of 1,000 events" % count)
B.setblocking(False)
cut = False
end = time.monotonic() + 5
while time.monotonic() < end and not cut:
    try:
        cut = B.recv(1 << 20) == b""
    except BlockingIOError:
        time.sleep(0.02)
    except ConnectionResetError:
        cut = True
if not cut:
    fail("the client that never reads was not cut")

def expect_cut(reader, piece, rest, what):
    """Upstream sends piece, then rest; reader gets the piece, then is closed."""
    upstream_q.put(piece)
    if not reader.wait_for(piece, 3):
        fail("%s: the piece did not reach the client" % what)
    upstream_q.put(rest)
    reader.join(5)
    if reader.is_alive() or not reader.data.endswith(piece):
        fail("%s: the client was not closed right after the piece (%r)" % (what, reader.data[-40:]))


# A type longer than the relay's 255 bytes: its parser drops the event after the piece
# went out, so the reader is closed without the event's end.
expect_cut(A, b"data: doomed", b"\nevent: " + b"t" * 300 + b"\n\n", "dropped event")
# Upstream closes inside an event.
J = Reader(port)
J.start()
if not J.wait_for(b"id: e999\n", 3):
    fail("a new client did not get the last event ID")
expect_cut(J, b"data: half of an ev", None, "upstream closed")
try:
    status = relay.wait(15)
except subprocess.TimeoutExpired:
    fail("the relay did not exit after 204")
if status != 0:
    fail("relay exit status %d" % status)
if len(requests) != 3 or b"\r\nLast-Event-ID: e999\r\n" not in requests[2]:
    fail("upstream requests: %r" % requests)
err = relay.stderr.read().decode()
for want in ("HTTP 503", "stalled for", "event type longer", "event cut off", "HTTP 204"):
    if want not in err:
        fail("relay stderr lacks %r:\n%s" % (want, err))
print("relay limits: idle close, 408, 400, 431, 405, 503 over the cap, keep-alive, gap on resume; "
      "back-off after upstream 503: %.1f s; 16 MB to a reader in %.2f s while a non-reader "
      "was cut; dropped and cut events closed the readers; Last-Event-ID e999 sent upstream; %.1f s in all"
      % (backoff, flood, time.monotonic() - t0))
