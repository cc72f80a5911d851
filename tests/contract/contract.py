"""contract.py CURL_CLIENT [GROUP...]: the contract scenarios against service.py.

Starts the test service (service.py) on a free port, plays the harness: a scriptable SSE
server (sse_stub.Stub) per scenario and a callback receiver, creates streams through the
service protocol and checks what the client reports. Prints one line per scenario and a
count per group; exit 0 when all pass. Every wait is bounded (5 s unless said).
"""
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sse_stub import Stub, Callbacks, short  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = sys.argv[1]
SCENARIOS = []


def scenario(group):
    def add(fn):
        SCENARIOS.append((group, fn.__name__, fn))
        return fn
    return add


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Harness:
    n = 0  # streams created, over all scenarios: each has its own callback path

    def __init__(self, base, cb):
        self.base, self.cb, self.stubs, self.streams = base, cb, [], []

    def stream(self, handler, **params):
        """A stub running handler, and a client stream on it through the service."""
        stub = Stub(handler)
        self.stubs.append(stub)
        Harness.n += 1
        tag = f"s{Harness.n}"
        body = {"streamUrl": stub.url(params.pop("path", "/stream")),
                "callbackUrl": f"{self.cb.base}/{tag}", "tag": tag,
                "initialDelayMs": params.pop("initialDelayMs", 50)}
        body.update(params)
        status, headers, _ = http("POST", self.base + "/", body)
        assert status == 201, f"create stream: {status}"
        loc = headers["Location"]
        s = StreamRef(self, stub, tag, loc if loc.startswith("http") else self.base + loc)
        self.streams.append(s)
        return s

    def close(self):
        for s in self.streams:
            http("DELETE", s.loc)
        for stub in self.stubs:
            stub.close()
        self.stubs, self.streams = [], []


class StreamRef:
    def __init__(self, h, stub, tag, loc):
        self.h, self.stub, self.tag, self.loc = h, stub, tag, loc

    def wait(self, pred, timeout=5):
        return self.h.cb.wait(self.tag, pred, timeout)

    def events(self, n, timeout=5):
        """The first n event callbacks, as (type, data, id)."""
        items = self.wait(lambda it: len(kinds(it, "event")) >= n, timeout)
        return [(e["event"]["type"], e["event"]["data"], e["event"]["id"])
                for e in kinds(items, "event")][:n]

    def exited(self, timeout=5):
        """Waits for the client to exit; returns its status and all callbacks."""
        items = self.wait(lambda it: any(exit_status(i) is not None for i in it), timeout)
        return [exit_status(i) for i in items if exit_status(i) is not None][0], items


def kinds(items, kind):
    return [i for i in items if i["kind"] == kind]


def exit_status(item):
    if item["kind"] == "error" and item["error"].startswith("client exited with status "):
        return int(item["error"].rsplit(" ", 1)[1])
    return None


def sse(handler_body, ctype="text/event-stream", hold=True):
    """A handler that sends a 200 head, then handler_body(conn), then holds the connection."""
    def handler(req, conn):
        conn.head(ctype=ctype)
        handler_body(conn)
        if hold:
            conn.hold()
    return handler


def per_request(*handlers):
    """Request n gets handlers[n-1]; later ones the last handler."""
    def handler(req, conn):
        handlers[min(req.n, len(handlers)) - 1](req, conn)
    return handler


def send_all(*chunks):
    return sse(lambda c: [c.send(x) for x in chunks])


def msg(data, type="message", id=""):
    return (type, data, id)


# ---- basic parsing ---------------------------------------------------------------------

@scenario("parsing")
def one_event_in_one_chunk(h):
    s = h.stream(send_all(b"data: hello\n\n"))
    assert s.events(1) == [msg("hello")]


@scenario("parsing")
def events_split_across_chunks(h):
    s = h.stream(sse(lambda c: c.pieces(b"event: greet\ndata: one\n\nid: 7\ndata: two\ndata: three\n\n", 3)))
    assert s.events(2) == [msg("one", "greet"), msg("two\nthree", id="7")]


