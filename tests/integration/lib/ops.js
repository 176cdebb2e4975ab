'use strict';
// Helpers for the operations tests (ops.test.js, haproxy.test.js): a raw juggernautd
// process started with any command line, a real HAProxy built from conf/haproxy.cfg, its
// admin socket, and small HTTP/TCP probes. Every process started here is tracked by pid
// and killed (by that pid) when the test process exits. Every wait is bounded.

const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const { spawn } = require('node:child_process');
const h = require('./harness');

const HAPROXY_BIN = process.env.HAPROXY_BIN || '/usr/sbin/haproxy';

const tracked = new Map(); // pid -> description
process.on('exit', () => {
  for (const pid of tracked.keys()) {
    try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ }
  }
});

function trackPid(pid, what) { tracked.set(pid, what); }
function untrackPid(pid) { tracked.delete(pid); }

/* True while pid runs (a zombie waiting for its parent to reap it counts as gone). */
function pidAlive(pid) {
  try { process.kill(pid, 0); } catch (e) { return e.code === 'EPERM'; }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (e) {
    return false;
  }
}

/* Poll fn() until it returns a truthy value (resolved with it) or ms pass (rejects with
 * what + the last value seen). */
async function waitFor(fn, ms, what, every = 50) {
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

// ---------------------------------------------------------------------------------
// HTTP / TCP probes

/* One GET on a fresh connection: {status, headers, body} or {status: null, error}. */
function httpGet(port, p, ms = 3000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: ms }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), error: e.message }));
    });
    req.on('timeout', () => { req.destroy(new Error('timeout')); });
    req.on('error', (e) => resolve({ status: null, error: e.code || e.message }));
  });
}

async function getStats(port) {
  const r = await httpGet(port, '/stats');
  if (r.status !== 200) throw new Error(`GET /stats on ${port}: ${r.status} ${r.error || r.body}`);
  return JSON.parse(r.body);
}

/* Connect, read everything until the peer closes: the text, or null if nobody listens. */
function tcpReadAll(port, ms = 3000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    const t = setTimeout(() => { s.destroy(); resolve({ text: data, timedOut: true }); }, ms);
    s.on('data', (d) => { data += d.toString('latin1'); });
    s.on('end', () => { clearTimeout(t); s.destroy(); resolve({ text: data }); });
    s.on('error', (e) => { clearTimeout(t); resolve(e.code === 'ECONNREFUSED' ? null : { text: data, error: e.code }); });
  });
}

// ---------------------------------------------------------------------------------
// a juggernautd process with an arbitrary command line

/* spawnDaemon(args, {cwd, env}) -> {child, pid, logs(), exited (promise of {code, signal,
 * at}), waitExit(ms), waitLog(re, ms), kill(sig), stop(sig, ms)} */
function spawnDaemon(args, opts = {}) {
  const child = spawn(h.daemonBinary(), args, {
    cwd: opts.cwd || h.tempDir('jg-ops-'),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.assign({}, process.env, opts.env || {}),
  });
  trackPid(child.pid, 'juggernautd');
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { if (out.length < 1e6) out += d; });
  child.stderr.on('data', (d) => { if (err.length < 1e6) err += d; });
  let info = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => { info = { code, signal, at: Date.now() }; untrackPid(child.pid); resolve(info); });
  });
  const d = {
    child,
    pid: child.pid,
    exited,
    get exitInfo() { return info; },
    stdout: () => out,
    stderr: () => err,
    logs: () => out + err,
    async waitExit(ms = 5000) {
      let t;
      const timeout = new Promise((resolve, reject) => {
        t = setTimeout(() => reject(new Error(`juggernautd pid ${child.pid} did not exit within ${ms} ms; output:\n${(out + err).slice(-3000)}`)), ms);
      });
      try { return await Promise.race([exited, timeout]); } finally { clearTimeout(t); }
    },
    waitLog(re, ms = 5000, source = () => out + err) {
      return waitFor(() => re.exec(source()), ms, `log line ${re} (log so far:\n${source().slice(-2000)})`);
    },
    kill(sig = 'SIGTERM') { if (info === null) process.kill(child.pid, sig); },
    async stop(sig = 'SIGTERM', ms = 10000) {
      if (info === null) {
        try { process.kill(child.pid, sig); } catch (e) { /* gone */ }
        try { await d.waitExit(ms); } catch (e) {
          try { process.kill(child.pid, 'SIGKILL'); } catch (e2) { /* gone */ }
          await d.waitExit(3000).catch(() => {});
          throw e;
        }
      }
      return info;
    },
  };
  return d;
}

