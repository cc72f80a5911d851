#!/usr/bin/env node
// Headless Chromium, 10 EventSources on one page: over HTTP/2 (examples/h2_server, TLS with
// a test certificate) all 10 receive events on one connection; over HTTP/1.1
// (examples/sse_server) the browser's limit of 6 connections per host lets only 6 receive
// and the seventh stalls. Both are asserted.
//
// Usage: node h2_browser_test.mjs --h2 H2_SERVER --h1 SSE_SERVER [--artifacts DIR]
//   The certificate is made at run time with openssl into a temp dir (never committed).
//   Screenshots h2-demo.png, h2-10-sources.png and h1-10-sources.png go to --artifacts
//   (default cwd). A first test loads h2_server's demo page over HTTP/2 and waits for dates.
// Environment: CHROMIUM (default /usr/bin/chromium).
// Exit: 0 passed, 1 failed, 77 skipped (no Chromium, no openssl, no node_modules here: run
// setup.sh next to this file, or a server binary not built).

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn, execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const SKIP = 77;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const N = 10;

const opts = {h2: null, h1: null, artifacts: process.env.SSE_ARTIFACT_DIR || process.cwd()};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[++i];
  if (v === undefined) usage(`${a} needs a value`);
  if (a === '--h2') opts.h2 = v;
  else if (a === '--h1') opts.h1 = v;
  else if (a === '--artifacts') opts.artifacts = v;
  else usage(`unknown argument ${a}`);
}
if (!opts.h2 || !opts.h1) usage('--h2 and --h1 are required');

function usage(msg) {
  process.stderr.write(`h2_browser_test: ${msg}\n` +
    'usage: node h2_browser_test.mjs --h2 H2_SERVER --h1 SSE_SERVER [--artifacts DIR]\n');
  process.exit(2);
}
function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) skip(`no Chromium at ${CHROMIUM}`);
for (const bin of [opts.h2, opts.h1]) if (!fs.existsSync(bin)) skip(`${bin} not built`);
let chromium;
try {
  ({chromium} = await import('playwright-core'));
} catch (e) {
  skip(`playwright-core is not installed in ${HERE}/node_modules (run ${HERE}/setup.sh): ` +
    e.message.split('\n')[0]);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-h2-browser-'));
const cert = path.join(tmp, 'cert.pem');
const key = path.join(tmp, 'key.pem');
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
    '-days', '1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
  {stdio: 'ignore', timeout: 30000});
} catch (e) {
  skip(`openssl could not make a test certificate: ${e.message.split('\n')[0]}`);
}
fs.mkdirSync(opts.artifacts, {recursive: true});

const children = new Set();
function cleanup() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
  fs.rmSync(tmp, {recursive: true, force: true});
}
process.on('exit', cleanup);
setTimeout(() => { // the whole run is bounded
  console.error('h2_browser_test: watchdog: 120 s elapsed, giving up');
  process.exit(1);
}, 120000).unref();

// Starts a server that prints "listening on http(s)://127.0.0.1:PORT/".
function startServer(bin, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, {stdio: ['ignore', 'pipe', 'pipe']});
    children.add(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${bin}: not listening after 10 s: ${err}`)), 10000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (https?:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({proc, url: m[1], stderr: () => err});
      }
    });
    proc.on('exit', (code, sig) => {
      children.delete(proc);
      clearTimeout(timer);
      reject(new Error(`${bin} exited (${code ?? sig}): ${err}`));
    });
  });
}

async function stopServer(srv) {
  if (!srv || srv.proc.exitCode !== null || srv.proc.signalCode !== null) return null;
  const gone = new Promise((r) => srv.proc.once('exit', (code) => r(code)));
  srv.proc.kill('SIGTERM');
  const t = setTimeout(() => srv.proc.kill('SIGKILL'), 3000);
  const code = await gone;
  clearTimeout(t);
  return code;
}

// What the page shows: how many sources got an event, and each one's state.
async function snapshot(page) {
  return page.evaluate(() => ({
    received: window.received,
    proto: performance.getEntriesByType('navigation')[0].nextHopProtocol,
    states: window.sources.map((es) => es.readyState),
    items: [...document.querySelectorAll('#list li')].map((li) => li.textContent),
  }));
}

let browser;
let h2;
let h1;
let testPage; // the /test7 HTML as h2_server serves it, reused on sse_server's origin

before(async () => {
  [h2, h1] = await Promise.all([
    startServer(opts.h2, ['--port', '0', '--interval-ms', '200', '--cert', cert, '--key', key, '-v']),
    startServer(opts.h1, ['--port', '0', '--interval-ms', '200']),
  ]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--ignore-certificate-errors'],
    timeout: 30000,
  });
  console.log(`# browser: ${CHROMIUM} ${browser.version()}; h2: ${h2.url}; http/1.1: ${h1.url}`);
});

