#!/usr/bin/env python3
"""evil_relay.py SSE_RELAY SCENARIO: an evil upstream on 127.0.0.1 against sse_relay's
upstream side, which reads HTTP as sse_client does (examples/http_client.h, shared).

The evil server (evil_upstream.py's, beside this file) binds port 0 and answers each
connection as SCENARIO says; the relay runs against it on port 0, and a downstream client
streams from the relay where the scenario has events to pass on. A second upstream
connection is answered 204, which ends the relay (exit 0) after its clients are served.
Each takes at most about 5 s.

Scenarios
  interim   103 Early Hints, then 200 and an event: the client gets the event
  status    status lines 4294967496 and ICY 200: the relay exits 1, one request, no retry
  te        Transfer-Encoding xchunked: exit 1
  ctype     Content-Type text/event-stream and text/html: exit 1
  chunk20   a chunk holding an event, then a 20-hex-digit chunk size in the same read: the
            client gets the event, the relay reconnects with its Last-Event-ID
  length    Content-Length covers one event, another follows on the socket: the client
            gets the first only
"""
import re
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from evil_upstream import HEAD, Evil, expect, fail, main, send  # noqa: E402 (after the line above)

NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class Relay:
    """sse_relay against evil; client() opens a downstream stream once it is listening."""

    def __init__(self, relay, evil):
        self.p = subprocess.Popen([relay, "--port", "0", "--upstream-timeout-ms", "3000",
                                   "http://127.0.0.1:%d/up" % evil.port],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.p.stdout.readline().decode()
        m = re.match(r"listening on http://127.0.0.1:(\d+)/", line)
        if not m:
            self.p.kill()
            fail("the relay printed %r" % line)
        self.port = int(m.group(1))

    def client(self):
        """Connects a downstream client; returns its socket once the 200 head came."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=3)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            d = s.recv(4096)
            if not d:
                fail("the relay closed a downstream client before its head: %r" % got)
            got += d
        expect(got.startswith(b"HTTP/1.1 200 "), "downstream: %r" % got[:60])
        return s, got.split(b"\r\n\r\n", 1)[1]

    def finish(self, seconds=5):
        """Waits for the relay's exit; returns (status or None, stderr). A sanitizer's
        report (ASan exits 1 too) fails the test."""
        try:
            _, err = self.p.communicate(timeout=seconds)
            status = self.p.returncode
        except subprocess.TimeoutExpired:
            self.p.kill()
            _, err = self.p.communicate()
            status = None
        err = err.decode(errors="replace")
        if re.search(r"ERROR: AddressSanitizer|runtime error:|LeakSanitizer", err):
            fail("sanitizer report:\n" + err[-3000:])
        return status, err


def until_eof(s, seconds):
    got = b""
    end = time.monotonic() + seconds
    s.settimeout(0.2)
    while time.monotonic() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not d:
            break
        got += d
    return got


def stream(relay, first):
    """Upstream sends first(n) on its first connection (once a downstream client is
    there), 204 on the next. Returns (relay status, what the client got, stderr, evil)."""
    ready = threading.Event()

    def h(c, n, req):
        if n > 1:
            send(c, NO_CONTENT)
            return
        ready.wait(5)
        send(c, first)
        time.sleep(0.3)
    ev = Evil(h)
    r = Relay(relay, ev)
    s, got = r.client()
    ready.set()
    got += until_eof(s, 5)
    st, err = r.finish()
    ev.close()
    return st, got, err, ev


def refused(relay, answer, label):
    ev = Evil(lambda c, n, req: (send(c, answer), time.sleep(2)))
    t = time.monotonic()
    st, err = Relay(relay, ev).finish()
    ev.close()
    print("%s: exit %s after %.2f s, %d upstream request(s): %s" %
          (label, st, time.monotonic() - t, len(ev.requests), err.strip().splitlines()[-2:]),
          flush=True)
    expect(st == 1 and len(ev.requests) == 1, "%s: not refused for good" % label, err)


def interim(relay):
    st, got, err, _ = stream(relay, b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" +
                             HEAD + b"\r\nretry: 100\nid: 1\ndata: after 103\n\n")
    print("interim: exit %s, the client got %r" % (st, got), flush=True)
    expect(st == 0 and b"data: after 103\nid: 1\n\n" in got, "interim: 103 not skipped", err)


def status(relay):
    for line in (b"HTTP/1.1 4294967496 OK", b"ICY 200 OK"):
        refused(relay, line + b"\r\nContent-Type: text/event-stream\r\n\r\nid: 1\ndata: x\n\n",
                "status %s" % line.decode())


def te(relay):
    refused(relay, HEAD + b"Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n", "te xchunked")


def ctype(relay):
    refused(relay, HEAD + b"Content-Type: text/html\r\n\r\nid: 1\ndata: x\n\n", "two ctypes")


def chunk20(relay):
    ev = b"retry: 100\nid: 1\ndata: before the bad chunk\n\n"
    st, got, err, evil = stream(relay, HEAD + b"Transfer-Encoding: chunked\r\n\r\n" +
                                b"%x\r\n" % len(ev) + ev + b"\r\n" + b"1" * 20 + b"\r\n" +
                                b"data: x\n\n")
    print("chunk20: exit %s, the client got %r, %d upstream requests" %
          (st, got, len(evil.requests)), flush=True)
    expect(st == 0 and b"data: before the bad chunk\nid: 1\n\n" in got and b"data: x" not in got,
           "chunk20: the event before the bad chunk size was not relayed", err)
    expect(len(evil.requests) == 2 and "Last-Event-ID: 1\r\n" in evil.requests[1][1],
           "chunk20: no reconnection with Last-Event-ID", err)


def length(relay):
    good = b"retry: 100\nid: 1\ndata: good\n\n"
    st, got, err, _ = stream(relay, HEAD + b"Content-Length: %d\r\n\r\n" % len(good) + good +
                             b"id: 666\ndata: evil\n\n")
    print("length: exit %s, the client got %r" % (st, got), flush=True)
    expect(st == 0 and b"data: good\nid: 1\n\n" in got and b"evil" not in got,
           "length: bytes after Content-Length were relayed", err)


if __name__ == "__main__":
    main((interim, status, te, ctype, chunk20, length), __doc__)
