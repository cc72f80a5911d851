#!/usr/bin/env bash
# Headless Chromium EventSource through nginx over HTTP/2 + TLS, two gateways, one killed
# (browser.mjs does the browser part and the kill).        browser.sh GATEWAY PUBLISH ARTIFACTS
# About 10 s. Needs node, /usr/bin/chromium and tests/e2e/h2/node_modules (its setup.sh).
set -u
GATEWAY=$1 PUBLISH=$2 ARTIFACTS=$3
HERE=$(dirname "$0")
. "$HERE/common.sh"

start_redis
start_gateway gw1 --retry-ms 200 -v
start_gateway gw2 --retry-ms 200 -v
start_nginx "$GW_PORT_gw1" "$GW_PORT_gw2"
cat >"$E2E_DIR/www/index.html" <<'HTML'
<!doctype html>
<meta charset=utf-8>
<title>sse: gateways behind nginx</title>
<pre id=log></pre>
<script>
window.got = [];
window.states = [];
const es = new EventSource('/streams/web');
es.onopen = () => window.states.push('open');
es.onerror = () => window.states.push('error');
es.onmessage = (e) => {
  window.got.push({seq: parseInt(e.data, 10), id: e.lastEventId});
  document.getElementById('log').textContent = window.got.length + ' events, last ' + e.lastEventId;
};
es.addEventListener('gap', (e) => window.states.push('gap ' + e.data));
</script>
HTML
chmod 644 "$E2E_DIR/www/index.html"
publish_bg web 0 1999 40
mkdir -p "$ARTIFACTS"
node "$HERE/browser.mjs" "https://127.0.0.1:$HTTPS_PORT/index.html" "$GW_PID_gw1,$GW_PID_gw2" \
    "$E2E_DIR/gw1.err,$E2E_DIR/gw2.err" "$ARTIFACTS" || fail "browser test"
echo PASS