after(async () => {
  if (browser) await browser.close();
  await stopServer(h1);
  const code = await stopServer(h2);
  if (h2) console.log(`# h2_server exit ${code}: ${h2.stderr().trim().split('\n').pop()}`);
});

test('HTTP/2 over TLS: the demo page shows live dates', async () => {
  const context = await browser.newContext({ignoreHTTPSErrors: true, viewport: {width: 900, height: 400}});
  const page = await context.newPage();
  await page.goto(h2.url);
  const dates = [];
  for (let i = 0; i < 2; i++) { // two different dates: events arrive live
    await page.waitForFunction((prev) => /^\d{4}-\d\d-\d\dT/.test(document.getElementById('date').textContent) &&
      document.getElementById('date').textContent !== prev, dates[dates.length - 1] ?? '', {timeout: 10000});
    dates.push(await page.textContent('#date'));
  }
  const proto = await page.textContent('#proto');
  await page.screenshot({path: path.join(opts.artifacts, 'h2-demo.png')});
  await context.close();
  console.log(`# demo page over ${proto}: ${dates.join(', ')}`);
  assert.equal(proto, 'h2');
});

test(`HTTP/2 over TLS: all ${N} EventSources of one page receive events`, async () => {
  const context = await browser.newContext({ignoreHTTPSErrors: true, viewport: {width: 900, height: 600}});
  const page = await context.newPage();
  const res = await page.goto(`${h2.url}test7?n=${N}`);
  assert.equal(res.status(), 200);
  testPage = await res.text();
  await page.waitForFunction((n) => window.received === n, N, {timeout: 15000}).catch(() => {});
  const s = await snapshot(page);
  await page.screenshot({path: path.join(opts.artifacts, 'h2-10-sources.png')});
  await context.close();
  console.log(`# h2: protocol ${s.proto}, ${s.received} of ${N} received; ${s.items.join(' | ')}`);
  assert.equal(s.proto, 'h2', 'the page came over HTTP/2');
  assert.equal(s.received, N, `all ${N} sources received an event: ${JSON.stringify(s)}`);
  // one TLS connection carried the page and all 10 streams
  const log = h2.stderr();
  const conns = new Set([...log.matchAll(/conn (\d+) h2 stream \d+: GET \/test7/g)].map((m) => m[1]));
  assert.equal(conns.size, 1, `the page came on one connection: ${log}`);
  const conn = [...conns][0];
  const streams = [...log.matchAll(new RegExp(`conn ${conn} h2 stream \\d+: GET /dates`, 'g'))];
  assert.equal(streams.length, N, `all ${N} streams on that connection: ${log}`);
});

test(`HTTP/1.1: only 6 of ${N} EventSources receive, the seventh stalls`, async () => {
  assert.ok(testPage, 'the HTTP/2 test fetched the page');
  const context = await browser.newContext({viewport: {width: 900, height: 600}});
  const page = await context.newPage();
  // Same origin as the stream: sse_server answers /test7 with 404 (it has no such page, and
  // its "/" would open an EventSource of its own), then the page replaces the document.
  await page.goto(`${h1.url}test7?n=${N}`);
  await page.setContent(testPage);
  await page.waitForFunction(() => window.received >= 6, null, {timeout: 15000}).catch(() => {});
  await page.waitForTimeout(3000); // 15 intervals: a seventh stream would have had events
  const s = await snapshot(page);
  await page.screenshot({path: path.join(opts.artifacts, 'h1-10-sources.png')});
  await context.close();
  console.log(`# http/1.1: protocol ${s.proto}, ${s.received} of ${N} received; states ${s.states.join(',')}`);
  assert.equal(s.proto, 'http/1.1');
  assert.equal(s.received, 6, `6 connections per host: ${JSON.stringify(s)}`);
  assert.deepEqual(s.states.slice(6), [0, 0, 0, 0], 'sources 7-10 still CONNECTING');
  assert.equal(s.items[6], 'connecting', 'the seventh never opened');
});