@scenario("parsing")
def field_order_does_not_matter(h):
    s = h.stream(send_all(b"data: a\nid: 1\nevent: x\n\nevent: y\nid: 2\ndata: b\n\n"))
    assert s.events(2) == [msg("a", "x", "1"), msg("b", "y", "2")]


@scenario("parsing")
def unknown_fields_are_ignored(h):
    s = h.stream(send_all(b"foo: bar\ndata: a\nDATA: no\nretry: x\n\n"))
    assert s.events(1) == [msg("a")]


@scenario("parsing")
def missing_colon_and_missing_space(h):
    s = h.stream(send_all(b"data\n\ndata:x\n\ndata:  two spaces\n\n"))
    assert s.events(3) == [msg(""), msg("x"), msg(" two spaces")]


@scenario("parsing")
def multibyte_characters_one_byte_at_a_time(h):
    text = "h\u00e9llo \u4e16\u754c \U0001F600"
    s = h.stream(sse(lambda c: c.pieces(b"data: " + text.encode() + b"\n\n", 1)))
    assert s.events(1) == [msg(text)]


@scenario("parsing")
def event_of_several_mib_on_one_line(h):
    big = ("0123456789abcdef" * (3 << 16)) + "end"  # 3 MiB + 3 bytes
    s = h.stream(send_all(b"data: " + big.encode() + b"\n\n", b"data: after\n\n"))
    got = s.events(2, timeout=10)
    assert got[0] == msg(big) and got[1] == msg("after"), "big event lost or changed"


@scenario("parsing")
def event_of_several_mib_in_many_lines(h):
    line = "x" * 1000
    s = h.stream(send_all(b"".join(b"data: " + line.encode() + b"\n" for _ in range(5000)) + b"\n"))
    assert s.events(1, timeout=10) == [msg("\n".join([line] * 5000))]


# ---- BOM -------------------------------------------------------------------------------

@scenario("bom")
def bom_at_start_is_ignored(h):
    s = h.stream(send_all(b"\xef\xbb\xbfdata: a\n\n"))
    assert s.events(1) == [msg("a")]


@scenario("bom")
def bom_split_across_reads_is_ignored(h):
    s = h.stream(sse(lambda c: c.pieces(b"\xef\xbb\xbfdata: a\n\n", 1)))
    assert s.events(1) == [msg("a")]


@scenario("bom")
def second_bom_is_not_stripped(h):
    # The second BOM makes the line's field name "\ufeffdata": an unknown field.
    s = h.stream(send_all(b"\xef\xbb\xbf\xef\xbb\xbfdata: no\n\ndata: yes\n\n"))
    assert s.events(1) == [msg("yes")]


@scenario("bom")
def bom_stripped_again_after_reconnect(h):
    first = sse(lambda c: c.send(b"\xef\xbb\xbfid: 1\ndata: a\n\n"), hold=False)
    s = h.stream(per_request(first, send_all(b"\xef\xbb\xbfdata: b\n\n")))
    assert s.events(2) == [msg("a", id="1"), msg("b", id="1")]


# ---- comments --------------------------------------------------------------------------

@scenario("comments")
def comments_are_reported_in_order(h):
    s = h.stream(send_all(b": first\ndata: a\n:second\n\n:\n"))
    items = s.wait(lambda it: len(it) >= 4)
    assert items[:4] == [{"kind": "comment", "comment": "first"}, {"kind": "comment", "comment": "second"},
                         {"kind": "event", "event": {"type": "message", "data": "a", "id": ""}},
                         {"kind": "comment", "comment": ""}], short(items)


# ---- line endings ----------------------------------------------------------------------

ENDINGS = [b"\n", b"\r", b"\r\n"]


@scenario("line-endings")
def every_line_ending_pair_split_at_every_boundary(h):
    stream, want = b"", []
    for e1 in ENDINGS:
        for e2 in ENDINGS:
            for e3 in ENDINGS:
                if e2 == b"\r" and e3 == b"\n":
                    continue  # that is one CR LF, not a blank line
                stream += b"data: a" + e1 + b"data: b" + e2 + e3
                want.append(msg("a\nb"))
    for size in (1, 2, 3, 5, 7):
        s = h.stream(sse(lambda c, size=size: c.pieces(stream, size)))
        assert s.events(len(want)) == want, f"pieces of {size}"


