'use strict';
// Issue 17: the admin console's endpoints (src/app/console.c) without a browser, so they run
// under ASan+UBSan in `make check-asan` (tests/browser/console.test.js drives the page):
// off without a publish-token, the credential (Basic with the token as password, or
// Bearer; wrong, malformed or oversized ones refused and counted), /console/state and
// /console/publish with `cluster no` and in cluster mode, and the console absent from the
// public port.

const { before, after, describe, test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./lib/harness');
const ops = require('./lib/ops');

const TOKEN = 'console-api-token-0123456789';
const basic = (user, pass) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
let redis;

before(async () => { redis = await h.startRedis(); });
after(async () => {
  h.closeAllClients();
  if (redis) await redis.stop();
});

function request(port, method, p, headers = {}, body = null) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body !== null) req.write(body);
    req.end();
  });
}

test('without a publish-token the console is off', async () => {
  const admin = await h.freePort();
  const d = await h.startDaemon({ redisUrl: redis.url, config: { 'admin-port': admin, 'drain-period': 0 } });
  try {
    const r = await request(admin, 'GET', '/console', { Authorization: basic('a', '') });
    assert.equal(r.status, 404);
    assert.match(r.body, /set publish-token/);
  } finally {
    await d.stop();
  }
});

for (const cluster of ['no', 'yes']) {
  describe(`cluster ${cluster}`, () => {
    let d;
    let admin;
    before(async () => {
      admin = await h.freePort();
      d = await h.startDaemon({ redisUrl: redis.url, config: { cluster, 'admin-port': admin, 'publish-token': TOKEN, 'drain-period': 0 } });
    });
    after(async () => { if (d) await d.stop(); });

    test('the credential: Basic (any user, the token as password) or Bearer; everything else 401, counted', async () => {
      const refusedBefore = (await ops.getStats(admin)).auth_refused;
      const bad = [{}, { Authorization: basic('admin', 'wrong-token-0123456789') }, { Authorization: basic('admin', TOKEN.slice(0, -1)) },
        { Authorization: basic(TOKEN, '') }, { Authorization: 'Basic !!!not-base64' }, { Authorization: `Basic ${'QUFB'.repeat(400)}` },
        { Authorization: `Bearer ${TOKEN}x` }, { Authorization: TOKEN }, { Authorization: `Basic ${Buffer.from(TOKEN).toString('base64')}` }];
      for (const headers of bad) {
        const r = await request(admin, 'GET', '/console', headers);
        assert.equal(r.status, 401, JSON.stringify(headers));
        assert.match(r.headers['www-authenticate'], /^Basic realm="juggernautd admin"/);
        assert.ok(!r.body.includes('<canvas'));
      }
      assert.equal((await ops.getStats(admin)).auth_refused, refusedBefore + bad.length);
      for (const auth of [basic('admin', TOKEN), basic('', TOKEN), `Bearer ${TOKEN}`]) {
        const r = await request(admin, 'GET', '/console', { Authorization: auth });
        assert.equal(r.status, 200, auth);
        assert.match(r.headers['content-type'], /^text\/html/);
        assert.match(r.headers['content-security-policy'], /default-src 'self'/);
        assert.ok(r.body.includes('<canvas id="chart-messages"'));
        assert.ok(!/<script[^>]+src=/.test(r.body), 'nothing loaded from elsewhere');
      }
      assert.equal((await request(admin, 'GET', '/console/nothing', { Authorization: `Bearer ${TOKEN}` })).status, 404);
      assert.equal((await request(admin, 'GET', '/consolex', { Authorization: `Bearer ${TOKEN}` })).status, 404);
      // the public port has no console
      assert.equal((await request(d.port, 'GET', '/console', { Authorization: `Bearer ${TOKEN}` })).status, 404);
      const post = await request(d.port, 'POST', '/console/publish', { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        '{"channels":["x"],"data":1}');
      assert.equal(post.status, 405, 'the public port takes no POST but socket.io\'s');
    });

    test('/console/state, /console/presence and /console/publish', { timeout: 30000 }, async () => {
      const auth = { Authorization: basic('admin', TOKEN) };
      const channel = h.uid('cons');
      const c = await h.sioConnect(d.base, { transports: ['websocket'] });
      c.send({ type: 'subscribe', channel });
      await ops.waitFor(async () => (await ops.getStats(admin)).subscriptions >= 1, 5000, 'subscribed');

      const st = JSON.parse((await request(admin, 'GET', '/console/state', auth)).body);
      assert.equal(st.cluster, cluster === 'yes');
      assert.equal(st.stats.ws_connections, 1);
      assert.deepEqual(st.stats.top_channels, [{ channel, subscribers: 1 }]);
      if (cluster === 'yes') {
        assert.equal(typeof st.instance, 'string');
        assert.deepEqual(st.members.map((m) => m.id), [st.instance]);
        assert.equal(st.members[0].sessions, 1);
        await ops.waitFor(async () => JSON.parse((await request(admin, 'GET', '/console/state', auth)).body).leader === st.instance,
          8000, 'this instance leads');
        const p = await request(admin, 'GET', `/console/presence/${encodeURIComponent(channel)}`, auth);
        assert.equal(p.status, 200);
        assert.equal(JSON.parse(p.body).sessions, 1);
      } else {
        assert.equal(st.instance, null);
        assert.equal(st.leader, null);
        assert.deepEqual(st.members, []);
        assert.equal((await request(admin, 'GET', `/console/presence/${channel}`, auth)).status, 404);
      }
      assert.equal((await request(admin, 'GET', '/console/presence/%00', auth)).status, cluster === 'yes' ? 400 : 404);

      const json = Object.assign({ 'Content-Type': 'application/json' }, auth);
      const msg = JSON.stringify({ channels: [channel], data: { from: 'console' } });
      assert.equal((await request(admin, 'POST', '/console/publish', Object.assign({}, auth, { 'Content-Type': 'text/plain' }), msg)).status, 415);
      assert.equal((await request(admin, 'POST', '/console/publish', auth, msg)).status, 415);
      for (const body of ['', 'not json', '[1]', '{"channels":["x"]}', '{"data":1}']) {
        const r = await request(admin, 'POST', '/console/publish', json, body);
        assert.equal(r.status, 400, body);
        assert.match(JSON.parse(r.body).error, /Juggernaut publish/);
      }
      assert.equal((await request(admin, 'POST', '/console/publish', { 'Content-Type': 'application/json' }, msg)).status, 401);
      assert.equal(c.messages.length, 0, 'nothing refused went out');
      const r = await request(admin, 'POST', '/console/publish', json, msg);
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).instances, 1);
      const got = await c.waitForMessage((t, j) => j && j.data && j.data.from === 'console');
      assert.equal(got.json.channel, channel);
    });
  });
}

test('Redis away: /console/state still answers (members unknown), /console/publish is 503 at once', { timeout: 30000 }, async () => {
  const r2 = await h.startRedis();
  const admin = await h.freePort();
  const d = await h.startDaemon({ redisUrl: r2.url, config: { cluster: 'yes', 'admin-port': admin, 'publish-token': TOKEN, 'drain-period': 0 } });
  try {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    await r2.stop();
    await ops.waitFor(async () => (await ops.getStats(admin)).redis_connected === false, 5000, 'Redis seen down');
    const st = await request(admin, 'GET', '/console/state', auth);
    assert.equal(st.status, 200);
    const j = JSON.parse(st.body);
    assert.equal(j.members, null);
    assert.equal(j.redis_error, true);
    assert.equal(j.stats.redis_connected, false);
    const p = await request(admin, 'POST', '/console/publish', Object.assign({ 'Content-Type': 'application/json' }, auth),
      JSON.stringify({ channels: ['x'], data: 1 }));
    assert.equal(p.status, 503);
    assert.deepEqual(JSON.parse(p.body), { error: 'redis unavailable' });
  } finally {
    await d.stop();
  }
});
