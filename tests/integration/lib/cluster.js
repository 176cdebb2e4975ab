'use strict';
// Helpers for the cluster chaos test (cluster.test.js, issue 7):
//   - HAProxy generated from the SHIPPED conf/haproxy.cfg with any number of servers (the
//     shipped file has two; extra ones are copies of its last server line), plus a log line
//     per request on HAProxy's stdout ("<server> <method> <uri> <status> <retries>"), read
//     line by line so the test can see which instance answered each poll of each session;
//   - Instance: one juggernautd "slot" (main, admin and agent port fixed) that can be
//     SIGKILLed, restarted on the same ports, SIGTERMed; its /stats are sampled so the
//     counters of an incarnation that died are still known;
//   - ChaosClient: one socket.io-client 0.9.16 user (websocket, xhr-polling, jsonp-polling)
//     with reconnect on, which sends its meta and subscribes on every connect (optionally
//     with "since": the last seq it saw on the channel), and records every message;
//   - analyze(): per client, duplicates / losses / order errors judged by the per-channel
//     counter the publisher put in each message and by seq; losses that fall between two
//     sessions of one client (a WebSocket reconnect = a new session) are counted apart.
// Every process started here is tracked by pid and killed (by that pid) when the test
// process exits; every wait is bounded.

const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const h = require('./harness');
const ops = require('./ops');

// ---------------------------------------------------------------------------------
// HAProxy

/* The lines of the shipped file that make it non-sticky and per-request balanced; throws
 * with the reason if one is missing or if anything in it would give affinity. */
function checkNoAffinity(shipped) {
  const active = shipped.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
  const problems = [];
  if (!active.some((l) => /^balance\s+roundrobin$/.test(l))) problems.push('no "balance roundrobin"');
  if (!active.some((l) => /^option\s+http-server-close$/.test(l) || /^http-reuse\s+never$/.test(l))) {
    problems.push('neither "option http-server-close" nor "http-reuse never" (a kept server connection would pin a client to one instance)');
  }
  for (const l of active) {
    if (/^(cookie|stick|stick-table|hash-type|appsession)\b/.test(l) || /^balance\s+(source|uri|url_param|hdr|rdp-cookie)/.test(l) ||
        /^server\s.*\bcookie\b/.test(l)) {
      problems.push(`affinity: "${l}"`);
    }
  }
  if (problems.length) throw new Error(`conf/haproxy.cfg: ${problems.join('; ')}`);
}

/* conf/haproxy.cfg for servers.length instances: the shipped server lines, plus copies of
 * the last one (named j3, j4, ...) when the test runs more instances than the file lists;
 * then ops.haproxyConfig (frontend bind, addresses, agent ports, stats socket), a global
 * "log stdout" and a log-format in the frontend. */
function clusterHaproxyConfig(shipped, { frontPort, sockPath, servers, logFormat }) {
  checkNoAffinity(shipped);
  const lines = shipped.split('\n');
  const serverIdx = [];
  lines.forEach((l, i) => { if (/^\s+server\s+\S+\s+\S+:\d+\s/.test(l)) serverIdx.push(i); });
  if (!serverIdx.length) throw new Error('conf/haproxy.cfg has no server line');
  if (serverIdx.length > servers.length) throw new Error(`conf/haproxy.cfg lists ${serverIdx.length} servers, the test starts ${servers.length}`);
  const last = lines[serverIdx[serverIdx.length - 1]];
  const extra = [];
  for (let k = serverIdx.length; k < servers.length; k++) {
    extra.push(last.replace(/^(\s+server\s+)\S+/, `$1j${k + 1}`));
  }
  lines.splice(serverIdx[serverIdx.length - 1] + 1, 0, ...extra);
  const globalExtra = ops.haproxyLimitLines(shipped).concat(logFormat ? ['log stdout format raw local0'] : []);
  let text = ops.haproxyConfig(lines.join('\n'), { frontPort, sockPath, servers, globalExtra });
  if (logFormat) {
    let done = false;
    text = text.replace(/^frontend\s+\S+\s*$/m, (m) => { done = true; return `${m}\n    log-format "${logFormat}"`; });
    if (!done) throw new Error('no frontend section in conf/haproxy.cfg');
  }
  return text;
}

