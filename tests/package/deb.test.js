'use strict';
// The Debian package (issue 17), run by `make deb-check` after `make deb`: installs
// build/deb/juggernautd_<VERSION>_<arch>.deb on THIS machine (root), checks what it put
// where, runs the installed binary as the package's system user with the installed
// configuration (only port and Redis overridden by flags) against a real redis-server on a
// free port, talks to it with socket.io-client, rotates its log with the packaged logrotate
// snippet and SIGUSR1, then purges
// the package and checks that no file, user or group is left behind.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const h = require('../integration/lib/harness');
const ops = require('../integration/lib/ops');

const VERSION = fs.readFileSync(path.join(h.REPO, 'VERSION'), 'utf8').trim();
const ARCH = spawnSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).stdout.trim();
const DEB = path.join(h.REPO, 'build', 'deb', `juggernautd_${VERSION}_${ARCH}.deb`);
const USER = '_juggernautd';
const CONF = '/etc/juggernautd/juggernautd.conf';
const LOG = '/var/log/juggernautd/juggernautd.log';
const ADMIN_PORT = 8081;   // the packaged config's admin-port
// everything the package creates, installed or at run time
const LEFTOVERS = ['/usr/bin/juggernautd', '/etc/juggernautd', '/etc/logrotate.d/juggernautd',
  '/lib/systemd/system/juggernautd.service', '/usr/share/juggernautd', '/usr/lib/juggernautd',
  '/usr/share/doc/juggernautd', '/usr/share/man/man8/juggernautd.8.gz',
  '/usr/share/man/man5/juggernautd.conf.5.gz', '/var/log/juggernautd'];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, Object.assign({ encoding: 'utf8', timeout: 15 * 60 * 1000 }, opts));
  if (r.error) throw r.error;
  return r;
}
function must(cmd, args, opts) {
  const r = run(cmd, args, opts);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const apt = (...args) => must('apt-get', ['-o', 'DPkg::Lock::Timeout=900', '-y', '-q', ...args],
  { env: Object.assign({}, process.env, { DEBIAN_FRONTEND: 'noninteractive' }) });
const installed = () => run('dpkg-query', ['-W', '-f=${Status}', 'juggernautd']).stdout.includes('install ok installed');
const exists = (p) => { try { fs.lstatSync(p); return true; } catch (e) { return false; } };
const getent = (db, name) => run('getent', [db, name]).status === 0;

let redis;
before(async () => {
  assert.equal(process.getuid(), 0, 'installing a package needs root');
  assert.ok(fs.existsSync(DEB), `${DEB} missing: run make deb first`);
  if (installed()) apt('purge', 'juggernautd');   // a copy left by an interrupted run
  redis = await h.startRedis();
});

after(async () => {
  if (installed()) run('apt-get', ['-o', 'DPkg::Lock::Timeout=900', '-y', '-q', 'purge', 'juggernautd']);
  if (redis) await redis.stop();
});

describe('the Debian package', () => {
  test('installs: version, files, conffiles, system user, unit, man pages, logrotate', () => {
    apt('install', '--no-install-recommends', DEB);
    assert.equal(must('dpkg-query', ['-W', '-f=${Version}', 'juggernautd']), VERSION, 'package version = VERSION');
    assert.equal(must('/usr/bin/juggernautd', ['--version']).trim(), `juggernautd ${VERSION}`);

    const conffiles = must('dpkg-query', ['-W', '-f=${Conffiles}', 'juggernautd']);
    assert.match(conffiles, /^ \/etc\/juggernautd\/juggernautd\.conf [0-9a-f]{32}$/m);
    assert.match(conffiles, /^ \/etc\/logrotate\.d\/juggernautd [0-9a-f]{32}$/m);
    const conf = fs.readFileSync(CONF, 'utf8');
    assert.match(conf, /^admin-bind 127\.0\.0\.1$/m);
    assert.match(conf, new RegExp(`^admin-port ${ADMIN_PORT}$`, 'm'));
    assert.match(conf, /^public-dir \/usr\/share\/juggernautd\/public$/m);
    assert.match(conf, /^log-file \/var\/log\/juggernautd\/juggernautd\.log$/m);
    assert.match(must('/usr/bin/juggernautd', ['--config', CONF, '--test-config']), /configuration OK/);

    // a system user with no login and no home, and its log directory
    const pw = must('getent', ['passwd', USER]).trim().split(':');
    assert.ok(Number(pw[2]) < 1000, `system uid: ${pw.join(':')}`);
    assert.equal(pw[5], '/nonexistent');
    assert.match(pw[6], /nologin|false/);
    assert.ok(getent('group', USER));
    assert.equal(fs.statSync('/var/log/juggernautd').uid, Number(pw[2]));

    const unit = fs.readFileSync('/lib/systemd/system/juggernautd.service', 'utf8');
    for (const line of ['Type=notify', `User=${USER}`, 'ProtectSystem=strict', 'NoNewPrivileges=yes',
      'PrivateTmp=yes', 'ProtectHome=yes', 'CapabilityBoundingSet=', 'LogsDirectory=juggernautd',
      `ExecStart=/usr/bin/juggernautd --config ${CONF}`]) {
      assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
    }
    assert.doesNotMatch(unit, /DynamicUser|\/usr\/local/);
    const verify = run('systemd-analyze', ['verify', '/lib/systemd/system/juggernautd.service']);
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', 'systemd-analyze verify: no unknown key, no bad value');

    for (const page of ['/usr/share/man/man8/juggernautd.8.gz', '/usr/share/man/man5/juggernautd.conf.5.gz']) {
      const r = run('man', ['--warnings', '-l', page], { env: Object.assign({}, process.env, { MANWIDTH: '80' }) });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '', `man --warnings -l ${page}`);
    }
    const rotate = fs.readFileSync('/etc/logrotate.d/juggernautd', 'utf8');
    assert.match(rotate, /^\/var\/log\/juggernautd\/\*\.log \{/m);
    assert.match(rotate, /--signal=USR1 juggernautd\.service/);
    for (const f of ['/usr/share/juggernautd/public/application.js', '/usr/share/juggernautd/public/index.html',
      '/usr/share/doc/juggernautd/examples/haproxy.cfg', '/usr/share/doc/juggernautd/examples/grafana-juggernautd.json',
      '/usr/lib/juggernautd/bench/loadgen',
      '/usr/lib/juggernautd/bench/ceiling', '/usr/lib/juggernautd/bench/churnfloor']) {
      assert.ok(exists(f), f);
    }
    const lg = run('/usr/lib/juggernautd/bench/loadgen', ['--help']);
    assert.match(lg.stdout + lg.stderr, /^usage: loadgen /m, 'the bench tool runs');
  });

  test('the installed binary runs as the system user with the installed config, serves clients, reopens its log on SIGUSR1', async () => {
    assert.ok(installed(), 'installed by the test before');
    assert.equal(await h.tcpReady(ADMIN_PORT), false, `port ${ADMIN_PORT} (admin-port of the packaged config) is taken on this machine`);
    const port = await h.freePort();
    // as systemd would run it: the package's user, the installed config; only the port, the
    // address (127.0.0.1 only, not every interface) and Redis are overridden by flags
    const child = spawn('setpriv', [`--reuid=${USER}`, `--regid=${USER}`, '--init-groups', '--no-new-privs',
      '/usr/bin/juggernautd', '--config', CONF, '--port', String(port), '--bind', '127.0.0.1', '--redis-url', redis.url],
    { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      await ops.waitHealthy(port, { exitInfo: null, logs: () => out });
      await ops.waitFor(() => exists(LOG) && /listening on 127\.0\.0\.1/.test(fs.readFileSync(LOG, 'utf8')),
        5000, 'the start line in /var/log/juggernautd/juggernautd.log');
      assert.equal(fs.statSync(LOG).uid, Number(must('id', ['-u', USER]).trim()), 'the log is written by the system user');

      // the public files come from /usr/share/juggernautd/public
      const js = await ops.httpGet(port, '/application.js');
      assert.equal(js.status, 200);
      assert.equal(js.body, fs.readFileSync('/usr/share/juggernautd/public/application.js', 'utf8'));
      // the admin port answers on 127.0.0.1 only
      const metrics = await ops.httpGet(ADMIN_PORT, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^# (HELP|TYPE) /m);
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
      assert.equal(`${lint.stdout}${lint.stderr}`, '', 'promtool check metrics on the installed daemon');
      // the console works right after install: its credential is the token postinst made
      const tokenFile = '/etc/juggernautd/publish-token';
      const tst = fs.statSync(tokenFile);
      assert.equal(tst.mode & 0o777, 0o640, 'the token file is not world-readable');
      assert.equal(tst.gid, Number(must('id', ['-g', USER]).trim()), 'the daemon\'s group reads the token');
      const token = fs.readFileSync(tokenFile, 'utf8').trim();
      assert.match(token, /^[0-9a-f]{48}$/);
      assert.equal((await ops.httpGet(ADMIN_PORT, '/console')).status, 401, 'the console asks for the token');
      const consolePage = await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: ADMIN_PORT, path: '/console', agent: false,
          headers: { Authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` } }, (res) => {
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve({ status: res.statusCode, body }));
        }).on('error', reject);
      });
      assert.equal(consolePage.status, 200, 'the console with the generated token');
      assert.match(consolePage.body, /<canvas/);

      // a real client, a real publish through Redis (cluster mode: the shipped default)
      const client = await h.sioConnect(`http://127.0.0.1:${port}`);
      client.subscribe('deb-test');
      const pub = await h.redisClient(redis);
      try {
        await ops.waitFor(async () => {
          await pub.publish('juggernaut', JSON.stringify({ channels: ['deb-test'], data: 'from the package' }));
          return client.messages.length > 0;
        }, 10000, 'a message published on Redis reaching the client', 300);
        assert.match(client.messages[0], /from the package/);
      } finally {
        ops.closeForGood(client);
        pub.disconnect();
      }

      // the packaged logrotate snippet rotates the file (its postrotate signals through
      // systemctl, which needs systemd running: here the test sends SIGUSR1 itself)
      const state = path.join(h.tempDir('jg-deb-'), 'logrotate.state');
      must('logrotate', ['--force', '--state', state, '/etc/logrotate.d/juggernautd']);
      assert.ok(exists(`${LOG}.1`), 'logrotate moved the log to juggernautd.log.1');
      assert.equal(fs.statSync(LOG).size, 0, 'and created an empty juggernautd.log');
      assert.equal(fs.statSync(LOG).uid, fs.statSync(`${LOG}.1`).uid, 'owned by the system user');
      process.kill(child.pid, 'SIGUSR1');   // setpriv execs: this is juggernautd itself
      await ops.waitFor(() => exists(LOG) && /SIGUSR1: log file reopened/.test(fs.readFileSync(LOG, 'utf8')),
        5000, 'the reopen line in a new log file');
      process.kill(child.pid, 'SIGTERM');
      let timer;
      const info = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 30000, { timeout: true }); })]);
      clearTimeout(timer);
      assert.deepEqual(info, { code: 0, signal: null }, out);
      assert.match(fs.readFileSync(LOG, 'utf8'), /exiting/);
      assert.doesNotMatch(fs.readFileSync(`${LOG}.1`, 'utf8'), /SIGUSR1|exiting/, 'nothing written to the rotated file after SIGUSR1');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('purge removes every file, the log directory, the user and the group', () => {
    apt('purge', 'juggernautd');
    assert.equal(installed(), false);
    assert.deepEqual(LEFTOVERS.filter(exists), [], 'left behind by purge');
    assert.equal(getent('passwd', USER), false, `user ${USER} left behind`);
    assert.equal(getent('group', USER), false, `group ${USER} left behind`);
    assert.equal(run('dpkg-query', ['-W', 'juggernautd']).status, 1, 'dpkg still knows the package');
  });
});
