"""llm_test.py LLM_STREAM: llm_stream against a fake OpenAI-compatible server on 127.0.0.1.

The fake (an sse_stub.Stub handler) mimics the chat completions stream closely: a chunked
body cut into HTTP chunks of 1 to 13 bytes, JSON with \\u escapes and surrogate pairs,
events ended by CR LF and by LF, a comment, a role-only first chunk, a finish_reason
chunk, then "data: [DONE]". Other cases: an HTTP error with a JSON body, an in-stream
"event: error", an error object in a data chunk, and a stream cut off before [DONE].
Each case is bounded (5 s).
"""
import json
import os
import random
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sse_stub import Stub  # noqa: E402

LLM = sys.argv[1]
TEXT = "Hello, \"world\" \u00e9t\u00e9 \u4e16\u754c \U0001F600\U0001F680 \\ end\nline 2"
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def chunk_json(delta, finish=None):
    # ensure_ascii: every non-ASCII character as \\u escapes, astral ones as surrogate pairs
    return json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                       "model": "fake", "choices": [{"index": 0, "delta": delta,
                                                     "finish_reason": finish}]}, ensure_ascii=True)


def stream_body(text, cut=False):
    events = [b": OPENROUTER PROCESSING\r\n\r\n", b"data: " + chunk_json({"role": "assistant", "content": ""}).encode()]
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    for n, p in enumerate(pieces):
        events.append(b"data: " + chunk_json({"content": p}).encode())
    body = b""
    for n, e in enumerate(events):
        body += e if e.startswith(b":") else e + (b"\r\n\r\n" if n % 2 else b"\n\n")
    if cut:
        return body + b"data: {\"id\": \"chatcmpl-1\", \"choi"
    return body + b"data: " + chunk_json({}, "stop").encode() + b"\n\ndata: [DONE]\n\n"


def send_chunked(conn, body, rng):
    conn.head(headers=["Cache-Control: no-cache"], chunked=True)
    i = 0
    while i < len(body):
        n = rng.randint(1, 13)
        conn.chunk(body[i:i + n])
        i += n


def run(stub, *args, stdin=None, env_key="sk-test"):
    env = dict(os.environ, FAKE_KEY=env_key)
    p = subprocess.run([LLM, "--url", stub.url("/v1/chat/completions"), "--model", "fake-model",
                        "--key-env", "FAKE_KEY", *args], input=stdin, capture_output=True,
                       timeout=5, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@case
def streams_text_in_tiny_chunks_until_done(out):
    rng = random.Random(12)

    def h(req, conn):
        send_chunked(conn, stream_body(TEXT), rng)
        conn.chunk(b"")
    stub = Stub(h)
    try:
        rc, stdout, stderr = run(stub, "Say \"hi\" \u00e9 \U0001F600")
        req = stub.requests[0]
    finally:
        stub.close()
    body = json.loads(req.body)
    assert req.method == "POST" and req.headers["authorization"] == "Bearer sk-test", req
    assert req.headers["content-type"] == "application/json", req
    assert body == {"model": "fake-model", "stream": True,
                    "messages": [{"role": "user", "content": "Say \"hi\" \u00e9 \U0001F600"}]}, body
    assert rc == 0 and stdout == TEXT + "\n", (rc, stdout, stderr)
    out.append("text identical through 1-13 byte chunks, escapes, CR LF and LF, a comment")


@case
def prompt_from_stdin_and_system_message(out):
    stub = Stub(lambda req, conn: (conn.head(), conn.send(stream_body("ok"))))
    try:
        rc, stdout, _ = run(stub, "--system", "be brief", stdin="from stdin \u4e16\n".encode())
        body = json.loads(stub.requests[0].body)
    finally:
        stub.close()
    assert body["messages"] == [{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "from stdin \u4e16\n"}], body
    assert rc == 0 and stdout == "ok\n", (rc, stdout)
    out.append("stdin prompt and system message sent")


@case
def no_key_no_authorization(out):
    stub = Stub(lambda req, conn: (conn.head(), conn.send(stream_body("ok"))))
    try:
        rc, _, _ = run(stub, "hi", env_key="")
        assert rc == 0 and "authorization" not in stub.requests[0].headers, stub.requests[0]
    finally:
        stub.close()
    out.append("empty key: no Authorization header")


@case
def http_error_prints_its_json_message(out):
    err = json.dumps({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                "code": "invalid_api_key"}}).encode()
    stub = Stub(lambda req, conn: conn.send(b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                                            b"Content-Length: %d\r\n\r\n%s" % (len(err), err)))
    try:
        rc, stdout, stderr = run(stub, "hi")
    finally:
        stub.close()
    assert rc == 1 and "HTTP 401: Incorrect API key provided" in stderr and stdout == "", (rc, stderr)
    out.append("401: " + stderr.strip())


