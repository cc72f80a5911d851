#!/usr/bin/env python3
"""dump_big.py SSE_DUMP: sse_dump prints a 64 MiB single-line event whole.

The stream: a BOM, a 64 MiB data line (ASCII, 2- and 3-byte UTF-8 characters and NUL, so
characters straddle every feed boundary), a second data line, then a small event. Fed at
SSE_CHUNK 4096 and 65536 (and 7: a piece per few bytes), sse_dump must print exactly the
two events, exit 0 and say nothing on stderr. Takes about 3 s."""
import json
import subprocess
import sys
import time

dump = sys.argv[1]
unit = "abc\u00e9\u20ac\x00xyz" * 1000 + "0123456789"  # 13,010 bytes of UTF-8
big = (unit * (64 * 1024 * 1024 // len(unit.encode()) + 1)).encode()[: 64 * 1024 * 1024]
while big[-1] & 0xC0 == 0x80 or big[-1] >= 0xC0:  # end on a whole character
    big = big[:-1]
text = big.decode()
stream = (b"\xef\xbb\xbfevent: big\nid: 64m\ndata: " + big + b"\r\ndata: tail\r\n\r\n"
          b"data: after\n\n")
want = [{"type": "big", "data": text + "\ntail", "id": "64m"},
        {"type": "message", "data": "after", "id": "64m"}]
start = time.monotonic()
for chunk in ("4096", "65536", "7"):
    r = subprocess.run([dump], input=stream, capture_output=True, timeout=60,
                       env={"SSE_CHUNK": chunk})
    got = [json.loads(line) for line in r.stdout.decode().splitlines()]
    if r.returncode != 0 or r.stderr or got != want:
        sys.exit(f"FAIL at SSE_CHUNK={chunk}: exit {r.returncode}, stderr {r.stderr[:200]!r}, "
                 f"{len(got)} records, first data length "
                 f"{len(got[0]['data']) if got and 'data' in got[0] else '-'}")
print(f"sse_dump: a {len(stream)}-byte stream with a {len(big)}-byte line, chunks 4096, "
      f"65536, 7: both events exact ({time.monotonic() - start:.1f} s)")
