'use strict';
// Operations (issue "Operations"): configuration errors, command line, SIGHUP reload and
// log reopening, pidfile, --daemonize, the slow drain on SIGTERM, /health /stats /metrics,
// the admin and agent-check ports, max-connections and reuse-port — all black-box against
// real juggernautd processes and a real redis-server started here.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('./lib/harness');
const ops = require('./lib/ops');

let redis;
let events;

before(async () => {
  redis = await h.startRedis();
  events = await h.eventCollector(redis);
});

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (redis) await redis.stop();
});

/* A config file in a fresh directory: port, bind, redis-url and public-dir plus `extra`
 * (key -> value; a value of null leaves the key out). Returns {dir, file, port}. */
async function writeConf(extra = {}, dir = h.tempDir('jg-ops-')) {
  const port = extra.port || await h.freePort();
  const cfg = Object.assign({
    port, bind: '127.0.0.1', 'redis-url': redis.url, 'public-dir': path.join(h.REPO, 'public'),
    'drain-period': 0.5, // SIGTERM ends even unused handshaken sessions over the drain period
  }, extra);
  const file = path.join(dir, 'juggernautd.conf');
  fs.writeFileSync(file, h.configText(cfg));
  return { dir, file, port, cfg };
}

/* juggernautd --config FILE [args], started and answering /health. */
async function startOwn(extra = {}, args = []) {
  const conf = await writeConf(extra);
  const d = ops.spawnDaemon(['--config', conf.file, ...args], { cwd: conf.dir });
  await ops.waitHealthy(conf.port, d);
  return Object.assign(conf, { d });
}

function handshakeText(port) {
  return ops.httpGet(port, `/socket.io/1/?t=${Date.now()}`).then((r) => {
    assert.equal(r.status, 200, `handshake: ${r.status} ${r.error || r.body}`);
    return r.body;
  });
}

const count = (text, re) => (text.match(new RegExp(re.source, 'g')) || []).length;

async function sigtermAndCheck(d, ms = 10000) {
  const info = await d.stop('SIGTERM', ms);
  assert.equal(info.signal, null, `killed by ${info.signal}`);
  assert.equal(info.code, 0, `exit code after SIGTERM; output:\n${d.logs().slice(-2000)}`);
  assert.doesNotMatch(d.logs(), /ERROR: \w+Sanitizer|runtime error:/, 'sanitizer report');
  return info;
}

describe('configuration errors: exit 1, a clear message, nothing listening', () => {
  test('a bad value names the file, the line and the key, and nothing listens', async () => {
    const { file, port } = await writeConf({ 'heartbeat-interval': 5, 'heartbeat-timeout': 'abc' });
    const d = ops.spawnDaemon(['--config', file]);
    const info = await d.waitExit(5000);
    assert.equal(info.code, 1);
    const line = fs.readFileSync(file, 'utf8').split('\n').findIndex((l) => l.startsWith('heartbeat-timeout')) + 1;
    assert.match(d.stderr(), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}: heartbeat-timeout: expected .*"abc"`));
    assert.equal(await h.tcpReady(port), false, 'nothing listens on the configured port');
  });

  test('an unknown key is an error naming file:line and the key', async () => {
    const { file, port } = await writeConf({ 'max-conections': 10 });
    const d = ops.spawnDaemon(['--config', file]);
    assert.equal((await d.waitExit(5000)).code, 1);
    assert.match(d.stderr(), /juggernautd\.conf:\d+: max-conections: unknown key/);
    assert.equal(await h.tcpReady(port), false);
  });

  test('a port already in use: exit 1 with a clear message', async () => {
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = blocker.address().port;
    try {
      const dir = h.tempDir('jg-ops-');
      const pidfile = path.join(dir, 'juggernautd.pid');
      const { file } = await writeConf({ port, pidfile }, dir);
      const d = ops.spawnDaemon(['--config', file]);
      const info = await d.waitExit(5000);
      assert.equal(info.code, 1);
      assert.match(d.logs(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: Address already in use`));
      assert.equal(fs.existsSync(pidfile), false, 'no pidfile left behind');
    } finally {
      blocker.close();
    }
  });

  test('a log file that cannot be written: exit 1 with a clear message, nothing listens', async () => {
    const dir = h.tempDir('jg-ops-');
    for (const logFile of [path.join(dir, 'no-such-dir', 'juggernautd.log'), dir /* a directory */]) {
      const { file, port } = await writeConf({ 'log-file': logFile });
      const d = ops.spawnDaemon(['--config', file]);
      assert.equal((await d.waitExit(5000)).code, 1, `log-file ${logFile}`);
      assert.match(d.stderr(), new RegExp(`cannot open log file ${logFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\w`));
      assert.equal(await h.tcpReady(port), false);
    }
  });

  test('--test-config: 0 and "OK" for a good file (the shipped one too), 1 and the error for a bad one', async () => {
    const good = await writeConf({ 'heartbeat-timeout': 7, 'drain-period': 1.5, origins: 'http://a.example:* b.example:80' });
    let d = ops.spawnDaemon(['--config', good.file, '--test-config']);
    assert.equal((await d.waitExit(5000)).code, 0, d.logs());
    assert.match(d.stdout(), /configuration OK/);
    assert.equal(await h.tcpReady(good.port), false, '--test-config does not start the server');

    d = ops.spawnDaemon(['--config', path.join(h.REPO, 'conf', 'juggernautd.conf'), '--test-config'], { cwd: h.REPO });
    assert.equal((await d.waitExit(5000)).code, 0, `conf/juggernautd.conf: ${d.logs()}`);

    const bad = await writeConf({ 'log-level': 'loud' });
    d = ops.spawnDaemon(['--config', bad.file, '--test-config']);
    assert.equal((await d.waitExit(5000)).code, 1);
    assert.match(d.stderr(), /juggernautd\.conf:\d+: log-level: expected debug, info, warn, error/);
    assert.doesNotMatch(d.stdout(), /OK/);
  });
});

