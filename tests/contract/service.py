"""service.py CURL_CLIENT [PORT]: the SSE contract-test service for curl_client.

Implements the test-service protocol (tests/contract/README.md) on 127.0.0.1: PORT, or a
free port when none is given; prints "listening on http://127.0.0.1:PORT/" when ready.
Each POST / starts one curl_client process (--json --comments) for the stream; each JSON
line it prints (event, comment or error, in the order received) is POSTed as is to
<callbackUrl>/<n>. When the process exits, one last error callback says so. Python
standard library only.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
import http.server

CAPABILITIES = ["comments", "bom", "headers", "last-event-id", "post", "report",
                "read-timeout", "restart", "server-directed-shutdown-request"]
MAX_BODY = 1 << 20

client_bin = sys.argv[1]
streams = {}
lock = threading.Lock()
next_id = [0]


class Stream:
    def __init__(self, params):
        self.callback = params["callbackUrl"].rstrip("/")
        self.n = 0
        args = [client_bin, "--json", "--comments"]
        for name, value in (params.get("headers") or {}).items():
            args += ["-H", f"{name}: {value}"]
        if params.get("method"):
            args += ["-X", params["method"]]
        if params.get("body") is not None:
            args += ["--data", params["body"]]
        if params.get("lastEventId") is not None:
            args += ["--last-event-id", params["lastEventId"]]
        if params.get("initialDelayMs") is not None:
            args += ["--retry-ms", str(int(params["initialDelayMs"]))]
        if params.get("readTimeoutMs") is not None:
            args += ["--read-timeout-ms", str(int(params["readTimeoutMs"]))]
        args.append(params["streamUrl"])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=sys.stderr)
        threading.Thread(target=self.forward, daemon=True).start()

    def post(self, body):
        self.n += 1
        req = urllib.request.Request(f"{self.callback}/{self.n}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10).close()
        except OSError as e:
            print(f"service: callback {self.n} failed: {e}", file=sys.stderr)

    def forward(self):
        for line in self.proc.stdout:
            self.post(line.rstrip(b"\n"))
        rc = self.proc.wait()
        self.post(json.dumps({"kind": "error", "error": f"client exited with status {rc}"}).encode())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def bad_params(p):
    if not isinstance(p, dict):
        return "body is not a JSON object"
    for key in ("streamUrl", "callbackUrl"):
        if not isinstance(p.get(key), str) or not p[key].startswith(("http://", "https://")):
            return f"{key} must be an http(s) URL"
    for key in ("tag", "lastEventId", "method", "body"):
        if p.get(key) is not None and not isinstance(p[key], str):
            return f"{key} must be a string"
    for key in ("initialDelayMs", "readTimeoutMs"):
        if p.get(key) is not None and (not isinstance(p[key], int) or p[key] < 0):
            return f"{key} must be a non-negative integer"
    if p.get("headers") is not None and not (
            isinstance(p["headers"], dict) and all(isinstance(v, str) for v in p["headers"].values())):
        return "headers must map names to strings"
    if any(ch in str(p.get("lastEventId") or "") for ch in "\r\n\0"):
        return "lastEventId must not contain CR, LF or NUL"
    for name, value in (p.get("headers") or {}).items():
        if any(ch in name + value for ch in "\r\n\0") or ":" in name or not name:
            return "header names and values must not contain CR, LF or NUL (names: no colon)"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_json(self):
        n = int(self.headers.get("Content-Length", "0"))
        if n > MAX_BODY:
            return None
        try:
            return json.loads(self.rfile.read(n) or b"null")
        except ValueError:
            return None

    def do_GET(self):
        if self.path != "/":
            return self.reply(404)
        body = json.dumps({"name": "sse curl_client", "capabilities": CAPABILITIES}).encode()
        self.reply(200, body, [("Content-Type", "application/json")])

    def do_POST(self):
        params = self.read_json()
        if self.path == "/":
            why = bad_params(params)
            if why:
                return self.reply(400, why.encode())
            with lock:
                next_id[0] += 1
                sid = str(next_id[0])
                streams[sid] = Stream(params)
            return self.reply(201, headers=[("Location", f"/streams/{sid}")])
        with lock:
            s = streams.get(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/streams/") else None
        if s is None:
            return self.reply(404)
        if isinstance(params, dict) and params.get("command") == "restart":
            s.proc.send_signal(signal.SIGUSR1)
            return self.reply(204)
        self.reply(400, b"unknown command")

    def do_DELETE(self):
        if self.path == "/":
            self.reply(204)
            threading.Thread(target=shutdown, daemon=True).start()
            return
        with lock:
            s = streams.pop(self.path.rsplit("/", 1)[-1], None) if self.path.startswith("/streams/") else None
        if s is None:
            return self.reply(404)
        s.stop()
        self.reply(204)

    def log_message(self, *args):
        pass


def shutdown():
    with lock:
        for s in streams.values():
            s.stop()
        streams.clear()
    server.shutdown()


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2]) if len(sys.argv) > 2 else 0), Handler)
server.daemon_threads = True
print(f"listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=shutdown, daemon=True).start())
try:
    server.serve_forever()
finally:
    os._exit(0)
