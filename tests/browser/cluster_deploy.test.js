'use strict';
// Issue 12, in the browser: the ORIGINAL application.js (juggernaut@2.1.1) and ours, in
// headless Chromium, over xhr-polling and WebSocket, through real HAProxy (the shipped
// conf/haproxy.cfg: round-robin, no affinity) in front of two juggernautd instances with
// the shipped defaults (cluster yes). While messages flow, each instance in turn is
// SIGTERMed (a rolling deploy: the first is the leader) and started again once it exited.
//   - polling pages, both clients: one session throughout (no disconnect, no new
//     handshake), every message exactly once and in order;
//   - our client over WebSocket: it reconnects and resubscribes with "since": every
//     message exactly once and in order;
//   - the original client over WebSocket: it reconnects as a new session that cannot ask
//     for what it missed: no duplicates, order kept, the loss counted and reported, and
//     bounded (at most what was published during its reconnects).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const b = require('./lib/browser.js');
const ops = require('../integration/lib/ops');
const cl = require('../integration/lib/cluster');

const { harness } = b;
const EVERY_MS = 100;
const N = 120;                       // 12 s of messages

let redis, pub, hp, frontPort, statics, browser;
const inst = [];
const errors = [];

before(async () => {
  redis = await harness.startRedis();
  pub = await harness.redisClient(redis);
  const cluster = await cl.startShippedCluster(redis.url, 2, 'jg-bdeploy-');
  ({ hp, frontPort } = cluster);
  inst.push(...cluster.inst);
  const ours = fs.readFileSync(path.join(b.ROOT, 'public', 'application.js'));
  statics = await b.startStaticServer({
    '/original/application.js': { type: 'text/javascript', body: b.originalApplicationJs() },
    '/ours/application.js': { type: 'text/javascript', body: ours },
    '/original.html': { type: 'text/html; charset=utf-8', body: () => b.clientPage(`${statics.origin}/original/application.js`) },
    '/ours.html': { type: 'text/html; charset=utf-8', body: () => b.clientPage(`${statics.origin}/ours/application.js`) },
  });
  browser = await b.launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (statics) await statics.close();
  if (hp) await hp.stop();
  await Promise.all(inst.filter((i) => i.alive).map((i) => i.daemon.stop('SIGTERM', 15000).catch(() => {})));
  if (pub) pub.disconnect();
  if (redis) await redis.stop();
});

async function leader() {
  for (const i of inst.filter((x) => x.alive)) {
    const s = await i.stats(1500).catch(() => null);
    if (s && s.cluster_leader) return i;
  }
  return null;
}

async function rollingRestart(i) {
  i.daemon.kill('SIGTERM');
  const exit = await i.daemon.exited;
  assert.equal(exit.code, 0, `${i.name} drained and exited 0`);
  await i.start();
}

test('rolling restart behind HAProxy: the original application.js and ours, polling and WebSocket', { timeout: 120000 }, async (t) => {
  await ops.waitFor(leader, 8000, 'a leader');
  const channel = `deploy/${Date.now()}`;
  const pages = [];
  for (const kind of ['original', 'ours']) {
    for (const transport of ['xhr-polling', 'websocket']) {
      const page = await b.newPage(browser, errors);
      await page.goto(`${statics.origin}/${kind}.html`);
      const transports = kind === 'original' ? [transport, transport, transport, transport] : [transport];
      const sid = await b.startClient(page, { host: '127.0.0.1', port: frontPort, transports }, [channel]);
      pages.push({ kind, transport, page, sid });
    }
  }
  // every page has its subscription (a first message reaches all of them)
  await pub.publish('juggernaut', JSON.stringify({ channels: [channel], data: { n: 0 } }));
  for (const p of pages) await b.waitForData(p.page, { n: 0 }, 15000);

  let sent = 0;
  const publishing = (async () => {
    for (let n = 1; n <= N; n++) {
      await pub.publish('juggernaut', JSON.stringify({ channels: [channel], data: { n } }));
      sent = n;
      await new Promise((r) => setTimeout(r, EVERY_MS));
    }
  })();
  await new Promise((r) => setTimeout(r, 2500));
  const first = await leader();
  await rollingRestart(first);
  await ops.waitFor(leader, 8000, 'a leader after the first restart');
  await new Promise((r) => setTimeout(r, 2000));
  await rollingRestart(inst.find((i) => i !== first));
  await publishing;
  t.diagnostic(`published ${sent} messages; both instances restarted in turn`);

  const last = { n: N };
  for (const p of pages) await b.waitForData(p.page, last, 20000).catch(() => {});
  const failures = [];
  for (const p of pages) {
    const got = (await b.received(p.page)).map((d) => d && d.n).filter((n) => typeof n === 'number' && n >= 1);
    const evs = await p.page.evaluate(() => window.events.slice());
    const sidNow = await p.page.evaluate(() => window.jug.sessionID);
    const dups = got.length - new Set(got).size;
    const order = got.filter((n, k) => k && n < got[k - 1]).length;
    const missing = [];
    for (let n = 1; n <= N; n++) if (!got.includes(n)) missing.push(n);
    const disconnects = evs.filter((e) => e === 'disconnect').length;
    const line = `${p.kind} ${p.transport}: ${got.length} received, dup ${dups}, order ${order}, missing ${missing.length}` +
      `${missing.length ? ` [${missing.slice(0, 8).join(',')}]` : ''}, disconnects ${disconnects}, session ${sidNow === p.sid ? 'kept' : 'new'}`;
    t.diagnostic(line);
    if (dups || order) failures.push(line);
    if (p.transport === 'xhr-polling' && (missing.length || disconnects || sidNow !== p.sid)) failures.push(line);
    if (p.kind === 'ours' && missing.length) failures.push(line);
    if (p.kind === 'original' && p.transport === 'websocket') {
      // a reconnect is a new session: what was published while it reconnected is lost, and
      // nothing else (2 restarts; a reconnect takes well under 2 s = 20 messages)
      if (missing.length > 2 * 20) failures.push(`${line} (more than the reconnect windows)`);
    }
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(errors, [], 'no uncaught errors in the pages');
});
