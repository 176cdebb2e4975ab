'use strict';
// Issue 17: the admin console (GET /console on the admin port) in headless Chromium, against
// two real juggernautd instances in cluster mode (the shipped default) on one real Redis.
// The page is refused without the publish-token (HTTP Basic, the token as password) and not
// served on the public port; with it, it shows the live connection count (it changes when a
// client connects), the busiest channels, a channel's presence, both cluster members and the
// leader, draws its charts, and its publish form reaches a real subscribed socket.io client.
// The screenshot goes to a temporary file; JG_UPDATE_SCREENSHOT=1 writes
// docs/admin-console.png (the README's picture) instead.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const b = require('./lib/browser.js');

const { harness: h } = b;
const ops = require('../integration/lib/ops');

const SKIP = h.IS_REFERENCE ? 'the admin console is a juggernautd addition' : false;
const TOKEN = 'console-test-token-0123456789';
let redis, rc, d1, d2, admin1, admin2, browser, page;
const pageErrors = [];

before(async () => {
  if (SKIP) return;
  redis = await h.startRedis();
  rc = await h.redisClient(redis);
  admin1 = await h.freePort();
  admin2 = await h.freePort();
  const config = { cluster: 'yes', 'publish-token': TOKEN, 'drain-period': 0 };
  d1 = await h.startDaemon({ redisUrl: redis.url, config: Object.assign({ 'admin-port': admin1 }, config) });
  d2 = await h.startDaemon({ redisUrl: redis.url, config: Object.assign({ 'admin-port': admin2 }, config) });
  browser = await b.launchBrowser();
});

