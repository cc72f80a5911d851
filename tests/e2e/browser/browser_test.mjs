#!/usr/bin/env node
// Real-browser end-to-end test of sse: the system Chromium's EventSource reads streams that
// sse_encode wrote.
//
// Usage: node browser_test.mjs --tricky PATH [--demo PATH] [--artifacts DIR]
//   --tricky PATH     the tricky_server binary (built from tricky_server.c)
//   --demo PATH       examples/sse_server; its test is skipped when the file does not exist
//   --artifacts DIR   where the screenshots go (default: $SSE_ARTIFACT_DIR, else the cwd)
// Environment: CHROMIUM (default /usr/bin/chromium).
// Exit status: 0 all passed (a missing demo binary only skips that case), 1 a failure,
// 77 skipped: no Chromium or no node_modules (run setup.sh next to this file).
//
// Test "tricky stream": every frame of tricky_server's list reaches the page; the recorded
// {type, data, lastEventId} list must equal the one this script derives from the frame
// list (served as JSON by /frames) by the rules of the spec; then the browser must have
// reconnected with the right Last-Event-ID and received the replayed events.
// Test "demo page": examples/sse_server's page shows events arriving live; its "Drop my
// connection" button has the server close the stream, the browser reconnects with
// Last-Event-ID and the ids go on with no gap and no repeat; a screenshot demo.png is saved.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const SKIP = 77;
const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---- arguments and pre-flight ---------------------------------------------------------

function parseArgs(argv) {
  const o = {tricky: null, demo: null, artifacts: process.env.SSE_ARTIFACT_DIR || process.cwd()};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--tricky') o.tricky = val();
    else if (a === '--demo') o.demo = val();
    else if (a === '--artifacts') o.artifacts = val();
    else usage(`unknown argument ${a}`);
  }
  if (!o.tricky) usage('--tricky PATH is required');
  return o;
}

function usage(msg) {
  process.stderr.write(`browser_test: ${msg}\n` +
    'usage: node browser_test.mjs --tricky PATH [--demo PATH] [--artifacts DIR]\n');
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: no Chromium at ${CHROMIUM} (run ${path.join(HERE, 'setup.sh')})`);
  process.exit(SKIP);
}
let chromium;
try {
  ({chromium} = await import('playwright-core'));
} catch (e) {
  console.log(`SKIP: playwright-core is not installed in ${HERE}/node_modules ` +
    `(run ${path.join(HERE, 'setup.sh')}): ${e.message.split('\n')[0]}`);
  process.exit(SKIP);
}
if (!fs.existsSync(opts.tricky)) {
  console.error(`browser_test: no tricky_server at ${opts.tricky}`);
  process.exit(1);
}
fs.mkdirSync(opts.artifacts, {recursive: true});

const children = new Set();
function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
// Every run is bounded: whatever hangs, the whole script ends within 150 s.
setTimeout(() => {
  console.error('browser_test: watchdog: 150 s elapsed, giving up');
  killAll();
  process.exit(1);
}, 150000).unref();
process.on('exit', killAll);

// ---- helpers --------------------------------------------------------------------------

// Starts a server binary that prints "listening on http://127.0.0.1:PORT/".
function startServer(bin, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, {stdio: ['ignore', 'pipe', 'pipe']});
    children.add(proc);
    let out = '';
    let err = '';
    let listening = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${bin}: no "listening on" line within 10 s; stderr: ${err}`));
    }, 10000);
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => { err += d; });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m && !listening) {
        listening = true;
        clearTimeout(timer);
        resolve({proc, url: m[1], stderr: () => err, stdout: () => out});
      }
    });
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('exit', (code, sig) => {
      children.delete(proc);
      clearTimeout(timer);
      if (!listening) reject(new Error(`${bin} exited (${code ?? sig}) before listening; stderr: ${err}`));
    });
  });
}

async function stopServer(srv) {
  if (!srv || srv.proc.exitCode !== null || srv.proc.signalCode !== null) return;
  const gone = new Promise((r) => srv.proc.once('exit', r));
  srv.proc.kill('SIGTERM');
  const t = setTimeout(() => srv.proc.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
}

async function getJson(url) {
  const res = await fetch(url, {signal: AbortSignal.timeout(5000)});
  assert.equal(res.status, 200, `GET ${url}`);
  return res.json();
}

// What a browser must dispatch for frames written by sse_encode, by the spec's rules
// (SSE-SPEC.md 12-17, 20): a comment-only frame is nothing; an id (never holding NUL: the
// encoder refuses those) sets the last event ID, "" resets it; a frame without data
// dispatches nothing; data split at CR, LF and CR LF arrives joined by LF; an absent or
// empty event type is "message".
function expectedEvents(frames, lastId) {
  const events = [];
  for (const f of frames) {
    if (f.id !== null) lastId = f.id;
    if (f.data === null) continue;
    events.push({
      type: f.type === null || f.type === '' ? 'message' : f.type,
      data: f.data.split(/\r\n|\r|\n/).join('\n'),
      lastEventId: lastId,
    });
  }
  return {events, lastId};
}

// Escapes everything outside printable ASCII so a diff shows CR, NUL, BOM and friends.
function show(x) {
  return JSON.stringify(x).replace(/[^\x20-\x7e]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function assertSameEvents(got, want, what) {
  const n = Math.max(got.length, want.length);
  const bad = [];
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const w = want[i];
    if (!g || !w || g.type !== w.type || g.data !== w.data || g.lastEventId !== w.lastEventId) {
      bad.push(`  #${i}\n    want ${w ? show(w) : '(nothing)'}\n    got  ${g ? show(g) : '(nothing)'}`);
    }
  }
  assert.ok(bad.length === 0,
    `${what}: ${bad.length} of ${n} dispatches differ (got ${got.length}, want ${want.length}):\n` +
    bad.slice(0, 20).join('\n'));
}

// ---- the browser ----------------------------------------------------------------------

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true, // Playwright gives every launch a new temporary user-data-dir
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
  console.log(`# browser: ${CHROMIUM} ${browser.version()}`);
});