describe('command line', () => {
  test('--help lists every flag and exits 0; every flag it lists is accepted', async () => {
    const d = ops.spawnDaemon(['--help']);
    assert.equal((await d.waitExit(5000)).code, 0);
    const help = d.stdout();
    const flags = ['--config', '--port', '--bind', '--redis-url', '--public', '--silent', '--log-level',
      '--daemonize', '--test-config', '--help', '--version'];
    for (const f of flags) assert.match(help, new RegExp(`${f}\\b`), `--help mentions ${f}`);
    // the help tells the truth: each flag it lists parses (checked with --test-config)
    const listed = [...new Set(help.match(/--[a-z][a-z-]+/g))];
    const { file, dir } = await writeConf();
    const valueOf = { '--config': file, '--port': '8099', '--bind': '127.0.0.1', '--redis-url': redis.url,
      '--public': path.join(h.REPO, 'public'), '--log-level': 'warn' };
    for (const f of listed) {
      if (['--help', '--version', '--daemonize', '--test-config'].includes(f)) continue;
      const args = ['--config', file, f, ...(valueOf[f] !== undefined ? [valueOf[f]] : []), '--test-config'];
      const t = ops.spawnDaemon(args, { cwd: dir });
      assert.equal((await t.waitExit(5000)).code, 0, `${args.join(' ')}: ${t.logs()}`);
    }
    const bogus = ops.spawnDaemon(['--no-such-flag']);
    assert.equal((await bogus.waitExit(5000)).code, 1);
    assert.match(bogus.stderr(), /--help/);
  });

  test('--version prints the VERSION file and exits 0', async () => {
    const d = ops.spawnDaemon(['--version']);
    assert.equal((await d.waitExit(5000)).code, 0);
    const version = fs.readFileSync(path.join(h.REPO, 'VERSION'), 'utf8').trim();
    assert.equal(d.stdout().trim(), `juggernautd ${version}`);
  });
});

