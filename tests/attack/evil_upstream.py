#!/usr/bin/env python3
"""evil_upstream.py CLIENT SCENARIO: an evil server on 127.0.0.1 against a client example.

The server here binds port 0, answers each connection as SCENARIO says, and records every
request; the client (sse_client's command line) runs against it, bounded by a timeout.
Each scenario asserts the client's exit status, the events it printed and the requests it
made; the client runs under a 64 MiB address-space limit (RLIMIT_AS; not under the
sanitizers, ATTACK_SANITIZED=1, whose shadow memory needs more), so memory that grew
with the input would end it. Each takes at most about 5 s.

Scenarios
  interim      103 Early Hints, then 200 and an event: the event is printed
  status       bad status lines (4294967496, 2000, 20, +200, 200x, ICY): each fails, exit 1,
               no event, one request
  chunk20      a good chunk holding an event, then a chunk size of 20 hex digits in the
               same read: the event is printed (not lost), then the client reconnects
  length       Content-Length covers one event; an evil event follows it on the socket:
               only the first is printed, then the client reconnects
  te           Transfer-Encoding "xchunked", "gzip, chunked", "chunked, chunked": exit 1
  ctype        two different Content-Types: exit 1; two identical ones: the event comes
  headforever  a head dripped a byte each 100 ms, never ended: dropped at
               --read-timeout-ms 1000 (+0.5 s)
  hugeheader   a 100 MB header line: exit 1 ("too large") within 2 s
  redirect     307 to /b, whose stream then ends: the reconnection asks for /a again
               (the URL given), with Last-Event-ID; 302 to https:// fails, exit 1
  loop         a 302 to itself forever: exit 1 after 21 requests (20 redirects)
  drip         one event dripped a byte each 300 ms with --read-timeout-ms 1000: it is
               printed, one connection
  quiet        a head, then nothing: with --read-timeout-ms 1000 the client hangs up
               between 1.0 and 1.5 s; with ": keep-alive" every 300 ms it does not in 2 s
  retry0       "retry: 0", an event, close, forever: connections in 3 s (the storm
               sse_reconnect_delay's back-off bounds; see tests/attack/CMakeLists.txt)
"""
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Cache-Control: no-cache\r\n")


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


class Evil:
    """Serves each connection with handler(conn, n, request) in its own thread."""

    def __init__(self, handler):
        self.handler = handler
        self.requests = []  # (monotonic time, request head)
        self.hangups = []  # monotonic times the client closed a connection
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        req = b""
        c.settimeout(5)
        try:
            while b"\r\n\r\n" not in req:
                d = c.recv(4096)
                if not d:
                    return
                req += d
            self.requests.append((time.monotonic(), req.decode(errors="replace")))
            self.handler(c, len(self.requests), req.decode(errors="replace"))
        except OSError:  # the client hung up while we wrote
            self.hangups.append(time.monotonic())
        finally:
            try:
                c.close()
            except OSError:
                pass

    def paths(self):
        return [r.split(" ")[1] for _, r in self.requests]

    def close(self):
        self.stop = True
        self.ls.close()


AS_LIMIT = 64 << 20


