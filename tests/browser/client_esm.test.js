'use strict';
// The ES module build of the npm package juggernautd-client (clients/js/dist/juggernaut.mjs,
// generated from public/application.js) in headless Chromium: a page served by juggernautd
// (the shipped default, cluster mode) loads it with <script type="module"> and `import`,
// connects over WebSocket, xhr-polling and jsonp-polling (whose callbacks are globals),
// subscribes, and receives a message published through Redis (PUBLISH juggernaut), with
// its seq.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const b = require('./lib/browser.js');
const pkgBuild = require('../../clients/js/build.js');

const { harness } = b;
const SKIP = harness.IS_REFERENCE ? 'the ES module build and .mjs are juggernautd\'s' : false;

const PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ES module client</title>
<script type="module">
  import Juggernaut, { Juggernaut as Named } from "./juggernaut.mjs";
  const params = new URLSearchParams(location.search);
  window.got = [];
  window.esm = { type: typeof Juggernaut, same: Juggernaut === Named,
    global: window.Juggernaut === Juggernaut };
  const opts = { port: Number(location.port) };
  if (params.get("transports")) opts.transports = params.get("transports").split(",");
  const jug = window.jug = new Juggernaut(opts);
  jug.subscribe(params.get("channel"), (data, message) => {
    window.got.push({ data, seq: message.seq, channel: message.channel });
  });
</script></head><body><p>ES module client</p></body></html>`;

let redis, pub, daemon, events, browser;
const pageErrors = [];

before(async () => {
  if (SKIP) return;
  pkgBuild.build();
  const dir = harness.tempDir('jg-esm-public-');
  fs.copyFileSync(path.join(pkgBuild.PKG_DIR, 'dist', 'juggernaut.mjs'), path.join(dir, 'juggernaut.mjs'));
  fs.writeFileSync(path.join(dir, 'esm.html'), PAGE);
  redis = await harness.startRedis();
  pub = await harness.redisClient(redis);
  daemon = await harness.startDaemon({ redisUrl: redis.url, config: { cluster: 'yes', 'public-dir': dir } });
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

test('juggernautd serves the ES module build as text/javascript', { skip: SKIP }, async () => {
  const r = await new Promise((resolve, reject) => {
    http.get(`${daemon.base}/juggernaut.mjs`, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'],
        body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  assert.equal(r.status, 200);
  assert.equal(r.type, 'text/javascript');
  assert.ok(r.body.equals(fs.readFileSync(path.join(pkgBuild.PKG_DIR, 'dist', 'juggernaut.mjs'))));
});

for (const transport of ['websocket', 'xhr-polling', 'jsonp-polling']) {
  test(`<script type="module"> imports the client, subscribes over ${transport}, gets a message published through Redis`,
    { skip: SKIP }, async () => {
      const channel = harness.uid('esm');
      const page = await b.newPage(browser, pageErrors);
      await page.goto(`${daemon.base}/esm.html?channel=${channel}&transports=${transport}`);
      await page.waitForFunction(() => window.jug && window.jug.isConnected() && !!window.jug.sessionID,
        null, { timeout: 15000 });
      const { sid, used, esm } = await page.evaluate(() => ({
        sid: window.jug.sessionID, used: window.jug.transport(), esm: window.esm }));
      assert.deepEqual(esm, { type: 'function', same: true, global: true });
      assert.equal(used, transport);
      await events.subscribed(sid, channel);

      const data = { text: `hello over ${transport}`, n: 1 };
      await pub.publish('juggernaut', JSON.stringify({ channels: [channel], data }));
      await page.waitForFunction(() => window.got.length >= 1, null, { timeout: 10000 });
      const got = await page.evaluate(() => window.got);
      assert.equal(got.length, 1, JSON.stringify(got));
      assert.deepEqual(got[0].data, data);
      assert.equal(got[0].channel, channel);
      assert.ok(Number.isSafeInteger(got[0].seq), `cluster mode: the message carries a seq: ${JSON.stringify(got[0])}`);
      assert.deepEqual(pageErrors, []);
      await page.context().close();
    });
}