describe('SIGHUP', () => {
  test('applies a changed reloadable key, keeps the old config on a broken file, says a port change needs a restart', async () => {
    const s = await startOwn({ 'heartbeat-timeout': 15 });
    try {
      assert.match(await handshakeText(s.port), /^[\w-]+:15:25:/);
      const reloaded = /SIGHUP: configuration reloaded/;

      assert.match(await handshakeText(s.port), /:websocket,htmlfile,xhr-polling,jsonp-polling$/);
      fs.writeFileSync(s.file, h.configText(Object.assign({}, s.cfg, { 'heartbeat-timeout': 7, transports: 'xhr-polling,websocket' })));
      s.d.kill('SIGHUP');
      await ops.waitFor(() => count(s.d.logs(), reloaded) === 1, 3000, 'the reload log line');
      const text = await handshakeText(s.port);
      assert.match(text, /^[\w-]+:7:25:/, 'the next handshake advertises the new heartbeat-timeout');
      assert.match(text, /:7:25:(websocket,xhr-polling|xhr-polling,websocket)$/, 'and the new transports');

      // broken file: logged with file:line, the old settings stay
      fs.writeFileSync(s.file, h.configText(Object.assign({}, s.cfg, { 'heartbeat-timeout': 'seven' })));
      s.d.kill('SIGHUP');
      const m = await s.d.waitLog(/SIGHUP: configuration not reloaded[^\n]*/, 3000);
      assert.match(m[0], /juggernautd\.conf:\d+: heartbeat-timeout: expected/);
      assert.match(await handshakeText(s.port), /^[\w-]+:7:25:/, 'the old config stays in force');
      assert.equal(count(s.d.logs(), reloaded), 1);

      // port: needs a restart (logged); the other keys of that file still apply
      const otherPort = await h.freePort();
      fs.writeFileSync(s.file, h.configText(Object.assign({}, s.cfg, { port: otherPort, 'heartbeat-timeout': 9 })));
      s.d.kill('SIGHUP');
      await ops.waitFor(() => count(s.d.logs(), reloaded) === 2, 3000, 'the second reload log line');
      assert.match(s.d.logs(), /SIGHUP: port cannot change while running; restart to apply/);
      assert.match(await handshakeText(s.port), /^[\w-]+:9:25:/);
      assert.equal(await h.tcpReady(otherPort), false, 'still listening on the old port only');
      await sigtermAndCheck(s.d);
    } finally {
      await s.d.stop('SIGKILL').catch(() => {});
    }
  });

  test('log-file: SIGHUP reopens it after logrotate renamed it; pidfile written and removed', async () => {
    const dir = h.tempDir('jg-ops-');
    const log = path.join(dir, 'juggernautd.log');
    const pidfile = path.join(dir, 'juggernautd.pid');
    const s = await startOwn({ 'log-file': log, pidfile });
    try {
      assert.equal(fs.readFileSync(pidfile, 'utf8').trim(), String(s.d.pid));
      await ops.waitFor(() => /listening on 127\.0\.0\.1/.test(fs.readFileSync(log, 'utf8')), 2000, 'the start line in the log file');
      assert.doesNotMatch(s.d.logs(), /listening/, 'nothing logged to stderr');
      fs.renameSync(log, `${log}.1`);
      s.d.kill('SIGHUP');
      await ops.waitFor(() => fs.existsSync(log) && /SIGHUP: configuration reloaded/.test(fs.readFileSync(log, 'utf8')),
        3000, 'the reload line in a new log file');
      await sigtermAndCheck(s.d);
      const fresh = fs.readFileSync(log, 'utf8');
      const rotated = fs.readFileSync(`${log}.1`, 'utf8');
      assert.match(fresh, /exiting/);
      assert.doesNotMatch(rotated, /SIGHUP|exiting/, 'nothing written to the rotated file after SIGHUP');
      assert.match(rotated, /listening/);
      // one line per event, each with a timestamp
      for (const l of fresh.trim().split('\n')) assert.match(l, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, `log line without a timestamp: ${l}`);
      assert.equal(fs.existsSync(pidfile), false, 'pidfile removed at exit');
    } finally {
      await s.d.stop('SIGKILL').catch(() => {});
    }
  });
});

