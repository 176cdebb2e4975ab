'use strict';
// Issue 7, the black-box chaos test of cluster mode.
//
// One real redis-server, three juggernautd instances (cluster yes, one cluster-secret, each
// with its own admin and agent port) behind real HAProxy generated from the SHIPPED
// conf/haproxy.cfg (balance roundrobin, no affinity, option http-server-close: a new server
// connection per request, so consecutive polls of one client land on different instances;
// the shipped file lists two servers, the third is a copy of its last server line).
//
// 200 socket.io-client 0.9.16 users, all through HAProxy, reconnect on, each subscribed to
// 2 of 4 channels with a meta ({"user": ...}; some users have two sessions):
//   xhr-polling and jsonp-polling: must keep ONE session through everything and get every
//     message of their channels exactly once and in order (by seq and by the publisher's
//     per-channel counter): duplicates 0, losses 0;
//   websocket, original protocol: a reconnect is a new session that subscribes again and
//     cannot ask for what it missed ("since" is our extension): the messages such a client
//     misses between its disconnect and its resubscribe are counted apart (the reconnect
//     window), and nothing outside that window may be missing;
//   websocket with "since" (what our application.js does): resubscribes with the last seq it
//     saw: no window, duplicates 0, losses 0.
// A publisher sends 5,000 messages through PUBLISH juggernaut at a steady rate (40 s); data
// {n} is a per-channel counter. During the run: SIGKILL the leader (found from /stats
// cluster_leader) at +8 s, restart it on the same ports 1 s later (within its lease, as a
// supervisor would), SIGTERM the then leader (or another instance) at +22 s (it drains).
// Then: delivery checks, the proof from the instances' /stats (takeovers) and from
// HAProxy's per-request log that polls of one session were answered by different
// instances, presence (GET /presence/<ch> on a live admin port and the Redis hash
// jg:presence:<ch>) converging to the live set within instance-timeout + 1 s + a margin
// after the kill and after the drained instance's exit, and, once every client
// disconnected, exactly one juggernaut:unsubscribe event per juggernaut:subscribe event,
// per (session_id, channel), none of them while its session was still alive.
// Every check prints its counts (t.diagnostic) and, on failure, the sessions involved with
// their requests in HAProxy's log.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');
const ops = require('./lib/ops');
const cl = require('./lib/cluster');

const { analyze } = cl;

const N_INSTANCES = 3;
const MIX = { ws: 60, 'ws-since': 20, xhr: 90, jsonp: 30 }; // 200 users
const N_CHANNELS = 4;
const CH_PER_CLIENT = 2;
const N_USERS = 160;              // users u0..u159: 40 of them have two sessions
const N_MESSAGES = 5000;
const PUBLISH_MS = 40000;
const KILL_AT = 8000;             // ms after the first message: SIGKILL the leader
const RESTART_AT = 9000;          // ... restart it on the same ports (within its lease, as systemd's
                                  // Restart= would)
const TERM_AT = 22000;            // ... SIGTERM another instance
const INSTANCE_TIMEOUT = 5;       // s (the default)
const LEADER_LEASE = 3;           // s (the default)
const DRAIN_PERIOD = 3;           // s
const POLLING_DURATION = 20;      // s (the default)
const FENCE_BOUND = 3000;         // ms for the first message after subscribing to reach every client
const CLOSE_TIMEOUT = 25;         // s (the default; socket.io-client 0.9 also closes a transport
                                  // that received nothing for this long, so it must exceed the
                                  // heartbeat interval)
const PRESENCE_MARGIN = 2;        // s on top of the bound the spec states
const WS_WINDOW_SLACK = 1000;     // ms: a reconnect window reaches this far around disconnect..resubscribe
const SECRET = 'chaos-test-secret-0123456789abcdef';

const CHANNELS = Array.from({ length: N_CHANNELS }, (_, k) => h.uid(`chaos${k}`));

let redis;
let events;
let pub;          // publisher connection
let rc;           // checks (HGETALL, ...)
let hp;
let front;
let sampler;
const pollLog = new cl.PollLog();
const inst = [];
const clients = [];
let P = null;     // the publisher
const chaos = {}; // what happened when
const results = {};

const isLeader = (s) => s && (s.cluster_leader === 1 || s.cluster_leader === true);
const alive = () => inst.filter((i) => i.alive);
const expectedN = (ci) => (P ? P.perChannel[ci] : 0); // counters 0 (fence) .. expectedN
const fmt = (o) => JSON.stringify(o);

async function leaders(among = alive()) {
  const st = await Promise.all(among.map((i) => i.stats(1500).then((s) => ({ i, s }), () => ({ i, s: null }))));
  return st.filter((x) => isLeader(x.s)).map((x) => x.i);
}

/* Delivery latency (publish -> receipt) of a group's messages: "p50/p99/max ms". */
function latency(group) {
  const a = [];
  for (const c of group) for (const r of c.recv) if (r.n >= 1 && P.pubAt[r.ci][r.n]) a.push(r.at - P.pubAt[r.ci][r.n]);
  if (!a.length) return 'n/a';
  a.sort((x, y) => x - y);
  return `${a[Math.floor(a.length / 2)]}/${a[Math.floor(a.length * 0.99)]}/${a[a.length - 1]} ms`;
}

/* Around the first message of c whose seq is not above every seq before it (any channel). */
function firstInversion(c) {
  let max = -Infinity;
  for (let i = 0; i < c.recv.length; i++) {
    if (c.recv[i].seq <= max) {
      return c.recv.slice(Math.max(0, i - 4), i + 3).map((r) => `${r.ci}#${r.n}@${r.seq}`).join(' ');
    }
    max = Math.max(max, c.recv[i].seq);
  }
  return null;
}

/* For a polling client that lost its session: when, the last requests of that session in
 * HAProxy's log, and what the instances logged about it. */
