#!/bin/sh
# What h2_server answers on each protocol, read with curl (and openssl s_client for ALPN):
#   h2c (prior knowledge)  HTTP/2 200, content-type text/event-stream, cache-control
#                          no-cache and no connection header; an event; / and /test7 pages;
#                          404 for another path
#   the same port, HTTP/1.1  sse_server's response: SSE_HTTP_HEADERS (Connection: keep-alive)
#   TLS, client offers h2  ALPN h2, the HTTP/2 response
#   TLS, client offers only http/1.1, or no h2 at all  HTTP/1.1 (the fallback)
#   h2_protocols.sh H2_SERVER         Exit: 0 pass, 1 fail, 77 skip.
. "$(dirname "$0")/common.sh"
server=$1
need_file "$server"
need_tool curl
curl --version | grep -q HTTP2 || skip "this curl has no HTTP/2"

# check NAME CURL-ARGS...: GET /dates for 1 s; headers to $TMP/NAME.h, body to $TMP/NAME.b
check() {
    name=$1
    shift
    timeout 10 curl -sN --max-time 1 -D "$TMP/$name.h" -o "$TMP/$name.b" "$@"
    tr -d '\r' <"$TMP/$name.h" | tr 'A-Z' 'a-z' >"$TMP/$name.hl"
    grep -q '^content-type: text/event-stream$' "$TMP/$name.hl" || fail "$name: $(cat "$TMP/$name.h")"
    grep -q '^cache-control: no-cache$' "$TMP/$name.hl" || fail "$name: no cache-control"
    grep -q '^id: [0-9]*$' "$TMP/$name.b" || fail "$name: no event: $(cat "$TMP/$name.b")"
}
h2_headers() {
    grep -q '^http/2 200 *$' "$TMP/$1.hl" || fail "$1: not HTTP/2 200: $(cat "$TMP/$1.h")"
    grep -q '^connection:' "$TMP/$1.hl" && fail "$1: a connection header over HTTP/2"
    true
}
h1_headers() {
    grep -q '^http/1.1 200 ok$' "$TMP/$1.hl" || fail "$1: not HTTP/1.1 200: $(cat "$TMP/$1.h")"
    grep -q '^connection: keep-alive$' "$TMP/$1.hl" || fail "$1: no Connection: keep-alive"
}

start plain "$server" --port 0 --interval-ms 100
url=http://127.0.0.1:$PORT
check h2c --http2-prior-knowledge "$url/dates"
h2_headers h2c
check h1 --http1.1 "$url/dates"
h1_headers h1
for p in / /test7; do
    got=$(curl -s --http2-prior-knowledge --max-time 5 -o "$TMP/page" -w '%{http_version} %{http_code} %{content_type}' "$url$p")
    [ "$got" = "2 200 text/html; charset=utf-8" ] || fail "$p: $got"
    grep -q "EventSource('/dates" "$TMP/page" || fail "$p: no EventSource in the page"
done
got=$(curl -s --http2-prior-knowledge --max-time 5 -o /dev/null -w '%{http_version} %{http_code}' "$url/nope")
[ "$got" = "2 404" ] || fail "/nope: $got"
stop plain || fail "h2_server did not exit cleanly"

make_cert
start tls "$server" --port 0 --interval-ms 100 --cert "$CERT" --key "$KEY" -v
url=https://127.0.0.1:$PORT
check tls_h2 -k --http2 "$url/dates"
h2_headers tls_h2
check tls_h1 -k --http1.1 "$url/dates"
h1_headers tls_h1
if command -v openssl >/dev/null 2>&1; then
    # a client offering only an unknown protocol: no ALPN, HTTP/1.1
    printf 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' |
        timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT" -alpn foo/1 2>/dev/null |
        head -n 1 | tr -d '\r' >"$TMP/alpn"
    [ "$(cat "$TMP/alpn")" = "HTTP/1.1 404 Not Found" ] || fail "ALPN foo/1: $(cat "$TMP/alpn")"
fi
stop tls || fail "h2_server (TLS) did not exit cleanly"
grep -q 'ALPN h2$' "$TMP/tls.err" && grep -q 'ALPN http/1.1$' "$TMP/tls.err" &&
    grep -q 'ALPN none$' "$TMP/tls.err" || fail "server log: $(cat "$TMP/tls.err")"
echo "h2_protocols: h2c, HTTP/1.1 on the plain port, TLS with ALPN h2, http/1.1 and none: ok"
echo "1 passed, 0 failed"