describe('SIGUSR1', () => {
  test('reopens the log file after logrotate renamed it, without re-reading the config', async () => {
    const dir = h.tempDir('jg-ops-');
    const log = path.join(dir, 'juggernautd.log');
    const s = await startOwn({ 'log-file': log, 'heartbeat-timeout': 15 });
    try {
      await ops.waitFor(() => /listening on 127\.0\.0\.1/.test(fs.readFileSync(log, 'utf8')), 2000, 'the start line in the log file');
      // a changed file must NOT be applied: SIGUSR1 is not a reload
      fs.writeFileSync(s.file, h.configText(Object.assign({}, s.cfg, { 'log-file': log, 'heartbeat-timeout': 7 })));
      fs.renameSync(log, `${log}.1`);
      s.d.kill('SIGUSR1');
      await ops.waitFor(() => fs.existsSync(log) && /SIGUSR1: log file reopened/.test(fs.readFileSync(log, 'utf8')),
        3000, 'the reopen line in a new log file');
      assert.match(await handshakeText(s.port), /^[\w-]+:15:25:/, 'the config was not re-read');
      await sigtermAndCheck(s.d);
      const fresh = fs.readFileSync(log, 'utf8');
      const rotated = fs.readFileSync(`${log}.1`, 'utf8');
      assert.match(fresh, /exiting/);
      assert.doesNotMatch(fresh, /SIGHUP|configuration reloaded/);
      assert.doesNotMatch(rotated, /SIGUSR1|exiting/, 'nothing written to the rotated file after SIGUSR1');
      assert.match(rotated, /listening/);
      assert.doesNotMatch(s.d.logs(), /SIGUSR1|listening/, 'nothing logged to stderr');
    } finally {
      await s.d.stop('SIGKILL').catch(() => {});
    }
  });
});

describe('process', () => {
  test('--daemonize returns 0 once listening; the daemon runs in the background until SIGTERM', async () => {
    const dir = h.tempDir('jg-ops-');
    const log = path.join(dir, 'juggernautd.log');
    const pidfile = path.join(dir, 'juggernautd.pid');
    const { file, port } = await writeConf({ 'log-file': log, pidfile }, dir);
    const parent = ops.spawnDaemon(['--config', file, '--daemonize'], { cwd: dir });
    const info = await parent.waitExit(5000);
    assert.equal(info.code, 0, parent.logs());
    // listening already when the parent returns: no retry
    const r = await ops.httpGet(port, '/health');
    assert.equal(r.status, 200, `GET /health right after --daemonize returned: ${r.status} ${r.error || ''}`);
    const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
    ops.trackPid(pid, 'daemonized juggernautd');
    try {
      assert.ok(pid > 0 && pid !== parent.pid, `pidfile holds the daemon's pid (${pid}), not the parent's (${parent.pid})`);
      assert.ok(ops.pidAlive(pid));
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const sidField = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      assert.equal(sidField, pid, 'the daemon leads its own session (setsid)');
      process.kill(pid, 'SIGTERM');
      await ops.waitFor(() => !ops.pidAlive(pid), 5000, 'the daemon to exit after SIGTERM');
      assert.equal(fs.existsSync(pidfile), false, 'pidfile removed');
      assert.match(fs.readFileSync(log, 'utf8'), /exiting/);
    } finally {
      if (ops.pidAlive(pid)) process.kill(pid, 'SIGKILL');
      ops.untrackPid(pid);
    }
  });

  test('--daemonize: a daemon that cannot listen makes the command exit 1', async () => {
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const dir = h.tempDir('jg-ops-');
      const { file } = await writeConf({ port: blocker.address().port, 'log-file': path.join(dir, 'j.log') }, dir);
      const parent = ops.spawnDaemon(['--config', file, '--daemonize'], { cwd: dir });
      assert.equal((await parent.waitExit(5000)).code, 1);
      assert.match(fs.readFileSync(path.join(dir, 'j.log'), 'utf8'), /Address already in use/);
    } finally {
      blocker.close();
    }
  });
});