after(async () => {
  if (browser) await browser.close();
});

async function newPage() {
  const context = await browser.newContext({viewport: {width: 1000, height: 700}});
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A failed load is reported below with its URL.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${m.text()}`);
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') {
      problems.push(`HTTP ${r.status()} for ${r.url()}`);
    }
  });
  return {context, page, problems};
}

// ---- test 1: the tricky stream --------------------------------------------------------

test('tricky stream: Chromium dispatches exactly what sse_encode framed', async () => {
  const srv = await startServer(opts.tricky, ['--port', '0', '--retry-ms', '200',
    '--max-seconds', '120']);
  const {context, page, problems} = await newPage();
  try {
    const frames = await getJson(srv.url + 'frames');
    const first = expectedEvents(frames.stream, '');
    const replay = expectedEvents(frames.replay, first.lastId);
    const want = [...first.events, ...replay.events];
    assert.ok(first.lastId !== '', 'test design: the stream must end with a non-empty id');
    assert.ok(want.length > 30, 'test design: the frame list looks too short');

    await page.goto(srv.url, {waitUntil: 'load'});
    try {
      await page.waitForFunction((n) => window.__events.length >= n, want.length,
        {timeout: 20000, polling: 100});
      // Anything extra (a duplicate, an event replayed twice) would arrive now.
      await page.waitForTimeout(600);
    } catch (e) {
      console.log(`# waiting for ${want.length} dispatches: ${e.message.split('\n')[0]}`);
    }
    const got = await page.evaluate(() => window.__events);
    const state = await page.evaluate(() => ({opens: window.__opens, errors: window.__errors}));
    await page.screenshot({path: path.join(opts.artifacts, 'tricky.png')});
    const seen = await getJson(srv.url + 'seen');
    console.log(`# ${got.length} dispatches recorded, ${state.opens} opens, ` +
      `${state.errors} errors; server saw ${show(seen)}`);

    assertSameEvents(got, want, 'dispatches');
    assert.deepEqual(problems, [], 'no page errors');

    // The drop and the reconnection.
    assert.equal(seen.tricky_requests, 2, 'exactly one reconnection to /tricky');
    const [c1, c2] = seen.connections;
    assert.equal(c1.last_event_id, null, 'first request carries no Last-Event-ID');
    assert.equal(c2.last_event_id, first.lastId,
      'the reconnection carries the last event ID string as Last-Event-ID');
    for (const c of seen.connections) {
      assert.equal(c.accept, 'text/event-stream', 'EventSource asks for text/event-stream');
    }
    assert.equal(state.opens, 2, 'two opens: the first connection and the reconnection');
    assert.ok(state.errors >= 1, 'the drop is reported as an error event');
    // The replayed events came on the second connection, with their own ids.
    assertSameEvents(got.slice(first.events.length), replay.events, 'replayed dispatches');
  } finally {
    await context.close();
    await stopServer(srv);
  }
});

// ---- test 2: the demo page of examples/sse_server -------------------------------------

let demoSkip = false;
if (!opts.demo) demoSkip = 'no --demo PATH given (examples/sse_server)';
else if (!fs.existsSync(opts.demo)) demoSkip = `examples/sse_server not built yet: ${opts.demo}`;
if (demoSkip) console.log(`# SKIP demo page: ${demoSkip}`);

// Installed before the page's own scripts: records every event that any EventSource of the
// page dispatches to a listener (whatever its types), and the body text as it evolves.
function recordEventSources() {
  const Orig = window.EventSource;
  const rec = {events: [], sources: [], texts: []};
  window.__demo = rec;
  const hooked = new WeakMap();
  const hook = (es, type) => {
    const set = hooked.get(es) || new Set();
    hooked.set(es, set);
    if (set.has(type)) return;
    set.add(type);
    Orig.prototype.addEventListener.call(es, type, (e) => {
      if (e instanceof MessageEvent) {
        rec.events.push({type: e.type, data: e.data, lastEventId: e.lastEventId});
      }
    });
  };
  class Recorded extends Orig {
    constructor(...args) {
      super(...args);
      rec.sources.push(String(args[0]));
      hook(this, 'message');
    }
    addEventListener(type, ...rest) {
      hook(this, type);
      return super.addEventListener(type, ...rest);
    }
  }
  window.EventSource = Recorded;
}

