#!/usr/bin/env python3
"""attack.py SERVER ATTACK [UPSTREAM]: one attack on an example server, bounded (about 10 s),
on 127.0.0.1.

The server is started here on port 0 with short limits (--interval-ms 500 --idle-timeout-ms
1000 --head-timeout-ms 2000). A relay (sse_relay) is a server too: UPSTREAM is then the
sse_server binary it relays, started here first on port 0 with --interval-ms 500 (the
relay gets the URL it prints, and the same limits). The Redis gateway (redis_gateway) is
attacked on /streams/dates: a redis-server of its own (port picked free, no persistence, a
temp dir) is started here first, waited on until ready, and a ticker process adds tick k
to the stream as entry "k-0" every --interval-ms (500), so its events carry the ticks' ids
(the real client reads "id: k-0" as tick k) and every assertion below holds as for the
others. Before the attack a real client (a separate process, so this one's work cannot
delay its reads) opens /dates (/streams/dates). Every attack then asserts:
  - the server is still running (no crash) and, under the sanitizers, reported nothing;
  - its VmRSS stayed within baseline + RSS_BOUND_KIB at every sample taken during the attack
    (16 MiB; 128 MiB for mhd_server, a thread per connection);
  - its open descriptors return to the baseline count once the attackers are gone;
  - the real client received every event (ids consecutive) and none later than one tick
    (--interval-ms) after the tick it belongs to;
and prints the figures of its own (connections held, seconds, answers).

Attacks
  slowloris   300 heads: the request line, then a header a byte per connection every
              100 ms, never finished: each is answered 408 and closed within --head-timeout-ms (+1 s; +3 s sanitized)
  silent      300 connections that send nothing: closed within --idle-timeout-ms (+1 s)
  fdlimit     server under RLIMIT_NOFILE 64: 100 silent connections; the excess is answered
              503 at once, the server does not spin (CPU < 30 %), a client arriving during
              the attack is answered within 1 s and one arriving after it gets events
  cap         --max-conns 4: the connection over the cap gets 503 at once
  noread      50 streams and 50 page requests that never read a byte
  reset       2,000 connections (at most 5 s) that ask for the page or a replay of the whole
              ring with a 1 KiB receive buffer, read 100 bytes and reset mid-write
  malformed   heads with a bare LF, a bare CR, a NUL: each answered 400 within 1 s
  keepalive   --keepalive-ms 300 and no events: ": keep-alive" comes every 300 ms (+-150)
  h2flood     (h2_server) one h2c connection writing PING ACKs (ignored by the spec) as
              fast as the server reads them, for 5 s: the real client stays on time
  h2frames    (h2_server) rapid reset (5,000 streams opened and reset), SETTINGS, PING and
              CONTINUATION floods, WINDOW_UPDATE of 0 and one overflowing the window
"""
import atexit
import os
import re
import resource
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time

INTERVAL_MS = 500
IDLE_MS = 1000
HEAD_MS = 2000
# VmRSS growth allowed during an attack. mhd_server runs a thread per connection (about
# 40 KiB each) and a reset connection's thread lives until the next tick: the reset attack
# has up to 2,000 at once there (81 MB measured).
RSS_BOUND_KIB = {"mhd_server": 128 * 1024}
RSS_BOUND_DEFAULT_KIB = 16 * 1024
# ATTACK_SANITIZED=1 (tests/check.sh, ASan+UBSan builds): ASan's quarantine keeps freed
# memory (up to 256 MB), so VmRSS is printed but not bounded, the server gets SLACK_S more
# to close connections after a deadline and events may come LATE_MS late: that stage looks
# for memory errors and undefined behaviour; the timing is asserted by the Release run.
SANITIZED = os.environ.get("ATTACK_SANITIZED") == "1"
SLACK_S = 3 if SANITIZED else 1
# how late an event of the real client may come: one tick; 2 s sanitized (ASan serializes
# thread creation: mhd_server's 300 new threads held a stream 1.1 s once)
LATE_MS = 2000 if SANITIZED else INTERVAL_MS
EPOCH_MS = 1704067200000
HOST = "127.0.0.1"
UPSTREAM = None  # the sse_server binary a relay relays (the third argument)
GATEWAY = False  # the server is redis_gateway: Redis and a ticker are started here
DATES = "/dates"  # the path of the ticks' stream ("/streams/dates" on the gateway)
RESUME_ALL = "1"  # a Last-Event-ID older than everything the server holds ("0-1": gateway)