/* Start HAProxy in the foreground (-db); every line it writes to stdout goes to onLine.
 * Resolves once the frontend accepts connections and the stats socket answers. */
async function startHaproxy(cfgText, { frontPort, sockPath, dir, onLine }) {
  if (!fs.existsSync(ops.HAPROXY_BIN)) {
    throw new Error(`${ops.HAPROXY_BIN} not found: install the Debian package haproxy (make test does), or set HAPROXY_BIN`);
  }
  const cfgPath = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfgPath, cfgText);
  const check = spawnSync(ops.HAPROXY_BIN, ['-c', '-f', cfgPath], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c rejects the generated configuration:\n${check.stdout}${check.stderr}\n${cfgText}`);
  const child = spawn(ops.HAPROXY_BIN, ['-db', '-f', cfgPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  ops.trackPid(child.pid, 'haproxy');
  let err = '';
  let partial = '';
  let lines = 0;
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    for (const l of parts) { lines++; if (onLine) onLine(l); }
  });
  child.stderr.on('data', (d) => { if (err.length < 1e6) err += d; });
  let info = null;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { info = { code, signal }; ops.untrackPid(child.pid); resolve(info); }));
  const hp = {
    pid: child.pid,
    cfgPath,
    logs: () => err,
    get lines() { return lines; },
    get exitInfo() { return info; },
    cmd: (c) => ops.haproxyCmd(sockPath, c),
    async stop() {
      if (info === null) {
        try { process.kill(child.pid, 'SIGTERM'); } catch (e) { /* gone */ }
        const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (e) { /* gone */ } }, 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  await ops.waitFor(async () => {
    if (info) throw new Error(`haproxy exited ${JSON.stringify(info)}:\n${err}`);
    if (!(await h.tcpReady(frontPort))) return false;
    try { return /pxname/.test(await hp.cmd('show stat')); } catch (e) { return false; }
  }, 8000, `haproxy listening on ${frontPort}`);
  return hp;
}

/* Reads the per-request log lines "<server> <method> <uri> <status> <retries> <Tr>" and keeps,
 * per polling session id, the servers that answered its GETs in order; counts statuses
 * per server. */
class PollLog {
  constructor() {
    this.bySid = new Map(); // sid -> [server, ...] (GET polls, in completion order)
    this.status = {};       // server -> {status: count}
    this.requests = {};     // server -> count
    this.retried = 0;       // requests HAProxy sent more than once
    this.redispatched = 0;
    this.lines = 0;
    this.non200Polls = [];  // {server, method, uri, status} (first 50)
    this.noServer = [];     // lines HAProxy answered itself (first 20)
    this.recent = new Map(); // sid -> the last 12 requests "<logged at> <server> <method> <t=...> <status> <retries> <Tr ms>"
    this.first = new Map();  // sid -> the first 12 requests (same format)
    this.all = new Map();    // sid -> every request {at (when logged), entry}
  }

  onLine(line) {
    this.lines++;
    const m = /^(\S+) (\S+) (\S+) (-?\d+) (\+?-?\d+)(?: (-?\d+))?/.exec(line);
    if (!m) return;
    const [, server, method, uri, status, rc, tr] = m;
    if (server === '<NOSRV>' && this.noServer.length < 20) this.noServer.push(line);
    this.requests[server] = (this.requests[server] || 0) + 1;
    const st = (this.status[server] = this.status[server] || {});
    st[status] = (st[status] || 0) + 1;
    if (rc.startsWith('+')) this.redispatched++;
    if (Number(rc.replace('+', '')) > 0) this.retried++;
    const p = /^\/socket\.io\/1\/(xhr-polling|jsonp-polling)\/([^/?]+)/.exec(uri);
    if (!p) return;
    if (status !== '200' && this.non200Polls.length < 50) this.non200Polls.push({ server, method, uri, status });
    let rec = this.recent.get(p[2]);
    if (!rec) this.recent.set(p[2], (rec = []));
    let first = this.first.get(p[2]);
    if (!first) this.first.set(p[2], (first = []));
    const q = /[?&]t=(\d+)/.exec(uri);
    const entry = `${new Date().toISOString().slice(11, 23)} ${server} ${method} t=${q ? q[1] : '-'} ${status} ${rc} ${tr}`;
    rec.push(entry);
    if (rec.length > 12) rec.shift();
    if (first.length < 12) first.push(entry);
    let all = this.all.get(p[2]);
    if (!all) this.all.set(p[2], (all = []));
    all.push({ at: Date.now(), entry });
    if (method !== 'GET') return;
    let a = this.bySid.get(p[2]);
    if (!a) this.bySid.set(p[2], (a = []));
    a.push(server);
  }

  /* The requests of sid logged between from and to (ms timestamps). */
  between(sid, from, to) {
    return (this.all.get(sid) || []).filter((r) => r.at >= from && r.at <= to).map((r) => r.entry);
  }

  /* For the given sids: polls seen, sessions whose polls reached 1/2/3+ servers,
   * consecutive poll pairs answered by different servers. */
  spread(sids) {
    const out = { sessions: 0, polls: 0, pairs: 0, pairsMoved: 0, byServers: {}, single: [] };
    for (const sid of sids) {
      const a = this.bySid.get(sid);
      if (!a) continue;
      out.sessions++;
      out.polls += a.length;
      const k = new Set(a).size;
      out.byServers[k] = (out.byServers[k] || 0) + 1;
      if (k < 2) out.single.push(`${sid} (${a.length} polls on ${a[0]})`);
      for (let i = 1; i < a.length; i++) {
        out.pairs++;
        if (a[i] !== a[i - 1]) out.pairsMoved++;
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------
// juggernautd instances

/* One instance slot: fixed main, admin and agent ports; start() (again) on the same ports. */
class Instance {
  constructor(name, { redisUrl, port, adminPort, agentPort, config }) {
    Object.assign(this, { name, redisUrl, port, adminPort, agentPort });
    this.config = Object.assign({}, config, { 'admin-port': adminPort, 'agent-port': agentPort });
    this.incarnations = []; // {daemon, startedAt, stats (last sample), statsAt, exit}
    this.daemon = null;
  }

  get current() { return this.incarnations[this.incarnations.length - 1]; }

  get alive() { return !!(this.daemon && this.daemon.alive); }

  async start(ms = 10000) {
    const deadline = Date.now() + ms;
    let lastErr;
    // after a SIGKILL the ports may need a moment (the test retries; a daemon that cannot
    // bind a port its predecessor used for longer than that is reported)
    while (Date.now() < deadline) {
      try {
        // JG_TEST_LOG_DIR: every incarnation's whole log in <dir>/<name>-<incarnation>.log
        const logDir = process.env.JG_TEST_LOG_DIR;
        const logFile = logDir ? path.join(logDir, `${this.name}-${this.incarnations.length + 1}.log`) : undefined;
        if (logDir) fs.mkdirSync(logDir, { recursive: true });
        this.daemon = await h.startDaemon({ redisUrl: this.redisUrl, port: this.port, config: this.config, logFile,
          timeout: Math.max(2000, deadline - Date.now()) });
        const inc = { daemon: this.daemon, startedAt: Date.now(), stats: null, statsAt: 0, exit: null };
        this.daemon.exited.then((e) => { inc.exit = e; });
        this.incarnations.push(inc);
        return this.daemon;
      } catch (e) {
        lastErr = e;
        if (!/Address already in use|EADDRINUSE|bind/i.test(e.message)) break;
        await h.sleep(200);
      }
    }
    throw lastErr;
  }

  async stats(ms = 2000) {
    const r = await ops.httpGet(this.adminPort, '/stats', ms);
    if (r.status !== 200) throw new Error(`${this.name}: GET /stats on admin port ${this.adminPort}: ${r.status} ${r.error || r.body}`);
    const s = JSON.parse(r.body);
    const inc = this.current;
    if (inc && inc.daemon === this.daemon) { inc.stats = s; inc.statsAt = Date.now(); }
    return s;
  }

  /* Sum of a counter over every incarnation (the last sample of each). */
  total(key) {
    return this.incarnations.reduce((a, inc) => a + (inc.stats && typeof inc.stats[key] === 'number' ? inc.stats[key] : 0), 0);
  }
}

/* Samples /stats of every live instance every `every` ms until stop() (so the counters
 * of an incarnation that gets killed are known up to its last half second). */
function statsSampler(instances, every = 500) {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(instances.filter((i) => i.alive).map((i) => i.stats(1000).catch(() => null)));
      await h.sleep(every);
    }
  })();
  return { async stop() { stopped = true; await loop; } };
}

/* First key present in a stats object (the counter names may differ a little). */
function statKey(stats, names) {
  for (const n of names) if (stats && typeof stats[n] === 'number') return n;
  return null;
}

// ---------------------------------------------------------------------------------
// clients

const TRANSPORT = { ws: 'websocket', 'ws-since': 'websocket', xhr: 'xhr-polling', jsonp: 'jsonp-polling' };

/* One user. kind: 'ws' (original protocol: a reconnect is a new session that subscribes
 * again from now on), 'ws-since' (our protocol: resubscribes with "since": last seq seen),
 * 'xhr', 'jsonp' (polling: must keep one session through everything). chIdx: indexes
 * into channels. */
class ChaosClient {
  constructor(idx, kind, channels, chIdx, meta) {
    Object.assign(this, { idx, kind, channels, chIdx, meta });
    this.transport = TRANSPORT[kind];
    this.recv = [];            // {ci, n, seq, s (session index), at}
    this.lastSeq = new Map();  // ci -> highest seq seen
    this.sessions = [];        // {sid, connectedAt, subscribedAt, disconnectedAt, reason}
    this.errors = [];          // 'error' events
    this.errorMessages = [];   // {"error": ...} messages from the server
    this.unexpected = [];      // messages that are not ours (first 20)
    this.noSeq = 0;
    this.connectFailed = 0;
    this.reconnectFailed = 0;
    this.client = null;
  }

  get sid() { return this.client && this.client.sid; }

  get connected() { return !!(this.client && this.client.connected); }

  get session() { return this.sessions[this.sessions.length - 1]; }

  async connect(front, timeout = 15000) {
    const c = await h.sioConnect(front, {
      transports: [this.transport],
      reconnect: true,
      'reconnection delay': 250,
      'reconnection limit': 2000,
      'max reconnection attempts': 50,
      timeout,
    });
    this.client = c;
    c.ns.on('message', (m) => this.onMessage(typeof m === 'string' ? m : JSON.stringify(m)));
    c.ns.on('error', (e) => { if (this.errors.length < 20) this.errors.push(`${new Date().toISOString()} ${String(e)}`); });
    c.ns.on('connect_failed', () => { this.connectFailed++; });
    c.ns.on('reconnect_failed', () => { this.reconnectFailed++; });
    c.ns.on('disconnect', (reason) => {
      const s = this.session;
      if (s && !s.disconnectedAt) { s.disconnectedAt = Date.now(); s.reason = reason; }
    });
    c.ns.on('connect', () => this.onConnect());
    this.onConnect();
    return this;
  }

  onConnect() {
    const sid = this.client.sid;
    if (this.session && this.session.sid === sid) return;
    const reconnect = this.sessions.length > 0;
    this.sessions.push({ sid, connectedAt: Date.now(), subscribedAt: null, disconnectedAt: null, reason: null });
    this.client.meta(this.meta);
    for (const ci of this.chIdx) {
      const msg = { type: 'subscribe', channel: this.channels[ci] };
      if (reconnect && this.kind === 'ws-since' && this.lastSeq.has(ci)) msg.since = this.lastSeq.get(ci);
      this.client.send(msg);
    }
    this.session.subscribedAt = Date.now();
  }

  onMessage(text) {
    // the harness keeps every message too; this test keeps its own compact record
    this.client.messages.length = 0;
    this.client.received.length = 0;
    let j;
    try { j = JSON.parse(text); } catch (e) { if (this.unexpected.length < 20) this.unexpected.push(text); return; }
    if (j && j.error) { if (this.errorMessages.length < 20) this.errorMessages.push(text); return; }
    if (j && j.presence) return;
    const ci = j ? this.channels.indexOf(j.channel) : -1;
    if (ci < 0 || !this.chIdx.includes(ci) || !j.data || typeof j.data.n !== 'number') {
      if (this.unexpected.length < 20) this.unexpected.push(text);
      return;
    }
    const seq = typeof j.seq === 'number' ? j.seq : null;
    if (seq === null) this.noSeq++;
    else if (!(this.lastSeq.get(ci) >= seq)) this.lastSeq.set(ci, seq);
    this.recv.push({ ci, n: j.data.n, seq, s: this.sessions.length - 1, at: Date.now() });
  }

  /* Highest n received on channel ci. */
  lastN(ci) {
    let m = -1;
    for (let i = this.recv.length - 1; i >= 0; i--) if (this.recv[i].ci === ci && this.recv[i].n > m) m = this.recv[i].n;
    return m;
  }

  close() { if (this.client) ops.closeForGood(this.client); }
}

/* Connect clients with at most `parallel` handshakes in flight. */
async function connectAll(clients, front, parallel = 20) {
  let next = 0;
  const failures = [];
  const worker = async () => {
    while (next < clients.length) {
      const c = clients[next++];
      try { await c.connect(front); } catch (e) {
        // one more try: a connect that fails is a finding, but the run goes on
        try { await h.sleep(200); await c.connect(front); failures.push(`client ${c.idx} (${c.kind}) needed 2 attempts: ${e.message}`); } catch (e2) {
          failures.push(`client ${c.idx} (${c.kind}) could not connect: ${e2.message}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return failures;
}

