'use strict';
// Test harness for juggernautd black-box and browser tests (CommonJS).
//
//   freePort, startRedis, redisClient, eventCollector, startDaemon, sioConnect, rawHttp
//   (+ byte-level helpers re-exported from ./raw)
//
// Every process started here is tracked by pid and killed when the test process exits.
// Set JUGGERNAUTD_BIN to test another binary (e.g. build/asan/juggernautd), or
// JUGGERNAUTD_REFERENCE=1 to run the ORIGINAL Node.js Juggernaut 2.1.1 instead
// (reference copy in JUGGERNAUT_REF_DIR, default /tmp/ref; see protocol.md App. A) —
// for checking the tests' expectations where the daemon must behave like the original.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const http = require('node:http');
const crypto = require('node:crypto');
const { spawn } = require('node:child_process');
const raw = require('./raw');

const REPO = path.resolve(__dirname, '..', '..', '..');
const IS_REFERENCE = process.env.JUGGERNAUTD_REFERENCE === '1';
const REF_DIR = process.env.JUGGERNAUT_REF_DIR || '/tmp/ref';

function daemonBinary() {
  return process.env.JUGGERNAUTD_BIN
    ? path.resolve(process.env.JUGGERNAUTD_BIN)
    : path.join(REPO, 'build', 'release', 'juggernautd');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Calls FN (async) every 50 ms until it returns something truthy, which it returns; throws
 * after MS saying WHAT. */
async function until(fn, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(50);
  }
}

function uid(prefix = 'c') {
  return `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
}

// ---------------------------------------------------------------------------------
// process tracking

const tracked = new Map(); // pid -> ChildProcess
const tempDirs = new Set();

function track(child) {
  tracked.set(child.pid, child);
  child.once('exit', () => tracked.delete(child.pid));
}

function killAllSync() {
  for (const pid of tracked.keys()) {
    try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ }
  }
  tracked.clear();
  for (const d of tempDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch (e) { /* ignore */ }
  }
}

process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAllSync(); process.exit(128 + os.constants.signals[sig]); });
}

function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

/* Wait for a child to exit; resolves {code, signal}. */
function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`pid ${child.pid} did not exit within ${ms} ms`)), ms);
    child.once('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal }); });
  });
}

// ---------------------------------------------------------------------------------
// ports

// Ports this process handed out: the kernel may offer a port again as soon as it is closed,
// and a daemon given the same port twice (say --port and agent-port) cannot start.
const portsHandedOut = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => {
        if (port === 6379 || portsHandedOut.has(port)) return freePort().then(resolve, reject);
        portsHandedOut.add(port);
        return resolve(port);
      });
    });
  });
}

function tcpReady(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------------
// Redis

/* Start a private redis-server. opts: port, args (extra CLI args). */
async function startRedis(opts = {}) {
  const dir = tempDir('jg-redis-');
  let port = opts.port || await freePort();
  if (port === 6379) throw new Error('refusing to use Redis port 6379');
  let child = null;
  let log = '';

  async function launch() {
    for (let attempt = 0; attempt < 3; attempt++) {
      log = '';
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
        '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...(opts.args || [])],
      { stdio: ['ignore', 'pipe', 'pipe'] });
      track(child);
      child.stdout.on('data', (d) => { if (log.length < 200000) log += d; });
      child.stderr.on('data', (d) => { if (log.length < 200000) log += d; });
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) break;
        if (/Ready to accept connections/.test(log) && await tcpReady(port)) return;
        await sleep(20);
      }
      try { child.kill('SIGKILL'); } catch (e) { /* gone */ }
      await waitExit(child, 5000).catch(() => {});
      if (/Address already in use/i.test(log) && !opts.port && attempt < 2 && !redis.started) {
        port = await freePort();
        continue;
      }
      throw new Error(`redis-server on port ${port} did not start:\n${log}`);
    }
  }

  const redis = {
    started: false,
    get port() { return port; },
    get pid() { return child.pid; },
    get url() { return `redis://127.0.0.1:${port}`; },
    get child() { return child; },
    logs: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await waitExit(child, 10000).catch(async () => { child.kill('SIGKILL'); await waitExit(child, 5000); });
      }
    },
    kill(sig = 'SIGKILL') { process.kill(child.pid, sig); },
    /* Stop (or finish dying) and start again on the same port. */
    async restart() {
      if (child.exitCode === null && child.signalCode === null) {
        await redis.stop();
      }
      // the port may linger for a moment
      const deadline = Date.now() + 5000;
      while (await tcpReady(port) && Date.now() < deadline) await sleep(20);
      await launch();
    },
  };
  await launch();
  redis.started = true;
  return redis;
}

