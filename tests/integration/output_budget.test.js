'use strict';
// Issue 13: a global budget for unsent output (max-output-total). max-output-buffer x
// max-connections is far more than RAM; past the budget the connections holding the most
// unsent bytes are closed first (a log line, output_budget_cuts), and a client that keeps
// up is not touched. Real daemon (cluster yes), real Redis, raw WebSocket clients: two stop
// reading while 64 KiB messages are published, one keeps reading.

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const ops = require('./lib/ops');
const { RawWs } = require('./lib/raw');

let redis;
let pub;
let daemon;
const socks = [];

before(async () => {
  redis = await h.startRedis();
  pub = await h.redisClient(redis);
  daemon = await h.startDaemon({
    redisUrl: redis.url,
    config: { cluster: 'yes', 'max-output-total': '2m', 'max-output-buffer': '64m' },
  });
});

after(async () => {
  for (const ws of socks) ws.destroy();
  if (daemon) await daemon.stop();
  if (pub) pub.disconnect();
  if (redis) await redis.stop();
});

async function subscriber(channel) {
  const hs = await h.handshake(daemon.port);
  const ws = await RawWs.open(daemon.port, hs.sid);
  socks.push(ws);
  assert.equal(ws.upgrade.status, 101);
  await ws.waitForText('1::');
  await ws.sendJson({ type: 'subscribe', channel });
  return ws;
}

test('past max-output-total the clients that stopped reading are cut, slowest first; the one that keeps up is not', { timeout: 60000 }, async (t) => {
  const ch = h.uid('budget');
  const fast = await subscriber(ch);
  const slow = [await subscriber(ch), await subscriber(ch)];
  await h.sleep(300);
  for (const ws of slow) ws.conn.sock.pause();   // stop reading: the kernel buffers fill, then ours
  const N = 200;
  const pad = 'y'.repeat(64 * 1024);
  for (let n = 1; n <= N; n++) await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: { n, pad } }));
  await ops.waitFor(() => fast.texts().filter((x) => x.startsWith('3:::')).length >= N, 20000, `all ${N} messages at the client that reads`);
  const st = (await h.getJson(daemon.base, '/stats')).json;
  t.diagnostic(`output_budget_cuts ${st.output_budget_cuts}, slow_consumers ${st.slow_consumers}`);
  assert.ok(st.output_budget_cuts >= 1, 'connections were cut for the budget');
  assert.equal(st.slow_consumers, 0, 'not by the per-connection limit');
  for (const ws of slow) ws.conn.sock.resume();
  for (const ws of slow) await ws.waitClose(10000);
  const got = slow.map((ws) => ws.texts().filter((x) => x.startsWith('3:::')).length);
  t.diagnostic(`messages the cut clients had read before the reset: ${got.join(', ')} of ${N}`);
  assert.ok(got.every((n) => n < N), 'the cut clients did not get everything');
  assert.equal(fast.conn.closed, false, 'the client that keeps up is still connected');
  assert.match(daemon.logs(), /output budget: \d+ bytes unsent over all connections, more than max-output-total/);
});