@scenario("line-endings")
def cr_at_chunk_end_then_lf(h):
    s = h.stream(sse(lambda c: [c.send(b"data: a\r"), time.sleep(0.01), c.send(b"\ndata: b\r"),
                                time.sleep(0.01), c.send(b"\n\r"), time.sleep(0.01), c.send(b"\n")]))
    assert s.events(1) == [msg("a\nb")]


# ---- HTTP behaviour --------------------------------------------------------------------

@scenario("http")
def request_headers_default_and_extra(h):
    s = h.stream(send_all(b"data: a\n\n"), headers={"x-token": "abc", "authorization": "Bearer t"})
    req = s.stub.wait_requests(1)[0]
    assert req.method == "GET", req
    assert req.headers.get("accept") == "text/event-stream", req
    assert req.headers.get("cache-control") == "no-cache", req
    assert req.headers.get("x-token") == "abc" and req.headers.get("authorization") == "Bearer t", req
    assert "last-event-id" not in req.headers, req


@scenario("http")
def post_body_default_content_type_and_resent_on_reconnect(h):
    first = sse(lambda c: c.send(b"id: 1\ndata: a\n\n"), hold=False)
    s = h.stream(per_request(first, send_all(b"data: b\n\n")), method="POST", body='{"q": 1}')
    s.events(2)
    reqs = s.stub.wait_requests(2)
    for r in reqs:
        assert r.method == "POST" and r.body == b'{"q": 1}', r
        assert r.headers.get("content-type") == "text/plain", r
    assert reqs[1].headers.get("last-event-id") == "1", reqs[1]


@scenario("http")
def post_with_given_content_type(h):
    s = h.stream(send_all(b"data: a\n\n"), method="POST", body="{}", headers={"content-type": "application/json"})
    req = s.stub.wait_requests(1)[0]
    assert req.headers.get("content-type") == "application/json", req


@scenario("http")
def report_with_body(h):
    s = h.stream(send_all(b"data: a\n\n"), method="REPORT", body="query")
    req = s.stub.wait_requests(1)[0]
    assert req.method == "REPORT" and req.body == b"query", req


@scenario("http")
def preset_last_event_id_on_first_request(h):
    s = h.stream(send_all(b"data: a\n\n"), lastEventId="abc 41")
    req = s.stub.wait_requests(1)[0]
    assert req.headers.get("last-event-id") == "abc 41", req
    assert s.events(1) == [msg("a", id="abc 41")]


@scenario("http")
def status_204_stops_for_good(h):
    s = h.stream(lambda req, conn: conn.head("204 No Content", ctype=None))
    rc, _ = s.exited()
    assert rc == 0 and len(s.stub.requests) == 1, (rc, s.stub.requests)


@scenario("http")
def error_statuses_fail_without_reconnecting(h):
    for status in ("404 Not Found", "401 Unauthorized", "400 Bad Request", "410 Gone"):
        s = h.stream(lambda req, conn, st=status: conn.head(st, headers=["Content-Length: 0"]))
        rc, items = s.exited()
        assert rc == 1 and len(s.stub.requests) == 1, (status, rc, s.stub.requests)
        assert any(status.split()[0] in i["error"] for i in kinds(items, "error")), short(items)


@scenario("http")
def try_later_statuses_are_retried(h):
    for status in ("500 Internal Server Error", "502 Bad Gateway", "503 Service Unavailable",
                   "504 Gateway Timeout", "429 Too Many Requests", "408 Request Timeout"):
        busy = lambda req, conn, st=status: conn.head(st, headers=["Content-Length: 0"])
        s = h.stream(per_request(busy, send_all(b"data: a\n\n")))
        assert s.events(1) == [msg("a")], status
        errs = kinds(s.h.cb.items(s.tag), "error")
        assert errs and status.split()[0] in errs[0]["error"], (status, errs)


