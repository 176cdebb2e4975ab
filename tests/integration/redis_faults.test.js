'use strict';
// Hardening (issue "Hardening", point 4): Redis misbehaving under a running juggernautd.
// Each test has its own redis-server and daemon (they get killed, paused, misconfigured);
// the wrong-password test (it waits out a 4 s /health grace) runs alongside the
// others. Every scenario ends with the hostile.test.js check: a new normal client
// connects, subscribes and receives, and RSS is back near its baseline.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const x = require('./lib/hostile');

const ONLY_OURS = h.IS_REFERENCE ? 'juggernautd Redis handling (the original exits or hangs)' : false;
const HEALTH_GRACE = 4; // s, config health-redis-grace: /health stays 200 this long after Redis went away

/* Own Redis (redisArgs) + daemon (config), collector and publisher. */
async function setup(config = {}, { redisArgs = [], redisUrl, subscribed } = {}) {
  const redis = await h.startRedis({ args: redisArgs });
  const env = { redis, clients: [] };
  try {
    if (!redisArgs.includes('--requirepass')) {
      env.events = await h.eventCollector(redis);
      env.pub = await h.redisClient(redis);
    }
    env.daemon = await h.startDaemon({
      redisUrl: redisUrl ? redisUrl(redis) : redis.url,
      config: Object.assign({ 'drain-period': 0 }, config),
      env: x.daemonEnv(),
      subscribed,
    });
  } catch (e) {
    await teardown(env);
    throw e;
  }
  return env;
}

async function teardown(env) {
  for (const c of env.clients) c.close();
  if (env.events) await env.events.close();
  if (env.pub) env.pub.disconnect();
  try {
    if (env.daemon) await env.daemon.stop();
  } finally {
    await env.redis.stop();
  }
}

/* A socket.io-client 0.9.16 WebSocket client closed by teardown (not closeAllClients: the
 * tests of this file run two at a time). */
async function connect(env) {
  const c = await h.sioConnect(env.daemon.base, { transports: ['websocket'] });
  env.clients.push(c);
  return c;
}

/* The daemon sees both Redis links up and Redis shows it subscribed to "juggernaut". */
async function redisBack(env, ms = 10000) {
  await x.until(async () => (await x.stats(env.daemon)).redis_connected, ms, 'redis_connected');
  await x.until(async () => (await h.numsub(env.pub)) >= 1, ms, 'the daemon subscribed to juggernaut again');
}

const isEvent = (channel, sid, ch) => (e) => e.channel === channel && e.json && e.json.session_id === sid &&
  (ch === undefined || e.json.channel === ch);

function logLines(daemon, re) {
  return daemon.logs().split('\n').filter((l) => re.test(l));
}