// ---------------------------------------------------------------------------------
// the publisher

/* Publishes `total` messages round-robin over channels through PUBLISH juggernaut, at a
 * steady rate over durationMs; message k of channel c carries data {n: k} (k from 1).
 * pubAt[ci][n] = when it was sent. Resolves when the last one was acknowledged. */
function publisher(redisConn, channels, { total, durationMs, first = 1 }) {
  const pubAt = channels.map(() => []);
  const counters = channels.map(() => first - 1);
  const errors = [];
  let sent = 0;
  let lateMax = 0;
  const t0 = Date.now();
  const interval = durationMs / total;
  const pending = [];
  const done = new Promise((resolve) => {
    const tick = () => {
      const now = Date.now();
      const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
      if (sent < due) lateMax = Math.max(lateMax, now - (t0 + (due - 1) * interval));
      while (sent < due) {
        const ci = sent % channels.length;
        const n = ++counters[ci];
        pubAt[ci][n] = now;
        pending.push(redisConn.publish('juggernaut', JSON.stringify({ channels: [channels[ci]], data: { n, i: sent } }))
          .catch((e) => { errors.push(e.message); }));
        sent++;
      }
      if (sent >= total) Promise.all(pending).then(() => resolve());
      else setTimeout(tick, 3);
    };
    tick();
  });
  return {
    pubAt, errors, done,
    get sent() { return sent; },
    get perChannel() { return counters.slice(); },
    get lateMax() { return lateMax; },
    startedAt: t0,
  };
}

