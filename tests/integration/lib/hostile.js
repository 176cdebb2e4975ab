'use strict';
// Helpers for the hardening tests (hostile.test.js, redis_faults.test.js, private.test.js):
// process probes (/proc RSS and CPU time), a "normal client still works" check, a seeded
// PRNG, and floods of idle TCP connections opened from child processes (this file is also
// the child's program: `node hostile.js --flood PORT COUNT`). Built on ./harness, which is
// used as is. Every child is tracked by pid and killed by that pid on exit; every wait is
// bounded.

const fs = require('node:fs');
const net = require('node:net');
const assert = require('node:assert/strict');
const { fork } = require('node:child_process');

const MB = 1024 * 1024;

// ---------------------------------------------------------------------------------
// the flood child (runs when this file is the main module)

/* Opens COUNT TCP connections to 127.0.0.1:PORT (at most CONCURRENT connects in flight),
 * sends nothing, and records what happens to each: answered 503, closed by the peer with
 * no data, reset. Reports {type: 'opened', ...} once every connect settled, and answers
 * {cmd: 'status'} and {cmd: 'close'} (destroys every socket, reports, exits). */
function floodChild(port, count, concurrent = 200) {
  const socks = new Set();
  const st = { attempted: 0, connected: 0, failed: 0, got503: 0, gotOther: 0, peerClosed: 0,
    peerClosedSilent: 0, resets: 0, open: 0, errors: {} };
  let inFlight = 0;
  let settled = 0;
  let reported = false;
  const status = () => Object.assign({}, st, { open: socks.size, settled });
  const maybeReport = () => {
    if (!reported && settled === count) {
      reported = true;
      process.send({ type: 'opened', status: status() });
    }
  };
  const next = () => {
    while (inFlight < concurrent && st.attempted < count) {
      st.attempted++;
      inFlight++;
      const s = net.connect({ port, host: '127.0.0.1' });
      let first = null;
      let connected = false;
      let done = false;
      const settle = () => {
        if (done) return;
        done = true;
        inFlight--;
        settled++;
        maybeReport();
        next();
      };
      s.on('connect', () => { connected = true; st.connected++; socks.add(s); settle(); });
      s.on('data', (d) => {
        if (first === null) {
          first = d;
          if (/^HTTP\/1\.1 503 /.test(d.toString('latin1'))) st.got503++;
          else st.gotOther++;
        }
      });
      s.on('error', (e) => {
        st.errors[e.code] = (st.errors[e.code] || 0) + 1;
        if (e.code === 'ECONNRESET') st.resets++;
        if (!connected) { st.failed++; settle(); }
      });
      s.on('close', () => {
        if (socks.delete(s) && !s.destroyedByUs) {
          st.peerClosed++;
          if (first === null) st.peerClosedSilent++;
        }
      });
    }
  };
  process.on('message', (m) => {
    if (m.cmd === 'status') process.send({ type: 'status', status: status() });
    if (m.cmd === 'close') {
      for (const s of socks) { s.destroyedByUs = true; s.destroy(); }
      socks.clear();
      process.send({ type: 'closed', status: status() }, () => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  next();
  if (count === 0) maybeReport();
}

if (require.main === module) {
  const i = process.argv.indexOf('--flood');
  if (i < 0) {
    process.stderr.write('usage: node hostile.js --flood PORT COUNT\n');
    process.exit(2);
  }
  floodChild(Number(process.argv[i + 1]), Number(process.argv[i + 2]));
  return;
}

// ---------------------------------------------------------------------------------
// below: the library (not loaded in the flood child)

const h = require('./harness');

const children = new Map(); // pid -> ChildProcess
process.on('exit', () => {
  for (const pid of children.keys()) {
    try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ }
  }
});

/* The binary under test is an ASan/UBSan build: memory is quarantined after free, so RSS
 * margins are wider and the quarantine is kept small. */
function isSanitized() {
  return /asan|san\b|sanit/i.test(h.daemonBinary());
}

/* Environment for daemons started by these tests: a small ASan quarantine (RSS otherwise
 * only grows), leak checking left as the caller set it. */
function daemonEnv() {
  const prev = process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : '';
  return { ASAN_OPTIONS: `${prev}quarantine_size_mb=16:malloc_context_size=10` };
}

const RSS_MARGIN = isSanitized() ? 64 * MB : 20 * MB;

function procStatus(pid) {
  return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
}

/* Resident set size of pid, bytes (VmRSS). */
function rss(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(procStatus(pid));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/* Open file descriptors of pid. */
function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/* utime + stime of pid in clock ticks (USER_HZ, 100 on Linux), from /proc/pid/stat. */
function cpuTicks(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15
  return Number(rest[11]) + Number(rest[12]);
}

/* CPU seconds pid uses during ms of wall time. */
async function cpuDuring(pid, ms) {
  const t0 = cpuTicks(pid);
  await h.sleep(ms);
  return (cpuTicks(pid) - t0) / 100;
}

/* Deterministic PRNG (mulberry32) so a failing random-bytes run can be replayed. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    bytes(n) {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

/* GET /stats as JSON. */
async function stats(daemon) {
  const r = await h.getJson(daemon.base, '/stats');
  assert.equal(r.status, 200, `/stats answered ${r.status}`);
  return r.json;
}

/* Poll fn() until truthy (resolved with it); reject after ms with what + the last value. */
async function until(fn, ms, what, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    }
    await h.sleep(every);
  }
}

/* A socket.io-client 0.9.16 WebSocket client subscribed to a fresh channel; waits for the
 * daemon's juggernaut:subscribe event so a publish is sure to reach it. */
async function subscribedClient(env, prefix = 'probe') {
  const client = await h.sioConnect(env.daemon.base, { transports: ['websocket'] });
  const channel = h.uid(prefix);
  client.subscribe(channel);
  await env.events.waitFor((e) => e.channel === 'juggernaut:subscribe' && e.json &&
    e.json.session_id === client.sid && e.json.channel === channel, 5000, `subscribe event of ${channel}`);
  client.channel = channel;
  if (env.clients) env.clients.push(client);
  return client;
}

/* Publish data on client.channel and wait until the client has it. */
async function roundTrip(env, client, data = h.uid('data'), ms = 5000) {
  await env.pub.publish('juggernaut', JSON.stringify({ channels: [client.channel], data }));
  await client.waitForMessage((t, j) => j && j.channel === client.channel && j.data === data, ms);
}

/* The check run after every hostile scenario: the daemon is alive, a NEW normal client
 * connects, subscribes and receives a published message (and so does the bystander, if
 * given, which was connected during the attack), and RSS comes back below
 * baseline + RSS_MARGIN once the hostile sockets are closed. */
async function assertRecovered(env, { baseline, bystander, what = 'scenario' } = {}) {
  env.daemon.assertAlive();
  const client = await subscribedClient(env, 'after');
  try {
    await roundTrip(env, client);
    if (bystander) {
      assert.equal(bystander.disconnectReason, null, `the bystander client was disconnected during ${what}`);
      await roundTrip(env, bystander);
    }
  } finally {
    client.close();
  }
  if (baseline !== undefined) {
    let now = 0;
    try {
      await until(() => { now = rss(env.daemon.pid); return now < baseline + RSS_MARGIN; }, 8000, 'RSS to come down', 200);
    } catch (e) {
      throw new Error(`after ${what}: daemon RSS ${(now / MB).toFixed(1)} MB stays above baseline ` +
        `${(baseline / MB).toFixed(1)} MB + ${RSS_MARGIN / MB} MB`);
    }
  }
  env.daemon.assertAlive();
}

/* Like harness.eventCollector, for a Redis that needs a password (the harness's has none):
 * {events, waitFor(pred, ms, what), matching(pred), close()}. */
async function authedEventCollector(port, password) {
  const Redis = require('ioredis');
  const sub = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: null });
  sub.on('error', () => {});
  const events = [];
  sub.on('message', (channel, message) => {
    let json;
    try { json = JSON.parse(message); } catch (e) { json = undefined; }
    events.push({ channel, message, json, at: Date.now() });
  });
  await sub.connect();
  await sub.subscribe(...h.EVENT_CHANNELS);
  return {
    events,
    matching: (pred) => events.filter(pred),
    waitFor: (pred, ms = 5000, what = 'a matching event') => until(() => events.find(pred), ms, what, 20),
    async close() { sub.disconnect(); },
  };
}