@scenario("http")
def retry_after_is_honoured(h):
    busy = lambda req, conn: conn.head("503 Service Unavailable", headers=["Retry-After: 1", "Content-Length: 0"])
    s = h.stream(per_request(busy, send_all(b"data: a\n\n")))
    t0 = time.monotonic()
    s.events(1)
    assert time.monotonic() - t0 >= 0.95, "reconnected before Retry-After"


@scenario("http")
def wrong_content_type_fails(h):
    s = h.stream(lambda req, conn: conn.head(ctype="text/html", headers=["Content-Length: 0"]))
    rc, _ = s.exited()
    assert rc == 1 and len(s.stub.requests) == 1


@scenario("http")
def redirects_are_followed(h):
    for code in ("301 Moved Permanently", "302 Found", "303 See Other", "307 Temporary Redirect",
                 "308 Permanent Redirect"):
        def handler(req, conn, code=code):
            if req.path == "/stream":
                conn.head(code, ctype=None, headers=["Location: /moved", "Content-Length: 0"])
            else:
                conn.head()
                conn.send(b"data: " + req.path.encode() + b"\n\n")
                conn.hold()
        s = h.stream(handler)
        assert s.events(1) == [msg("/moved")], code
        assert [r.path for r in s.stub.wait_requests(2)] == ["/stream", "/moved"], code


@scenario("http")
def redirect_without_location_fails(h):
    s = h.stream(lambda req, conn: conn.head("302 Found", ctype=None, headers=["Content-Length: 0"]))
    rc, _ = s.exited()
    assert rc == 1 and len(s.stub.requests) == 1


@scenario("http")
def reconnection_goes_to_the_original_url(h):
    def handler(req, conn):
        if req.path == "/stream":
            conn.head("301 Moved Permanently", ctype=None, headers=["Location: /moved", "Content-Length: 0"])
        else:
            conn.head()
            conn.send(b"id: %d\ndata: x\n\n" % req.n)
    s = h.stream(handler)
    s.events(2)
    paths = [r.path for r in s.stub.wait_requests(4)][:4]
    assert paths == ["/stream", "/moved", "/stream", "/moved"], paths
    assert s.stub.requests[2].headers.get("last-event-id") == "2", s.stub.requests[2]


# ---- reconnection ----------------------------------------------------------------------

@scenario("reconnect")
def retry_then_reconnect_with_last_event_id(h):
    first = sse(lambda c: c.send(b"retry: 100\nid: 5\ndata: a\n\n"), hold=False)
    s = h.stream(per_request(first, send_all(b"data: b\n\n")), initialDelayMs=5000)
    t0 = time.monotonic()
    assert s.events(2) == [msg("a", id="5"), msg("b", id="5")]
    assert time.monotonic() - t0 < 4, "the server's retry: 100 was not used"
    reqs = s.stub.wait_requests(2)
    assert reqs[1].headers.get("last-event-id") == "5", reqs[1]
    errs = kinds(s.wait(lambda it: len(it) >= 3), "error")
    assert errs, "no error reported for the dropped connection"


@scenario("reconnect")
def empty_id_resets_last_event_id(h):
    first = sse(lambda c: c.send(b"id: 1\ndata: a\n\nid\ndata: b\n\n"), hold=False)
    s = h.stream(per_request(first, send_all(b"data: c\n\n")))
    assert s.events(3) == [msg("a", id="1"), msg("b"), msg("c")]
    assert "last-event-id" not in s.stub.wait_requests(2)[1].headers


@scenario("reconnect")
def partial_event_discarded_on_reconnect(h):
    first = sse(lambda c: c.send(b"id: 1\ndata: a\n\nid: 2\ndata: partial"), hold=False)
    s = h.stream(per_request(first, send_all(b"data: c\n\n")))
    assert s.events(2) == [msg("a", id="1"), msg("c", id="1")]
    assert s.stub.wait_requests(2)[1].headers.get("last-event-id") == "1"


