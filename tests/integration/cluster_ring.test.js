'use strict';
// Issue 12: the ring of recent messages is bounded in bytes as well as in count, and a
// session that moves to an instance whose ring no longer reaches back to its cursor is
// served the older part from the Redis log; what the log no longer has either is reported
// to the client ({"error":"messages lost",...}) and counted, never silently skipped.
// Two instances (cluster yes, cluster-ring-bytes at its minimum, 64 KiB), one Redis, a raw
// xhr-polling client (a new TCP connection per request) that polls A, goes quiet while
// large messages are published, then polls B (as a balancer may send it).

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const ops = require('./lib/ops');
const { Poller, checkChannel, sleep } = require('./lib/poller');

let redis;
let pub;
let a;
let b;
const clients = [];

before(async () => {
  redis = await h.startRedis();
  pub = await h.redisClient(redis);
  const config = { cluster: 'yes', 'cluster-ring-bytes': 65536, 'cluster-log-size': 100 };
  a = await h.startDaemon({ redisUrl: redis.url, config });
  b = await h.startDaemon({ redisUrl: redis.url, config });
  await ops.waitFor(async () => (await h.getJson(a.base, '/stats')).json.cluster_leader ||
    (await h.getJson(b.base, '/stats')).json.cluster_leader, 8000, 'a leader');
});

after(async () => {
  for (const c of clients) c.stopped = true;
  for (const d of [a, b]) if (d) await d.stop().catch(() => {});
  if (pub) pub.disconnect();
  if (redis) await redis.stop();
});

async function publishBig(channel, from, count, size) {
  const pad = 'x'.repeat(size);
  for (let n = from; n < from + count; n++) {
    await pub.publish('juggernaut', JSON.stringify({ channels: [channel], data: { n, pad } }));
  }
}

test('a moved session older than the ring: the rest from the Redis log; past the log, "messages lost" with the range', { timeout: 60000 }, async (t) => {
  const ch = h.uid('ring');
  const c = new Poller('ring', 'xhr', a.port);
  clients.push(c);
  await c.handshake();
  c.start();
  await c.subscribe(ch);
  await publishBig(ch, 1, 1, 10);
  await ops.waitFor(() => c.lastN(ch) === 1, 10000, 'message 1 at the client');

  // 1. quiet (no new poll; the one it holds is answered); 100 messages of 2 KB (200 KB: the 64 KiB rings hold ~30 of them); then poll B
  c.pauseUntil = Date.now() + 60000;
  await sleep(300);
  await publishBig(ch, 2, 100, 2048);
  await sleep(500);
  const bStats0 = (await h.getJson(b.base, '/stats')).json;
  c.port = b.port;
  c.pauseUntil = 0;
  await ops.waitFor(() => c.lastN(ch) === 101, 15000, 'message 101 at the client, through B');
  let r = checkChannel(c, ch, 1, 101);
  t.diagnostic(`phase 1: ${JSON.stringify(r)}`);
  assert.deepEqual([r.duplicates, r.order, r.seqErrors, r.missing], [0, 0, 0, []]);
  assert.deepEqual(c.notices, [], 'nothing lost while the log still had it');
  const bStats1 = (await h.getJson(b.base, '/stats')).json;
  assert.ok(bStats1.replays_from_log > bStats0.replays_from_log, `B replayed from the log (${bStats1.replays_from_log})`);

  // 2. quiet again; 400 messages of 1 KB: past the ring of A and past jg:log (~100 entries)
  c.pauseUntil = Date.now() + 60000;
  await sleep(300);
  await publishBig(ch, 102, 400, 1024);
  await sleep(500);
  // (the poll the client still held got the first of them)
  const seqBefore = Math.max(...c.recv.map((x) => x.seq));
  c.port = a.port;
  c.pauseUntil = 0;
  await ops.waitFor(() => c.lastN(ch) === 501, 15000, 'message 501 at the client, through A');
  const lost = c.notices.filter((m) => m.error === 'messages lost');
  t.diagnostic(`phase 2: notices ${JSON.stringify(c.notices)}`);
  assert.equal(lost.length, 1, 'one "messages lost" notice');
  assert.equal(lost[0].request.channel, ch);
  assert.equal(lost[0].from, seqBefore + 1, 'the lost range starts right after the last message delivered');
  const after2 = c.recv.filter((x) => x.seq > seqBefore);
  assert.equal(lost[0].to + 1, after2[0].seq, 'and ends right before the first message delivered after it');
  const ns = after2.map((x) => x.n);
  assert.deepEqual(ns, Array.from({ length: 502 - ns[0] }, (_, k) => ns[0] + k), 'everything after the gap, once, in order');
  t.diagnostic(`phase 2: ${ns[0] - 103} messages lost (n 103..${ns[0] - 1}), ${ns.length} delivered after the gap`);
  assert.ok((await h.getJson(a.base, '/stats')).json.replay_gaps >= 1, 'replay_gaps counted');
  assert.deepEqual(c.problems, []);
  await c.stop();
});