STARTED = []  # every process started here, ended on exit whatever happens


def end_all():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(end_all)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def now():
    return time.monotonic()


def wait_for(err, pattern, what, seconds=10):
    """Waits (at most seconds) until the file err holds a line matching pattern."""
    deadline = now() + seconds
    while now() < deadline:
        err.seek(0)
        if re.search(pattern, err.read()):
            return
        time.sleep(0.05)
    err.seek(0)
    fail("%s: no %r within %d s: %s" % (what, pattern, seconds, err.read().decode(errors="replace")))


# adds tick k as entry "k-0" of stream "dates" at its instant, k = (wall ms - EPOCH) / INTERVAL
TICKER = r'''
import socket, sys, time
epoch, interval, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
k = int((time.time() * 1000 - epoch) // interval) + 1
for _ in range(int(600000 / interval)):  # 10 minutes at most
    time.sleep(max(0.0, (epoch + k * interval) / 1000 - time.time()))
    args = [b"XADD", b"dates", b"MAXLEN", b"~", b"1000", b"%d-0" % k, b"data", b"tick %d" % k]
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    reply = f.readline()
    if not reply.startswith(b"$"):
        sys.exit("ticker: XADD %d-0: %r" % (k, reply))
    f.readline()
    k += 1
'''


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, err, nofile=None):
    """Starts a server; returns (process, port) once it printed its URL (within 10 s)."""
    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, preexec_fn=limit)
    STARTED.append(p)
    line = b""
    deadline = now() + 10
    while now() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.2)
        if r:
            line = p.stdout.readline()
            break
        if p.poll() is not None:
            break
    m = re.match(rb"listening on http://127.0.0.1:(\d+)/", line)
    if not m:
        err.seek(0)
        fail("%s printed no port: %r %s" % (args[0], line, err.read().decode(errors="replace")))
    return p, int(m.group(1))


