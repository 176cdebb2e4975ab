'use strict';
// Headless Chromium opens the demo page served by juggernautd (GET /, which
// loads GET /application.js): it shows "Subscribing to channel1" and
// "Connected", and "Got data: hello" after
//   PUBLISH juggernaut {"channels":["channel1"],"data":"hello"}

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const b = require('./lib/browser.js');

const { harness } = b;
let redis, daemon, browser, events, pub;

before(async () => {
  redis = await harness.startRedis();
  pub = await harness.redisClient(redis);
  daemon = await harness.startDaemon({ redisUrl: redis.url });
  events = await b.watchEvents(redis);
  browser = await b.launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (events) await events.close();
  if (pub) pub.disconnect();
  if (daemon) await daemon.stop();
  if (redis) await redis.stop();
});

function logText(page) {
  return page.evaluate(() => document.getElementById('log').value);
}

async function waitForLine(page, line, timeout = 10000) {
  try {
    await page.waitForFunction((l) => document.getElementById('log').value.split('\n')
      .indexOf(l) >= 0, line, { timeout });
  } catch (e) {
    throw new Error(`demo log has no line ${JSON.stringify(line)}; log is ` +
      JSON.stringify(await logText(page)));
  }
}

test('demo page: Connected, Subscribing to channel1, Got data: hello', async () => {
  const errors = [];
  const page = await b.newPage(browser, errors);
  await page.goto(`${daemon.base}/`);
  assert.equal(await page.title(), 'Juggernaut');
  await waitForLine(page, 'Subscribing to channel1');
  await waitForLine(page, 'Connected');

  const sid = await page.evaluate(() => window.jug.sessionID);
  assert.match(sid, /^[0-9A-Za-z_-]+$/);
  await events.subscribed(sid, 'channel1');

  await pub.publish('juggernaut', JSON.stringify({ channels: ['channel1'], data: 'hello' }));
  await waitForLine(page, 'Got data: hello');
  await pub.publish('juggernaut', JSON.stringify({ channels: ['channel1'], data: 'héllo 😀 漢字' }));
  await waitForLine(page, 'Got data: héllo 😀 漢字');
  await pub.publish('juggernaut', JSON.stringify({ channels: ['other'], data: 'not shown' }));
  await pub.publish('juggernaut', JSON.stringify({ channels: ['channel1'], data: 'last' }));
  await waitForLine(page, 'Got data: last');

  assert.deepEqual((await logText(page)).split('\n'), ['Subscribing to channel1', 'Connected',
    'Got data: hello', 'Got data: héllo 😀 漢字', 'Got data: last', '']);
  assert.deepEqual(errors, []);
  await page.close();
});

// The original client never fires "reconnect" (quirk J9), and the original
// server serves its own files: two tests only for juggernautd.
const ONLY_OURS = harness.IS_REFERENCE ? 'the original server serves the original demo' : false;

test('demo page: Disconnected, then Reconnecting and Connected after a restart',
  { skip: ONLY_OURS }, async () => {
  const page = await b.newPage(browser);
  await page.goto(`${daemon.base}/`);
  await waitForLine(page, 'Connected');
  const port = daemon.port;
  await daemon.stop();
  daemon = null;
  await waitForLine(page, 'Disconnected');
  daemon = await harness.startDaemon({ redisUrl: redis.url, port });
  await page.waitForFunction(() => document.getElementById('log').value
    .split('\n').filter((l) => l === 'Connected').length === 2, null, { timeout: 20000 });
  const sid = await page.evaluate(() => window.jug.sessionID);
  await events.subscribed(sid, 'channel1');
  await pub.publish('juggernaut', JSON.stringify({ channels: ['channel1'], data: 'again' }));
  await waitForLine(page, 'Got data: again');
  assert.deepEqual((await logText(page)).split('\n'), ['Subscribing to channel1', 'Connected',
    'Disconnected', 'Reconnecting', 'Connected', 'Got data: again', '']);
  await page.close();
});

test('the demo page and our client are served byte-identical from public/',
  { skip: ONLY_OURS }, async () => {
  const fs = require('fs');
  const path = require('path');
  for (const [url, file, type] of [['/', 'index.html', /^text\/html/],
    ['/application.js', 'application.js', /javascript/]]) {
    const res = await fetch(`${daemon.base}${url}`);
    assert.equal(res.status, 200, url);
    assert.match(res.headers.get('content-type'), type, url);
    const body = Buffer.from(await res.arrayBuffer());
    assert.ok(body.equals(fs.readFileSync(path.join(b.ROOT, 'public', file))),
      `${url} differs from public/${file}`);
  }
});
