'use strict';
// Issue 2 "core" list with socket.io-client 0.9.16 over WebSocket, against a real
// juggernautd and a real redis-server started here (default timers: heartbeat interval
// 10 s, heartbeat timeout 15 s).

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

const T_TEST = 120000; // cap for each describe (and, inherited, each of its tests)
const T_HOOK = { timeout: 60000 };
// SIGTERM drains sessions over drain-period (default 10 s); the tests here do not test
// draining, so keep stop() quick. Every other setting is the default unless stated.
const FAST_STOP = { 'drain-period': 1 };
// The cluster-mode daemon writes to its clients through io_uring (io-uring yes, the
// default); the other one with a writev(2) per client (io-uring no), as on a kernel that
// refuses io_uring: the core list holds for both ways of writing.
const WRITEV = { 'io-uring': 'no' };
const { defineCoreSuite, fix } = require('./lib/core-suite');

let redis;
let daemon;
let clusterDaemon; // the same Redis, cluster mode on: a cluster of one
let events;
let pub;
let sentinel; // an idle client connected for the whole file (protocol.md §14 item 60)
let sentinelChannel;
let startedAt;

before(async () => {
  redis = await h.startRedis();
  daemon = await h.startDaemon({ redisUrl: redis.url, config: { ...FAST_STOP, ...WRITEV } });
  clusterDaemon = await h.startDaemon({ redisUrl: redis.url, config: { ...FAST_STOP, cluster: 'yes' } });
  events = await h.eventCollector(redis);
  pub = await h.redisClient(redis);
  startedAt = Date.now();
  sentinel = await h.sioConnect(daemon.base, { transports: ['websocket'] });
  sentinelChannel = h.uid('sentinel');
  sentinel.subscribe(sentinelChannel);
  await events.waitFor((e) => e.channel === 'juggernaut:subscribe' && e.json.session_id === sentinel.sid);
}, T_HOOK);

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  try {
    if (daemon) await daemon.stop();
    if (clusterDaemon) await clusterDaemon.stop();
  } finally {
    if (redis) await redis.stop();
  }
}, T_HOOK);

describe('websocket core', { timeout: T_TEST }, () => {
  defineCoreSuite({ transport: 'websocket', env: () => ({ daemon, redis, events, pub }) });
});

describe('websocket core, cluster mode (a cluster of one)', { timeout: T_TEST }, () => {
  defineCoreSuite({ transport: 'websocket', cluster: true, env: () => ({ daemon: clusterDaemon, redis, events, pub }) });
});

describe('websocket idle client', { timeout: T_TEST }, () => {
  test('socket.io-client 0.9.16 stays connected while idle past the heartbeat timeout (heartbeats every 10 s < 15 s)',
    fix('heartbeat interval 10 s (original: 20 s > advertised 15 s timeout)'), async () => {
      // the sentinel has been idle since before(); make sure > 2 heartbeat intervals passed
      const idleFor = 21000;
      const wait = startedAt + idleFor - Date.now();
      if (wait > 0) await h.sleep(wait);
      assert.equal(sentinel.disconnectReason, null, `idle client was disconnected (${sentinel.disconnectReason})`);
      assert.equal(sentinel.messages.length, 0, 'nothing was published to the sentinel yet');
      await pub.publish('juggernaut', JSON.stringify({ channels: [sentinelChannel], data: 'still here' }));
      assert.equal(await sentinel.nthMessage(1, 5000), `{"data":"still here","channel":"${sentinelChannel}"}`);
    });
});

describe('websocket writes: io_uring batches, or writev', { timeout: T_TEST }, () => {
  test('a message to 20 subscribers goes out in io_uring batches by default, with writev under io-uring no', async () => {
    for (const [d, batched] of [[clusterDaemon, true], [daemon, false]]) {
      const ch = h.uid('batch');
      const clients = [];
      for (let i = 0; i < 20; i++) {
        const c = await h.sioConnect(d.base, { transports: ['websocket'], stripSeq: batched });
        c.subscribe(ch);
        clients.push(c);
      }
      await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.channel === ch, 20, 5000);
      const s0 = (await h.getJson(d.base, '/stats')).json;
      await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: 'to all' }));
      for (const c of clients)
        assert.equal(await c.nthMessage(1, 5000), `{"data":"to all","channel":"${ch}"}`);
      const s1 = (await h.getJson(d.base, '/stats')).json;
      if (batched) {
        assert.ok(s1.send_batches > s0.send_batches, `send_batches grew: ${s0.send_batches} -> ${s1.send_batches}`);
      } else {
        assert.equal(s1.send_batches, 0, 'io-uring no: no batch was sent');
        assert.ok(s1.writev_calls - s0.writev_calls >= 20, `a writev per client: ${s0.writev_calls} -> ${s1.writev_calls}`);
      }
      for (const c of clients) c.close();
    }
  });
});