test('demo page: live events, the drop button, a resume with no gap', {skip: demoSkip}, async () => {
  // 200 ms ticks and a 300 ms reconnection time: a reconnect without the Last-Event-ID
  // replay would lose at least one id.
  const srv = await startServer(opts.demo, ['--port', '0', '--interval-ms', '200',
    '--retry-ms', '300']);
  const {context, page, problems} = await newPage();
  const text = (sel) => page.locator(sel).textContent();
  try {
    await page.addInitScript(recordEventSources);
    await page.goto(srv.url, {waitUntil: 'load'});
    for (const sel of ['#state', '#date', '#last-id', '#count', '#reconnects', '#missing',
      '#drop', '#chart', '#events', '#log']) {
      assert.equal(await page.locator(sel).count(), 1, `the demo page has one ${sel}`);
    }
    // Live: at least 4 events on an open connection.
    await page.waitForFunction(() => window.__demo.events.length >= 4 &&
      document.querySelector('#state').textContent === 'open', null, {timeout: 20000, polling: 50});
    // /drop closes only the stream its tag names: none, empty, unknown or overlong is a 404
    // and this page's stream stays open.
    const tag = new URL(await page.evaluate(() => window.__demo.sources[0]), srv.url)
      .searchParams.get('tag');
    for (const q of ['', '?tag=', '?tag=nope', '?tag=' + tag + 'x', '?tag=' + 'x'.repeat(40)]) {
      const res = await fetch(srv.url + 'drop' + q, {signal: AbortSignal.timeout(5000)});
      assert.equal(res.status, 404, `GET /drop${q} drops nothing`);
    }
    const before = await page.evaluate(() => window.__demo.events.length);
    assert.equal(await text('#reconnects'), '0', 'a /drop naming no stream of ours leaves it open');

    // The button: the server closes this stream; the browser reconnects with Last-Event-ID,
    // the server replays what was missed, and live events go on.
    await page.click('#drop');
    await page.waitForFunction((n) => document.querySelector('#reconnects').textContent === '1' &&
      document.querySelector('#state').textContent === 'open' && window.__demo.events.length >= n,
      before + 8, {timeout: 20000, polling: 50});
    await page.waitForTimeout(1100); // a few more live events, and the chart's next frames
    const now = Date.now();
    const rec = await page.evaluate(() => window.__demo);
    const log = await text('#log');
    console.log(`# demo: EventSource(${rec.sources.join(', ')}), ${rec.events.length} events ` +
      `(${before} before the drop); log:\n#   ${log.trim().split('\n').reverse().join('\n#   ')}`);

    assert.equal(rec.sources.length, 1, 'one EventSource');
    assert.match(rec.sources[0], /\/dates\?tag=[0-9-]+$/, 'the page opens /dates?tag=T');
    for (const e of rec.events) {
      assert.equal(e.type, 'message', `only message events (no gap event): ${show(e)}`);
      const t = Date.parse(e.data);
      assert.ok(Number.isFinite(t) && Math.abs(t - now) < 120000,
        `each event's data is the server's current date: ${show(e)}`);
      assert.match(e.lastEventId, /^[0-9]+$/, `each event has a numeric id: ${show(e)}`);
    }
    const ids = rec.events.map((e) => Number(e.lastEventId));
    for (let i = 1; i < ids.length; i++) {
      assert.equal(ids[i], ids[i - 1] + 1,
        `ids count up by one across the drop (no gap, no repeat): ${ids.join(' ')}`);
    }
    assert.match(log, /asking the server to drop this connection/, 'the click is logged');
    assert.match(log, /connection lost/, 'the server closed the stream');
    const resumed = /open again, with Last-Event-ID: (\d+);/.exec(log);
    assert.ok(resumed, 'the reconnection is logged with its Last-Event-ID');
    assert.ok(Number(resumed[1]) >= ids[before - 1] && Number(resumed[1]) < ids[ids.length - 1],
      `the resume point ${resumed[1]} lies inside the received ids`);

    const last = rec.events[rec.events.length - 1];
    assert.equal(await text('#date'), last.data, '#date shows the latest event');
    assert.equal(await text('#last-id'), last.lastEventId, '#last-id shows the latest id');
    assert.equal(await text('#count'), String(rec.events.length), '#count counts every event');
    assert.equal(await text('#missing'), '0', '#missing: no id was lost');
    assert.equal(await page.locator('#events li').count(), rec.events.length, 'every event listed');
    const drawn = await page.evaluate(() => {
      const c = document.querySelector('#chart');
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < px.length; i += 4) n += px[i] > 0;
      return n;
    });
    assert.ok(drawn > 100, `the events-per-second chart drew bars (${drawn} pixels)`);
    assert.deepEqual(problems, [], 'no page errors');
    const shot = path.join(opts.artifacts, 'demo.png');
    await page.screenshot({path: shot, fullPage: true});
    console.log(`# screenshot: ${shot}`);
  } finally {
    await context.close();
    await stopServer(srv);
  }
});
