#!/usr/bin/env python3
"""A hostile event-stream upstream for the relay test.

  hostile_upstream.py gen DIR SEED
      writes DIR/seg1, DIR/seg2, DIR/seg3: one stream in three segments (seeded, so
      reproducible). seg1: a BOM, then about 1,500 small blocks (below) and a 2 MiB
      single-line event; seg2: a 64 MiB single-line event whose type and id come after
      its data, then a small event; seg3: about 1,500 more blocks, an event with an id,
      then an unfinished tail (data without the blank line). seg1 and seg2 end with a
      blank line, so each segment boundary is an event boundary.
  hostile_upstream.py serve DIR FIFO
      listens on 127.0.0.1 (a free port, printed as "listening on http://127.0.0.1:P/").
      First request: logged to DIR/request1, answered 200 text/event-stream with a
      chunked body; for each line read from FIFO ("go"), the next segment is sent in
      random writes of 1 B to 70 KB (each write one HTTP chunk), then the connection is
      closed without the last chunk. Second request: logged to DIR/request2, answered 204
      (stop). Then it exits. Every wait is bounded (30 s). Retry values stay below
      300 ms, so the relay reconnects at once.

The small blocks mix CR, LF and CR LF line endings, type and id before or after the
data, id-only blocks, comments and retry fields inside events, NUL, invalid UTF-8, an id
with NUL (ignored by the spec), empty and unknown fields, "data" without a colon."""
import os
import random
import socket
import sys

TYPES = [b"update", b"tick", b"message", b"", b"caf\xc3\xa9", b"x\x00y", b"bad\xff"]
BAD_UTF8 = [b"\xff", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            b"\xf0\x9f\x98", b"\xe2\x82\xac"]


def eol(rng):
    return rng.choice([b"\n", b"\r", b"\r\n"])


def text(rng):
    parts = []
    for _ in range(rng.randint(0, 6)):
        k = rng.random()
        if k < 0.5:
            parts.append(bytes(rng.choice(b"abcxyz {}:,\"0123") for _ in range(rng.randint(0, 30))))
        elif k < 0.7:
            parts.append(rng.choice(BAD_UTF8))
        elif k < 0.8:
            parts.append(b"\x00")
        else:
            parts.append("é€😀".encode()[: rng.randint(1, 9)])
    return b"".join(parts).replace(b"\r", b"").replace(b"\n", b"")


def block(rng, n):
    """One block: fields in any order, then a blank line."""
    kind = rng.random()
    lines = []
    if kind < 0.08:  # id-only block
        lines.append(b"id: only-%d" % n)
    elif kind < 0.12:  # a block of comments and retry only
        lines += [b": just a comment " + text(rng), b"retry: %d" % rng.randint(0, 300)]
    else:
        data = [rng.choice([b"data: ", b"data:", b"data:  ", b"data"]) + text(rng)
                for _ in range(rng.randint(1, 4))]
        extra = []
        if rng.random() < 0.6:
            extra.append(b"event: " + rng.choice(TYPES))
        r = rng.random()
        if r < 0.4:
            extra.append(b"id: %d" % n)
        elif r < 0.45:
            extra.append(b"id: nul\x00id")  # ignored: an id with NUL
        elif r < 0.5:
            extra.append(b"id:")  # resets the last event ID
        if rng.random() < 0.3:  # inside the event, between data lines
            data.insert(rng.randint(1, len(data)), rng.choice(
                [b": comment " + text(rng), b"retry: %d" % rng.randint(0, 300),
                 b"retry: 12x", b"unknown: field", b"dat: x"]))
        if rng.random() < 0.5:  # type and id after the data
            lines = data + extra
        else:
            lines = extra + data
    out = b"".join(line + eol(rng) for line in lines)
    # the blank line: after a CR, an LF would only complete that line end
    return out + (rng.choice([b"\r", b"\r\n"]) if out.endswith(b"\r") else eol(rng))


def big_line(rng, size):
    unit = bytes(rng.choice(b"abcdefghij0123456789") for _ in range(4093)) + "€".encode()
    return (unit * (size // len(unit) + 1))[:size]


def gen(d, seed):
    rng = random.Random(seed)
    seg1 = [b"\xef\xbb\xbf"] + [block(rng, n) for n in range(1500)]
    seg1.append(b"event: two-mib\ndata: " + big_line(rng, 2 << 20) + b"\n\n")
    seg1 += [block(rng, n) for n in range(1500, 1600)] + [b"data: end of seg1\n\n"]
    seg2 = [b"data: " + big_line(rng, 64 << 20) + b"\r\nevent: sixty-four-mib\r\nid: 64m\r\n\r\n",
            b"data: after the big one\n\n"]
    seg3 = [block(rng, n) for n in range(1600, 3100)]
    seg3 += [b"event: last\ndata: the last whole event\nid: last-id\n\n",
             b"data: unfinished tail" + eol(rng) + b"data: never ended"]
    for name, seg in (("seg1", seg1), ("seg2", seg2), ("seg3", seg3)):
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"".join(seg))


def read_head(conn):
    head = b""
    while b"\r\n\r\n" not in head:
        got = conn.recv(4096)
        if not got:
            raise SystemExit("hostile_upstream: connection closed before the request head")
        head += got
    return head


def serve(d, fifo):
    rng = random.Random(1)
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    ls.settimeout(30)
    print("listening on http://127.0.0.1:%d/" % ls.getsockname()[1], flush=True)
    ctl = open(fifo, "r")
    conn, _ = ls.accept()
    conn.settimeout(30)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with open(os.path.join(d, "request1"), "wb") as f:
        f.write(read_head(conn))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    for name in ("seg1", "seg2", "seg3"):
        if ctl.readline().strip() != "go":
            raise SystemExit("hostile_upstream: no go for " + name)
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        i = 0
        while i < len(data):
            n = rng.randint(1, 16) if rng.random() < 0.3 else rng.randint(1, 70000)
            piece = data[i:i + n]
            conn.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            i += n
    conn.close()  # no last chunk: the stream is cut, as by a crash
    conn, _ = ls.accept()
    conn.settimeout(30)
    with open(os.path.join(d, "request2"), "wb") as f:
        f.write(read_head(conn))
    conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    conn.close()


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], int(sys.argv[3]))
    else:
        serve(sys.argv[2], sys.argv[3])