let Redis = null;
function ioredis() {
  if (!Redis) Redis = require('ioredis');
  return Redis;
}

function redisOptions(redis, extra = {}) {
  return Object.assign({
    host: '127.0.0.1',
    port: redis.port,
    lazyConnect: true,
    enableReadyCheck: true,
    maxRetriesPerRequest: null,
    retryStrategy: () => 50,
    reconnectOnError: () => true,
  }, extra);
}

/* A plain Redis connection (ioredis): publish(ch, text), quit(), and every other
 * command ioredis offers. Reconnects by itself after a Redis restart. */
async function redisClient(redis) {
  const R = ioredis();
  const c = new R(redisOptions(redis));
  c.on('error', () => {}); // reconnects on its own; errors surface in commands
  await c.connect();
  return c;
}

const EVENT_CHANNELS = ['juggernaut:subscribe', 'juggernaut:unsubscribe', 'juggernaut:custom'];

/* Subscribes to juggernaut:subscribe|unsubscribe|custom and records every event:
 *   events: [{channel, message, json, at}]
 *   waitFor(pred, ms) -> the first recorded event matching pred (past or future)
 *   waitForCount(pred, n, ms) -> the first n matching events
 *   matching(pred) -> all recorded events matching pred
 *   close() */
async function eventCollector(redis) {
  const R = ioredis();
  const sub = new R(redisOptions(redis));
  sub.on('error', () => {});
  const events = [];
  const waiters = new Set();
  sub.on('message', (channel, message) => {
    let json;
    try { json = JSON.parse(message); } catch (e) { json = undefined; }
    events.push({ channel, message, json, at: Date.now() });
    for (const w of [...waiters]) w();
  });
  await sub.connect();
  await sub.subscribe(...EVENT_CHANNELS);

  function describe(max = 20) {
    return events.slice(-max).map((e) => `${e.channel} ${e.message}`).join('\n  ');
  }

  function waitForCount(pred, n, ms = 5000, what = 'matching events') {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = events.filter(pred);
        if (found.length >= n) { done(); resolve(found.slice(0, n)); }
      };
      const done = () => { clearTimeout(t); waiters.delete(check); };
      const t = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${n} ${what}; got ${events.filter(pred).length}; ` +
          `last events:\n  ${describe()}`));
      }, ms);
      waiters.add(check);
      check();
    });
  }

  return {
    events,
    sub,
    waitFor: (pred, ms = 5000, what = 'a matching event') => waitForCount(pred, 1, ms, what).then((a) => a[0]),
    waitForCount,
    matching: (pred) => events.filter(pred),
    describe,
    async close() { sub.disconnect(); },
  };
}

/* Number of subscribers of the Redis channel `juggernaut`. */
async function numsub(client, channel = 'juggernaut') {
  const r = await client.pubsub('NUMSUB', channel);
  return Number(r[1]);
}

// ---------------------------------------------------------------------------------
// the daemon (or, with JUGGERNAUTD_REFERENCE=1, the original server)

const liveDaemons = new Map(); // redisUrl -> count of harness daemons still running

function configText(config) {
  return Object.entries(config).filter(([, v]) => v !== undefined && v !== null).map(([k, v]) => {
    let value = v;
    if (Array.isArray(v)) value = v.join(k === 'origins' ? ' ' : ',');
    return `${k} ${value}`;
  }).join('\n') + '\n';
}

/* socket.io 0.8.7 settings equivalent to a daemon config (reference mode only). */
function referenceSettings(config) {
  const s = {};
  const num = (k) => (config[k] !== undefined ? Number(config[k]) : undefined);
  if (num('heartbeat-interval') !== undefined) s['heartbeat interval'] = num('heartbeat-interval');
  if (num('heartbeat-timeout') !== undefined) s['heartbeat timeout'] = num('heartbeat-timeout');
  if (num('close-timeout') !== undefined) s['close timeout'] = num('close-timeout');
  if (num('polling-duration') !== undefined) s['polling duration'] = num('polling-duration');
  if (config.transports !== undefined) {
    s.transports = Array.isArray(config.transports) ? config.transports : String(config.transports).split(',');
  }
  if (config.origins !== undefined) {
    const list = Array.isArray(config.origins) ? config.origins : String(config.origins).split(/\s+/);
    s.origins = list.map((o) => o.replace(/^[a-z]+:\/\//, '')).join(' ');
  }
  return s;
}

/* Start juggernautd:
 *   juggernautd --config F --port P --bind 127.0.0.1 --redis-url URL
 * opts: redisUrl (required), config ({key: value}), port, args (extra CLI args),
 *       env (extra environment), ready ('health' = GET /health answers 200 [default],
 *       'http' = any HTTP answer), subscribed (default true: wait until Redis shows the
 *       daemon subscribed to `juggernaut`), timeout (ms, default 10000), logFile (also
 *       append everything the daemon prints to this file), bin (another juggernautd
 *       binary than JUGGERNAUTD_BIN's, e.g. an older version). */
async function startDaemon(opts = {}) {
  const { redisUrl, config = {} } = opts;
  if (!redisUrl) throw new Error('startDaemon: redisUrl is required');
  if (/:6379(\/|$)/.test(redisUrl)) throw new Error('refusing to use Redis port 6379');
  const port = opts.port || await freePort();
  const dir = tempDir('jg-daemon-');
  const configPath = path.join(dir, 'juggernautd.conf');
  const cfg = Object.assign({}, config);
  // The legacy suites check the original protocol byte for byte: cluster mode (which adds
  // "seq") is on only where a test asks for it.
  if (!IS_REFERENCE && cfg.cluster === undefined) cfg.cluster = 'no';
  const publicDir = cfg['public-dir'] || (IS_REFERENCE
    ? path.join(REF_DIR, 'node_modules', 'juggernaut', 'public')
    : path.join(REPO, 'public'));
  if (!IS_REFERENCE && cfg['public-dir'] === undefined && fs.existsSync(path.join(REPO, 'public', 'index.html'))) {
    cfg['public-dir'] = publicDir;
  }
  fs.writeFileSync(configPath, configText(cfg));

  let child;
  let bin;
  if (IS_REFERENCE) {
    bin = process.execPath;
    const shim = path.join(REF_DIR, 'shim.js');
    const server = path.join(REF_DIR, 'node_modules', 'juggernaut', 'server.js');
    if (!fs.existsSync(server)) throw new Error(`reference not installed in ${REF_DIR} (copy it there and run install.sh)`);
    const u = new URL(redisUrl);
    child = spawn(bin, ['--no-deprecation', '-r', shim, '-r', path.join(__dirname, 'ref-preload.js'), server,
      '--port', String(port), ...(opts.args || [])], {
      cwd: REF_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.assign({}, process.env, {
        REDISTOGO_URL: `redis://juggernaut:@${u.hostname}:${u.port || 6379}`,
        JUGGERNAUT_REF_SETTINGS: JSON.stringify(referenceSettings(cfg)),
        JUGGERNAUT_LOG_LEVEL: process.env.JUGGERNAUT_LOG_LEVEL || '1',
      }, opts.env || {}),
    });
  } else {
    bin = opts.bin || daemonBinary();
    if (!fs.existsSync(bin)) throw new Error(`juggernautd binary not found at ${bin} (build it with make, or set JUGGERNAUTD_BIN)`);
    child = spawn(bin, ['--config', configPath, '--port', String(port), '--bind', '127.0.0.1',
      '--redis-url', redisUrl, ...(opts.args || [])], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: Object.assign({}, process.env, opts.env || {}),
    });
  }
  track(child);

  // logs: keep the first 256 KiB and the last 4 MiB
  let head = '';
  let tail = [];
  let tailLen = 0;
  const onData = (d) => {
    const s = d.toString('utf8');
    if (head.length < 262144) { head += s; return; }
    tail.push(s); tailLen += s.length;
    while (tailLen > 4194304 && tail.length > 1) tailLen -= tail.shift().length;
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  if (opts.logFile) {
    // the whole log, for tracing a failure (kept in memory only bounded)
    const out = fs.createWriteStream(opts.logFile, { flags: 'a' });
    child.stdout.on('data', (d) => out.write(d));
    child.stderr.on('data', (d) => out.write(d));
    child.once('exit', () => setTimeout(() => out.end(), 200));
  }
  const logs = () => head + (tail.length ? tail.join('') : '');

  const sent = new Set();
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal, at: Date.now() };
      const n = (liveDaemons.get(redisUrl) || 1) - 1;
      liveDaemons.set(redisUrl, n);
      resolve(exitInfo);
    });
  });
  child.once('error', (e) => { exitInfo = exitInfo || { code: null, signal: null, error: e }; });

  const base = `http://127.0.0.1:${port}`;
  const describeExit = () => (exitInfo ? (exitInfo.error ? `failed to spawn: ${exitInfo.error.message}`
    : exitInfo.signal ? `killed by ${exitInfo.signal}` : `exited with code ${exitInfo.code}`) : 'running');

  function sanitizerReport(text) {
    const m = /(==\d+==ERROR: (Address|Leak|Memory|Thread)Sanitizer[^\n]*|runtime error:[^\n]*|SUMMARY: \w+Sanitizer[^\n]*)/.exec(text);
    return m ? m[0] : null;
  }

  const daemon = {
    port, base, configPath, publicDir, binary: bin, reference: IS_REFERENCE,
    get pid() { return child.pid; },
    get alive() { return exitInfo === null; },
    get exitInfo() { return exitInfo; },
    child,
    exited,
    logs,
    kill(sig = 'SIGKILL') {
      sent.add(sig);
      if (exitInfo === null) process.kill(child.pid, sig);
    },
    /* Stop with sig (default SIGTERM) and check the exit: rejects if the process died
     * earlier or from a signal it was not sent (SIGSEGV, SIGABRT from ASan/UBSan...),
     * exited non-zero, or printed a sanitizer report. */
    async stop(sig = 'SIGTERM', ms = 15000) {
      const wasAlive = exitInfo === null;
      if (wasAlive) {
        sent.add(sig);
        try { process.kill(child.pid, sig); } catch (e) { /* raced with exit */ }
        try {
          await waitExit(child, ms);
        } catch (e) {
          sent.add('SIGKILL');
          try { process.kill(child.pid, 'SIGKILL'); } catch (e2) { /* gone */ }
          await waitExit(child, 5000).catch(() => {});
          throw new Error(`juggernautd (pid ${child.pid}) did not exit within ${ms} ms of ${sig}; log tail:\n${logs().slice(-4000)}`);
        }
      }
      await exited;
      const problems = [];
      if (!wasAlive) problems.push(`had already ${describeExit()} before stop()`);
      if (exitInfo.signal && !sent.has(exitInfo.signal)) problems.push(`died from ${exitInfo.signal}, which nobody sent`);
      if (!IS_REFERENCE && exitInfo.signal === null && exitInfo.code !== 0 && wasAlive) problems.push(`exited with code ${exitInfo.code} after ${sig}`);
      const san = sanitizerReport(logs());
      if (san) problems.push(`sanitizer report: ${san}`);
      if (problems.length) {
        throw new Error(`juggernautd (pid ${child.pid}) ${problems.join('; ')}; log tail:\n${logs().slice(-6000)}`);
      }
    },
    /* Throws if the daemon is no longer running (for checks inside tests). */
    assertAlive() {
      if (exitInfo !== null) throw new Error(`juggernautd ${describeExit()}; log tail:\n${logs().slice(-4000)}`);
    },
  };

  liveDaemons.set(redisUrl, (liveDaemons.get(redisUrl) || 0) + 1);

  // readiness
  const timeout = opts.timeout || 10000;
  const deadline = Date.now() + timeout;
  const readyMode = opts.ready || 'health';
  let ready = false;
  while (Date.now() < deadline) {
    if (exitInfo !== null) break;
    if (IS_REFERENCE) {
      const r = await httpGetStatus(port, '/socket.io/');
      ready = r !== null;
    } else {
      const r = await httpGetStatus(port, '/health');
      ready = readyMode === 'http' ? r !== null : r === 200;
    }
    if (ready) break;
    await sleep(50);
  }
  if (!ready) {
    const why = exitInfo !== null ? describeExit() : `no ${readyMode === 'http' ? 'HTTP answer' : '200 from GET /health'} within ${timeout} ms`;
    if (exitInfo === null) { sent.add('SIGKILL'); try { process.kill(child.pid, 'SIGKILL'); } catch (e) { /* gone */ } }
    await exited.catch(() => {});
    throw new Error(`${IS_REFERENCE ? 'reference server' : 'juggernautd'} did not become ready (${why}); ` +
      `command: ${bin} ${child.spawnargs.slice(1).join(' ')}\nconfig:\n${configText(cfg)}log:\n${logs().slice(-6000)}`);
  }
  if (opts.subscribed !== false) {
    const c = await redisClient({ port: Number(new URL(redisUrl).port) });
    try {
      const want = liveDaemons.get(redisUrl);
      let n = 0;
      while (Date.now() < deadline + 5000) {
        n = await numsub(c);
        if (n >= want || exitInfo !== null) break;
        await sleep(25);
      }
      if (n < want) {
        throw new Error(`juggernautd did not SUBSCRIBE to juggernaut (NUMSUB ${n}, want ${want}); log:\n${logs().slice(-4000)}`);
      }
    } finally {
      c.disconnect();
    }
  }
  return daemon;
}