class Server:
    def __init__(self, binary, extra, nofile=None, interval_ms=INTERVAL_MS):
        self.err = tempfile.TemporaryFile()
        self.binary = binary
        args = [binary, "--port", "0"]
        tick = ["--interval-ms", str(interval_ms)]
        if UPSTREAM:  # the relay's upstream: the ticks come from there
            self.up_err = tempfile.TemporaryFile()
            self.up, up_port = start([UPSTREAM, "--port", "0"] + tick, self.up_err)
            tick = []
        if GATEWAY:  # Redis of its own; the ticks come from the ticker (none: no events)
            self.redis_dir = tempfile.TemporaryDirectory()
            self.up_err = tempfile.TemporaryFile()
            redis_port = free_port()
            self.up = subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--bind", HOST, "--save", "",
                 "--appendonly", "no", "--dir", self.redis_dir.name],
                stdout=self.up_err, stderr=subprocess.STDOUT)
            STARTED.append(self.up)
            wait_for(self.up_err, rb"Ready to accept connections", "redis-server")
            if interval_ms == INTERVAL_MS:
                self.ticker = subprocess.Popen([sys.executable, "-c", TICKER, str(EPOCH_MS),
                                                str(interval_ms), str(redis_port)])
                STARTED.append(self.ticker)
            tick = ["--redis", "%s:%d" % (HOST, redis_port)]
        if os.environ.get("ATTACK_NO_LIMIT_FLAGS") != "1":  # 1: a binary from before the limits
            args += ["--idle-timeout-ms", str(IDLE_MS), "--head-timeout-ms", str(HEAD_MS)]
        args += tick + extra
        if UPSTREAM:
            args.append("http://127.0.0.1:%d/dates" % up_port)
        self.p, self.port = start(args, self.err, nofile)
        if GATEWAY:
            wait_for(self.err, rb"connected to Redis", "redis_gateway")
        self.peak_rss = 0

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def alive(self):
        return self.p.poll() is None

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.p.pid))

    def rss(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        self.peak_rss = max(self.peak_rss, kib)
        return kib

    def cpu_s(self):
        with open("/proc/%d/stat" % self.p.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.alive():
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                fail("server did not stop on SIGTERM")
        err = self.stderr()
        if re.search(r"ERROR: AddressSanitizer|runtime error:|LeakSanitizer", err):
            fail("sanitizer report:\n" + err[-3000:])
        if (UPSTREAM or GATEWAY) and self.up.poll() is not None:
            fail("the upstream server died (status %s)" % self.up.returncode)
        if GATEWAY and hasattr(self, "ticker") and self.ticker.poll() is not None:
            fail("the ticker stopped (status %s)" % self.ticker.returncode)
        return self.p.returncode


def connect(port, timeout=2.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    return s


def request(path=None):
    path = path or DATES
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n" %
            path).encode()


def read_answer(s, seconds):
    """Reads until the peer closes or seconds pass; returns (bytes, closed)."""
    data = b""
    end = now() + seconds
    s.setblocking(False)
    while now() < end:
        r, _, _ = select.select([s], [], [], max(0.0, end - now()))
        if not r:
            break
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        except BlockingIOError:
            continue
        if not chunk:
            return data, True
        data += chunk
    return data, False


def status_of(data):
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    return int(m.group(1)) if m else None


# ---- the real client: a separate process printing "<wall ms> <id>" per event -----------

VICTIM = r'''
import signal, socket, sys, time, re
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET " + sys.argv[2].encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
buf = b""; head = None; chunked = False; body = b""; raw = b""
out = sys.stdout
while True:
    try:
        d = s.recv(65536)
    except OSError:
        break
    if not d:
        break
    t = time.time() * 1000
    if head is None:
        raw += d
        if b"\r\n\r\n" not in raw:
            continue
        head, d = raw.split(b"\r\n\r\n", 1)
        out.write("head %s\n" % head.split(b"\r\n")[0].decode()); out.flush()
        chunked = b"chunked" in head.lower()
    if chunked:
        body += d
        dec = b""
        while True:
            i = body.find(b"\r\n")
            if i < 0:
                break
            n = int(body[:i].split(b";")[0], 16)
            if len(body) < i + 2 + n + 2:
                break
            dec += body[i + 2:i + 2 + n]
            body = body[i + 2 + n + 2:]
        d = dec
    buf += d
    while b"\n\n" in buf:
        ev, buf = buf.split(b"\n\n", 1)
        m = re.search(rb"^id: (\d+)(?:-0)?$", ev, re.M)  # "k-0": the gateway's entry of tick k
        if m:
            out.write("%d %s\n" % (t, m.group(1).decode())); out.flush()
'''


class Victim:
    def __init__(self, port):
        self.p = subprocess.Popen([sys.executable, "-c", VICTIM, str(port), DATES],
                                  stdout=subprocess.PIPE, text=True)
        STARTED.append(self.p)
        self.lines = []
        end = now() + 5
        while now() < end:
            r, _, _ = select.select([self.p.stdout], [], [], 0.2)
            if r:
                line = self.p.stdout.readline()
                if not line:
                    break
                self.lines.append(line)
                if not line.startswith("head"):
                    return
        fail("the real client got no event within 5 s: %r" % self.lines)

    def check(self, label):
        """Stops the client, asserts every event came, none late by more than a tick."""
        self.p.terminate()
        rest, _ = self.p.communicate(timeout=10)
        lines = [l for l in self.lines + rest.splitlines(True) if not l.startswith("head")]
        ids = [int(l.split()[1]) for l in lines]
        late = [float(l.split()[0]) - (EPOCH_MS + int(l.split()[1]) * INTERVAL_MS)
                for l in lines]
        if len(ids) < 2:
            fail("%s: the real client received %d events" % (label, len(ids)))
        missing = [b for a, b in zip(ids, ids[1:]) if b != a + 1]
        worst = max(late)
        print("%s: real client: %d events, ids %d..%d consecutive: %s, latest %.0f ms after "
              "its tick (bound %d ms)" % (label, len(ids), ids[0], ids[-1],
                                          "yes" if not missing else "NO", worst, LATE_MS),
              flush=True)
        if missing:
            fail("%s: the real client missed events before ids %s" % (label, missing[:5]))
        if worst > LATE_MS:
            fail("%s: an event came %.0f ms after its tick" % (label, worst))


# ---- the frame of every attack -----------------------------------------------------------

def run(binary, name, attack, extra=(), nofile=None):
    srv = Server(binary, list(extra), nofile)
    victim = Victim(srv.port)
    time.sleep(0.3)  # the client's connection settles into streaming
    fd0, rss0 = srv.fds(), srv.rss()
    bound = RSS_BOUND_KIB.get(os.path.basename(binary), RSS_BOUND_DEFAULT_KIB)
    cpu0, t0 = srv.cpu_s(), now()
    attack(srv)
    if not srv.alive():
        fail("%s: the server died (status %s):\n%s" % (name, srv.p.returncode, srv.stderr()[-2000:]))
    cpu = srv.cpu_s() - cpu0
    wall = now() - t0
    # descriptors back to the baseline once the attackers are gone
    end = now() + HEAD_MS / 1000 + 3
    while srv.fds() != fd0 and now() < end:
        srv.rss()
        time.sleep(0.05)
    fd1 = srv.fds()
    srv.rss()
    # the real client's events are judged over two ticks at least, however short the attack
    time.sleep(max(0.0, t0 + 2.5 * INTERVAL_MS / 1000 - now()))
    print("%s: server fds %d before, %d after; VmRSS %d KiB before, peak %d KiB (bound +%d KiB);"
          " CPU %.2f s in %.1f s" % (name, fd0, fd1, rss0, srv.peak_rss, bound, cpu, wall),
          flush=True)
    victim.check(name)
    if fd1 != fd0:
        fail("%s: %d descriptors open after the attack, %d before" % (name, fd1, fd0))
    if srv.peak_rss > rss0 + bound and not SANITIZED:
        fail("%s: VmRSS peaked at %d KiB, baseline %d" % (name, srv.peak_rss, rss0))
    srv.stop()
    print("%s: PASS" % name, flush=True)


def hold(srv, socks, seconds, send=None):
    """Keeps socks open for at most seconds, sampling RSS; send(i, s) may write each 100 ms.
    Returns {index: (seconds until closed, bytes received)} for the closed ones."""
    closed = {}
    got = {i: b"" for i in range(len(socks))}
    start = now()
    for s in socks:
        s.setblocking(False)
    last_send = 0.0
    while now() - start < seconds and len(closed) < len(socks):
        open_ = [s for i, s in enumerate(socks) if i not in closed]
        r, _, _ = select.select(open_, [], [], 0.05)
        for s in r:
            i = socks.index(s)
            try:
                d = s.recv(4096)
            except OSError:
                d = b""
            if d:
                got[i] += d
            else:
                closed[i] = (now() - start, got[i])
        if send and now() - last_send >= 0.1:
            last_send = now()
            for i, s in enumerate(socks):
                if i not in closed:
                    try:
                        send(i, s)
                    except OSError:
                        pass
        srv.rss()
    return closed


def summary(label, socks, closed, limit_s):
    held = len(socks) - len(closed)
    times = sorted(t for t, _ in closed.values())
    statuses = {}
    for _, d in closed.values():
        st = status_of(d)
        statuses[st] = statuses.get(st, 0) + 1
    print("%s: %d of %d connections closed by the server (last after %.2f s), %d still held; "
          "answers %s" % (label, len(closed), len(socks), times[-1] if times else 0, held,
                          statuses), flush=True)
    for s in socks:
        s.close()
    if held:
        fail("%s: %d connections still held after %.1f s" % (label, held, limit_s))
    return statuses


def slowloris(srv):
    head = b"X-Slow: " + b"a" * 100  # header bytes after the request line, never the end
    socks = []
    for _ in range(300):  # the request line at once: the idle deadline is not this test's
        socks.append(connect(srv.port))
        socks[-1].sendall(b"GET /dates HTTP/1.1\r\n")
    pos = [0] * len(socks)

    def drip(i, s):
        if pos[i] < len(head):
            s.send(head[pos[i]:pos[i] + 1])
            pos[i] += 1
    limit = HEAD_MS / 1000 + SLACK_S
    st = summary("slowloris", socks, hold(srv, socks, limit + 1, drip), limit)
    if st.get(408, 0) != len(socks):
        fail("slowloris: expected 408 for every connection, got %s" % st)


def silent(srv):
    socks = [connect(srv.port) for _ in range(300)]
    limit = IDLE_MS / 1000 + SLACK_S
    summary("silent", socks, hold(srv, socks, limit + 1), limit)


def fdlimit(srv):
    base = srv.fds()
    socks = []
    for _ in range(100):
        socks.append(connect(srv.port))
    t = now()
    late = connect(srv.port)
    late.sendall(request())
    data, closed = read_answer(late, 1.0)
    late.close()
    st = status_of(data)
    print("fdlimit: a client arriving during the attack: %s after %.2f s" %
          (st or ("closed" if closed else "no answer"), now() - t), flush=True)
    # libmicrohttpd closes what it accepts over its own limit without a word: at once
    mhd_close = os.path.basename(srv.binary) == "mhd_server" and closed and not data
    if st not in (200, 503) and not mhd_close:
        fail("fdlimit: the client arriving during the attack got no answer within 1 s")
    limit = IDLE_MS / 1000 + SLACK_S
    cpu0, t0 = srv.cpu_s(), now()
    closed = hold(srv, socks, limit + 1)
    busy = (srv.cpu_s() - cpu0) / (now() - t0)
    print("fdlimit: server CPU %.0f %% of a core while full" % (100 * busy), flush=True)
    statuses = summary("fdlimit", socks, closed, limit)
    if busy > 0.3:
        fail("fdlimit: the server spins while out of descriptors")
    if statuses.get(503, 0) == 0:
        fail("fdlimit: no connection over the limit was answered 503")
    end = now() + 3  # the server has closed its side too: its descriptors say so
    while srv.fds() > base and now() < end:
        time.sleep(0.02)
    after = connect(srv.port)
    after.sendall(request())
    data, _ = read_answer(after, 1.0)
    after.close()
    if status_of(data) != 200 or b"\nid: " not in data:
        fail("fdlimit: a client after the attack got %r" % data[:200])
    print("fdlimit: a client after the attack: 200 and events", flush=True)


def cap(srv):
    socks = [connect(srv.port) for _ in range(3)]  # with the real client: 4 of 4
    time.sleep(0.1)
    t = now()
    extra = connect(srv.port)
    extra.sendall(request())
    data, closed = read_answer(extra, 1.0)
    extra.close()
    print("cap: the connection over --max-conns 4: %s, closed %s, after %.2f s" %
          (status_of(data), closed, now() - t), flush=True)
    for s in socks:
        s.close()
    if status_of(data) != 503 or not closed:
        fail("cap: expected 503 and a close, got %r" % data[:100])


def noread(srv):
    socks = []
    for i in range(100):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.connect((HOST, srv.port))
        s.sendall(request(DATES if i % 2 == 0 else "/"))
        socks.append(s)
    end = now() + 5
    while now() < end:
        srv.rss()
        time.sleep(0.1)
    for s in socks:
        s.close()
    print("noread: 100 connections that never read, held 5 s", flush=True)


def reset(srv):
    # what makes the server write most: the page, and a resume that replays the whole ring
    asks = (request("/"), request()[:-2] + b"Last-Event-ID: %s\r\n\r\n" % RESUME_ALL.encode())
    n = 0
    end = now() + 5
    while n < 2000 and now() < end:
        batch = []
        for i in range(20):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.connect((HOST, srv.port))
            s.sendall(asks[i % 2])
            batch.append(s)
        for s in batch:
            read_answer_once(s)
            s.close()  # SO_LINGER 0: RST while the server writes
        n += len(batch)
        srv.rss()
    print("reset: %d connections reset mid-stream in %.2f s" % (n, 5 - max(0, end - now())),
          flush=True)


def read_answer_once(s):
    s.settimeout(1.0)
    try:
        s.recv(100)
    except OSError:
        pass


# head -> the answers allowed: 400 and a close. mhd_server reads a bare LF as a line end
# (RFC 9112, 2.2 allows it: the stream starts) and a NUL cuts a path (404) or a header
# value short (libmicrohttpd parses the head; the server never sees its bytes).
MALFORMED = {
    "bare LF": (b"GET /dates HTTP/1.1\nHost: x\n\n", {"mhd_server": (200,)}),
    "bare CR": (b"GET /dates HTTP/1.1\rHost: x\r\n\r\n", {}),
    "NUL in the request line": (b"GET /da\0tes HTTP/1.1\r\nHost: x\r\n\r\n",
                                {"mhd_server": (404,)}),
    "NUL in a header": (b"GET /dates HTTP/1.1\r\nHost: x\0y\r\n\r\n", {"mhd_server": (200,)}),
}


def malformed(srv):
    bad = []
    for label, (head, other) in MALFORMED.items():
        want = other.get(os.path.basename(srv.binary), (400,))
        s = connect(srv.port)
        t = now()
        s.sendall(head)
        data, closed = read_answer(s, 1.0)
        s.close()
        print("malformed: %s: %s, closed %s, after %.2f s" %
              (label, status_of(data) or "no answer", closed, now() - t), flush=True)
        if status_of(data) not in want or (want == (400,) and not closed):
            bad.append(label)
    if bad:
        fail("malformed: not the answer wanted for %s" % bad)


def keepalive(srv):
    s = connect(srv.port)
    s.sendall(request())
    s.setblocking(False)
    times = []
    buf = b""
    start = now()
    while now() - start < 2.0:
        r, _, _ = select.select([s], [], [], 0.1)
        if r:
            d = s.recv(4096)
            if not d:
                break
            buf += d
            while b": keep-alive\n" in buf:
                buf = buf.split(b": keep-alive\n", 1)[1]
                times.append(now())
    s.close()
    gaps = [round((b - a) * 1000) for a, b in zip(times, times[1:])]
    print("keepalive: %d comments in 2 s, gaps %s ms (want 300 +- 150)" % (len(times), gaps),
          flush=True)
    if len(times) < 4 or any(abs(g - 300) > 150 for g in gaps):
        fail("keepalive: comments not every 300 ms")


# ---- HTTP/2 (h2c with prior knowledge) ---------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def hpack_get(path="/dates"):
    out = b""
    for name, value in ((":method", "GET"), (":scheme", "http"), (":path", path),
                        (":authority", "127.0.0.1")):
        out += bytes([0, len(name)]) + name.encode() + bytes([len(value)]) + value.encode()
    return out


def h2_open(port):
    s = connect(port)
    s.sendall(PREFACE + frame(4, 0, 0))  # empty SETTINGS
    return s


def drain(s):
    s.setblocking(False)
    try:
        while s.recv(65536):
            pass
    except (BlockingIOError, OSError):
        pass


def h2flood(srv):
    s = h2_open(srv.port)
    s.sendall(frame(1, 0x5, 1, hpack_get()))  # a stream of its own, then the flood
    # PING with ACK set that answers no PING: RFC 9113, 6.7, nothing to do, but parsed one
    # by one, so the server needs more time to read them than this loop to write them
    batch = frame(6, 0x1, 0, b"\0" * 8) * 16384
    s.setblocking(False)
    sent = 0
    end = now() + 5
    while now() < end:
        _, w, _ = select.select([], [s], [], 0.05)
        if w:
            try:
                sent += s.send(batch)
            except BlockingIOError:
                pass
        drain(s)
        srv.rss()
    s.close()
    print("h2flood: %.0f MB of ignored frames written in 5 s" % (sent / 1e6), flush=True)


def h2_send(s, data, label):
    """Sends data; a server that closes the connection first has defended itself."""
    try:
        s.sendall(data)
        return True
    except OSError as e:
        print("h2frames: %s: the server closed the connection (%s)" % (label, e.strerror),
              flush=True)
        return False


def h2frames(srv):
    t = now()
    # rapid reset: open and reset streams, 5,000 of them
    s = h2_open(srv.port)
    out = b""
    for i in range(5000):
        sid = 2 * i + 1
        out += frame(1, 0x5, sid, hpack_get()) + frame(3, 0, sid, struct.pack(">I", 8))
        if len(out) > 60000 or i == 4999:
            if not h2_send(s, out, "rapid reset"):
                break
            drain(s)
            out = b""
    s.close()
    # SETTINGS and PING floods, never reading the ACKs; CONTINUATION without an end
    floods = (("SETTINGS", b"", frame(4, 0, 0) * 1000),
              ("PING", b"", frame(6, 0, 0, b"\0" * 8) * 1000),
              ("CONTINUATION", frame(1, 0x1, 1, hpack_get()),
               frame(9, 0, 1, bytes([0, 1]) + b"x" + bytes([100]) + b"y" * 100) * 100))
    for label, first, data in floods:
        s = h2_open(srv.port)
        if not h2_send(s, first, label):
            continue
        sent, end = 0, now() + 1.5
        while now() < end and h2_send(s, data, label):
            sent += len(data)
            srv.rss()
        s.close()
        print("h2frames: %s flood: %.1f MB sent in at most 1.5 s" % (label, sent / 1e6),
              flush=True)
    # WINDOW_UPDATE of 0 and one overflowing 2^31-1: the server answers GOAWAY
    for label, frames in (("zero", frame(8, 0, 0, struct.pack(">I", 0))),
                          ("overflow", frame(8, 0, 0, struct.pack(">I", 0x7fffffff)) * 2)):
        s = h2_open(srv.port)
        s.sendall(frames)
        data, closed = read_answer(s, 2.0)
        s.close()
        goaway = re.search(rb"[\x00-\xff]{3}\x07\x00\x00\x00\x00\x00", data) is not None
        print("h2frames: WINDOW_UPDATE %s: GOAWAY %s, closed %s" % (label, goaway, closed),
              flush=True)
        if not goaway or not closed:
            fail("h2frames: no GOAWAY and close after WINDOW_UPDATE %s" % label)
    print("h2frames: done in %.1f s" % (now() - t), flush=True)


ATTACKS = {
    "slowloris": (slowloris, [], None),
    "silent": (silent, [], None),
    "fdlimit": (fdlimit, [], 64),
    "cap": (cap, ["--max-conns", "4"], None),
    "noread": (noread, [], None),
    "reset": (reset, [], None),
    "malformed": (malformed, [], None),
    "keepalive": (keepalive, ["--keepalive-ms", "300"], None),
    "h2flood": (h2flood, [], None),
    "h2frames": (h2frames, [], None),
}


def main():
    global UPSTREAM, GATEWAY, DATES, RESUME_ALL
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in ATTACKS:
        print(__doc__)
        sys.exit(2)
    binary, name = sys.argv[1], sys.argv[2]
    UPSTREAM = sys.argv[3] if len(sys.argv) == 4 else None
    if os.path.basename(binary) == "redis_gateway":
        GATEWAY, DATES, RESUME_ALL = True, "/streams/dates", "0-1"
    fn, extra, nofile = ATTACKS[name]
    if name == "keepalive":
        keepalive_run(binary)
        return
    run(binary, name, fn, extra, nofile)


def keepalive_run(binary):
    srv = Server(binary, ["--keepalive-ms", "300"], interval_ms=3600000)
    keepalive(srv)
    srv.stop()
    print("keepalive: PASS", flush=True)


if __name__ == "__main__":
    main()
