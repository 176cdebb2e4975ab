'use strict';
// Issue 13, handshake floods: handshaken sessions that no transport request uses are capped
// globally (max-unused-sessions) and per client address (max-unused-sessions-per-ip); a
// handshake over a cap is answered 503 (handshakes_refused, a log line a second at most). In
// cluster mode with a cluster-secret, the session's Redis record is written at its first
// transport request, not at the handshake: a flood writes nothing to Redis. A handshake on
// one instance and the first poll on another (non-sticky) still work. Shipped defaults
// otherwise (cluster yes).

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('./lib/harness');
const ops = require('./lib/ops');

const SECRET = 'handshake-flood-test-secret-0123456789';
let redis;
let rc;
let a;
let b;

before(async () => {
  redis = await h.startRedis();
  rc = await h.redisClient(redis);
  const config = { cluster: 'yes', 'cluster-secret': SECRET, 'max-unused-sessions': 250,
    'max-unused-sessions-per-ip': 100, 'handshake-expiry': 2, 'polling-duration': 2, 'drain-period': 0 };
  a = await h.startDaemon({ redisUrl: redis.url, config });
  b = await h.startDaemon({ redisUrl: redis.url, config });
});

after(async () => {
  if (a) await a.stop();
  if (b) await b.stop();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

/* One request on a new connection from LOCAL; resolves {status, body}. */
function request(port, path, local = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: local });
    let text = '';
    sock.setTimeout(5000, () => sock.destroy(new Error(`no answer to ${path}`)));
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => { text += d.toString('latin1'); });
    sock.on('error', reject);
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      const i = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : null, body: i >= 0 ? text.slice(i + 4) : '' });
    });
  });
}

/* N handshakes from LOCAL, 20 at a time; resolves {sids, refused, other}. */
async function flood(port, n, local) {
  const out = { sids: [], refused: 0, other: 0 };
  for (let i = 0; i < n; i += 20) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + 20); k++) batch.push(request(port, `/socket.io/1/?t=${k}`, local));
    for (const r of await Promise.all(batch)) {
      if (r.status === 200) out.sids.push(r.body.split(':')[0]);
      else if (r.status === 503 && /too many unused sessions/.test(r.body)) out.refused++;
      else out.other++;
    }
  }
  return out;
}

async function sessionKeys() {
  return (await rc.keys('jg:session:*')).length;
}

test('a handshake flood from one address stops at max-unused-sessions-per-ip, costs Redis nothing, frees up when used or expired', { timeout: 60000 }, async () => {
  const keysBefore = await sessionKeys();
  const f = await flood(a.port, 300, '127.0.0.1');
  assert.equal(f.other, 0, 'every handshake is answered 200 or 503');
  assert.equal(f.sids.length, 100, 'max-unused-sessions-per-ip 100 accepted');
  assert.equal(f.refused, 200, 'the rest refused with 503');
  const st = await ops.getStats(a.port);
  assert.equal(st.handshakes_refused, 200);
  assert.equal(st.unused_sessions, 100);
  assert.equal(await sessionKeys(), keysBefore, 'no session record in Redis for handshakes never used');
  assert.match(a.logs(), /handshake refused: max-unused-sessions-per-ip reached/);

  // another address is not affected by this one's count; the global cap is
  const g = await flood(a.port, 100, '127.0.0.2');
  assert.equal(g.sids.length, 100, 'another address gets its own 100');
  const g2 = await flood(a.port, 100, '127.0.0.3');
  assert.equal(g2.sids.length, 50, 'max-unused-sessions 250 in all');
  assert.equal(g2.refused, 50);
  assert.match(a.logs(), /handshake refused: max-unused-sessions reached/);

  // a used session stops counting, and gets its record at that first request
  const sid = f.sids[0];
  const poll = await request(a.port, `/socket.io/1/xhr-polling/${sid}?t=1`);
  assert.equal(poll.status, 200);
  assert.equal(poll.body, '1::');
  assert.equal(await rc.hget(`jg:session:${sid}`, 'owner') !== null, true, 'the record is written at first use');
  const again = await request(a.port, '/socket.io/1/?t=x', '127.0.0.1');
  assert.equal(again.status, 200, 'the used session freed a place for its address');

  // unused sessions expire after handshake-expiry (2 s): the caps free up
  await ops.waitFor(async () => (await ops.getStats(a.port)).unused_sessions === 0, 6000, 'unused sessions expired');
  const later = await flood(a.port, 100, '127.0.0.1');
  assert.equal(later.sids.length, 100, 'after expiry the address gets its 100 again');
  assert.equal(await sessionKeys(), keysBefore + 1, 'only the used session has a record');
});

test('non-sticky: a handshake on one instance, the first poll on another; then a poll back on the first', { timeout: 30000 }, async () => {
  await ops.waitFor(async () => (await ops.getStats(a.port)).unused_sessions === 0, 6000, 'unused sessions expired');
  const hs = await request(a.port, '/socket.io/1/?t=1', '127.0.0.4');
  assert.equal(hs.status, 200);
  const sid = hs.body.split(':')[0];
  const first = await request(b.port, `/socket.io/1/xhr-polling/${sid}?t=2`);
  assert.equal(first.status, 200);
  assert.equal(first.body, '1::', 'the other instance adopts the signed sid');
  let ownerB = null;
  await ops.waitFor(async () => (ownerB = await rc.hget(`jg:session:${sid}`, 'owner')) !== null, 3000,
    'the adopting instance wrote the record');
  // back on A, which still has its unused copy: the record decides (claimed from B)
  const post = await request(a.port, `/socket.io/1/xhr-polling/${sid}?t=3`);
  const polled = await Promise.race([post, h.sleep(25000).then(() => ({ status: 'timeout' }))]);
  assert.equal(polled.status, 200);
  assert.notEqual(polled.body, '1::', 'no second connect on the instance that handshook');
  const ownerA = await rc.hget(`jg:session:${sid}`, 'owner');
  assert.notEqual(ownerA, ownerB, 'the instance that handshook took the session over from its record');
});
