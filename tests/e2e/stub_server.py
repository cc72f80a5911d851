"""stub_server.py MODE: a tiny HTTP server on 127.0.0.1 (any free port, printed as
"listening on http://127.0.0.1:PORT/"), for the client tests. Logs one line per request
on stdout: "request N last-event-id=VALUE". Stops by itself after 30 s.
MODE:
  204       HTTP 204 No Content
  404       HTTP 404 with a text/plain body
  html      HTTP 200 with Content-Type: text/html
  chunked   HTTP 200, text/event-stream; charset=UTF-8, Transfer-Encoding: chunked, the
            body cut into awkward chunks (mid-line, a CR LF split, chunk extensions, a
            trailer). First request: retry: 50, events 1..3, then the body ends. Later
            requests: events 4..5, then the connection stays open.
"""
import socket, sys, threading, time

mode = sys.argv[1]
count = 0
lock = threading.Lock()

FIRST = [b"retry: 50\n", b"id: 1\nda", b"ta: one\r", b"\n\r\n", b"event: tick\nid: 2\ndata: two\ndata: lines\n\n",
         b": comment\nid: 3\ndata: thr", b"ee\n\n"]
LATER = [b"id: 4\ndata: four\n\n", b"id: 5\ndata: five", b"\n\n"]


def chunk(piece, ext=False):
    return b"%x%s\r\n%s\r\n" % (len(piece), b";name=value" if ext else b"", piece)


def serve(conn):
    global count
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        got = conn.recv(4096)
        if not got:
            return
        data += got
    last = ""
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"last-event-id:"):
            last = line.split(b":", 1)[1].strip().decode()
    with lock:
        count += 1
        n = count
        print(f"request {n} last-event-id={last}", flush=True)
    if mode == "204":
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    elif mode == "404":
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 10\r\n\r\nnot found\n")
    elif mode == "html":
        body = b"<!doctype html><p>not a stream</p>\n"
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
    elif mode == "chunked":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=UTF-8\r\n"
                     b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i, piece in enumerate(FIRST if n == 1 else LATER):
            wire = chunk(piece, ext=(i == 1))
            for j in range(0, len(wire), 7):  # the chunk framing itself arrives cut up
                conn.sendall(wire[j:j + 7])
                time.sleep(0.002)
        if n == 1:
            conn.sendall(b"0\r\nX-Trailer: yes\r\n\r\n")
        else:
            time.sleep(10)
    time.sleep(0.2)
    conn.close()


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
srv.settimeout(1)
print(f"listening on http://127.0.0.1:{srv.getsockname()[1]}/", flush=True)
end = time.time() + 30
while time.time() < end:
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    threading.Thread(target=serve, args=(c,), daemon=True).start()
