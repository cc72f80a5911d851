#!/usr/bin/env node
// Headless Chromium: an EventSource through nginx over HTTP/2 + TLS receives from two
// redis_gateway processes across a gateway kill (SIGKILL): the page reconnects through
// nginx with Last-Event-ID and lands on the other gateway; no event is lost or repeated.
// Started by browser.sh, which runs Redis, 2 gateways, nginx and a paced publisher.
//
// Usage: node browser.mjs URL GW_PIDS GW_LOGS ARTIFACT_DIR
//   URL: https://127.0.0.1:PORT/index.html (nginx); GW_PIDS, GW_LOGS: comma-separated,
//   in the same order. playwright-core comes from tests/e2e/h2/node_modules (its setup.sh).
// Exit: 0 passed, 1 failed; bounded at 90 s.

import {createRequire} from 'node:module';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';
const require = createRequire(path.join(HERE, '../e2e/h2/package.json'));
const {chromium} = require('playwright-core');
const [url, pidList, logList, artifacts] = process.argv.slice(2);
const pids = pidList.split(',').map(Number);
const logs = logList.split(',');
setTimeout(() => { console.error('browser.mjs: watchdog: 90 s elapsed'); process.exit(1); }, 90000).unref();

const streamsIn = (log) => fs.readFileSync(log, 'utf8').split('\n').filter((l) => / stream web,/.test(l));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 30000,
});
let ok = false;
try {
  const context = await browser.newContext({ignoreHTTPSErrors: true});
  const page = await context.newPage();
  await page.goto(url);
  const proto = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  assert.equal(proto, 'h2', 'the page came over HTTP/2');
  await page.waitForFunction(() => window.got.length >= 20, null, {timeout: 20000});

  // the gateway holding the stream: the one that logged it
  const first = logs.findIndex((l) => streamsIn(l).length > 0);
  assert.ok(first >= 0, 'a gateway logged the stream');
  const before = await page.evaluate(() => window.got.length);
  process.kill(pids[first], 'SIGKILL');
  console.log(`# killed gateway ${first + 1} (pid ${pids[first]}) after ${before} events`);

  await page.waitForFunction((n) => window.got.length >= n + 40, before, {timeout: 30000});
  const got = await page.evaluate(() => window.got);
  const states = await page.evaluate(() => window.states);
  await page.screenshot({path: path.join(artifacts, 'scale-browser.png')});
  const other = logs.map(streamsIn).findIndex((s, i) => i !== first && s.some((l) => /Last-Event-ID \d+-\d+/.test(l)));
  assert.ok(other >= 0, `another gateway resumed the stream with Last-Event-ID: ${logs.map(streamsIn)}`);
  for (let i = 1; i < got.length; i++) {
    assert.equal(got[i].seq, got[i - 1].seq + 1, `consecutive events: ${JSON.stringify(got.slice(i - 2, i + 2))}`);
  }
  assert.ok(states.includes('error'), `the EventSource saw the gateway go: ${states}`);
  console.log(`# ${got.length} events, seq ${got[0].seq}..${got[got.length - 1].seq}, no gap or repeat; ` +
    `first gateway ${first + 1}, resumed on gateway ${other + 1}; states ${states.join(',')}`);
  ok = true;
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
