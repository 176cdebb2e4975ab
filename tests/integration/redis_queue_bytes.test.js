'use strict';
// Issue 13: the Redis command queue is bounded by bytes (redis-queue-bytes), not only by
// count. Every command waits in juggernautd (or in hiredis's output buffer) until Redis
// answers; with Redis not answering (CLIENT PAUSE here), handshakes (cluster yes without a
// cluster-secret: each one writes its session record) pile up commands. Past the bound
// they are dropped and counted (redis_commands_dropped_bytes); the gauge redis_queue_bytes
// never passes the bound and goes back down once Redis answers again.

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const ops = require('./lib/ops');

const BOUND = 65536;
let redis;
let rc;
let daemon;

before(async () => {
  redis = await h.startRedis();
  rc = await h.redisClient(redis);
  daemon = await h.startDaemon({ redisUrl: redis.url, config: { cluster: 'yes', 'redis-queue-bytes': BOUND,
    'redis-timeout': 30, 'drain-period': 0 } });
});

after(async () => {
  if (daemon) await daemon.stop();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

test('redis-queue-bytes: with Redis not answering, handshakes queue at most the bound; the rest are dropped and counted', { timeout: 30000 }, async () => {
  await rc.call('CLIENT', 'PAUSE', '4000', 'ALL');
  const t0 = Date.now();
  let maxQueued = 0;
  for (let i = 0; i < 600 && Date.now() - t0 < 3000; i += 20) {
    const batch = [];
    for (let k = 0; k < 20; k++) batch.push(ops.httpGet(daemon.port, `/socket.io/1/?t=${i + k}`));
    for (const r of await Promise.all(batch)) assert.equal(r.status, 200, 'handshakes are still answered');
    maxQueued = Math.max(maxQueued, (await ops.getStats(daemon.port)).redis_queue_bytes);
  }
  const st = await ops.getStats(daemon.port);
  assert.ok(Date.now() - t0 < 4000, 'the flood ran while Redis was paused');
  assert.ok(st.redis_commands_dropped_bytes > 0, `commands dropped past the bound (${st.redis_commands_dropped_bytes})`);
  assert.ok(maxQueued <= BOUND && maxQueued > BOUND / 2, `queued bytes ${maxQueued} stay within ${BOUND}`);
  assert.match(daemon.logs(), /bytes of commands waiting \(redis-queue-bytes 65536\); dropping/);
  await ops.waitFor(async () => (await ops.getStats(daemon.port)).redis_queue_bytes < 4096, 10000,
    'the queue drains once Redis answers');
  const after = await ops.httpGet(daemon.port, '/socket.io/1/?t=after');
  assert.equal(after.status, 200);
});