function describeLostSession(c) {
  const old = c.sessions[0];
  const rel = (at) => (at && P ? `+${at - P.startedAt} ms` : '?');
  const logs = [];
  for (const i of inst) {
    for (const inc of i.incarnations) {
      const lines = inc.daemon.logs().split('\n').filter((l) => l.includes(old.sid.slice(0, 8))).slice(-6);
      if (lines.length) logs.push(`    ${i.name}#${i.incarnations.indexOf(inc) + 1}: ${lines.join('\n      ')}`);
    }
  }
  return `lost session: client ${c.idx} ${c.kind} ${old.sid} ended ${rel(old.disconnectedAt)} (${old.reason}) ` +
    `[chaos: SIGKILL ${rel(chaos.kill && P.startedAt + chaos.kill.at)}, restart ${rel(chaos.restart && P.startedAt + chaos.restart.at)}, ` +
    `SIGTERM ${rel(chaos.term && P.startedAt + chaos.term.at)}]; errors: ${c.errors.join(' | ')}\n` +
    `    HAProxy log (time server method t status retries):\n      ${(pollLog.recent.get(old.sid) || []).join('\n      ')}\n` +
    `${logs.join('\n') || '    (no daemon log line names the sid)'}`;
}

/* "j2#1" for an instance id "<pid>-<random>" (the incarnation with that pid). */
function ownerName(id) {
  const num = Number(String(id).split('-')[0]);
  for (const i of inst) {
    const k = i.incarnations.findIndex((inc) => inc.daemon.pid === num || (i.port === num && inc === i.current));
    if (k >= 0) return `${i.name}#${k + 1}${i.incarnations[k].exit ? ' (gone)' : ''}`;
  }
  return '?';
}

/* For a client with a missing message: the first one missing, when it was published, what the
 * client received around it, and the session's requests in HAProxy's log around it. */
function describeLoss(c, expected) {
  for (const ci of c.chIdx) {
    const seen = new Set(c.recv.filter((r) => r.ci === ci).map((r) => r.n));
    for (let n = 0; n <= expected[ci]; n++) {
      if (seen.has(n)) continue;
      // n 0 is the fence, published in the setup (the publisher's times start at n 1)
      const at = P.pubAt[ci][n] || (n === 0 && chaos.fencedAt) || P.startedAt;
      const near = c.recv.filter((r) => r.at >= at - 1000 && r.at <= at + 3000).slice(0, 12)
        .map((r) => `${r.ci}#${r.n}@${r.seq} +${r.at - at}ms`).join(' ');
      const sid = c.sessions[0].sid;
      return `loss: client ${c.idx} ${c.kind} ${sid} missed ${CHANNELS[ci]}#${n}${n === 0 ? ' (the fence)' : ''}, published at ${at >= P.startedAt ? '+' : ''}${at - P.startedAt} ms ` +
        `(${new Date(at).toISOString().slice(11, 23)}); received around it (ms after that publish): ${near}\n` +
        `    its requests logged from 1 s before to 3 s after (logged at, server, method, t, status, retries, server answer ms):\n      ` +
        `${pollLog.between(sid, at - 1000, at + 3000).join('\n      ')}`;
    }
  }
  return `loss: client ${c.idx}: none found`;
}

async function sleepUntil(t) { const d = t - Date.now(); if (d > 0) await h.sleep(d); }

// ---------------------------------------------------------------------------------
// presence

/* The live set: every connected client's current session on each channel it subscribed. */
function liveSet(ci) {
  const m = new Map();
  for (const c of clients) {
    if (c.connected && c.session && c.session.sid === c.sid && c.chIdx.includes(ci)) m.set(c.sid, JSON.stringify(c.meta));
  }
  return m;
}

/* Differences between the live set and presence, per channel, both in Redis
 * (jg:presence:<ch>) and from GET /presence/<ch> on the admin port of `via`. */
async function presenceDiff(via) {
  const diffs = [];
  for (let ci = 0; ci < N_CHANNELS; ci++) {
    const ch = CHANNELS[ci];
    const want = liveSet(ci);
    const hash = await rc.hgetall(`jg:presence:${ch}`);
    const missing = [...want.keys()].filter((s) => !(s in hash));
    const extra = Object.keys(hash).filter((s) => !want.has(s));
    const wrongMeta = [...want.keys()].filter((s) => {
      if (!(s in hash)) return false;
      try { return JSON.stringify(JSON.parse(hash[s])) !== want.get(s); } catch (e) { return true; }
    });
    const r = await ops.httpGet(via.adminPort, `/presence/${encodeURIComponent(ch)}`, 2000);
    let api = null;
    let apiProblem = null;
    if (r.status !== 200) apiProblem = `GET /presence/${ch} on ${via.name}: ${r.status} ${r.error || r.body.slice(0, 200)}`;
    else {
      try { api = JSON.parse(r.body); } catch (e) { apiProblem = `GET /presence/${ch}: not JSON: ${r.body.slice(0, 200)}`; }
    }
    if (api) {
      const wantMembers = {};
      for (const m of want.values()) wantMembers[m] = (wantMembers[m] || 0) + 1;
      const gotMembers = {};
      for (const m of api.members || []) gotMembers[JSON.stringify(m.meta)] = m.sessions;
      const keys = new Set(Object.keys(wantMembers).concat(Object.keys(gotMembers)));
      const memberDiff = [...keys].filter((k) => wantMembers[k] !== gotMembers[k]).map((k) => `${k}: want ${wantMembers[k] || 0}, got ${gotMembers[k] || 0}`);
      if (api.sessions !== want.size) apiProblem = `GET /presence/${ch}: sessions ${api.sessions}, live ${want.size}`;
      if (memberDiff.length) apiProblem = `${apiProblem ? `${apiProblem}; ` : ''}members differ (${memberDiff.length}): ${memberDiff.slice(0, 5).join('; ')}`;
    }
    if (missing.length || extra.length || wrongMeta.length || apiProblem) {
      diffs.push({ ch, live: want.size, redis: Object.keys(hash).length, missing: missing.slice(0, 5), nMissing: missing.length, extra: extra.slice(0, 5), nExtra: extra.length, wrongMeta: wrongMeta.slice(0, 3), apiProblem });
    }
  }
  return diffs;
}