describe('redis faults', { skip: ONLY_OURS, concurrency: 2 }, () => {
  test('a wrong Redis password: one clear log line per link, retries, /health 503 only after the grace, no crash; ' +
    'the right password works', async () => {
    const right = 'right-password-0123';
    const wrong = 'wrong-password-4567';
    const env = await setup({ 'health-redis-grace': HEALTH_GRACE }, {
      redisArgs: ['--requirepass', right],
      redisUrl: (r) => `redis://:${wrong}@127.0.0.1:${r.port}`,
      subscribed: false,
    });
    const started = Date.now();
    const baseline = x.rss(env.daemon.pid);
    const Redis = require('ioredis');
    const admin = new Redis({ host: '127.0.0.1', port: env.redis.port, password: right, lazyConnect: true });
    admin.on('error', () => {});
    // connected with the right password; stays authenticated when requirepass changes below
    const events = await x.authedEventCollector(env.redis.port, right);
    try {
      await admin.connect();
      const connectionsReceived = async () => Number(/total_connections_received:(\d+)/.exec(await admin.info('stats'))[1]);
      const c0 = await connectionsReceived();
      // socket.io keeps working without Redis; this subscribe event waits in the queue
      const client = await connect(env);
      client.channel = h.uid('nopw');
      client.subscribe(client.channel);
      let firstUnhealthy = null;
      while (Date.now() - started < (HEALTH_GRACE + 12) * 1000) {
        const r = await h.httpRequest(env.daemon.port, 'GET', '/health', {});
        if (r.status === 503) { firstUnhealthy = Date.now() - started; break; }
        assert.equal(r.status, 200, `/health answered ${r.status} ${r.bodyText}`);
        env.daemon.assertAlive();
        await h.sleep(1000);
      }
      assert.ok(firstUnhealthy !== null, '/health never turned 503 while Redis refused the password');
      assert.ok(firstUnhealthy >= (HEALTH_GRACE - 1) * 1000, `/health turned 503 after ${firstUnhealthy} ms, before the grace`);
      assert.equal((await x.stats(env.daemon)).redis_connected, false);
      assert.equal(client.disconnectReason, null, 'the client stayed connected');
      // retried all along (backoff 0.1 s doubling up to 2 s, two links), logged once per link
      const attempts = (await connectionsReceived()) - c0;
      assert.ok(attempts >= 4, `only ${attempts} connection attempts in ${firstUnhealthy} ms`);
      const refused = logLines(env.daemon, /AUTH\/SELECT refused/);
      assert.equal(refused.length, 2, `one line per link (subscriber, publisher):\n${refused.join('\n')}`);
      assert.match(refused[0], /WRONGPASS|invalid password|invalid username-password/i);
      assert.match(refused[0], /check the password/);
      assert.deepEqual(events.matching(isEvent('juggernaut:subscribe', client.sid)), []);
      // the password the daemon has becomes the right one: the next retry gets in, and the
      // event queued meanwhile is published
      await admin.config('SET', 'requirepass', wrong);
      await x.until(async () => (await x.stats(env.daemon)).redis_connected, 10000, 'redis_connected after the fix');
      await events.waitFor(isEvent('juggernaut:subscribe', client.sid, client.channel), 5000, 'the queued subscribe event');
      assert.equal((await h.httpRequest(env.daemon.port, 'GET', '/health', {})).status, 200);
      await x.assertRecovered({ daemon: env.daemon, events, pub: admin, clients: env.clients },
        { baseline, bystander: client, what: 'a wrong Redis password' });
      client.close();
      await env.daemon.stop();
      // and a daemon restarted with the right password works from the start
      await admin.config('SET', 'requirepass', right);
      env.daemon = await h.startDaemon({
        redisUrl: `redis://:${right}@127.0.0.1:${env.redis.port}`,
        config: { 'drain-period': 0 },
        env: x.daemonEnv(),
        subscribed: false,
      });
      await x.until(async () => (await x.stats(env.daemon)).redis_connected, 10000, 'redis_connected');
      const c2 = await x.subscribedClient({ daemon: env.daemon, events, clients: env.clients }, 'pw');
      await x.roundTrip({ pub: admin }, c2, 'authenticated');
      c2.close();
      assert.equal(logLines(env.daemon, /AUTH\/SELECT refused/).length, 0);
    } finally {
      admin.disconnect();
      await events.close();
      await teardown(env);
    }
  });

  test('Redis killed and restarted on the same port: clients stay, events from the outage are published after it', async () => {
    const env = await setup();
    try {
      const a = await x.subscribedClient(env, 'a');
      await x.roundTrip(env, a);
      const baseline = x.rss(env.daemon.pid);
      env.redis.kill('SIGKILL');
      await h.waitExit(env.redis.child, 5000);
      await x.until(async () => !(await x.stats(env.daemon)).redis_connected, 5000, 'redis_connected false');
      // events produced while Redis is away
      const b = await connect(env);
      const chB = h.uid('b');
      const chA2 = h.uid('a2');
      b.subscribe(chB);
      a.subscribe(chA2);
      a.event({ while: 'down' });
      await x.until(async () => (await x.stats(env.daemon)).client_messages >= 3, 3000, 'the daemon got the messages');
      await h.sleep(1200); // a few reconnect attempts
      // Freeze the daemon while Redis restarts so the test's own subscriber is back before
      // the daemon flushes its queue (otherwise the events could go by unseen).
      process.kill(env.daemon.pid, 'SIGSTOP');
      try {
        await env.redis.restart();
        await x.until(async () => {
          const r = await env.pub.pubsub('NUMSUB', 'juggernaut:subscribe', 'juggernaut:custom').catch(() => null);
          return r && Number(r[1]) >= 1 && Number(r[3]) >= 1;
        }, 10000, 'the collector subscribed again');
      } finally {
        process.kill(env.daemon.pid, 'SIGCONT');
      }
      const evB = await env.events.waitFor(isEvent('juggernaut:subscribe', b.sid, chB), 10000, 'the subscribe of b');
      const evA2 = await env.events.waitFor(isEvent('juggernaut:subscribe', a.sid, chA2), 5000, 'the subscribe of a');
      const evCustom = await env.events.waitFor((e) => e.channel === 'juggernaut:custom' && e.json &&
        e.json.session_id === a.sid && e.json.data && e.json.data.while === 'down', 5000, 'the custom event');
      assert.ok(evB);
      // one session's events keep their order (b's and a's come over different sockets)
      assert.ok(env.events.events.indexOf(evA2) < env.events.events.indexOf(evCustom), 'in the order they were produced');
      await redisBack(env);
      assert.equal(a.disconnectReason, null);
      assert.equal(b.disconnectReason, null);
      await env.pub.publish('juggernaut', JSON.stringify({ channels: [chA2, chB], data: 'after restart' }));
      await a.waitForMessage((t, j) => j && j.channel === chA2 && j.data === 'after restart');
      await b.waitForMessage((t, j) => j && j.channel === chB && j.data === 'after restart');
      assert.ok(logLines(env.daemon, /link to .* lost/).length >= 1, 'the loss is logged');
      assert.ok(logLines(env.daemon, /link up/).length >= 4, 'both links came back');
      const st = await x.stats(env.daemon);
      assert.equal(st.events_dropped, 0);
      b.close();
      await x.assertRecovered(env, { baseline, bystander: a, what: 'Redis restart' });
    } finally {
      await teardown(env);
    }
  });

  test('Redis paused (SIGSTOP 3 s > redis-timeout 1): the daemon reconnects, clients stay, later messages arrive', async () => {
    const env = await setup({ 'redis-timeout': 1 });
    let paused = false;
    try {
      const a = await x.subscribedClient(env, 'a');
      await x.roundTrip(env, a);
      const baseline = x.rss(env.daemon.pid);
      const reconnects0 = (await x.stats(env.daemon)).redis_reconnects;
      env.redis.kill('SIGSTOP');
      const pausedAt = Date.now();
      paused = true;
      const chA2 = h.uid('a2');
      a.subscribe(chA2); // produced while Redis does not answer
      await x.until(async () => !(await x.stats(env.daemon)).redis_connected, 3000, 'the watchdog to notice');
      await h.sleep(pausedAt + 3000 - Date.now());
      env.redis.kill('SIGCONT');
      paused = false;
      await redisBack(env);
      const ev = await env.events.waitFor(isEvent('juggernaut:subscribe', a.sid, chA2), 10000, 'the subscribe made during the pause');
      assert.ok(ev);
      assert.equal(a.disconnectReason, null);
      await env.pub.publish('juggernaut', JSON.stringify({ channels: [chA2], data: 'after pause' }));
      await a.waitForMessage((t, j) => j && j.channel === chA2 && j.data === 'after pause');
      assert.ok(logLines(env.daemon, /no answer to PING within 1 s/).length >= 1,
        `the watchdog is logged:\n${env.daemon.logs().slice(-3000)}`);
      const st = await x.stats(env.daemon);
      assert.ok(st.redis_reconnects >= reconnects0 + 2, `redis_reconnects ${reconnects0} -> ${st.redis_reconnects}`);
      const lines = logLines(env.daemon, /redis (subscriber|publisher) link/);
      assert.ok(lines.length < 40, `${lines.length} redis log lines for one 3 s pause:\n${lines.join('\n')}`);
      await x.assertRecovered(env, { baseline, bystander: a, what: 'Redis pause' });
    } finally {
      if (paused) env.redis.kill('SIGCONT');
      await teardown(env);
    }
  });

  test('a message over max-publish-size is dropped and counted; the next one arrives', async () => {
    const env = await setup({ 'max-publish-size': '1k' });
    try {
      const a = await x.subscribedClient(env, 'a');
      const baseline = x.rss(env.daemon.pid);
      const st0 = await x.stats(env.daemon);
      const big = JSON.stringify({ channels: [a.channel], data: 'B'.repeat(2000) });
      await env.pub.publish('juggernaut', big);
      await env.pub.publish('juggernaut', JSON.stringify({ channels: [a.channel], data: 'small' }));
      const m = await a.nthMessage(1);
      assert.equal(m, `{"data":"small","channel":"${a.channel}"}`);
      const st = await x.stats(env.daemon);
      assert.equal(st.messages_oversized - st0.messages_oversized, 1);
      assert.match(env.daemon.logs(), new RegExp(`dropped a ${Buffer.byteLength(big)}-byte message .*max-publish-size`));
      // exactly at the limit is delivered
      const pad = (n) => JSON.stringify({ channels: [a.channel], data: 'e'.repeat(n) });
      const exact = pad(1024 - pad(0).length);
      assert.equal(Buffer.byteLength(exact), 1024);
      await env.pub.publish('juggernaut', exact);
      await a.nthMessage(2);
      await x.assertRecovered(env, { baseline, bystander: a, what: 'oversized publish' });
    } finally {
      await teardown(env);
    }
  });
});