// ---------------------------------------------------------------------------------
// floods of idle connections from child processes

/* Opens `count` idle TCP connections to port from `procs` child processes. Resolves once
 * every connect settled with {status(): merged counts, close(): destroy all and end the
 * children}. */
async function idleFlood(port, count, procs = 2, ms = 60000) {
  const per = Math.ceil(count / procs);
  const kids = [];
  for (let i = 0; i < procs; i++) {
    const n = Math.min(per, count - i * per);
    const child = fork(__filename, ['--flood', String(port), String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.set(child.pid, child);
    child.once('exit', () => children.delete(child.pid));
    kids.push(child);
  }
  const ask = (child, cmd, type) => new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.off('message', on); reject(new Error(`flood child ${child.pid}: no ${type} within ${ms} ms`)); }, ms);
    const on = (m) => { if (m.type === type) { clearTimeout(t); child.off('message', on); resolve(m.status); } };
    child.on('message', on);
    if (cmd) child.send({ cmd });
  });
  const merge = (list) => {
    const out = {};
    for (const s of list) {
      for (const [k, v] of Object.entries(s)) {
        if (typeof v === 'number') out[k] = (out[k] || 0) + v;
        else if (k === 'errors') {
          out.errors = out.errors || {};
          for (const [ek, ev] of Object.entries(v)) out.errors[ek] = (out.errors[ek] || 0) + ev;
        }
      }
    }
    return out;
  };
  const opened = merge(await Promise.all(kids.map((k) => ask(k, null, 'opened'))));
  return {
    opened,
    status: async () => merge(await Promise.all(kids.map((k) => ask(k, 'status', 'status')))),
    async close() {
      const alive = kids.filter((k) => k.exitCode === null && k.signalCode === null);
      const res = merge(await Promise.all(alive.map((k) => ask(k, 'close', 'closed').catch(() => ({})))));
      await Promise.all(kids.map((k) => h.waitExit(k, 5000).catch(() => { try { k.kill('SIGKILL'); } catch (e) { /* gone */ } })));
      return res;
    },
  };
}

module.exports = {
  MB, RSS_MARGIN, isSanitized, daemonEnv, rss, fdCount, cpuTicks, cpuDuring, prng, stats, until,
  subscribedClient, roundTrip, assertRecovered, authedEventCollector, idleFlood,
};