/* Wait until GET /health on port answers 200 (or the process exits: rejects). */
async function waitHealthy(port, proc, ms = 8000) {
  return waitFor(async () => {
    if (proc && proc.exitInfo) throw new Error(`juggernautd exited (${JSON.stringify(proc.exitInfo)}) before answering /health; output:\n${proc.logs().slice(-3000)}`);
    const r = await httpGet(port, '/health', 1000);
    return r.status === 200;
  }, ms, `GET /health 200 on port ${port}`);
}

// ---------------------------------------------------------------------------------
// HAProxy

/* conf/haproxy.cfg with: the frontend bind on 127.0.0.1:frontPort, servers j1/j2 on the
 * given ports and agent ports, and a stats socket at sockPath. Every other line is kept,
 * so the shipped file is what is tested. Throws if a line to replace is missing. */
function haproxyConfig(text, { frontPort, servers, sockPath, globalExtra = [] }) {
  const lines = text.split('\n');
  const out = [];
  let binds = 0;
  let seenServers = 0;
  let inFrontend = false;
  for (const line of lines) {
    const section = /^(\S+)/.exec(line);
    if (section) inFrontend = section[1] === 'frontend';
    let m;
    if (/^global\s*$/.test(line)) {
      out.push(line, `    stats socket ${sockPath} mode 600 level admin`, ...globalExtra.map((l) => `    ${l}`));
      continue;
    }
    if (inFrontend && (m = /^(\s+)bind\s+\S*:\d+\s*$/.exec(line))) {
      out.push(`${m[1]}bind 127.0.0.1:${frontPort}`);
      binds++;
      continue;
    }
    if ((m = /^(\s+server\s+(\S+)\s+)(\S+):(\d+)(\s.*)$/.exec(line))) {
      const srv = servers[seenServers++];
      if (!srv) throw new Error(`conf/haproxy.cfg has more servers than the test starts: ${line}`);
      let rest = m[5];
      if (!/agent-port \d+/.test(rest)) throw new Error(`server line without agent-port: ${line}`);
      rest = rest.replace(/agent-port \d+/, `agent-port ${srv.agentPort}`);
      out.push(`${m[1]}127.0.0.1:${srv.port}${rest}`);
      continue;
    }
    out.push(line);
  }
  if (binds !== 1) throw new Error(`expected one "bind" line in the frontend of conf/haproxy.cfg, found ${binds}`);
  if (seenServers !== servers.length) throw new Error(`expected ${servers.length} server lines, found ${seenServers}`);
  return out.join('\n');
}

/* HAProxy 2.3+ refuses to start when it cannot raise its open-file limit to what the
 * global maxconn needs (about 2 x maxconn; strict-limits is on by default). A machine or
 * container whose hard limit is lower gets "no strict-limits" (a warning instead) so the
 * shipped maxconn line can stay as it is. Returns the extra global lines. */
function haproxyLimitLines(text) {
  const m = /^\s*maxconn\s+(\d+)/m.exec(text.split(/^defaults/m)[0]);
  if (!m) return [];
  const need = 2 * Number(m[1]) + 100;
  let hard = Infinity;
  try {
    const out = require('node:child_process').execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
    if (out !== 'unlimited') hard = Number(out);
  } catch (e) { /* assume enough */ }
  return hard < need ? [`no strict-limits   # added by the test: open-file hard limit ${hard} < ${need}`] : [];
}

/* Start HAProxy in the foreground (-db) with cfgText; resolves once the frontend port
 * accepts connections and the stats socket answers. */