// ---------------------------------------------------------------------------------
// analysis

/* One client's record against the expected counters 0..expected[ci] per channel.
 *   duplicates: (channel, n) received more than once
 *   orderErrors: a message whose n is lower than one received before it (not a duplicate)
 *   seqErrors: a message without seq, or whose seq is not above the previous one's on its
 *     channel
 *   crossSeqInversions: the same across this client's channels (a client that resubscribes
 *     with "since" legitimately gets one channel's history after another's live messages)
 *   losses: expected messages never received and not in a reconnect window
 *   windowLosses: missing messages strictly between the last one of a session and the
 *     first one of the next session (per channel) — the window of a client that
 *     reconnects as a new session without "since"
 *   windows: [{from (session index), ch, first, last, count}] */
function analyze(c, expected) {
  const out = {
    received: c.recv.length, duplicates: 0, orderErrors: 0, seqErrors: 0, crossSeqInversions: 0,
    losses: 0, windowLosses: 0, windows: [], missingSample: [],
  };
  let prevSeq = -Infinity;
  for (const r of c.recv) {
    if (r.seq !== null && r.seq <= prevSeq) out.crossSeqInversions++;
    if (r.seq !== null) prevSeq = Math.max(prevSeq, r.seq);
  }
  for (const ci of c.chIdx) {
    const list = c.recv.filter((r) => r.ci === ci);
    let chSeq = -Infinity;
    for (const r of list) {
      if (r.seq === null || !(r.seq > chSeq)) out.seqErrors++;
      if (r.seq !== null) chSeq = Math.max(chSeq, r.seq);
    }
    const seen = new Map(); // n -> session index of first receipt
    let maxN = -Infinity;
    for (const r of list) {
      if (seen.has(r.n)) { out.duplicates++; continue; }
      seen.set(r.n, r.s);
      if (r.n < maxN) out.orderErrors++;
      maxN = Math.max(maxN, r.n);
    }
    // per session: the lowest and highest n received on this channel
    const bySession = new Map();
    for (const [n, s] of seen) {
      const b = bySession.get(s) || { min: Infinity, max: -Infinity };
      b.min = Math.min(b.min, n); b.max = Math.max(b.max, n);
      bySession.set(s, b);
    }
    const order = [...bySession.keys()].sort((a, b) => a - b);
    const gaps = [];
    for (let k = 1; k < order.length; k++) {
      const a = bySession.get(order[k - 1]);
      const b = bySession.get(order[k]);
      if (b.min > a.max + 1) gaps.push({ from: order[k - 1], to: order[k], first: a.max + 1, last: b.min - 1 });
    }
    for (let n = 0; n <= expected[ci]; n++) {
      if (seen.has(n)) continue;
      const g = gaps.find((x) => n >= x.first && n <= x.last);
      if (g) { out.windowLosses++; g.count = (g.count || 0) + 1; } else {
        out.losses++;
        if (out.missingSample.length < 10) out.missingSample.push(`${c.channels[ci]}#${n}`);
      }
    }
    for (const g of gaps) if (g.count) out.windows.push(Object.assign({ ci }, g));
  }
  return out;
}

