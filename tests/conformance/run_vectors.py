#!/usr/bin/env python3
"""The project's own conformance vectors, run through the example programs.

usage: run_vectors.py SSE_DUMP [--encode SSE_ENCODE] [--vectors FILE] [--chunks 1,2,3,7,64,4096]

vectors.jsonl holds one JSON object per line ('#' lines are comments), each written from
../shared/SSE-SPEC.md and naming the checklist rule it checks ("rule": N):
  decoding   {"name", "rule", "input_b64", "expect"}: the raw stream goes to SSE_DUMP on
             stdin; its output must be the "expect" lines of the dump format
             (../shared/conformance/README.md: events and accepted retry values).
  encoding   the same plus "encode": [sse_encode arguments] and "frame_b64": input_b64 is
             the data sse_encode reads; its output must be frame_b64 byte for byte, and that
             frame through SSE_DUMP must give "expect". With "refused": true instead,
             sse_encode must exit 2 and write nothing.
Every vector runs at every chunk size (SSE_CHUNK=N). Rules 1-20 must each have a vector;
rules 21-26 are HTTP and client behaviour, checked by tests/e2e instead. Prints one line
per failure, then "N passed, M failed"; exit status 0 only when nothing failed.
"""
import argparse, base64, json, os, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
FORMAT_RULES = range(1, 21)  # 21-26: response headers and client rules, tests/e2e


def load(path):
    vectors = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip() and not line.startswith("#"):
                v = json.loads(line)
                v.setdefault("name", f"line {n}")
                vectors.append(v)
    return vectors


def dump(prog, stream, chunk):
    p = subprocess.run([prog], input=stream, capture_output=True, timeout=20,
                       env=dict(os.environ, SSE_CHUNK=str(chunk)))
    if p.returncode != 0:
        raise RuntimeError(f"{prog} exit status {p.returncode}: {p.stderr.decode(errors='replace')[:200]}")
    return [json.loads(l) for l in p.stdout.decode("utf-8").split("\n") if l.strip()]


def check(v, args, chunk):
    """Returns None when the vector passes at this chunk size, else why not."""
    stream = base64.b64decode(v["input_b64"])
    if "encode" in v:
        p = subprocess.run([args.encode] + v["encode"], input=stream, capture_output=True,
                           timeout=20)
        if v.get("refused"):
            if p.returncode == 2 and p.stdout == b"":
                return None
            return f"sse_encode should refuse: exit {p.returncode}, wrote {p.stdout!r}"
        want = base64.b64decode(v["frame_b64"])
        if p.returncode != 0 or p.stdout != want:
            return f"frame: want {want!r} got {p.stdout!r} (exit {p.returncode})"
        stream = p.stdout
    got = dump(args.dump, stream, chunk)
    if got != v["expect"]:
        return f"want {json.dumps(v['expect'], ensure_ascii=True)} got {json.dumps(got, ensure_ascii=True)}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump", help="build/examples/sse_dump")
    ap.add_argument("--encode", help="sse_encode (default: beside SSE_DUMP)")
    ap.add_argument("--vectors", default=os.path.join(HERE, "vectors.jsonl"))
    ap.add_argument("--chunks", default="1,2,3,7,64,4096")
    args = ap.parse_args()
    args.encode = args.encode or os.path.join(os.path.dirname(os.path.abspath(args.dump)), "sse_encode")
    chunks = [int(c) for c in args.chunks.split(",")]
    vectors = load(args.vectors)
    passed = failed = 0
    for v in vectors:
        for chunk in chunks:
            try:
                why = check(v, args, chunk)
            except Exception as e:  # a crash, a timeout or bad JSON fails that case
                why = f"error: {e}"
            if why:
                failed += 1
                print(f"FAIL {v['name']} (rule {v.get('rule')}) chunk {chunk}: {why}")
            else:
                passed += 1
            if "encode" in v and v.get("refused"):
                break  # nothing is parsed: one run is the whole check
    missing = [r for r in FORMAT_RULES if not any(v.get("rule") == r for v in vectors)]
    if missing:
        failed += 1
        print(f"FAIL rules without a vector: {missing}")
    print(f"{len(vectors)} vectors, rules {min(FORMAT_RULES)}-{max(FORMAT_RULES)}, "
          f"chunk sizes {args.chunks}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