async function startHaproxy(cfgText, { frontPort, sockPath, dir }) {
  if (!fs.existsSync(HAPROXY_BIN)) {
    throw new Error(`${HAPROXY_BIN} not found: install the Debian package haproxy (make test does), or set HAPROXY_BIN`);
  }
  const cfgPath = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(cfgPath, cfgText);
  const check = require('node:child_process').spawnSync(HAPROXY_BIN, ['-c', '-f', cfgPath], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c rejects the generated configuration:\n${check.stdout}${check.stderr}\n${cfgText}`);
  const child = spawn(HAPROXY_BIN, ['-db', '-f', cfgPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  trackPid(child.pid, 'haproxy');
  let log = '';
  child.stdout.on('data', (d) => { if (log.length < 1e6) log += d; });
  child.stderr.on('data', (d) => { if (log.length < 1e6) log += d; });
  let info = null;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { info = { code, signal }; untrackPid(child.pid); resolve(info); }));
  const hp = {
    pid: child.pid,
    cfgPath,
    logs: () => log,
    get exitInfo() { return info; },
    cmd: (c) => haproxyCmd(sockPath, c),
    async stop() {
      if (info === null) {
        try { process.kill(child.pid, 'SIGTERM'); } catch (e) { /* gone */ } // hard stop
        const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (e) { /* gone */ } }, 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
  await waitFor(async () => {
    if (info) throw new Error(`haproxy exited ${JSON.stringify(info)}:\n${log}`);
    if (!(await h.tcpReady(frontPort))) return false;
    try { return /pxname/.test(await hp.cmd('show stat')); } catch (e) { return false; }
  }, 8000, `haproxy listening on ${frontPort} (log: ${log})`);
  return hp;
}

/* One command on HAProxy's stats socket; resolves with the whole answer. */
function haproxyCmd(sockPath, command, ms = 3000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(sockPath);
    let data = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error(`haproxy socket: no answer to "${command}"`)); }, ms);
    s.on('connect', () => s.write(`${command}\n`));
    s.on('data', (d) => { data += d; });
    s.on('end', () => { clearTimeout(t); s.destroy(); resolve(data); });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/* `show stat` as rows keyed by "pxname/svname" -> {status, weight, stot, check_status, ...} */
async function haproxyStat(hp) {
  const text = await hp.cmd('show stat');
  const lines = text.split('\n').filter((l) => l.trim());
  const header = lines[0].replace(/^# /, '').split(',');
  const rows = {};
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    const row = {};
    header.forEach((k, i) => { if (k) row[k] = f[i]; });
    rows[`${row.pxname}/${row.svname}`] = row;
  }
  return rows;
}

/* `show servers state <backend>`: {svname: {srv_op_state, srv_admin_state, srv_uweight, srv_iweight}} */
async function haproxyServersState(hp, backend) {
  const text = await hp.cmd(`show servers state ${backend}`);
  const lines = text.split('\n').filter((l) => l.trim());
  const hdr = lines.find((l) => l.startsWith('#'));
  if (!hdr) throw new Error(`unexpected "show servers state" answer: ${text}`);
  const names = hdr.replace(/^#\s*/, '').split(/\s+/);
  const out = {};
  for (const l of lines) {
    if (l.startsWith('#') || /^\d+$/.test(l.trim())) continue;
    const f = l.split(/\s+/);
    const row = {};
    names.forEach((k, i) => { row[k] = f[i]; });
    if (row.srv_name) out[row.srv_name] = row;
  }
  return out;
}

// ---------------------------------------------------------------------------------
// socket.io-client with reconnect on

/* socket.io-client 0.9.16 bundles ws 0.4.32, whose terminate() arms a 30 s "clean up
 * anyway" timer that is sometimes never cleared: every client closed near the end of a
 * test file kept the process alive for 30 more seconds. Unref that timer (it still runs
 * if the process lives on). */
function unrefWsCloseTimers() {
  const sioDir = path.dirname(require.resolve('socket.io-client/package.json'));
  const WS = require(require.resolve('ws', { paths: [sioDir] }));
  if (WS.prototype.terminate.__unrefPatched) return;
  const orig = WS.prototype.terminate;
  WS.prototype.terminate = function terminate(...args) {
    const r = orig.apply(this, args);
    if (this._closeTimer && typeof this._closeTimer.unref === 'function') this._closeTimer.unref();
    return r;
  };
  WS.prototype.terminate.__unrefPatched = true;
}
unrefWsCloseTimers();

/* Close a harness SioClient for good, even between two reconnection attempts (where
 * socket.disconnect() does nothing and the reconnection timer would keep the process
 * alive). */
function closeForGood(client) {
  const sock = client.socket;
  sock.options.reconnect = false;
  sock.options['max reconnection attempts'] = 0;
  clearTimeout(sock.reconnectionTimer);
  clearTimeout(sock.connectTimeoutTimer);
  clearTimeout(sock.heartbeatTimeoutTimer);
  sock.reconnecting = false;
  try { client.close(); } catch (e) { /* ignore */ }
  if (sock.transport && sock.transport.websocket) {
    try { sock.transport.websocket.terminate(); } catch (e) { /* ignore */ }
  }
  if (sock.transport) {
    try { sock.transport.clearTimeouts(); } catch (e) { /* ignore */ }
  }
}

module.exports = {
  closeForGood,
  HAPROXY_BIN, waitFor, httpGet, getStats, tcpReadAll, spawnDaemon, waitHealthy, pidAlive, trackPid, untrackPid,
  haproxyConfig, haproxyLimitLines, startHaproxy, haproxyCmd, haproxyStat, haproxyServersState,
};
