'use strict';
// Issue 13 measurement: N handshakes (default 20,000) from one address against a daemon
// started with the shipped conf/juggernautd.conf (cluster yes), on free ports, with its own
// redis-server. Prints accepted / refused, Redis used_memory delta and the daemon's RSS
// delta. Usage: node bench/handshake_flood.js [path/to/juggernautd] [N] [cluster-secret]
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const h = require('../tests/integration/lib/harness');

const bin = path.resolve(process.argv[2] || path.join(__dirname, '..', 'build', 'release', 'juggernautd'));
const repo = path.resolve(bin, '..', '..', '..');   /* the conf shipped with that build */
const N = Number(process.argv[3] || 20000);
const secret = process.argv[4] || '';

function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

async function main() {
  const redis = await h.startRedis();
  const rc = await h.redisClient(redis);
  const port = await h.freePort();
  const dir = fs.mkdtempSync('/tmp/jg-flood-');
  let conf = fs.readFileSync(path.join(repo, 'conf', 'juggernautd.conf'), 'utf8');
  const u = new URL(redis.url);
  conf += `\nport ${port}\nbind 127.0.0.1\nredis-host 127.0.0.1\nredis-port ${u.port}\nlog-file ""\npidfile ""\n` +
    `public-dir ${path.join(__dirname, '..', 'public')}\ndrain-period 0\n` + (secret ? `cluster-secret ${secret}\n` : '');
  fs.writeFileSync(path.join(dir, 'j.conf'), conf);
  const { spawn } = require('node:child_process');
  const child = spawn(bin, ['-c', path.join(dir, 'j.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => http.get({ host: '127.0.0.1', port, path: '/health', agent: false },
      (res) => { res.resume(); r(res.statusCode === 200); }).on('error', () => r(false)));
    if (ok) break;
    await h.sleep(100);
  }
  await h.sleep(500);
  const mem0 = Number(/used_memory:(\d+)/.exec(await rc.info('memory'))[1]);
  const rss0 = rss(child.pid);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  let ok = 0, refused = 0, other = 0;
  const t0 = Date.now();
  for (let i = 0; i < N; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, k) => new Promise((r) => {
      http.get({ host: '127.0.0.1', port, path: `/socket.io/1/?t=${i + k}`, agent }, (res) => {
        res.resume();
        res.on('end', () => { if (res.statusCode === 200) ok++; else if (res.statusCode === 503) refused++; else other++; r(); });
      }).on('error', () => { other++; r(); });
    })));
  }
  const secs = (Date.now() - t0) / 1000;
  await h.sleep(1000);
  const mem1 = Number(/used_memory:(\d+)/.exec(await rc.info('memory'))[1]);
  const rss1 = rss(child.pid);
  const keys = (await rc.keys('jg:session:*')).length;
  console.log(`${repo}: ${N} handshakes in ${secs.toFixed(1)} s` +
    `${secret ? ' (with a cluster-secret)' : ' (shipped conf)'}: accepted ${ok}, refused 503 ${refused}, other ${other}; ` +
    `Redis used_memory +${((mem1 - mem0) / 1048576).toFixed(2)} MB, jg:session keys ${keys}; ` +
    `daemon RSS +${((rss1 - rss0) / 1048576).toFixed(2)} MB`);
  agent.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  rc.disconnect();
  await redis.stop();
}
main().catch((e) => { console.error(e); process.exit(1); });