describe('SIGTERM', () => {
  test('slow drain: sessions end spread over drain-period without 0::, unsubscribe events, agent and /health say drain, exit 0', async (t) => {
    const DRAIN = 2;
    const N = 20;
    const agentPort = await h.freePort();
    const adminPort = await h.freePort();
    const s = await startOwn({ 'drain-period': DRAIN, 'agent-port': agentPort, 'admin-port': adminPort });
    try {
      assert.equal((await ops.tcpReadAll(agentPort)).text, 'up ready 100%\n');
      const base = `http://127.0.0.1:${s.port}`;
      const ch = h.uid('drain');
      const clients = [];
      for (let i = 0; i < N; i++) clients.push(await h.sioConnect(base));
      for (const c of clients) c.subscribe(ch);
      const sids = new Set(clients.map((c) => c.sid));
      await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json.channel === ch, N, 5000, 'subscribe events');

      const t0 = Date.now();
      s.d.kill('SIGTERM');
      const health = await ops.waitFor(async () => {
        const r = await ops.httpGet(s.port, '/health', 1000);
        return r.status === 503 ? r : null;
      }, 2000, '/health 503 while draining');
      assert.match(health.body, /drain/);
      assert.equal((await ops.httpGet(adminPort, '/health')).status, 503, 'admin /health while draining');
      assert.equal((await ops.tcpReadAll(agentPort)).text, 'drain\n');
      const hs = await ops.httpGet(s.port, `/socket.io/1/?t=${Date.now()}`);
      assert.equal(hs.status, 503, `a handshake while draining: ${hs.status} ${hs.body}`);

      const info = await s.d.waitExit((DRAIN + 4) * 1000);
      assert.equal(info.code, 0, s.d.logs().slice(-2000));
      assert.ok(info.at - t0 <= (DRAIN + 3) * 1000, `exited ${info.at - t0} ms after SIGTERM`);

      const unsubs = await events.waitForCount((e) => e.channel === 'juggernaut:unsubscribe' && e.json.channel === ch,
        N, 3000, 'unsubscribe events');
      assert.deepEqual(new Set(unsubs.map((e) => e.json.session_id)), sids);
      const times = unsubs.map((e) => e.at - t0).sort((a, b) => a - b);
      const span = times[N - 1] - times[0];
      const firstHalf = times.filter((t) => t < (DRAIN * 1000) / 2).length;
      const maxIn200ms = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 200).length));
      const detail = `unsubscribe events at ${times.join(',')} ms after SIGTERM`;
      t.diagnostic(detail);
      assert.ok(span >= DRAIN * 1000 * 0.6, `spread over ${span} ms, want >= ${DRAIN * 600} (${detail})`);
      assert.ok(times[N - 1] <= DRAIN * 1000 + 1000, detail);
      assert.ok(firstHalf >= N * 0.25 && firstHalf <= N * 0.75, `${firstHalf} of ${N} in the first half (${detail})`);
      assert.ok(maxIn200ms <= N * 0.3, `${maxIn200ms} sessions ended within 200 ms (${detail})`);

      // the clients lost their transport without a 0:: (which would tell them not to reconnect)
      for (const c of clients) {
        await c.waitUntil((x) => x.disconnectReason !== null, 2000, 'the disconnect');
        assert.notEqual(c.disconnectReason, 'booted', `client ${c.sid} got a 0:: disconnect packet`);
      }
    } finally {
      await s.d.stop('SIGKILL').catch(() => {});
    }
  });

  test('a second SIGTERM during the drain exits at once', async () => {
    const s = await startOwn({ 'drain-period': 20 });
    try {
      const base = `http://127.0.0.1:${s.port}`;
      for (let i = 0; i < 3; i++) await h.sioConnect(base);
      s.d.kill('SIGTERM');
      await ops.waitFor(async () => (await ops.httpGet(s.port, '/health', 1000)).status === 503, 2000, 'draining');
      await h.sleep(300);
      assert.equal(s.d.exitInfo, null, 'still draining after the first SIGTERM');
      const t1 = Date.now();
      s.d.kill('SIGTERM');
      const info = await s.d.waitExit(2000);
      assert.ok(info.at - t1 < 1000, `exited ${info.at - t1} ms after the second SIGTERM`);
      assert.equal(info.signal, null);
      assert.equal(info.code, 0);
    } finally {
      await s.d.stop('SIGKILL').catch(() => {});
    }
  });
});

