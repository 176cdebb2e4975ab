'use strict';
// Issue 13: max-connections-per-ip. Past the limit a new connection from the same address
// gets "503" and is closed (connections_rejected_per_ip); other addresses (127.0.0.2 as
// the source) and the admin port are not affected; a closed connection frees its place.

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('./lib/harness');
const ops = require('./lib/ops');

let redis;
let daemon;
let adminPort;
const socks = [];

before(async () => {
  redis = await h.startRedis();
  adminPort = await h.freePort();
  daemon = await h.startDaemon({ redisUrl: redis.url, config: { cluster: 'yes', 'max-connections-per-ip': 3, 'admin-port': adminPort } });
});

after(async () => {
  for (const s of socks) s.destroy();
  if (daemon) await daemon.stop();
  if (redis) await redis.stop();
});

/* A connection from LOCAL that sends nothing; resolves {sock, text (what the server sent), closed}. */
function open(local = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port: daemon.port, host: '127.0.0.1', localAddress: local });
    socks.push(sock);
    const st = { sock, text: '', closed: false };
    sock.on('data', (d) => { st.text += d.toString('latin1'); });
    sock.on('close', () => { st.closed = true; });
    sock.on('error', () => {});
    sock.once('connect', () => resolve(st));
    sock.once('error', reject);
  });
}

test('max-connections-per-ip: the 4th connection from one address gets 503; another address, the admin port and a freed place still work', { timeout: 30000 }, async () => {
  const held = [await open(), await open(), await open()];
  const fourth = await open();
  await ops.waitFor(() => fourth.closed, 5000, 'the 4th connection closed');
  assert.match(fourth.text, /^HTTP\/1\.1 503 /);
  await h.sleep(200);
  assert.ok(held.every((s) => !s.closed), 'the first three are still open');

  const other = await open('127.0.0.2');
  await h.sleep(300);
  assert.equal(other.closed, false, 'a connection from 127.0.0.2 is accepted');

  const admin = await ops.httpGet(adminPort, '/stats');
  assert.equal(admin.status, 200, 'the admin port answers');
  assert.ok(JSON.parse(admin.body).connections_rejected_per_ip >= 1);

  held[0].sock.destroy();
  await h.sleep(300);
  const again = await open();
  await h.sleep(300);
  assert.equal(again.closed, false, 'a freed place is taken again');
  assert.match(daemon.logs(), /more than max-connections-per-ip \(3\) connections from one address; refused/);
});