@case
def in_stream_error_event_fails(out):
    body = stream_body("partial answer").split(b"data: {\"id\": \"chatcmpl-1\", \"object\": \"chat.completion.chunk\", \"created\": 1, \"model\": \"fake\", \"choices\": [{\"index\": 0, \"delta\": {}")[0]
    body += b"event: error\ndata: {\"error\": {\"message\": \"model overloaded\", \"code\": 529}}\n\n"
    stub = Stub(lambda req, conn: (conn.head(), conn.send(body), conn.hold(5)))
    try:
        rc, stdout, stderr = run(stub, "hi")
    finally:
        stub.close()
    assert rc == 1 and "in-stream error: model overloaded" in stderr and stdout == "partial answer", (rc, stdout, stderr)
    out.append("event: error -> " + stderr.strip())


@case
def error_object_in_a_data_chunk_fails(out):
    body = b"data: " + chunk_json({"content": "a"}).encode() + b"\n\ndata: {\"error\": {\"message\": \"context too long\"}}\n\n"
    stub = Stub(lambda req, conn: (conn.head(), conn.send(body), conn.hold(5)))
    try:
        rc, stdout, stderr = run(stub, "hi")
    finally:
        stub.close()
    assert rc == 1 and "context too long" in stderr and stdout == "a", (rc, stdout, stderr)
    out.append("data: {\"error\"} -> exit 1")


@case
def cut_off_stream_exits_non_zero(out):
    rng = random.Random(5)

    def h(req, conn):
        send_chunked(conn, stream_body(TEXT, cut=True), rng)
        conn.chunk(b"")
    stub = Stub(h)
    try:
        rc, stdout, stderr = run(stub, "hi")
    finally:
        stub.close()
    assert rc == 1 and "ended before [DONE] (inside an event)" in stderr and stdout == TEXT, (rc, stdout, stderr)
    out.append("cut mid-event: " + stderr.strip())


@case
def cut_off_between_events_exits_non_zero(out):
    body = stream_body("abc").rsplit(b"data: [DONE]", 1)[0]
    stub = Stub(lambda req, conn: (conn.head(), conn.send(body)))
    try:
        rc, stdout, stderr = run(stub, "hi")
    finally:
        stub.close()
    assert rc == 1 and "ended before [DONE]" in stderr and stdout == "abc", (rc, stdout, stderr)
    out.append("cut between events: exit 1")


@case
def silent_server_hits_the_idle_timeout(out):
    stub = Stub(lambda req, conn: (conn.head(), conn.send(b"data: " + chunk_json({"content": "a"}).encode() + b"\n\n"),
                                   conn.hold(8)))
    t0 = time.monotonic()
    try:
        rc, stdout, stderr = run(stub, "--idle-timeout-s", "1", "hi")
    finally:
        stub.close()
    took = time.monotonic() - t0
    assert rc == 1 and "no byte for 1 s" in stderr and stdout == "a", (rc, stdout, stderr)
    assert 0.95 < took < 4, took
    out.append("silent after one chunk: " + stderr.strip().splitlines()[0])


def main():
    failed = 0
    for fn in CASES:
        out = []
        try:
            fn(out)
            ok = True
        except Exception:
            ok = False
            traceback.print_exc()
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {fn.__name__}: {'; '.join(out)}", flush=True)
    print(f"{len(CASES)} cases, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