/* Poll until presence equals the live set or the deadline passes; a match is confirmed by
 * the next check 200 ms later (which may come after the deadline): {ok, at (the first of
 * the two matching checks), diffs (last seen), extraOwners}. */
async function waitPresence(deadline, avoid = [], lateFor = 0) {
  let firstOk = 0;
  let diffs = null;
  for (;;) {
    const via = alive().find((i) => !avoid.includes(i));
    if (via) {
      const at = Date.now();
      try {
        diffs = await presenceDiff(via);
      } catch (e) { diffs = [{ error: e.message }]; }
      if (!diffs.length) {
        if (firstOk) return { ok: true, at: firstOk };
        if (at <= deadline) firstOk = at;
      } else firstOk = 0;
    }
    if (Date.now() > deadline && !firstOk) break;
    await h.sleep(200);
  }
  const failed = diffs;
  // not within the bound: keep looking a little longer, to say when (if) it converged
  let lateMs = null;
  const until = Date.now() + lateFor;
  while (Date.now() < until) {
    const via = alive().find((i) => !avoid.includes(i));
    const d = via ? await presenceDiff(via).catch(() => [{}]) : [{}];
    if (!d.length) { lateMs = Date.now() - deadline; break; }
    await h.sleep(250);
  }
  diffs = failed;
  // who owns the sessions that should have gone
  const extraOwners = [];
  for (const d of diffs || []) {
    for (const sid of d.extra || []) {
      const rec = await rc.hgetall(`jg:session:${sid}`).catch(() => ({}));
      const cli = clients.find((c) => c.sessions.some((s) => s.sid === sid));
      extraOwners.push(`${sid}: owner ${rec.owner} = ${ownerName(rec.owner)}, client ${cli ? `${cli.idx} ${cli.kind} sessions ${cli.sessions.map((s) => s.sid).join(',')} connected ${cli.connected}` : 'not ours'}`);
    }
  }
  // and the live sessions presence lacks
  const missingWho = [];
  for (const d of diffs || []) {
    for (const sid of d.missing || []) {
      const rec = await rc.hgetall(`jg:session:${sid}`).catch(() => ({}));
      const cli = clients.find((c) => c.sessions.some((s) => s.sid === sid));
      const subs = Object.keys(rec).filter((k) => k.startsWith('sub:')).join(',');
      missingWho.push(`${d.ch} ${sid}: record ${Object.keys(rec).length ? `owner ${rec.owner} = ${ownerName(rec.owner)} ${subs}` : 'none'}, client ${cli ? `${cli.idx} ${cli.kind} ` +
        `sessions ${cli.sessions.map((s) => `${s.sid} connected +${s.connectedAt - (P ? P.startedAt : 0)}`).join(',')} connected ${cli.connected}` : 'not ours'}`);
    }
  }
  const instances = await rc.smembers('jg:instances').catch(() => []);
  return { ok: false, convergedLateByMs: lateFor ? lateMs : undefined, diffs, extraOwners, missingWho, instances: instances.map((id) => `${id}=${ownerName(id)}`) };
}

// ---------------------------------------------------------------------------------

before(async () => {
  redis = await h.startRedis();
  events = await h.eventCollector(redis);
  pub = await h.redisClient(redis);
  rc = await h.redisClient(redis);
  for (let k = 0; k < N_INSTANCES; k++) {
    const i = new cl.Instance(`j${k + 1}`, {
      redisUrl: redis.url,
      port: await h.freePort(),
      adminPort: await h.freePort(),
      agentPort: await h.freePort(),
      config: {
        cluster: 'yes',
        'cluster-secret': SECRET,
        'instance-timeout': INSTANCE_TIMEOUT,
        'leader-lease': LEADER_LEASE,
        history: '"* 2000 3600"',
        'drain-period': DRAIN_PERIOD,
        'close-timeout': CLOSE_TIMEOUT,
        // JG_TEST_LOG_LEVEL=debug (with JG_TEST_LOG_DIR to keep the logs): to trace a failure
        ...(process.env.JG_TEST_LOG_LEVEL ? { 'log-level': process.env.JG_TEST_LOG_LEVEL } : {}),
      },
    });
    inst.push(i);
  }
  await Promise.all(inst.map((i) => i.start()));
  const frontPort = await h.freePort();
  front = `http://127.0.0.1:${frontPort}`;
  const dir = h.tempDir('jg-chaos-');
  const sockPath = path.join(dir, 'haproxy.sock');
  const shipped = fs.readFileSync(path.join(h.REPO, 'conf', 'haproxy.cfg'), 'utf8');
  const cfg = cl.clusterHaproxyConfig(shipped, {
    frontPort, sockPath, logFormat: '%s %HM %HU %ST %rc %Tr',
    servers: inst.map((i) => ({ port: i.port, agentPort: i.agentPort })),
  });
  hp = await cl.startHaproxy(cfg, { frontPort, sockPath, dir, onLine: (l) => pollLog.onLine(l) });
  await ops.waitFor(async () => {
    const st = await ops.haproxyStat(hp);
    return inst.every((_, k) => {
      const r = st[`juggernaut/j${k + 1}`];
      return r && r.status === 'UP' && /L7OK/.test(r.check_status) && /L7OK/.test(r.agent_status);
    });
  }, 10000, 'haproxy: every server UP with L7OK health and agent checks');
});

