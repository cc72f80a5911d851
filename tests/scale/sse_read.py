#!/usr/bin/env python3
"""sse_read.py PORT PATH N [LAST_EVENT_ID]: GET PATH from 127.0.0.1:PORT (HTTP/1.0), print
"head <status>" once the response head arrived, then one line per event, "<type> <id>
<data>" (id "-" when the event had no id field), until N events came; exits 1 after 10 s.
A minimal reader for the tests: one data line per event, comments skipped."""
import socket
import sys
import time

port, path, want = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
hdr = "Last-Event-ID: %s\r\n" % sys.argv[4] if len(sys.argv) > 4 else ""
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, hdr)).encode())
deadline = time.monotonic() + 10
buf, head, got = b"", None, 0
while got < want:
    s.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        chunk = b""
    if not chunk:
        print("timeout or EOF after %d events" % got, flush=True)
        sys.exit(1)
    buf += chunk
    if head is None:
        if b"\r\n\r\n" not in buf:
            continue
        head, buf = buf.split(b"\r\n\r\n", 1)
        print("head " + head.split(b" ")[1].decode(), flush=True)
    while b"\n\n" in buf and got < want:
        block, buf = buf.split(b"\n\n", 1)
        ev = {"event": "message", "id": "-", "data": None}
        for line in block.decode().split("\n"):
            if line.startswith(":") or ":" not in line:
                continue
            k, v = line.split(":", 1)
            ev[k] = v[1:] if v.startswith(" ") else v
        if ev["data"] is not None:
            print("%s %s %s" % (ev["event"], ev["id"], ev["data"]), flush=True)
            got += 1