function httpGetStatus(port, p) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(res.statusCode));
    });
    req.on('timeout', () => { req.destroy(); resolve(null); });
    req.on('error', () => resolve(null));
  });
}

/* GET a JSON document (e.g. /stats) with Node's http. */
function getJson(base, p) {
  return new Promise((resolve, reject) => {
    http.get(`${base}${p}`, { agent: false, timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try { resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text), text }); } catch (e) {
          reject(new Error(`GET ${p}: ${res.statusCode} not JSON: ${text.slice(0, 200)}`));
        }
      });
    }).on('error', reject);
  });
}

// ---------------------------------------------------------------------------------
// socket.io-client 0.9.16

let sioLib = null;
function sio() {
  if (!sioLib) {
    sioLib = require('socket.io-client');
    require('./jsonp-dom').installJsonp(sioLib);
  }
  return sioLib;
}

const openClients = new Set();

/* One socket.io-client 0.9.16 connection, speaking Juggernaut messages. */
class SioClient {
  constructor(ns, transports) {
    this.ns = ns;
    this.socket = ns.socket;
    this.requested = transports;
    this.messages = []; // text of every message packet (3:::<text>) received, in order
    this.received = []; // {text, at}
    this.seqs = []; // cluster mode with stripSeq: the "seq" each message carried (null = none)
    this.stripSeq = false; // cluster mode: keep messages as the legacy protocol has them
    this.disconnectReason = null;
    this.errors = [];
    this.waiters = new Set();
    ns.on('message', (m) => {
      let text = typeof m === 'string' ? m : JSON.stringify(m);
      if (this.stripSeq) {
        // cluster mode appends "seq" as the last member: strip it, keep it aside
        const match = /,?"seq":(\d+)\}$/.exec(text);
        this.seqs.push(match ? Number(match[1]) : null);
        if (match) text = text.slice(0, match.index) + '}';
      }
      this.messages.push(text);
      this.received.push({ text, at: Date.now() });
      this._wake();
    });
    ns.on('disconnect', (reason) => { this.disconnectReason = reason || 'unknown'; this.disconnectedAt = Date.now(); this._wake(); });
    ns.on('error', (e) => { this.errors.push(e); this._wake(); });
    this.disconnected = new Promise((resolve) => ns.once('disconnect', resolve));
  }

  get sid() { return this.socket.sessionid; }

  get transport() { return this.socket.transport && this.socket.transport.name; }

  get connected() { return this.socket.connected; }

  _wake() { for (const w of [...this.waiters]) w(); }

  /* Send a Juggernaut message (object -> JSON) or a raw string as 3:::<text>. */
  send(msg) { this.ns.send(typeof msg === 'string' ? msg : JSON.stringify(msg)); return this; }

  subscribe(channel) { return this.send({ type: 'subscribe', channel }); }

  unsubscribe(channel) { return this.send({ type: 'unsubscribe', channel }); }

  meta(data) { return this.send({ type: 'meta', data }); }

  event(data) { return this.send({ type: 'event', data }); }

  /* Resolve with pred()'s first truthy value, re-checked on every message/disconnect. */
  waitUntil(pred, ms = 5000, what = 'condition') {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v;
        try { v = pred(this); } catch (e) { done(); reject(e); return; }
        if (v) { done(); resolve(v); }
      };
      const done = () => { clearTimeout(t); this.waiters.delete(check); };
      const t = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what} on ${this.requested} client ${this.sid}; ` +
          `${this.messages.length} messages, last: ${JSON.stringify(this.messages.slice(-3)).slice(0, 600)}; ` +
          `disconnected: ${this.disconnectReason}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  /* Resolve with the first n messages once n have arrived. */
  waitForMessages(n, ms = 5000) {
    return this.waitUntil((c) => (c.messages.length >= n ? c.messages.slice(0, n) : null), ms, `${n} messages`);
  }

  /* Resolve with the n-th message (1-based). */
  nthMessage(n, ms = 5000) {
    return this.waitForMessages(n, ms).then((a) => a[n - 1]);
  }

  /* Resolve with the first message at index >= from matching pred(text, json). */
  waitForMessage(pred, ms = 5000, from = 0) {
    return this.waitUntil((c) => {
      for (let i = from; i < c.messages.length; i++) {
        let json;
        try { json = JSON.parse(c.messages[i]); } catch (e) { json = undefined; }
        if (pred(c.messages[i], json)) return { text: c.messages[i], json, index: i };
      }
      return null;
    }, ms, 'a matching message');
  }

  /* Messages whose JSON has channel === ch. */
  on(ch) { return this.messages.filter((m) => { try { return JSON.parse(m).channel === ch; } catch (e) { return false; } }); }

  /* Polite disconnect: the client sends 0:: and closes its transport. */
  disconnect() { try { this.socket.disconnect(); } catch (e) { /* already gone */ } }

  /* Abrupt: drop the transport's TCP connection(s) without a 0:: packet. */
  drop() {
    const tr = this.socket.transport;
    this.socket.options.reconnect = false;
    if (!tr) return;
    if (tr.websocket) {
      tr.websocket.onclose = tr.websocket.onmessage = tr.websocket.onerror = () => {};
      try { tr.websocket.terminate(); } catch (e) { /* ignore */ }
    } else if (tr.xhr) {
      tr.xhr.onreadystatechange = () => {};
      try { tr.xhr.abort(); } catch (e) { /* ignore */ }
    }
    tr.isOpen = false;
  }

  close() {
    openClients.delete(this);
    if (this.socket.connected || this.socket.connecting) this.disconnect();
  }
}

