'use strict';
// Issue 13 measurement: reaping the sessions of a dead instance, in batches or in one call.
// N sessions (default 20,000), each subscribed to a channel with presence, are written to a
// fresh redis-server as if an instance had owned them and died. Then:
//   one call:  FCALL jg_reap with a budget of N, as reaping was before it was batched;
//   batched:   a juggernautd started with the shipped conf/juggernautd.conf (cluster yes)
//              reaps them itself (jg_reap_dead, 1,000 sessions a call).
// Prints, for each, how long Redis was busy in its longest call (SLOWLOG, so every other
// client of that Redis waited that long), the total, and for the daemon its event loop's
// worst lag while it reaped. Usage: node bench/reap_stall.js [path/to/juggernautd] [N]
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { spawn } = require('node:child_process');
const h = require('../tests/integration/lib/harness');

const bin = path.resolve(process.argv[2] || path.join(__dirname, '..', 'build', 'release', 'juggernautd'));
const repo = path.resolve(bin, '..', '..', '..');
const N = Number(process.argv[3] || 20000);
const DEAD = 'dead-instance';

/* N session records owned by DEAD, each on channel "room<i % 100>" with presence. */
const POPULATE = `
local n = tonumber(ARGV[1])
for i = 1, n do
  local sid = string.format('%022d', i)
  local ch = 'room' .. (i % 100)
  redis.call('HSET', 'jg:session:' .. sid, 'owner', ARGV[2], 'cursor', '0', 'connected', '1',
             'sub:' .. ch, '0 1 "' .. ch .. '"')
  redis.call('SADD', 'jg:instance:' .. ARGV[2] .. ':sessions', sid)
  redis.call('HSET', 'jg:presence:' .. ch, sid, '{}')
end
redis.call('SADD', 'jg:instances', ARGV[2])
return n`;

function getJson(port, p) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let t = '';
      res.on('data', (d) => { t += d; });
      res.on('end', () => { try { resolve(JSON.parse(t)); } catch { resolve(null); } });
    }).on('error', () => resolve(null));
  });
}

async function slowest(rc) {
  const log = await rc.call('SLOWLOG', 'GET', '-1');
  let max = 0, total = 0, calls = 0;
  for (const e of log) {
    const args = e[3].map(String);
    if (args[0] !== 'FCALL' || !/^jg_reap/.test(args[1])) continue;
    max = Math.max(max, Number(e[2]));
    total += Number(e[2]);
    calls++;
  }
  return { maxMs: max / 1000, totalMs: total / 1000, calls };
}

async function populate(rc) {
  await rc.call('FLUSHALL');
  await rc.call('FUNCTION', 'LOAD', 'REPLACE', fs.readFileSync(path.join(repo, 'redis', 'juggernaut.lua'), 'utf8'));
  await rc.call('EVAL', POPULATE, '0', String(N), DEAD);
  await rc.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
  await rc.call('CONFIG', 'SET', 'slowlog-max-len', '100000');
  await rc.call('SLOWLOG', 'RESET');
}

async function main() {
  const redis = await h.startRedis();
  const rc = await h.redisClient(redis);

  await populate(rc);
  const t0 = process.hrtime.bigint();
  const r = await rc.call('FCALL', 'jg_reap', '0', DEAD, '0', String(N));
  const one = await slowest(rc);
  console.log(`one call:  ${r[0]} sessions ended; Redis busy ${one.maxMs.toFixed(1)} ms in one call ` +
    `(round trip ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms)`);

  await populate(rc);
  const port = await h.freePort();
  const dir = fs.mkdtempSync('/tmp/jg-reap-');
  const u = new URL(redis.url);
  const conf = fs.readFileSync(path.join(repo, 'conf', 'juggernautd.conf'), 'utf8') +
    `\nport ${port}\nbind 127.0.0.1\nredis-host 127.0.0.1\nredis-port ${u.port}\nlog-file ""\npidfile ""\n` +
    `public-dir ${path.join(repo, 'public')}\ndrain-period 0\npolling-duration 1\nclose-timeout 2\n`;
  fs.writeFileSync(path.join(dir, 'j.conf'), conf);
  const child = spawn(bin, ['-c', path.join(dir, 'j.conf')], { stdio: ['ignore', 'ignore', process.env.DEBUG ? 'inherit' : 'ignore'] });
  const t1 = Date.now();
  let lag = 0, st = null;
  for (let i = 0; i < 600; i++) {
    st = await getJson(port, '/stats');
    if (st) lag = Math.max(lag, Number(st.loop_lag_ms ?? (st.loop_lag_seconds || 0) * 1000));
    if (st && st.sessions_reaped >= N) break;
    await h.sleep(100);
  }
  const secs = (Date.now() - t1) / 1000;
  const batched = await slowest(rc);
  console.log(`batched:   ${st ? st.sessions_reaped : '?'} sessions ended by juggernautd in ${batched.calls} calls ` +
    `within ${secs.toFixed(1)} s of its start; Redis busy at most ${batched.maxMs.toFixed(1)} ms in one call ` +
    `(${batched.totalMs.toFixed(1)} ms in all); the daemon's worst loop lag meanwhile ${lag} ms`);
  child.kill('SIGTERM');
  await new Promise((res) => child.on('exit', res));
  fs.rmSync(dir, { recursive: true, force: true });
  rc.disconnect();
  await redis.stop();
}
main().catch((e) => { console.error(e); process.exit(1); });
