'use strict';
// A rolling upgrade of a cluster from the previous release to this build, under traffic, with
// real instances of both (the previous release: build/upgrade-from/juggernautd, built from git
// by `make upgrade-from`, which `make test` runs). This build packs a leader's batch into one
// jg:log entry and one message on juggernaut:sequenced, which an older instance cannot read:
// it must never send one while such an instance runs, and must cope with the older library an
// older instance loads into Redis when it connects. Every subscriber, on either version, gets
// every message once, in order:
//   1. old A leads, old C runs; new B joins (and loads its library, which has all of A's);
//   2. A, the leader, stops (SIGTERM): B or C leads while C still runs (no packing);
//   3. C is replaced by another old instance, C2, which loads the old library: B (the leader)
//      loads its own again and does not pack while C2 runs (C2's beats, now through B's
//      library, keep the mark that says so alive);
//   4. C2 stops: once its mark (jg:wire1-seen) expires, B packs again.

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');

const OLD_BIN = process.env.JUGGERNAUTD_OLD_BIN ||
  path.join(__dirname, '..', '..', 'build', 'upgrade-from', 'juggernautd');
const SECRET = 'upgrade-test-secret-0123456789abcdef';
const CONFIG = { cluster: 'yes', 'cluster-secret': SECRET, 'instance-timeout': 2, 'leader-lease': 1, 'drain-period': 1 };
const N = 120; // messages per burst

let redis;
let pub;
let events;
const daemons = [];

async function start(bin) {
  const d = await h.startDaemon({ redisUrl: redis.url, bin, config: CONFIG });
  daemons.push(d);
  return d;
}

const until = h.until;

const leads = async (d) => (await h.getJson(d.base, '/stats')).json.cluster_leader;

async function subscribedClient(d, ch, transport) {
  const c = await h.sioConnect(d.base, { transports: [transport] });
  const isMine = (e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === c.sid && e.json.channel === ch;
  c.send({ type: 'subscribe', channel: ch });
  await events.waitForCount(isMine, 1, 5000, `subscribe event for ${c.sid}`);
  return c;
}

const logTip = async () => {
  const last = await pub.call('XREVRANGE', 'jg:log', '+', '-', 'COUNT', 1);
  return last.length ? last[0][0] : '0-0';
};
const logAfter = async (id) => pub.call('XRANGE', 'jg:log', `(${id}`, '+');

/* Publishes burst PHASE (N legacy messages, pipelined) and checks that every client in
 * CLIENTS got all of them, once, in order, after what it had; returns the new log entries. */
async function burst(ch, phase, clients) {
  const tip = await logTip();
  const had = clients.map((c) => c.on(ch).length);
  const p = pub.pipeline();
  for (let i = 0; i < N; i++) p.publish('juggernaut', JSON.stringify({ channel: ch, data: `${phase}-${i}` }));
  await p.exec();
  for (const [k, c] of clients.entries()) {
    await until(() => c.on(ch).length >= had[k] + N, 15000, `${phase}: client ${k} (${c.sid}) got ` +
      `${c.on(ch).length - had[k]} of ${N}`);
  }
  await h.sleep(300); // anything repeated would have arrived
  for (const [k, c] of clients.entries()) {
    const got = c.on(ch).slice(had[k]).map((m) => JSON.parse(m));
    assert.deepEqual(got.map((m) => m.data), Array.from({ length: N }, (_, i) => `${phase}-${i}`),
      `${phase}: client ${k} got every message once, in order`);
    for (let i = 1; i < N; i++) assert.ok(got[i].seq > got[i - 1].seq, `${phase}: seqs increase`);
  }
  return logAfter(tip);
}

const packed = (entries) => entries.filter((e) => e[1][0] === 'b').length;

before(async () => {
  if (!fs.existsSync(OLD_BIN)) {
    throw new Error(`${OLD_BIN} is missing: run "make upgrade-from" (builds the previous release from git), ` +
      'or set JUGGERNAUTD_OLD_BIN');
  }
  redis = await h.startRedis();
  pub = await h.redisClient(redis);
  events = await h.eventCollector(redis);
}, { timeout: 60000 });

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  try {
    for (const d of daemons) if (d.alive) await d.stop();
  } finally {
    if (redis) await redis.stop();
  }
}, { timeout: 60000 });

test('a rolling upgrade from the previous release loses, repeats and reorders nothing', { timeout: 180000 }, async () => {
  const ch = h.uid('upgrade');
  const A = await start(OLD_BIN);
  await until(() => leads(A), 10000, 'old A leads');
  const C = await start(OLD_BIN);
  const onA = await subscribedClient(A, ch, 'websocket');
  const onC = await subscribedClient(C, ch, 'xhr-polling');

  // 1. new B joins while old A leads
  const B = await start(undefined);
  const onB = await subscribedClient(B, ch, 'websocket');
  const pollB = await subscribedClient(B, ch, 'xhr-polling');
  let entries = await burst(ch, 'old-leader', [onA, onC, onB, pollB]);
  assert.equal(packed(entries), 0, 'an old leader packs nothing');

  // 2. the old leader stops; C (old) still runs, so whoever leads now packs nothing
  onA.close();
  await A.stop();
  await until(async () => (await leads(B)) || (await leads(C)), 10000, 'B or C leads');
  entries = await burst(ch, 'after-a', [onC, onB, pollB]);
  assert.equal(packed(entries), 0, `nothing packed while old C runs (B leads: ${await leads(B)})`);

  // 3. C is replaced by old C2, which loads the old library into Redis at its connect
  onC.close();
  await C.stop();
  await until(() => leads(B), 10000, 'B leads');
  const C2 = await start(OLD_BIN);
  const onC2 = await subscribedClient(C2, ch, 'websocket');
  entries = await burst(ch, 'old-library', [onC2, onB, pollB]);
  assert.equal(packed(entries), 0, 'nothing packed while old C2 runs');
  assert.match(B.logs(), /older juggernaut library/, 'B says it found an older library and loaded its own');
  // later than the mark B set then lives (instance-timeout): C2's own beats keep it alive
  await h.sleep(3000);
  entries = await burst(ch, 'old-beats', [onC2, onB, pollB]);
  assert.equal(packed(entries), 0, 'nothing packed while old C2 beats');

  // 4. the last old instance stops: once its mark expires, B packs
  onC2.close();
  await C2.stop();
  await until(async () => (await pub.exists('jg:wire1-seen')) === 0, 10000, 'jg:wire1-seen to expire');
  entries = await burst(ch, 'all-new', [onB, pollB]);
  assert.ok(packed(entries) > 0, `B packs again: ${entries.length} entries for ${N} messages`);
});
