'use strict';
// Issue 13: the Redis command queue is bounded by bytes (redis-queue-bytes), not only by
// count. Every command waits in juggernautd (or in hiredis's output buffer) until Redis
// answers; with Redis not answering (CLIENT PAUSE here), publishes through the admin API
// (POST /publish: one FCALL jg_publish each, carrying the message) pile up. Past the bound
// they are dropped and counted (redis_commands_dropped_bytes), their publishers get 503;
// the gauge redis_queue_bytes never passes the bound and goes back down once Redis answers.
// (Handshakes cost Redis nothing in cluster mode: sids are signed, records wait for use.)

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./lib/harness');
const ops = require('./lib/ops');

const BOUND = 65536;
const TOKEN = 'publish-token-0123456789abcdef';
let redis;
let rc;
let daemon;
let admin;

function publish(port, body) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/publish', agent: false,
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(null));
    req.setTimeout(15000, () => { req.destroy(); resolve(null); });
    req.end(body);
  });
}

before(async () => {
  redis = await h.startRedis();
  rc = await h.redisClient(redis);
  admin = await h.freePort();
  daemon = await h.startDaemon({ redisUrl: redis.url, config: { cluster: 'yes', 'redis-queue-bytes': BOUND,
    'redis-timeout': 30, 'drain-period': 0, 'admin-port': admin, 'admin-bind': '127.0.0.1', 'publish-token': TOKEN } });
});

after(async () => {
  if (daemon) await daemon.stop();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

test('redis-queue-bytes: with Redis not answering, queued commands stay within the bound; the rest are dropped and counted', { timeout: 30000 }, async () => {
  // a handshake in cluster mode writes nothing to Redis (a signed sid)
  await ops.waitFor(async () => (await ops.httpGet(daemon.port, '/socket.io/1/')).body.split(':')[0].length === 38, 5000,
    'handshakes issue signed sids (the shared secret was read from Redis)');
  await rc.call('CLIENT', 'PAUSE', '4000', 'ALL');
  const t0 = Date.now();
  const data = 'x'.repeat(1000);
  const answers = [];
  let maxQueued = 0;
  for (let i = 0; i < 200 && Date.now() - t0 < 2500; i += 20) {
    for (let k = 0; k < 20; k++)
      answers.push(publish(admin, JSON.stringify({ channels: ['q'], data: `${i + k}:${data}` })));
    await new Promise((r) => setTimeout(r, 20));
    maxQueued = Math.max(maxQueued, (await ops.getStats(admin)).redis_queue_bytes);
  }
  const st = await ops.getStats(admin);
  assert.ok(Date.now() - t0 < 4000, 'the flood ran while Redis was paused');
  assert.ok(st.redis_commands_dropped_bytes > 0, `commands dropped past the bound (${st.redis_commands_dropped_bytes})`);
  assert.ok(maxQueued <= BOUND && maxQueued > BOUND / 2, `queued bytes ${maxQueued} stay within ${BOUND}`);
  assert.match(daemon.logs(), /bytes of commands waiting \(redis-queue-bytes 65536\); dropping/);
  const statuses = await Promise.all(answers);
  const ok = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 503).length;
  assert.equal(ok + refused, statuses.length, `every publisher is answered 200 or 503 (${JSON.stringify(statuses)})`);
  assert.ok(ok > 0 && refused > 0, `some publishes queued and went through (${ok}), the rest refused (${refused})`);
  await ops.waitFor(async () => (await ops.getStats(admin)).redis_queue_bytes < 4096, 10000,
    'the queue drains once Redis answers');
  assert.equal(await publish(admin, JSON.stringify({ channels: ['q'], data: 'after' })), 200);
});
