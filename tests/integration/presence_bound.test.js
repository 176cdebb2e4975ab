'use strict';
// Issue 13, amplification in presence: one subscribe with "presence": true (or one GET
// /presence/<channel>) made the server read the channel's whole presence hash (HGETALL)
// and send all of it, however big the channel. Now at most presence-max-members entries
// are read (HSCAN past it) and sent; the snapshot says "truncated": true and /presence
// gives the full count in "sessions" with "truncated": true. Counted as presence_truncated.
// A channel within the bound gets the snapshot as before (no "truncated" field).
// Claims: every poll claims its session in Redis; the claim returned the whole record (one
// field per subscription, up to max-subscriptions) on every poll. Now an instance that
// already serves the session gets only the scalars it needs: Redis's output for 20 polls of
// a session with 200 long channel names stays small.

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('./lib/harness');
const ops = require('./lib/ops');

const MAX = 20;
const MEMBERS = 60;
let redis;
let rc;
let daemon;
let admin;

before(async () => {
  redis = await h.startRedis();
  rc = await h.redisClient(redis);
  admin = await h.freePort();
  daemon = await h.startDaemon({ redisUrl: redis.url, config: { cluster: 'yes', 'admin-port': admin,
    'presence-max-members': MAX, 'polling-duration': 0.2, 'drain-period': 0 } });
});

after(async () => {
  h.closeAllClients();
  if (daemon) await daemon.stop();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

const snapshotOf = (c) => c.messages.map((m) => JSON.parse(m)).find((m) => m.presence === 'snapshot');

test('presence-max-members bounds the snapshot a subscribe gets and GET /presence; a small channel is unchanged', { timeout: 60000 }, async () => {
  const big = h.uid('big');
  for (let i = 0; i < MEMBERS; i++) {
    const c = await h.sioConnect(daemon.base, { transports: ['websocket'] });
    c.send({ type: 'subscribe', channel: big, presence: true });
  }
  await ops.waitFor(async () => (await rc.hlen(`jg:presence:${big}`)) === MEMBERS, 10000, `${MEMBERS} present`);

  const late = await h.sioConnect(daemon.base, { transports: ['websocket'] });
  late.send({ type: 'subscribe', channel: big, presence: true });
  await late.waitForMessage((t, j) => j && j.presence === 'snapshot');
  const snap = snapshotOf(late);
  assert.ok(snap.members.length <= MAX, `snapshot carries ${snap.members.length} members, at most ${MAX}`);
  assert.ok(snap.members.length >= MAX / 2, `snapshot carries ${snap.members.length} members`);
  assert.equal(snap.truncated, true, 'the snapshot says it was cut');

  const r = await ops.httpGet(admin, `/presence/${big}`);
  assert.equal(r.status, 200);
  const p = JSON.parse(r.body);
  assert.equal(p.sessions, MEMBERS + 1, 'the full count');
  assert.equal(p.truncated, true);
  assert.ok(p.members.reduce((n, m) => n + m.sessions, 0) <= MAX, 'at most presence-max-members read');
  assert.ok((await ops.getStats(admin)).presence_truncated >= 2);

  const small = h.uid('small');
  const one = await h.sioConnect(daemon.base, { transports: ['websocket'] });
  one.send({ type: 'subscribe', channel: small, presence: true });
  await one.waitForMessage((t, j) => j && j.presence === 'snapshot');
  const s2 = snapshotOf(one);
  assert.equal(s2.truncated, undefined, 'no "truncated" within the bound');
  assert.deepEqual(s2.members, [null]);
  const rs = JSON.parse((await ops.httpGet(admin, `/presence/${small}`)).body);
  assert.equal(rs.sessions, 1);
  assert.equal(rs.truncated, undefined);
});

/* One request on a new connection; resolves {status, body}. */
function request(port, method, path, body = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    const buf = Buffer.from(body, 'utf8');
    sock.setTimeout(5000, () => sock.destroy(new Error(`no answer to ${path}`)));
    sock.on('connect', () => sock.write(Buffer.concat([Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: x\r\n` +
      `Connection: close\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ${buf.length}\r\n\r\n`), buf])));
    sock.on('data', (d) => { text += d.toString('utf8'); });
    sock.on('error', reject);
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      const i = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : null, body: i >= 0 ? text.slice(i + 4) : '' });
    });
  });
}

async function redisOutputBytes() {
  return Number(/total_net_output_bytes:(\d+)/.exec(await rc.info('stats'))[1]);
}

test('a poll of a session served here does not read its whole record back (200 subscriptions, 20 polls)', { timeout: 60000 }, async () => {
  const hs = await request(daemon.port, 'GET', '/socket.io/1/?t=0');
  const sid = hs.body.split(':')[0];
  const first = await request(daemon.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=1`);
  assert.equal(first.body, '1::');
  const pad = 'x'.repeat(200);
  const packets = Array.from({ length: 200 }, (_, i) =>
    `3:::${JSON.stringify({ type: 'subscribe', channel: `${pad}-${i}` })}`);
  const post = await request(daemon.port, 'POST', `/socket.io/1/xhr-polling/${sid}`,
    packets.map((p) => `\ufffd${p.length}\ufffd${p}`).join(''));
  assert.equal(post.status, 200);
  await ops.waitFor(async () => (await rc.hlen(`jg:session:${sid}`)) >= 200, 10000, 'the 200 subscriptions recorded');
  const recordBytes = (await rc.hgetall(`jg:session:${sid}`)) && JSON.stringify(await rc.hgetall(`jg:session:${sid}`)).length;
  assert.ok(recordBytes > 40000, `the record is big (${recordBytes} bytes)`);
  const before = await redisOutputBytes();
  for (let t = 2; t < 22; t++) {
    const r = await request(daemon.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=${t}`);
    assert.equal(r.status, 200);
  }
  const sent = (await redisOutputBytes()) - before;
  assert.ok(sent < 20 * 2000, `Redis sent ${sent} bytes for 20 polls (the record is ${recordBytes} bytes)`);
});