describe('health, stats, metrics; admin and agent ports', () => {
  let s;
  let adminPort;
  let agentPort;
  let ch;
  before(async () => {
    adminPort = await h.freePort();
    agentPort = await h.freePort();
    s = await startOwn({ 'admin-port': adminPort, 'agent-port': agentPort, 'drain-period': 0.5 });
    ch = h.uid('top');
    const c = await h.sioConnect(`http://127.0.0.1:${s.port}`);
    c.subscribe(ch);
    await events.waitFor((e) => e.channel === 'juggernaut:subscribe' && e.json.session_id === c.sid);
  });
  after(async () => {
    h.closeAllClients();
    if (s) await sigtermAndCheck(s.d).catch(async (e) => { await s.d.stop('SIGKILL'); throw e; });
  });

  test('access-log: no line per request by default; with access-log yes one line per answer', async () => {
    await ops.httpGet(s.port, '/health');
    await h.sleep(100);
    assert.doesNotMatch(s.d.logs(), /"GET \/health"/);
    const t = await startOwn({ 'access-log': 'yes', 'drain-period': 0.2 });
    try {
      await ops.httpGet(t.port, '/health');
      const sid = (await ops.httpGet(t.port, '/socket.io/1/?t=1')).body.split(':')[0];
      await ops.httpGet(t.port, `/socket.io/1/xhr-polling/${sid}?t=2`);
      await h.sleep(100);
      assert.match(t.d.logs(), /c#\d+ 127\.0\.0\.1:\d+ "GET \/health" 200 3\n/);
      assert.match(t.d.logs(), /"GET \/socket\.io\/1\/\?t=1" 200 \d+\n/);
      // a sid is a credential: the access log keeps its first 8 characters only
      assert.ok(t.d.logs().includes(`"GET /socket.io/1/xhr-polling/${sid.slice(0, 8)}...?t=2" 200`), 'the poll, sid cut');
      assert.ok(!t.d.logs().includes(sid), 'the whole sid in the log');
    } finally {
      await sigtermAndCheck(t.d);
    }
  });

  test('/health answers 200 ok', async () => {
    for (const port of [s.port, adminPort]) {
      const r = await ops.httpGet(port, '/health');
      assert.equal(r.status, 200);
      assert.equal(r.body.trim(), 'ok');
    }
  });

  test('/metrics is Prometheus text with juggernautd_ counters and gauges', async () => {
    for (const port of [s.port, adminPort]) {
      const r = await ops.httpGet(port, '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
      const samples = {};
      const types = {};
      for (const line of r.body.split('\n')) {
        if (line === '') continue;
        let m;
        if ((m = /^# HELP (juggernautd_\w+) \S.*$/.exec(line))) continue;
        if ((m = /^# TYPE (juggernautd_\w+) (counter|gauge)$/.exec(line))) { types[m[1]] = m[2]; continue; }
        m = /^(juggernautd_[a-z_]+) (-?\d+(?:\.\d+)?)$/.exec(line);
        assert.ok(m, `not a Prometheus line: ${JSON.stringify(line)}`);
        samples[m[1]] = Number(m[2]);
      }
      for (const name of Object.keys(samples)) assert.ok(types[name], `${name} has a TYPE line`);
      for (const name of ['connections', 'sessions', 'channels', 'subscriptions', 'messages_in_total', 'deliveries_total',
        'sent_bytes_total', 'slow_consumers_total', 'redis_connected', 'redis_reconnects_total', 'loop_lag_seconds',
        'handshakes_total']) {
        assert.ok(`juggernautd_${name}` in samples, `juggernautd_${name} in /metrics`);
      }
      assert.equal(types.juggernautd_deliveries_total, 'counter');
      assert.equal(types.juggernautd_sessions, 'gauge');
      assert.equal(samples.juggernautd_redis_connected, 1);
      assert.ok(samples.juggernautd_subscriptions >= 1);
    }
  });

  test('/stats is JSON with the counters; top_channels (channel names) on the admin port only', async () => {
    for (const port of [s.port, adminPort]) {
      const st = await ops.getStats(port);
      for (const k of ['connections', 'sessions', 'channels', 'subscriptions', 'deliveries']) assert.equal(typeof st[k], 'number', k);
      assert.equal(st.redis_connected, true);
      if (port === s.port) {
        // public-stats counters (the default): no channel name on the public port
        assert.equal(st.top_channels, undefined, 'no top_channels on the public port');
        assert.ok(!JSON.stringify(st).includes(ch), 'the channel name is not in the public /stats');
        continue;
      }
      assert.ok(Array.isArray(st.top_channels), 'top_channels is an array');
      assert.deepEqual(st.top_channels.find((t) => t.channel === ch), { channel: ch, subscribers: 1 });
    }
  });

  test('the admin port serves /health, /stats and /metrics only', async () => {
    for (const p of ['/', '/index.html', '/application.js', `/socket.io/1/?t=${Date.now()}`, '/healthz', '/stats/x']) {
      const r = await ops.httpGet(adminPort, p);
      assert.equal(r.status, 404, `GET ${p} on the admin port: ${r.status}`);
    }
    const main = await ops.httpGet(s.port, '/application.js');
    assert.equal(main.status, 200, 'the main port still serves the client');
  });

  test('the agent port answers "up ready 100%" and closes', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await ops.tcpReadAll(agentPort);
      assert.ok(r && !r.timedOut, `agent answer: ${JSON.stringify(r)}`);
      assert.equal(r.text, 'up ready 100%\n');
    }
  });
});

describe('limits and rolling restarts', () => {
  test('max-connections: past it a new connection gets 503; the connections already open are served', async () => {
    const s = await startOwn({ 'max-connections': 3 });
    const conns = [];
    try {
      await h.sleep(100); // the readiness probe's connection is gone
      for (let i = 0; i < 3; i++) {
        const c = await h.RawConn.connect(s.port);
        conns.push(c);
        await c.write(h.buildRequest('GET', '/health'));
        const r = await c.readResponse(3000);
        assert.equal(r.status, 200, `connection ${i + 1}`);
      }
      const extra = await h.rawHttp(s.port, h.buildRequest('GET', '/health'));
      assert.equal(extra.status, 503, `a 4th connection: ${extra.status} ${extra.bodyText}`);
      // the open ones keep working
      for (const c of conns) {
        await c.write(h.buildRequest('GET', '/socket.io/1/?t=1'));
        const r = await c.readResponse(3000);
        assert.equal(r.status, 200);
        assert.match(r.bodyText, h.HANDSHAKE_RE);
      }
      // one goes away: room for a new one
      conns.pop().destroy();
      await ops.waitFor(async () => (await ops.httpGet(s.port, '/health', 1000)).status === 200, 2000, 'a free slot');
      // (the probe's own connection may hold the slot for a moment after its answer)
      const st = await ops.waitFor(async () => {
        const r = await ops.httpGet(s.port, '/stats', 1000);
        return r.status === 200 ? JSON.parse(r.body) : null;
      }, 2000, '/stats');
      assert.ok(st.connections_rejected >= 1, `connections_rejected ${st.connections_rejected}`);
      assert.ok(st.connections <= 3);
      await sigtermAndCheck(s.d);
    } finally {
      for (const c of conns) c.destroy();
      await s.d.stop('SIGKILL').catch(() => {});
    }
  });

  test('reuse-port yes: a second instance starts on the same port while the first runs, and takes over', async () => {
    const a = await startOwn({ 'reuse-port': 'yes', 'drain-period': 0.5 });
    let b;
    try {
      const conf = await writeConf({ port: a.port, 'reuse-port': 'yes', 'drain-period': 0.5 });
      b = ops.spawnDaemon(['--config', conf.file], { cwd: conf.dir });
      await b.waitLog(/listening on 127\.0\.0\.1:\d+/, 5000);
      await h.sleep(200);
      assert.equal(b.exitInfo, null, `the second instance exited: ${b.logs()}`);
      assert.equal(a.d.exitInfo, null, 'the first instance still runs');
      await sigtermAndCheck(a.d);
      // the port is still served, by the second instance
      for (let i = 0; i < 5; i++) assert.equal((await ops.httpGet(a.port, '/health')).status, 200);
      assert.match(await handshakeText(a.port), h.HANDSHAKE_RE);
      await sigtermAndCheck(b);
    } finally {
      await a.d.stop('SIGKILL').catch(() => {});
      if (b) await b.stop('SIGKILL').catch(() => {});
    }
  });

  test('without reuse-port a second instance on the same port fails with a hint', async () => {
    const a = await startOwn({});
    try {
      const conf = await writeConf({ port: a.port });
      const b = ops.spawnDaemon(['--config', conf.file], { cwd: conf.dir });
      assert.equal((await b.waitExit(5000)).code, 1);
      assert.match(b.logs(), /Address already in use.*reuse-port/);
      await sigtermAndCheck(a.d);
    } finally {
      await a.d.stop('SIGKILL').catch(() => {});
    }
  });
});