after(async () => {
  for (const c of clients) c.close();
  h.closeAllClients();
  if (sampler) await sampler.stop().catch(() => {});
  if (hp) await hp.stop();
  await Promise.all(inst.filter((i) => i.alive).map((i) => i.daemon.stop('SIGTERM', 8000).catch(() => {})));
  if (events) await events.close();
  if (pub) pub.disconnect();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

describe('cluster chaos: 3 instances behind round-robin HAProxy, 200 clients, 5,000 messages, leader SIGKILLed, another SIGTERMed', () => {
  test('setup: one leader; 200 clients (websocket, xhr-polling, jsonp-polling) connected through HAProxy, subscribed, fenced', { timeout: 60000 }, async (t) => {
    const lead = await ops.waitFor(async () => { const l = await leaders(); return l.length === 1 ? l : null; },
      (LEADER_LEASE + 3) * 1000, 'exactly one instance with cluster_leader 1');
    t.diagnostic(`leader: ${lead[0].name}`);

    // the kinds spread evenly over the 200 users; user k subscribes to channels k, k+1 (mod 4)
    const kinds = Object.entries(MIX).flatMap(([kind, n]) => Array.from({ length: n }, (_, j) => ({ kind, key: (j + 0.5) / n })))
      .sort((a, b) => a.key - b.key).map((x) => x.kind);
    kinds.forEach((kind, i) => {
      const chIdx = Array.from({ length: CH_PER_CLIENT }, (_, j) => (i + j) % N_CHANNELS);
      clients.push(new cl.ChaosClient(i, kind, CHANNELS, chIdx, { user: `u${i % N_USERS}` }));
    });
    const t0 = Date.now();
    const failures = await cl.connectAll(clients, front, 20);
    chaos.connectMs = Date.now() - t0;
    assert.deepEqual(failures, [], 'every client connects at the first attempt');
    for (const c of clients) assert.equal(c.client.transport, c.transport);

    // every subscription is live (its subscribe event was published)
    const want = new Set(clients.flatMap((c) => c.chIdx.map((ci) => `${c.sid} ${CHANNELS[ci]}`)));
    await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json && want.has(`${e.json.session_id} ${e.json.channel}`),
      want.size, 15000, 'a subscribe event per client and channel');

    // fence: message n=0 on each channel reaches every subscriber (and gives each a seq).
    // Wait for it up to polling-duration + 5 s so the chaos run starts from a clean state
    // even when a poll held it back, then require it within FENCE_BOUND.
    const fencedAt = Date.now();
    chaos.fencedAt = fencedAt;
    for (const ch of CHANNELS) await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: { n: 0 } }));
    const hasFence = (c) => c.chIdx.every((ci) => c.lastN(ci) >= 0);
    await ops.waitFor(() => clients.every(hasFence), (POLLING_DURATION + 5) * 1000, 'the fence message on every channel at every client', 100).catch(() => {});
    const fenceLatency = (c) => Math.max(...c.chIdx.map((ci) => { const r = c.recv.find((x) => x.ci === ci && x.n === 0); return r ? r.at - fencedAt : Infinity; }));
    const late = clients.filter((c) => fenceLatency(c) > FENCE_BOUND);
    chaos.fence = { maxMs: Math.max(...clients.map(fenceLatency)), late: late.length };
    t.diagnostic(`fence: the slowest client had it after ${chaos.fence.maxMs} ms; ${late.length} clients after more than ${FENCE_BOUND} ms`);
    const withSeq = clients.every((c) => c.recv.every((r) => typeof r.seq === 'number'));
    assert.ok(withSeq, 'every message carries "seq" (cluster yes)');

    const pres = await waitPresence(Date.now() + 5000);
    assert.ok(pres.ok, `presence equals the live set after subscribing: ${fmt(pres.diffs)}`);
    const perInst = await Promise.all(inst.map((i) => i.stats()));
    t.diagnostic(`connected ${clients.length} clients in ${chaos.connectMs} ms (${fmt(MIX)}); ` +
      `ws_connections per instance ${perInst.map((s) => s.ws_connections)}, sessions ${perInst.map((s) => s.sessions)}`);
    assert.deepEqual(late.map((c) => `client ${c.idx} ${c.kind} ${c.sid}: ${fenceLatency(c)} ms; first requests of the session ` +
      `(logged at, server, method, t, status, retries, server answer ms): ${(pollLog.first.get(c.sid) || []).join(' | ')}`), [],
      `a message published right after the clients subscribed reached every client within ${FENCE_BOUND} ms`);
  });

  test(`chaos run: ${N_MESSAGES} messages via PUBLISH juggernaut over ${PUBLISH_MS / 1000} s; SIGKILL the leader, restart it, SIGTERM another`, { timeout: PUBLISH_MS + 40000 }, async (t) => {
    assert.equal(clients.length, 200, 'the setup test connected the clients');
    sampler = cl.statsSampler(inst, 500);
    P = cl.publisher(pub, CHANNELS, { total: N_MESSAGES, durationMs: PUBLISH_MS });
    const T0 = P.startedAt;

    // 1. SIGKILL the leader
    await sleepUntil(T0 + KILL_AT);
    const lead = await leaders();
    assert.equal(lead.length, 1, `exactly one leader before the kill: ${lead.map((i) => i.name)}`);
    const victim = lead[0];
    await victim.stats().catch(() => {});
    victim.daemon.kill('SIGKILL');
    chaos.kill = { name: victim.name, at: Date.now() - T0 };
    const killAt = Date.now();
    // a new leader: a survivor, or the victim once restarted (then it must still sequence
    // what was published while it was down: the delivery checks say whether it did)
    const newLeader = ops.waitFor(async () => {
      const l = await leaders(alive());
      return l.length === 1 ? { name: l[0].name, restarted: l[0] === victim, ms: Date.now() - killAt } : null;
    }, (LEADER_LEASE + 4) * 1000, 'a new leader', 100).catch((e) => ({ error: e.message }));
    const presenceBound = (INSTANCE_TIMEOUT + 1 + PRESENCE_MARGIN) * 1000;
    const presence1 = waitPresence(killAt + presenceBound, [victim], 8000).then((r) => Object.assign(r, { ms: r.ok ? r.at - killAt : null }));

    // 2. restart it on the same ports
    await sleepUntil(T0 + RESTART_AT);
    await victim.start();
    chaos.restart = { name: victim.name, at: Date.now() - T0 };

    // 3. SIGTERM another instance (the leader if it is not the restarted one)
    await sleepUntil(T0 + TERM_AT);
    const others = alive().filter((i) => i !== victim);
    const l2 = await leaders(others);
    const term = l2[0] || others[0];
    await term.stats().catch(() => {});
    const termAt = Date.now();
    term.daemon.kill('SIGTERM');
    chaos.term = { name: term.name, at: termAt - T0, wasLeader: l2[0] === term };
    const leaderAfterTerm = ops.waitFor(async () => {
      const l = await leaders(alive().filter((i) => i !== term));
      return l.length === 1 ? { name: l[0].name, ms: Date.now() - termAt } : null;
    }, (LEADER_LEASE + 4) * 1000, 'a leader among the instances not draining', 100).catch((e) => ({ error: e.message }));
    const exit = await Promise.race([term.daemon.exited, h.sleep((DRAIN_PERIOD + 8) * 1000).then(() => null)]);
    chaos.term.exit = exit ? { code: exit.code, signal: exit.signal, afterMs: exit.at - termAt } : 'did not exit';
    const presence2 = waitPresence((exit ? exit.at : Date.now()) + presenceBound, [term], 8000)
      .then((r) => Object.assign(r, { ms: r.ok ? r.at - termAt : null }));

    // 4. the rest of the messages, then everyone catches up
    await P.done;
    chaos.publishedMs = Date.now() - T0;
    const caught = await ops.waitFor(() => clients.every((c) => c.chIdx.every((ci) => c.lastN(ci) >= expectedN(ci))), 15000,
      'every client has the last message of each of its channels', 200).then(() => true, () => false);
    chaos.catchUpMs = Date.now() - T0 - chaos.publishedMs;
    await h.sleep(500); // a duplicate would be here by now
    chaos.newLeader = await newLeader;
    chaos.term.leader = await leaderAfterTerm;
    chaos.presence1 = await presence1;
    chaos.presence2 = await presence2;
    chaos.caughtUp = caught;
    chaos.lateClients = clients.filter((c) => !c.chIdx.every((ci) => c.lastN(ci) >= expectedN(ci)))
      .slice(0, 10).map((c) => `${c.idx} ${c.kind} sessions ${c.sessions.length} last ${c.chIdx.map((ci) => `${c.lastN(ci)}/${expectedN(ci)}`)}`);

    t.diagnostic(`published ${P.sent} (${P.perChannel.join('+')}) in ${chaos.publishedMs} ms, publisher late by at most ${P.lateMax} ms, errors ${P.errors.length}`);
    t.diagnostic(`SIGKILL ${chaos.kill.name} (leader) at +${chaos.kill.at} ms; new leader ${fmt(chaos.newLeader)}; restarted at +${chaos.restart.at} ms`);
    t.diagnostic(`SIGTERM ${chaos.term.name} (leader: ${chaos.term.wasLeader}) at +${chaos.term.at} ms; exit ${fmt(chaos.term.exit)}; leader among the others: ${fmt(chaos.term.leader)}`);
    t.diagnostic(`catch-up after the last publish: ${chaos.catchUpMs} ms (${caught ? 'everyone' : `NOT everyone: ${chaos.lateClients.join('; ')}`})`);
    assert.deepEqual(P.errors, [], 'PUBLISH errors');
    assert.ok(!chaos.newLeader.error, `leader failover: ${chaos.newLeader.error}`);
    assert.ok(exit, `the SIGTERMed instance exited within ${DRAIN_PERIOD + 8} s`);
    assert.equal(exit.signal, null);
    assert.equal(exit.code, 0, `exit code after SIGTERM; log tail:\n${term.daemon.logs().slice(-3000)}`);
  });

  test('polling clients (xhr, jsonp) and WebSocket clients with "since": every message exactly once, in order, one session each', (t) => {
    assert.ok(P, 'the chaos run ran');
    const expected = CHANNELS.map((_, ci) => expectedN(ci));
    const rows = [];
    const lostSessions = [];
    for (const kind of ['xhr', 'jsonp', 'ws-since']) {
      const group = clients.filter((c) => c.kind === kind);
      const sum = { kind, clients: group.length, messages: 0, duplicates: 0, losses: 0, orderErrors: 0, seqErrors: 0, crossSeqInversions: 0, reconnected: 0, errors: 0 };
      const bad = [];
      for (const c of group) {
        const a = analyze(c, expected);
        sum.messages += a.received;
        sum.duplicates += a.duplicates;
        sum.losses += a.losses + a.windowLosses;
        sum.orderErrors += a.orderErrors;
        sum.seqErrors += a.seqErrors;
        sum.crossSeqInversions += a.crossSeqInversions;
        if (c.sessions.length > 1) sum.reconnected++;
        sum.errors += c.errorMessages.length;
        if (a.duplicates || a.losses || a.windowLosses || a.orderErrors || a.seqErrors || c.errorMessages.length ||
            (kind !== 'ws-since' && c.sessions.length > 1)) {
          if (kind !== 'ws-since' && c.sessions.length > 1) lostSessions.push(describeLostSession(c));
          bad.push(`${c.idx} ${kind}: sessions ${c.sessions.map((s) => `${s.sid}${s.reason ? `(${s.reason})` : ''}`).join(' -> ')}, ` +
            `received ${a.received}, dup ${a.duplicates}, lost ${a.losses + a.windowLosses} (${a.missingSample.join(' ')}), ` +
            `order ${a.orderErrors}, seq ${a.seqErrors}, errors ${c.errors.concat(c.errorMessages).slice(0, 3).join(' | ')}`);
        }
      }
      sum.bad = bad;
      rows.push(sum);
      for (const d of lostSessions.splice(0)) t.diagnostic(d);
      // the first clients with a missing message: what happened around it
      for (const c of group.filter((x) => analyze(x, expected).losses).slice(0, 3)) t.diagnostic(describeLoss(c, expected));
      t.diagnostic(`${kind}: ${group.length} clients, messages ${sum.messages}, duplicates ${sum.duplicates}, losses ${sum.losses}, ` +
        `order errors ${sum.orderErrors}, seq errors ${sum.seqErrors}, cross-channel seq inversions ${sum.crossSeqInversions}, ` +
        `clients that reconnected ${sum.reconnected}${kind === 'ws-since' ? ' (resubscribed with since)' : ''}; latency p50/p99/max ${latency(group)}`);
      const inv = group.find((c) => firstInversion(c));
      if (inv) t.diagnostic(`${kind}: first cross-channel seq inversion of client ${inv.idx} (channel#n@seq): ${firstInversion(inv)}`);
    }
    results.exact = rows;
    for (const r of rows) {
      assert.equal(r.duplicates, 0, `${r.kind}: duplicates; first clients: ${r.bad.slice(0, 5).join('\n')}`);
      assert.equal(r.losses, 0, `${r.kind}: losses; first clients: ${r.bad.slice(0, 5).join('\n')}`);
      assert.equal(r.orderErrors + r.seqErrors, 0, `${r.kind}: order; first clients: ${r.bad.slice(0, 5).join('\n')}`);
      if (r.kind !== 'ws-since') assert.equal(r.reconnected, 0, `${r.kind}: polling clients that lost their session: ${r.bad.slice(0, 5).join('\n')}`);
      assert.deepEqual(r.bad, [], `${r.kind}`);
    }
  });

  test('original-protocol WebSocket clients: duplicates 0; losses only inside the reconnect window', (t) => {
    assert.ok(P, 'the chaos run ran');
    const expected = CHANNELS.map((_, ci) => expectedN(ci));
    const group = clients.filter((c) => c.kind === 'ws');
    const sum = { clients: group.length, messages: 0, duplicates: 0, losses: 0, orderErrors: 0, seqErrors: 0, reconnects: 0, reconnectedClients: 0, windowLosses: 0 };
    const windows = []; // per reconnect: {client, missed, gapMs (disconnect -> resubscribe)}
    const outside = [];
    for (const c of group) {
      const a = analyze(c, expected);
      sum.messages += a.received;
      sum.duplicates += a.duplicates;
      sum.losses += a.losses;
      sum.orderErrors += a.orderErrors;
      sum.seqErrors += a.seqErrors;
      sum.windowLosses += a.windowLosses;
      sum.reconnects += c.sessions.length - 1;
      if (c.sessions.length > 1) sum.reconnectedClients++;
      // every reconnect window: what was missed and when it was published, against the
      // old session's disconnect and the new session's resubscribe
      for (const w of a.windows) {
        const disc = c.sessions[w.from].disconnectedAt || c.sessions[w.to].connectedAt;
        const resub = c.sessions[w.to].subscribedAt;
        let pubFrom = Infinity;
        let pubTo = -Infinity;
        for (let n = w.first; n <= w.last; n++) {
          pubFrom = Math.min(pubFrom, P.pubAt[w.ci][n]);
          pubTo = Math.max(pubTo, P.pubAt[w.ci][n]);
        }
        if (pubFrom < disc - WS_WINDOW_SLACK || pubTo > resub + WS_WINDOW_SLACK) {
          outside.push({ client: c.idx, channel: CHANNELS[w.ci], first: w.first, last: w.last, publishedFromMs: pubFrom - disc, publishedToMs: pubTo - resub, reason: c.sessions[w.from].reason });
        }
      }
      for (let s = 1; s < c.sessions.length; s++) {
        const disc = c.sessions[s - 1].disconnectedAt || c.sessions[s].connectedAt;
        windows.push({
          client: c.idx,
          missed: a.windows.filter((w) => w.to === s).reduce((x, w) => x + w.count, 0),
          gapMs: c.sessions[s].subscribedAt - disc,
        });
      }
    }
    // when (seconds after the first message) and why the sessions of these clients ended
    const ends = {};
    for (const c of group) {
      for (const s of c.sessions.slice(0, -1)) {
        const k = `${s.reason}@${Math.floor((s.disconnectedAt - P.startedAt) / 1000)}s`;
        ends[k] = (ends[k] || 0) + 1;
      }
    }
    const missedPer = windows.map((w) => w.missed);
    const gaps = windows.map((w) => w.gapMs);
    results.ws = Object.assign(sum, {
      maxMissedPerReconnect: missedPer.length ? Math.max(...missedPer) : 0,
      maxGapMs: gaps.length ? Math.max(...gaps) : 0,
      medianGapMs: gaps.length ? gaps.slice().sort((a, b) => a - b)[Math.floor(gaps.length / 2)] : 0,
    });
    t.diagnostic(`websocket (original protocol): ${group.length} clients, messages ${sum.messages}, duplicates ${sum.duplicates}, ` +
      `losses outside reconnect windows ${sum.losses}, order errors ${sum.orderErrors}, seq errors ${sum.seqErrors}, ` +
      `cross-channel seq inversions ${group.reduce((x, c) => x + analyze(c, expected).crossSeqInversions, 0)}; latency p50/p99/max ${latency(group)}`);
    t.diagnostic(`websocket reconnect windows: ${sum.reconnects} reconnects by ${sum.reconnectedClients} clients, ${sum.windowLosses} messages missed in them ` +
      `(at most ${results.ws.maxMissedPerReconnect} per reconnect); disconnect -> resubscribe: median ${results.ws.medianGapMs} ms, max ${results.ws.maxGapMs} ms; ` +
      `stated window: messages published from ${WS_WINDOW_SLACK} ms before the disconnect to ${WS_WINDOW_SLACK} ms after the resubscribe`);
    t.diagnostic(`websocket sessions ended (reason@second): ${fmt(ends)}`);
    assert.equal(sum.duplicates, 0, 'duplicates');
    assert.equal(sum.orderErrors + sum.seqErrors, 0, 'order');
    assert.equal(sum.losses, 0, 'losses outside a reconnect window (a client that did not reconnect must have everything)');
    assert.deepEqual(outside, [], 'missed messages published outside the stated window');
    assert.ok(sum.reconnectedClients > 0, 'some WebSocket clients were on the killed or the drained instance and reconnected');
  });

  test('consecutive polls of one session landed on different instances (instances\' /stats and HAProxy\'s log)', (t) => {
    const pollSids = clients.filter((c) => c.kind === 'xhr' || c.kind === 'jsonp').flatMap((c) => c.sessions.map((s) => s.sid));
    const spread = pollLog.spread(pollSids);
    const s0 = inst[0].current.stats || {};
    const takeKey = cl.statKey(s0, ['takeovers', 'session_takeovers', 'sessions_taken_over']);
    const claimKey = cl.statKey(s0, ['claims', 'session_claims']);
    const reapKey = cl.statKey(s0, ['sessions_reaped', 'reaped_sessions']) || 'sessions_reaped';
    const seqKey = cl.statKey(s0, ['messages_sequenced', 'sequenced']) || 'messages_sequenced';
    const per = inst.map((i) => ({
      name: i.name,
      incarnations: i.incarnations.length,
      takeovers: takeKey ? i.total(takeKey) : null,
      claims: claimKey ? i.total(claimKey) : null,
      moved: i.total('sessions_moved'),
      reaped: i.total(reapKey),
      sequenced: i.total(seqKey),
      gaps: i.total('sequence_gaps'),
      unsequenced: i.total('legacy_unsequenced'),
      handshakes: i.total('handshakes'),
      unknownSid: i.total('unknown_sid'),
      requests: pollLog.requests[i.name] || 0,
    }));
    results.spread = { spread: Object.assign({}, spread, { single: spread.single.length }), per };
    t.diagnostic(`per instance (all incarnations): ${per.map((p) => `${p.name} (${p.incarnations}): ${takeKey}=${p.takeovers} ${claimKey}=${p.claims} ` +
      `sessions_moved=${p.moved} ${reapKey}=${p.reaped} ${seqKey}=${p.sequenced} sequence_gaps=${p.gaps} legacy_unsequenced=${p.unsequenced} ` +
      `handshakes=${p.handshakes} unknown_sid=${p.unknownSid} http requests (HAProxy log)=${p.requests}`).join('; ')}`);
    t.diagnostic(`HAProxy log: ${pollLog.lines} requests, ${pollLog.retried} retried, ${pollLog.redispatched} redispatched; non-200 polls ${pollLog.non200Polls.length}: ${fmt(pollLog.non200Polls.slice(0, 5))}; statuses ${fmt(pollLog.status)}`);
    t.diagnostic(`polling sessions: ${spread.sessions} seen in the log, ${spread.polls} GET polls; sessions by number of instances that answered them ${fmt(spread.byServers)}; ` +
      `consecutive polls answered by different instances: ${spread.pairsMoved} of ${spread.pairs}`);
    assert.equal(per.reduce((a, p) => a + p.unsequenced, 0), 0, 'legacy_unsequenced: messages no leader sequenced (dropped)');
    assert.ok(takeKey, `/stats has a takeover counter (looked for takeovers, session_takeovers, sessions_taken_over): ${Object.keys(s0).join(', ')}`);
    const survivor = per.filter((p, k) => inst[k].alive);
    for (const p of survivor) assert.ok(p.takeovers > 0, `${p.name} took sessions over: ${fmt(p)}`);
    const totalTake = per.reduce((a, p) => a + p.takeovers, 0);
    const nPolling = clients.filter((c) => c.kind === 'xhr' || c.kind === 'jsonp').length;
    assert.ok(totalTake >= nPolling * 10, `takeovers in all (${totalTake}) >= 10 per polling client (${nPolling})`);
    assert.ok(spread.sessions >= nPolling * 0.9, `HAProxy's log shows the polls of ${spread.sessions} of ${nPolling} polling sessions`);
    assert.equal(spread.single.length, 0, `sessions whose polls were all answered by one instance: ${spread.single.slice(0, 5).join(', ')}`);
    assert.ok(spread.pairsMoved >= spread.pairs * 0.4, `consecutive polls on different instances: ${spread.pairsMoved} of ${spread.pairs}`);
  });

  test(`presence converged to the live set within instance-timeout + 1 s + ${PRESENCE_MARGIN} s of the SIGKILL and of the drained instance's exit, and now`, async (t) => {
    assert.ok(chaos.presence1 && chaos.presence2, 'the chaos run ran');
    const now = await waitPresence(Date.now() + 3000);
    const exitMs = chaos.term.exit && chaos.term.exit.afterMs;
    results.presence = { afterKillMs: chaos.presence1.ms, afterTermMs: chaos.presence2.ms, afterExitMs: chaos.presence2.ms && chaos.presence2.ms - exitMs, final: now.ok };
    t.diagnostic(`presence == live set: ${chaos.presence1.ms} ms after the SIGKILL, ${results.presence.afterExitMs} ms after the drained instance exited ` +
      `(${chaos.presence2.ms} ms after its SIGTERM); bound ${(INSTANCE_TIMEOUT + 1 + PRESENCE_MARGIN) * 1000} ms each; at the end: ${now.ok}`);
    assert.ok(chaos.presence1.ok, `after the SIGKILL of ${chaos.kill.name}, presence did not converge within ${(INSTANCE_TIMEOUT + 1 + PRESENCE_MARGIN)} s: ${fmt(chaos.presence1)}`);
    assert.ok(chaos.presence2.ok, `after the drain of ${chaos.term.name}, presence did not converge within ${INSTANCE_TIMEOUT + 1 + PRESENCE_MARGIN} s of its exit: ${fmt(chaos.presence2)}`);
    assert.ok(now.ok, `presence at the end: ${fmt(now)}`);
  });

  test('after every client disconnected: presence empty, exactly one unsubscribe event per subscribe event per (session, channel)', async (t) => {
    assert.ok(clients.length, 'clients ran');
    const closedAt = Date.now();
    for (const c of clients) c.close();
    const ours = new Set(CHANNELS);
    const key = (e) => `${e.json.session_id} ${e.json.channel}`;
    const tally = () => {
      const m = new Map();
      for (const e of events.events) {
        if (!e.json || !ours.has(e.json.channel)) continue;
        if (e.channel !== 'juggernaut:subscribe' && e.channel !== 'juggernaut:unsubscribe') continue;
        const k = key(e);
        const v = m.get(k) || { sub: 0, unsub: 0 };
        if (e.channel === 'juggernaut:subscribe') v.sub++; else v.unsub++;
        m.set(k, v);
      }
      return m;
    };
    await ops.waitFor(() => [...tally().values()].every((v) => v.unsub >= v.sub), (CLOSE_TIMEOUT + 4) * 1000,
      'an unsubscribe event for every subscribe event', 200).catch(() => {});
    const settledMs = Date.now() - closedAt;
    await h.sleep(1000); // a second unsubscribe would come by now
    const m = tally();
    const sessions = clients.flatMap((c) => c.sessions.map((s) => ({ c, s })));
    const known = new Set(sessions.flatMap(({ c, s }) => c.chIdx.map((ci) => `${s.sid} ${CHANNELS[ci]}`)));
    const wrong = [];
    let subs = 0;
    let unsubs = 0;
    for (const [k, v] of m) {
      subs += v.sub; unsubs += v.unsub;
      if (v.sub !== 1 || v.unsub !== 1) {
        const sid = k.split(' ')[0];
        const cli = clients.find((c) => c.sessions.some((s) => s.sid === sid));
        wrong.push(`${k}: ${v.sub} subscribe, ${v.unsub} unsubscribe (${cli ? `client ${cli.idx} ${cli.kind}` : 'not our session'})`);
      }
    }
    const noEvent = [...known].filter((k) => !m.has(k));
    // an unsubscribe event while the session's client was still connected (more than 2 s
    // before the client saw its session end) tells Rails the user left while they had not
    const sessionOf = new Map(sessions.map(({ c, s: ss }) => [ss.sid, { c, s: ss }]));
    const rel = (at) => `+${at - P.startedAt} ms`;
    const premature = [];
    for (const e of events.events) {
      if (e.channel !== 'juggernaut:unsubscribe' || !e.json || !ours.has(e.json.channel)) continue;
      const x = sessionOf.get(e.json.session_id);
      if (!x) continue;
      const ended = x.s.disconnectedAt || closedAt;
      if (e.at < ended - 2000) {
        premature.push(`${e.json.session_id} ${e.json.channel} (client ${x.c.idx} ${x.c.kind}): unsubscribe event at ${rel(e.at)}, ` +
          `session connected ${rel(x.s.connectedAt)}, ended ${x.s.disconnectedAt ? rel(x.s.disconnectedAt) : 'at the close'} ` +
          `[SIGKILL ${chaos.kill && rel(P.startedAt + chaos.kill.at)}, SIGTERM ${chaos.term && rel(P.startedAt + chaos.term.at)}]`);
      }
    }
    // how long after the close the unsubscribe events came, per kind of client
    const kindOf = new Map(sessions.map(({ c, s: ss }) => [ss.sid, c.kind]));
    const lateBy = {};
    for (const e of events.events) {
      if (e.channel !== 'juggernaut:unsubscribe' || !e.json || !ours.has(e.json.channel) || e.at < closedAt) continue;
      const k = kindOf.get(e.json.session_id) || 'other';
      lateBy[k] = Math.max(lateBy[k] || 0, e.at - closedAt);
    }
    const presence = [];
    for (const ch of CHANNELS) {
      const n = await rc.hlen(`jg:presence:${ch}`);
      const via = alive()[0];
      const r = via ? await ops.httpGet(via.adminPort, `/presence/${encodeURIComponent(ch)}`) : null;
      let api = null;
      try { api = JSON.parse(r.body); } catch (e) { /* reported below */ }
      if (n !== 0 || !api || api.sessions !== 0) presence.push(`${ch}: HLEN ${n}, GET /presence ${r && r.status} ${r && r.body.slice(0, 200)}`);
    }
    results.events = { pairs: m.size, subscribe: subs, unsubscribe: unsubs, wrong: wrong.length, premature: premature.length, settledMs };
    t.diagnostic(`events: ${m.size} (session, channel) pairs, ${subs} subscribe, ${unsubs} unsubscribe events; ${wrong.length} pairs not exactly 1+1; ` +
      `settled ${settledMs} ms after the clients closed (slowest per kind: ${fmt(lateBy)}); sessions without any event: ${noEvent.length}; ` +
      `unsubscribe events while the session was alive: ${premature.length}`);
    t.diagnostic(`SUMMARY ${fmt({ chaos: { kill: chaos.kill, newLeader: chaos.newLeader, restart: chaos.restart, term: chaos.term, catchUpMs: chaos.catchUpMs }, exact: (results.exact || []).map((r) => { const o = Object.assign({}, r); delete o.bad; return o; }), ws: results.ws, presence: results.presence, events: results.events })}`);
    assert.deepEqual(wrong.slice(0, 20), [], 'every (session, channel) has exactly one subscribe and one unsubscribe event');
    assert.deepEqual(premature.slice(0, 20), [], 'no unsubscribe event while the session was alive');
    assert.deepEqual(noEvent.slice(0, 20), [], 'every session that subscribed has its subscribe events');
    assert.deepEqual(presence, [], 'presence is empty once everyone left');
  });
});