after(async () => {
  h.closeAllClients();
  if (browser) await browser.close();
  if (d1) await d1.stop();
  if (d2) await d2.stop();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

const consoleUrl = (port) => `http://127.0.0.1:${port}/console`;
const textOf = (id) => page.locator(`#${id}`).textContent();

async function waitText(id, pred, what, ms = 8000) {
  let last;
  await ops.waitFor(async () => pred((last = await textOf(id))), ms, `${what} (#${id} shows ${JSON.stringify(last)})`);
  return last;
}

test('refused without the publish-token, and not served on the public port', { skip: SKIP, timeout: 30000 }, async () => {
  const ctx = await browser.newContext();
  try {
    const p = await ctx.newPage();
    for (const url of [consoleUrl(admin1), `${consoleUrl(admin1)}/state`]) {
      // headless Chromium with no credential to give fails the navigation on the 401's
      // Basic challenge: the answer itself is what we check
      const [r, nav] = await Promise.all([p.waitForResponse((res) => res.url() === url),
        p.goto(url).then(() => null, (e) => e)]);
      assert.equal(r.status(), 401, url);
      assert.match(r.headers()['www-authenticate'], /^Basic realm=/);
      assert.ok(!(await r.text()).includes('chart-messages'), 'no page without the credential');
      assert.ok(nav === null || /ERR_INVALID_AUTH_CREDENTIALS/.test(nav.message), String(nav));
    }
  } finally {
    await ctx.close();
  }
  const wrong = await browser.newContext({ httpCredentials: { username: 'admin', password: 'not-the-token-0123456789' } });
  try {
    const p = await wrong.newPage();
    const [r] = await Promise.all([p.waitForResponse((res) => res.url() === consoleUrl(admin1)),
      p.goto(consoleUrl(admin1)).catch(() => null)]);
    assert.equal(r.status(), 401, 'a wrong password');
  } finally {
    await wrong.close();
  }
  const pub = await ops.httpGet(d1.port, '/console');
  assert.equal(pub.status, 404, 'the public port does not serve the console');
  // the JSON endpoints take the token as a bearer too (curl, scripts)
  const bearer = await new Promise((resolve, reject) => {
    require('node:http').get({ host: '127.0.0.1', port: admin1, path: '/console/state', agent: false,
      headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
  assert.equal(bearer.status, 200);
  assert.equal(JSON.parse(bearer.body).cluster, true);
});

test('with the token: live connections, channels, presence, cluster members, charts; publishing reaches a client', { skip: SKIP, timeout: 90000 }, async () => {
  const ctx = await browser.newContext({ httpCredentials: { username: 'admin', password: TOKEN },
    viewport: { width: 1360, height: 1000 } });
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e && e.message || e)));
  const r = await page.goto(consoleUrl(admin1));
  assert.equal(r.status(), 200);
  assert.match(r.headers()['content-type'], /^text\/html/);

  // the live connection count moves when a client connects to this instance
  const before0 = Number(await waitText('conn-websocket', (t) => /^\d+$/.test(t), 'a WebSocket count'));
  const channel = h.uid('console');
  const client = await h.sioConnect(d1.base, { transports: ['websocket'] });
  client.send({ type: 'subscribe', channel });
  await waitText('conn-websocket', (t) => Number(t) === before0 + 1, 'one more WebSocket');
  await waitText('subscriptions', (t) => Number(t) >= 1, 'the subscription');

  // more clients on a few channels (others[1], xhr-polling on this instance, and others[0],
  // on the other instance, on ours), some traffic for the charts, some traffic for the charts
  const others = [];
  for (let i = 0; i < 4; i++) {
    const c = await h.sioConnect(i % 2 ? d1.base : d2.base, { transports: [i === 1 ? 'xhr-polling' : 'websocket'] });
    c.send({ type: 'subscribe', channel: i < 2 ? channel : `news-${i}` });
    others.push(c);
  }
  for (let i = 0; i < 30; i++) {
    await rc.publish('juggernaut', JSON.stringify({ channels: [channel, 'news-2'], data: { n: i } }));
    await h.sleep(100);
  }
  await waitText('rate-in', (t) => Number(t) > 0, 'messages in per second');
  await waitText('rate-out', (t) => Number(t) > 0, 'deliveries per second');
  const painted = await page.evaluate(() => {
    const c = document.getElementById('chart-messages');
    const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i]) n++;
    return n;
  });
  assert.ok(painted > 500, `the message chart is drawn (${painted} pixels)`);

  // the busiest channels: ours, with its two subscribers on this instance
  await ops.waitFor(async () => (await page.locator('#channels').textContent()).includes(channel), 5000, 'channel listed');
  const row = page.locator('#channels tr', { hasText: channel });
  assert.equal((await row.locator('td').nth(1).textContent()).trim(), '2');

  // cluster: both instances, one of them the leader
  await ops.waitFor(async () => (await page.locator('#members tr').count()) === 2, 8000, 'two members');
  const leader = (await textOf('leader')).trim();
  const ids = await page.locator('#members tr td:first-child').allTextContents();
  assert.ok(ids.some((t) => t.startsWith(leader) && t.includes('leader')), `the leader ${leader} is marked among ${ids}`);

  // presence of the channel: three sessions (two here, one on the other instance)
  await page.fill('#presence-channel', channel);
  await page.click('#presence-form button');
  await waitText('presence-result', (t) => t.startsWith(`3 session(s) in ${channel}`), 'presence');

  // publish from the page: the subscribed client gets it
  await page.fill('#publish-channel', channel);
  await page.fill('#publish-data', '{"text":"hello from the console"}');
  await page.click('#publish-form button');
  await waitText('publish-result', (t) => t.startsWith(`published to ${channel}`), 'publish answered');
  const got = await client.waitForMessage((t, j) => j && j.data && j.data.text === 'hello from the console');
  assert.ok(got);
  await others[1].waitForMessage((t, j) => j && j.data && j.data.text === 'hello from the console');

  // a publish that is not one is refused with its reason on the page
  await page.fill('#publish-channel', channel);
  await page.evaluate(() => fetch('/console/publish', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '[1]' })
    .then((res) => res.status)).then((s) => assert.equal(s, 400));

  const out = process.env.JG_UPDATE_SCREENSHOT === '1'
    ? path.join(h.REPO, 'docs', 'admin-console.png')
    : path.join(h.tempDir('jg-console-'), 'admin-console.png');
  await page.screenshot({ path: out, fullPage: true });
  assert.ok(fs.statSync(out).size > 20000, 'a screenshot');
  assert.deepEqual(pageErrors, [], 'no error in the page');
  await ctx.close();
});
