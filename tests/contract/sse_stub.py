"""sse_stub.py: a small scriptable SSE server on 127.0.0.1 (the harness stand-in), and a
callback receiver. Python standard library only; imported by contract.py and
curl_attacks.py.

    stub = Stub(handler)        # listens on a free port; handler(req, conn) per request
    stub.url("/path")           # http://127.0.0.1:PORT/path
    stub.wait_requests(2)       # the first 2 requests (bounded wait), else AssertionError
    stub.close()

handler gets a Request (method, path, headers with lower-case names, body, n = 1, 2, ...
counting requests) and a Conn with head(), send(), chunk() and hold(). It answers with
raw bytes, so it can send anything: odd chunk boundaries, bad status lines, endless heads.
"""
import json
import socket
import threading
import time
import http.server

MAX_REQUEST_HEAD = 65536


class Request:
    def __init__(self, n, method, path, headers, body):
        self.n, self.method, self.path, self.headers, self.body = n, method, path, headers, body

    def __repr__(self):
        return f"<request {self.n} {self.method} {self.path} {self.headers} {self.body!r}>"


class Conn:
    def __init__(self, sock, stub):
        self.sock, self.stub = sock, stub

    def send(self, data):
        """Sends raw bytes now (TCP_NODELAY: each call is its own segment)."""
        self.sock.sendall(data)

    def head(self, status="200 OK", ctype="text/event-stream", headers=(), chunked=False):
        lines = [f"HTTP/1.1 {status}"]
        if ctype is not None:
            lines.append(f"Content-Type: {ctype}")
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        lines += list(headers)
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def chunk(self, data):
        """One HTTP/1.1 chunk (after head(chunked=True)); b"" ends the body."""
        self.send(b"%x\r\n%s\r\n" % (len(data), data))

    def pieces(self, data, size):
        """data in pieces of size bytes, each its own write, a millisecond apart so that
        they usually reach the client as separate reads (pacing, not synchronisation:
        the library's unit tests cover every split deterministically)."""
        for i in range(0, len(data), size):
            self.send(data[i:i + size])
            time.sleep(0.001)

    def hold(self, seconds=15):
        """Keeps the connection open until the client closes it or the stub stops."""
        self.sock.settimeout(0.1)
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.stub.stopped:
            try:
                if not self.sock.recv(4096):
                    return
            except socket.timeout:
                continue
            except OSError:
                return


class Stub:
    def __init__(self, handler):
        self.handler = handler
        self.requests = []
        self.cond = threading.Condition()
        self.stopped = False
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path="/stream"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self):
        while True:
            try:
                sock, _ = self.lsock.accept()
            except OSError:
                return
            self.socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _read_request(self, sock):
        sock.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            got = sock.recv(65536)
            if not got or len(data) > MAX_REQUEST_HEAD:
                return None
            data += got
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = headers[name] + ", " + value.strip() if name in headers else value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            got = sock.recv(65536)
            if not got:
                return None
            body += got
        return method, path, headers, body

    def _serve(self, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            got = self._read_request(sock)
            if got is None:
                return
            with self.cond:
                req = Request(len(self.requests) + 1, *got)
                self.requests.append(req)
                self.cond.notify_all()
            self.handler(req, Conn(sock, self))
        except OSError:
            pass  # the client went away: that is its right
        finally:
            sock.close()

    def wait_requests(self, n, timeout=5):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"expected {n} requests, got {self.requests}")
            return list(self.requests)

    def close(self):
        self.stopped = True
        self.lsock.close()
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Callbacks:
    """Receives the service's callbacks: POST /<stream>/<n> with a JSON body."""

    def __init__(self):
        self.got = {}
        self.cond = threading.Condition()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                _, stream, n = self.path.rsplit("/", 2)
                with outer.cond:
                    outer.got.setdefault(stream, {})[int(n)] = json.loads(body)
                    outer.cond.notify_all()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def items(self, stream):
        """The callbacks of stream so far, in order of n (a gap ends the list)."""
        with self.cond:
            d = self.got.get(stream, {})
            out, n = [], 1
            while n in d:
                out.append(d[n])
                n += 1
            return out

    def wait(self, stream, pred, timeout=5):
        """Waits until pred(items) is true; returns the items, else AssertionError."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                items = self.items(stream)
                if pred(items):
                    return items
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; callbacks so far: {short(items)}")
                self.cond.wait(left)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def short(items):
    s = json.dumps(items)
    return s if len(s) < 2000 else s[:2000] + "..."