def limit_memory():
    if os.environ.get("ATTACK_SANITIZED") != "1":
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def run_client(client, evil, args, seconds, path="/a"):
    """Runs the client for at most seconds; returns (status or None, stdout, stderr)."""
    p = subprocess.Popen([client] + args + ["http://127.0.0.1:%d%s" % (evil.port, path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=limit_memory)
    try:
        out, err = p.communicate(timeout=seconds)
        status = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        status = None
    return status, out, err


def events(out):
    return [l.split("\t") for l in out.splitlines()]


def expect(cond, msg, err=""):
    if not cond:
        fail(msg + ("\n--- client stderr:\n" + err[-1500:] if err else ""))


def send(c, data):
    c.sendall(data)


def until_hangup(evil, c, seconds):
    """Waits at most seconds for the client to close c; records when it did."""
    c.settimeout(seconds)
    try:
        if c.recv(1) == b"":
            evil.hangups.append(time.monotonic())
    except socket.timeout:
        pass


# ---- scenarios -------------------------------------------------------------------------

def interim(client):
    def h(c, n, req):
        send(c, b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
             HEAD + b"\r\nid: 1\ndata: after 103\n\n")
        time.sleep(2)
    ev = Evil(h)
    st, out, err = run_client(client, ev, ["--max-events", "1"], 5)
    print("interim: exit %s, events %s" % (st, events(out)), flush=True)
    expect(st == 0 and events(out) == [["message", "1", "after 103"]], "interim: 103 not skipped", err)


def status(client):
    for line in (b"HTTP/1.1 4294967496 OK", b"HTTP/1.1 2000 OK", b"HTTP/1.1 20 OK",
                 b"HTTP/1.1 +200 OK", b"HTTP/1.1 200x OK", b"ICY 200 OK"):
        def h(c, n, req, line=line):
            send(c, line + b"\r\nContent-Type: text/event-stream\r\n\r\nid: 1\ndata: x\n\n")
            time.sleep(2)
        ev = Evil(h)
        st, out, err = run_client(client, ev, [], 5)
        ev.close()
        print("status: %r: exit %s, %d events, %d requests" %
              (line.decode(), st, len(events(out)), len(ev.requests)), flush=True)
        expect(st == 1 and not out and len(ev.requests) == 1,
               "status: %r was not refused" % line, err)


def chunk20(client):
    def h(c, n, req):
        ev = b"id: %d\ndata: before the bad chunk\n\n" % n
        send(c, HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(ev) + ev +
             b"\r\n" + b"1" * 20 + b"\r\n" + b"x" * 64)
        time.sleep(2)
    ev = Evil(h)
    st, out, err = run_client(client, ev, ["--max-events", "2"], 5)
    print("chunk20: exit %s, events %s, requests %d" % (st, events(out), len(ev.requests)),
          flush=True)
    expect(st == 0 and [e[1] for e in events(out)] == ["1", "2"],
           "chunk20: the event before the bad chunk size was lost", err)
    expect("Last-Event-ID: 1" in ev.requests[1][1], "chunk20: no Last-Event-ID on reconnect")


def length(client):
    def h(c, n, req):
        good = b"id: %d\ndata: good\n\n" % n
        send(c, HEAD + b"Content-Length: %d\r\n\r\n" % len(good) + good +
             b"id: 666\ndata: evil\n\n")
        time.sleep(2)
    ev = Evil(h)
    st, out, err = run_client(client, ev, ["--max-events", "2"], 5)
    print("length: exit %s, events %s" % (st, events(out)), flush=True)
    expect(st == 0 and [e[2] for e in events(out)] == ["good", "good"],
           "length: bytes after Content-Length were read as events", err)


def te(client):
    for value in (b"xchunked", b"gzip, chunked", b"chunked, chunked"):
        def h(c, n, req, value=value):
            send(c, HEAD + b"Transfer-Encoding: " + value + b"\r\n\r\n5\r\nhello\r\n")
            time.sleep(2)
        ev = Evil(h)
        st, out, err = run_client(client, ev, [], 5)
        ev.close()
        print("te: %s: exit %s" % (value.decode(), st), flush=True)
        expect(st == 1, "te: Transfer-Encoding %s was accepted" % value.decode(), err)


def ctype(client):
    for second, want in ((b"text/html", 1), (b"text/event-stream", 0)):
        def h(c, n, req, second=second):
            send(c, HEAD + b"Content-Type: " + second + b"\r\n\r\nid: 1\ndata: x\n\n")
            time.sleep(2)
        ev = Evil(h)
        st, out, err = run_client(client, ev, ["--max-events", "1"], 5)
        ev.close()
        print("ctype: text/event-stream then %s: exit %s" % (second.decode(), st), flush=True)
        expect(st == want, "ctype: two Content-Types (%s): exit %s" % (second.decode(), st), err)


def headforever(client):
    def h(c, n, req):
        data = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000
        for b in data:
            send(c, bytes([b]))
            time.sleep(0.1)
    ev = Evil(h)
    run_client(client, ev, ["--read-timeout-ms", "1000"], 2.5)
    gone = [t - ev.requests[0][0] for t in ev.hangups]
    print("headforever: the client hung up after %s s" % ["%.2f" % t for t in gone], flush=True)
    expect(gone and 1.0 <= gone[0] <= 1.5,
           "headforever: the endless head was not dropped at the read timeout")


def hugeheader(client):
    def h(c, n, req):
        send(c, b"HTTP/1.1 200 OK\r\nX-Big: ")
        chunk = b"a" * 65536
        for _ in range(100 * 16):  # 100 MiB, unless the client hangs up first
            send(c, chunk)
    ev = Evil(h)
    t = time.monotonic()
    st, out, err = run_client(client, ev, [], 10)
    print("hugeheader: exit %s after %.2f s (%s)" % (st, time.monotonic() - t, err.strip()),
          flush=True)
    expect(st == 1 and time.monotonic() - t < 2 and "too large" in err,
           "hugeheader: not refused quickly", err)


def redirect(client):
    def h(c, n, req):
        path = req.split(" ")[1]
        if path == "/a":
            send(c, b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n")
        else:
            send(c, HEAD + b"\r\nretry: 10\nid: %d\ndata: from b\n\n" % n)
    ev = Evil(h)
    st, out, err = run_client(client, ev, ["--max-events", "2"], 5)
    print("redirect: exit %s, requests %s, events %s" % (st, ev.paths(), events(out)),
          flush=True)
    expect(st == 0 and ev.paths()[:4] == ["/a", "/b", "/a", "/b"],
           "redirect: not followed, or the reconnection did not start from /a", err)
    expect("Last-Event-ID: 2" in ev.requests[2][1], "redirect: no Last-Event-ID")
    ev.close()

    def h2(c, n, req):
        send(c, b"HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1/x\r\n\r\n")
    ev = Evil(h2)
    st, out, err = run_client(client, ev, [], 5)
    print("redirect: to https://: exit %s" % st, flush=True)
    expect(st == 1, "redirect: a redirect to https:// did not fail", err)


def loop(client):
    def h(c, n, req):
        send(c, b"HTTP/1.1 302 Found\r\nLocation: /a\r\nContent-Length: 0\r\n\r\n")
    ev = Evil(h)
    st, out, err = run_client(client, ev, [], 5)
    print("loop: exit %s after %d requests" % (st, len(ev.requests)), flush=True)
    expect(st == 1 and len(ev.requests) == 21, "loop: redirects not capped at 20", err)


def drip(client):
    def h(c, n, req):
        send(c, HEAD + b"\r\n")
        for b in b"id: 1\ndata: drip\n\n":
            time.sleep(0.3)
            send(c, bytes([b]))
        time.sleep(2)
    ev = Evil(h)
    st, out, err = run_client(client, ev, ["--max-events", "1", "--read-timeout-ms", "1000"],
                                 10)
    print("drip: exit %s, events %s, requests %d" % (st, events(out), len(ev.requests)),
          flush=True)
    expect(st == 0 and len(ev.requests) == 1, "drip: a slow but live stream was dropped", err)


def quiet(client):
    def silent(c, n, req):
        send(c, HEAD + b"\r\n")
        until_hangup(ev, c, 3)
    ev = Evil(silent)
    run_client(client, ev, ["--read-timeout-ms", "1000"], 2.2)
    gone = [t - ev.requests[0][0] for t in ev.hangups]
    print("quiet: without keep-alives, the client hung up after %s s" %
          ["%.2f" % t for t in gone], flush=True)
    expect(gone and 1.0 <= gone[0] <= 1.5, "quiet: the silent connection was not dropped")
    ev.close()

    def alive(c, n, req):
        send(c, HEAD + b"\r\n")
        for _ in range(10):
            time.sleep(0.3)
            send(c, b": keep-alive\n")
    ev = Evil(alive)
    run_client(client, ev, ["--read-timeout-ms", "1000"], 2.2)
    print("quiet: with keep-alives every 300 ms, %d request(s) in 2.2 s" % len(ev.requests),
          flush=True)
    expect(len(ev.requests) == 1, "quiet: a connection with keep-alives was dropped")


def retry0(client):
    def h(c, n, req):
        send(c, HEAD + b"\r\nretry: 0\nid: %d\ndata: x\n\n" % n)
    ev = Evil(h)
    run_client(client, ev, [], 3)
    n = len(ev.requests)
    print("retry0: %d connections in 3 s (%.0f per second)" % (n, n / 3), flush=True)
    expect(n <= 30, "retry0: %d connections in 3 s: the back-off does not hold" % n)


def main(scenarios, doc):
    """Runs the scenario argv[2] names (one of the functions scenarios) on binary argv[1]."""
    by_name = {f.__name__: f for f in scenarios}
    if len(sys.argv) != 3 or sys.argv[2] not in by_name:
        print(doc)
        sys.exit(2)
    by_name[sys.argv[2]](sys.argv[1])
    print("%s: PASS" % sys.argv[2], flush=True)


if __name__ == "__main__":
    main((interim, status, chunk20, length, te, ctype, headforever, hugeheader, redirect, loop,
          drip, quiet, retry0), __doc__)
