"""check_events.py FILE COUNT INTERVAL_MS: FILE holds a client's output (type TAB id TAB
data per line). Checks: COUNT lines, all type "message", ids consecutive (no gap, no
duplicate, in order), data = the UTC date of tick id (sse_server's and mhd_server's)."""
import datetime, sys

path, count, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
epoch = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
lines = open(path, encoding="utf-8").read().splitlines()
if len(lines) != count:
    sys.exit(f"{path}: {len(lines)} events, expected {count}")
prev = None
for n, line in enumerate(lines, 1):
    typ, ident, data = line.split("\t")
    if typ != "message":
        sys.exit(f"line {n}: type {typ!r}: {line}")
    k = int(ident)
    if prev is not None and k != prev + 1:
        sys.exit(f"line {n}: id {k} after {prev} ({'duplicate' if k <= prev else 'gap'})")
    when = epoch + datetime.timedelta(milliseconds=k * interval)
    want = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    if data != want:
        sys.exit(f"line {n}: data {data!r} for id {k}, expected {want!r}")
    prev = k
print(f"{path}: {count} events, ids {lines[0].split(chr(9))[1]}..{prev}, consecutive")