/* N instances with the shipped settings (cluster yes; only ports differ) behind HAProxy
 * generated from the shipped conf/haproxy.cfg. Resolves {inst, hp, frontPort, allUp}
 * once every server is UP; allUp() waits for that again (after a restart). */
async function startShippedCluster(redisUrl, n, tag = 'jg-cluster-') {
  const inst = [];
  for (let k = 0; k < n; k++) {
    inst.push(new Instance(`j${k + 1}`, {
      redisUrl, port: await h.freePort(), adminPort: await h.freePort(), agentPort: await h.freePort(),
      config: Object.assign({ cluster: 'yes' }, process.env.JG_TEST_LOG_LEVEL ? { 'log-level': process.env.JG_TEST_LOG_LEVEL } : {}),
    }));
  }
  await Promise.all(inst.map((i) => i.start()));
  const frontPort = await h.freePort();
  const dir = h.tempDir(tag);
  const sockPath = path.join(dir, 'haproxy.sock');
  const shipped = fs.readFileSync(path.join(h.REPO, 'conf', 'haproxy.cfg'), 'utf8');
  const hp = await startHaproxy(clusterHaproxyConfig(shipped, {
    frontPort, sockPath, servers: inst.map((i) => ({ port: i.port, agentPort: i.agentPort })),
  }), { frontPort, sockPath, dir });
  const allUp = (ms = 15000) => ops.waitFor(async () => {
    const st = await ops.haproxyStat(hp);
    return inst.every((_, k) => { const r = st[`juggernaut/j${k + 1}`]; return r && r.status === 'UP'; });
  }, ms, 'haproxy: every server UP');
  await allUp(10000);
  return { inst, hp, frontPort, allUp };
}

module.exports = {
  startShippedCluster,
  checkNoAffinity, clusterHaproxyConfig, startHaproxy, PollLog,
  Instance, statsSampler, statKey,
  ChaosClient, connectAll, publisher, analyze, TRANSPORT,
};