@scenario("reconnect")
def restart_reconnects_at_once_without_error(h):
    s = h.stream(per_request(send_all(b"id: 1\ndata: a\n\nid: 2\ndata: part"), send_all(b"data: b\n\n")),
                 initialDelayMs=10000)
    s.events(1)
    t0 = time.monotonic()
    assert http("POST", s.loc, {"command": "restart"})[0] in (200, 202, 204)
    assert s.events(2) == [msg("a", id="1"), msg("b", id="1")]
    assert time.monotonic() - t0 < 3, "restart waited for the reconnection time"
    assert s.stub.wait_requests(2)[1].headers.get("last-event-id") == "1"
    assert not kinds(s.h.cb.items(s.tag), "error"), short(s.h.cb.items(s.tag))


@scenario("reconnect")
def read_timeout_drops_and_reconnects(h):
    s = h.stream(per_request(send_all(b"id: 1\ndata: a\n\n"), send_all(b"data: b\n\n")), readTimeoutMs=300)
    t0 = time.monotonic()
    assert s.events(2) == [msg("a", id="1"), msg("b", id="1")]
    took = time.monotonic() - t0
    assert 0.25 < took < 3, took
    errs = kinds(s.h.cb.items(s.tag), "error")
    assert errs and "read-timeout" in errs[0]["error"], errs


@scenario("reconnect")
def comments_keep_the_read_timeout_away(h):
    def body(c):
        for _ in range(15):  # 1.5 s of comments 0.1 s apart, under a 1 s read timeout
            c.send(b": ping\n")
            time.sleep(0.1)
        c.send(b"data: a\n\n")
    s = h.stream(sse(body), readTimeoutMs=1000)
    items = s.wait(lambda it: kinds(it, "event"))
    assert not kinds(items, "error") and len(s.stub.requests) == 1, short(items)


# ---- protocol --------------------------------------------------------------------------

@scenario("service")
def capabilities_and_bad_requests(h):
    status, _, body = http("GET", h.base + "/")
    caps = json.loads(body)["capabilities"]
    assert status == 200 and "event-type-listeners" not in caps and "restart" in caps, body
    assert http("POST", h.base + "/", {"streamUrl": "nope"})[0] == 400
    assert http("POST", h.base + "/", {"streamUrl": "http://127.0.0.1:1/", "callbackUrl": h.cb.base,
                                       "headers": {"x-a": "b\r\nx-injected: 1"}})[0] == 400
    assert http("POST", h.base + "/streams/999", {"command": "restart"})[0] == 404
    s = h.stream(send_all(b"data: a\n\n"))
    s.events(1)
    assert http("POST", s.loc, {"command": "dance"})[0] == 400
    assert http("DELETE", s.loc)[0] in (200, 204)


def main():
    groups = set(sys.argv[2:])
    svc = subprocess.Popen([sys.executable, os.path.join(HERE, "service.py"), CLIENT],
                           stdout=subprocess.PIPE, text=True)
    line = svc.stdout.readline()  # readiness: the port it printed
    assert line.startswith("listening on http://127.0.0.1:"), line
    base = line.split()[-1].rstrip("/")
    cb = Callbacks()
    counts, failed, t_all = {}, 0, time.monotonic()
    try:
        for group, name, fn in SCENARIOS:
            if groups and group not in groups:
                continue
            h = Harness(base, cb)
            t0 = time.monotonic()
            try:
                fn(h)
                ok = True
            except Exception:
                ok = False
                traceback.print_exc()
            finally:
                h.close()
            passed, total = counts.get(group, (0, 0))
            counts[group] = (passed + ok, total + 1)
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {group}/{name} ({time.monotonic() - t0:.2f} s)", flush=True)
    finally:
        http("DELETE", base + "/")
        try:
            svc.wait(10)
        except subprocess.TimeoutExpired:
            svc.kill()
        cb.close()
    for group, (passed, total) in counts.items():
        print(f"group {group}: {passed}/{total} passed")
    print(f"{len(SCENARIOS) if not groups else sum(t for _, t in counts.values())} scenarios, "
          f"{failed} failed, {time.monotonic() - t_all:.1f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
