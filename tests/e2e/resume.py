"""resume.py SERVER [page]: the resume rules of sse_server / mhd_server, over raw HTTP.
Starts SERVER --port 0 --interval-ms 50 --history 20 --retry-ms 100, then checks:
  - headers: 200, text/event-stream, no-cache; the first frame is "retry: 100";
  - no Last-Event-ID: live events only, consecutive ids;
  - Last-Event-ID inside the ring: the missed ids are replayed at once, then live ones;
  - Last-Event-ID older than the ring: an event "gap" with data "L+1 O-1", then the whole
    ring O..T (20 events), then live ones;
  - Last-Event-ID not a number, or in the future: live events only;
  - with "page": GET / is the demo page (EventSource('/dates')), GET /nope is 404.
Stops by itself (every read has a timeout)."""
import http.client, subprocess, sys, time

INTERVAL, HISTORY = 50, 20
server = subprocess.Popen([sys.argv[1], "--port", "0", "--interval-ms", str(INTERVAL),
                           "--history", str(HISTORY), "--retry-ms", "100"],
                          stdout=subprocess.PIPE, text=True)
try:
    line = server.stdout.readline()
    assert line.startswith("listening on http://127.0.0.1:"), line
    port = int(line.rsplit(":", 1)[1].strip("/\n"))

    def stream(last_id=None, count=5):
        """Returns (frames, seconds) for the first `count` events (plus retry/gap frames)."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        conn.request("GET", "/dates", headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        assert resp.getheader("Content-Type").startswith("text/event-stream")
        assert resp.getheader("Cache-Control") == "no-cache"
        start, frames, cur, events = time.time(), [], {}, 0
        while events < count:
            line = resp.readline().decode()
            assert line, "stream ended"
            line = line.rstrip("\n")
            if line == "":
                frames.append(cur)
                events += "data" in cur and cur.get("event", "message") == "message"
                cur = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                cur[name] = value
        conn.close()
        return frames, time.time() - start

    def ids(frames):
        return [int(f["id"]) for f in frames if "id" in f]

    def consecutive(xs):
        return all(b == a + 1 for a, b in zip(xs, xs[1:]))

    # No Last-Event-ID: retry first, then live events.
    frames, _ = stream()
    assert frames[0] == {"retry": "100"}, frames[0]
    live = ids(frames)
    assert len(live) == 5 and consecutive(live), live
    now_tick = int((time.time() * 1000 - 1704067200000) // INTERVAL)
    assert abs(live[-1] - now_tick) <= 2, (live, now_tick)
    print("live:", live)

    # Inside the ring: L+1.. replayed at once.
    last = live[-1] - 5
    frames, secs = stream(str(last), count=10)
    got = ids(frames)
    assert got[0] == last + 1 and consecutive(got), (last, got)
    print(f"resume from {last}: {got[:6]}... ({secs:.2f} s)")

    # Older than the ring: gap, then the whole ring, then live.
    last = live[-1] - 200
    frames, secs = stream(str(last), count=HISTORY + 2)
    gap = [f for f in frames if f.get("event") == "gap"]
    assert len(gap) == 1 and frames[1] is gap[0], frames[:3]
    lo, hi = map(int, gap[0]["data"].split())
    got = ids(frames)
    assert lo == last + 1 and got[0] == hi + 1 and consecutive(got), (last, gap, got)
    assert "id" not in gap[0]
    print(f"resume from {last}: gap {lo}..{hi}, then {got[0]}.. ({len(got)} events)")
    # the ring holds HISTORY frames: O..T was all there when the request arrived
    assert got[HISTORY - 1] >= live[-1], (got, live)

    # Not a number, or in the future: live only.
    for bad in ("abc", "12x", str(live[-1] + 10**9), "-5"):
        frames, _ = stream(bad, count=2)
        got = ids(frames)
        assert not any(f.get("event") == "gap" for f in frames)
        now_tick = int((time.time() * 1000 - 1704067200000) // INTERVAL)
        assert got[0] >= now_tick - 3 and consecutive(got), (bad, got, now_tick)
    print("bad or future ids: live only")

    if len(sys.argv) > 2 and sys.argv[2] == "page":
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        resp = conn.getresponse()
        body = resp.read().decode()
        assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/html")
        assert "new EventSource('/dates" in body, body
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/nope")
        assert conn.getresponse().status == 404
        print("page and 404: ok")
    print("PASS")
finally:
    server.terminate()
    server.wait(timeout=5)