/* Connect socket.io-client 0.9.16 to base ('http://127.0.0.1:PORT'):
 *   io.connect(base, {'force new connection': true, transports, reconnect: false, ...})
 * Resolves with a SioClient once 'connect' fires (rejects on error/timeout, or when the
 * transport actually used is not the first one requested). */
function sioConnect(base, opts = {}) {
  const io = sio();
  const transports = opts.transports || ['websocket'];
  const timeout = opts.timeout || 10000;
  const options = Object.assign({
    'force new connection': true,
    reconnect: false,
    'connect timeout': timeout,
    'try multiple transports': false,
  }, opts, { 'auto connect': false });
  delete options.timeout;
  delete options.stripSeq;
  // 0.9.16's option merge deep-merges arrays INTO the global io.transports (a known
  // bug), so set the transport list on the socket ourselves before connecting.
  delete options.transports;
  return new Promise((resolve, reject) => {
    const ns = io.connect(base, options);
    ns.socket.options.transports = transports.slice();
    const client = new SioClient(ns, transports);
    client.stripSeq = !!opts.stripSeq;
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      try { ns.socket.disconnect(); } catch (e) { /* ignore */ }
      reject(new Error(`socket.io-client (${transports.join(',')}) to ${base}: ${why}`));
    };
    const t = setTimeout(() => fail(`no connect within ${timeout} ms`), timeout + 1000);
    ns.on('error', (e) => fail(`error ${e && e.message ? e.message : e}`));
    ns.on('connect_failed', () => fail('connect_failed'));
    ns.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      if (client.transport !== transports[0]) {
        client.close();
        reject(new Error(`connected over ${client.transport}, wanted ${transports[0]}`));
        return;
      }
      openClients.add(client);
      resolve(client);
    });
    ns.socket.connect();
  });
}

/* Disconnect every client sioConnect made that is still open. */
function closeAllClients() {
  for (const c of [...openClients]) c.close();
}

module.exports = Object.assign({
  REPO, IS_REFERENCE, REF_DIR, daemonBinary, sleep, until, uid,
  freePort, tcpReady, startRedis, redisClient, eventCollector, numsub, EVENT_CHANNELS,
  startDaemon, configText, getJson, sioConnect, closeAllClients, SioClient,
  killAllSync, tempDir, waitExit,
}, raw);
