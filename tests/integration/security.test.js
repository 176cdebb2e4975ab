'use strict';
// Issue 13 (security round 2), black-box: real juggernautd instances and a real Redis.
// Session ids are bearer credentials: they must never reach another client (a published
// "except", live or replayed or from history), nor a log line at info level. The
// cluster-mode cases run with the shipped default (cluster yes) on two instances sharing one
// Redis, the others with cluster mode off.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const h = require('./lib/harness');

const T_HOOK = { timeout: 60000 };
const SECRET = 'security-test-secret-0123456789abcdef';
const TOKEN = 'security-token-0123456789abcdef';

let redis;
let pub;
let events;
let plain;   // cluster no
let a;       // cluster yes, admin port
let b;       // cluster yes

async function clusterInstance(extra = {}) {
  const admin = await h.freePort();
  const d = await h.startDaemon({
    redisUrl: redis.url,
    config: Object.assign({
      cluster: 'yes', 'cluster-secret': SECRET, 'admin-port': admin, 'admin-bind': '127.0.0.1',
      'publish-token': TOKEN, 'drain-period': 1, 'instance-timeout': 2, 'leader-lease': 1,
      history: '"* 100 3600"',
    }, extra),
  });
  d.adminPort = admin;
  return d;
}

const until = h.until;

async function subscribed(c, ch, extra = {}) {
  const match = (e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === c.sid && e.json.channel === ch;
  const n = events.matching(match).length;
  c.send(Object.assign({ type: 'subscribe', channel: ch }, extra));
  await events.waitForCount(match, n + 1, 5000, `subscribe event for ${ch}`);
}

function request(port, method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text, headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/* Every message a client received: none may carry "except" or any sid of the test. */
function assertNoSids(clients, sids) {
  for (const c of clients) {
    for (const m of c.messages) {
      assert.ok(!/"except"/.test(m), `a client received "except": ${m}`);
      for (const sid of sids) assert.ok(!m.includes(sid), `a client received a session id: ${m}`);
    }
  }
}

before(async () => {
  redis = await h.startRedis();
  pub = await h.redisClient(redis);
  events = await h.eventCollector(redis);
  plain = await h.startDaemon({ redisUrl: redis.url });
  a = await clusterInstance();
  b = await clusterInstance();
  await until(async () => (await h.getJson(a.base, '/stats')).json.cluster_leader ||
    (await h.getJson(b.base, '/stats')).json.cluster_leader, 10000, 'a leader');
}, T_HOOK);

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  try {
    for (const d of [plain, a, b]) if (d) await d.stop();
  } finally {
    if (redis) await redis.stop();
  }
}, T_HOOK);

describe('session ids never reach another client', () => {
  test('cluster no: "except" skips the sender and is not relayed to the others', async () => {
    const sender = await h.sioConnect(plain.base, { transports: ['websocket'] });
    const other = await h.sioConnect(plain.base, { transports: ['xhr-polling'] });
    const ch = h.uid('ex');
    await subscribed(sender, ch);
    await subscribed(other, ch);
    await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: 'hello', except: sender.sid }));
    await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: 'array', except: [sender.sid, 'x'] }));
    await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: 'all', except: 7 }));
    await other.waitForMessages(3);
    await sender.waitForMessages(1);
    assert.deepEqual(other.messages, [
      `{"data":"hello","channel":"${ch}"}`,
      `{"data":"array","channel":"${ch}"}`,
      `{"data":"all","channel":"${ch}"}`,
    ]);
    assert.deepEqual(sender.messages, [`{"data":"all","channel":"${ch}"}`]);
    assertNoSids([sender, other], [sender.sid, other.sid]);
    sender.close();
    other.close();
  });

  test('cluster yes: live (both instances, legacy and jg_publish), moved-session replay, history and since carry no "except"', async () => {
    const sender = await h.sioConnect(a.base, { transports: ['websocket'] });
    const ws = await h.sioConnect(b.base, { transports: ['websocket'] });
    const poller = await h.sioConnect(a.base, { transports: ['xhr-polling'] });
    const ch = h.uid('cex');
    for (const c of [sender, ws, poller]) await subscribed(c, ch);
    const sids = [sender.sid, ws.sid, poller.sid];
    await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: 1, except: sender.sid }));
    await ws.waitForMessages(1);   // the legacy one is sequenced by the leader: keep the order
    await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: 2, except: [sender.sid] }));
    await ws.waitForMessages(2);
    await poller.waitForMessages(2);
    // the poller's next polls go to B: B takes the session over and replays from its ring
    poller.socket.options.port = b.port;
    await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: 3, except: sender.sid, extra: true }));
    await poller.waitForMessages(3, 25000);
    await ws.waitForMessages(3);
    // history and since, answered from Redis (the log and history keep "except")
    const late = await h.sioConnect(b.base, { transports: ['websocket'] });
    await subscribed(late, ch, { history: 10 });
    await late.waitForMessages(3);
    const since = await h.sioConnect(a.base, { transports: ['jsonp-polling'] });
    await subscribed(since, ch, { since: JSON.parse(ws.messages[0]).seq - 1 });
    await since.waitForMessages(3);
    for (const c of [ws, poller, late, since]) {
      assert.deepEqual(c.messages.slice(0, 3).map((m) => JSON.parse(m).data), [1, 2, 3]);
    }
    assert.equal(JSON.parse(poller.messages[2]).extra, true, 'other extra fields still pass');
    await h.sleep(300);
    assert.deepEqual(sender.messages, [], 'the sender was skipped');
    assertNoSids([sender, ws, poller, late, since], sids.concat(late.sid, since.sid));
    for (const c of [sender, ws, poller, late, since]) c.close();
  });

  test('logs at info level show no whole session id (a refused subscribe names the session)', async () => {
    const c = await h.sioConnect(plain.base, { transports: ['websocket'] });
    const sid = c.sid;
    c.subscribe('bad\u0001channel');
    await until(() => /control characters in the channel name/.test(plain.logs()), 5000, 'the refusal logged');
    const line = plain.logs().split('\n').find((l) => /control characters in the channel name/.test(l));
    assert.ok(line.includes(sid.slice(0, 8)), `the line names the session by its prefix: ${line}`);
    assert.ok(!line.includes(sid), `the line holds the whole sid: ${line}`);
    c.close();
  });
});

describe('malformed session ids stop at the edge', () => {
  // what a well-formed but unknown sid gets, per transport: the answer must be the same
  const unknownSigned = 'A'.repeat(38);
  const bad = [
    'B'.repeat(23),                       // neither 22 nor 38 characters
    'C'.repeat(37),
    'D'.repeat(200),
    `${'E'.repeat(37)}.`,                 // 38, a character outside the alphabet
    `${'F'.repeat(21)}~`,
    'GGGGGGGGGG:jg:session',
  ];

  test('cluster yes: answered like an unknown session, with no Redis call and no key naming it', async () => {
    const mon = await pub.duplicate();
    const seen = [];
    mon.on('error', () => {});
    var monitor = await mon.monitor();
    monitor.on('error', () => {});
    monitor.on('monitor', (time, args) => { seen.push(args.join(' ')); });
    try {
      const before = (await h.getJson(a.base, '/stats')).json;
      const ref = await request(a.port, 'GET', `/socket.io/1/xhr-polling/${unknownSigned}?t=1`);
      for (const sid of bad) {
        for (const [method, p] of [['GET', `/socket.io/1/xhr-polling/${sid}?t=1`], ['GET', `/socket.io/1/jsonp-polling/${sid}?t=2&i=0`],
          ['POST', `/socket.io/1/xhr-polling/${sid}`], ['GET', `/socket.io/1/xhr-polling/${sid}?disconnect`]]) {
          const r = await request(a.port, method, p, method === 'POST' ? '2::' : undefined);
          if (method === 'GET' && /xhr-polling/.test(p) && !/disconnect/.test(p)) {
            assert.equal(r.status, ref.status, `${sid}: status`);
            assert.equal(r.text, ref.text, `${sid}: like an unknown session`);
          }
        }
      }
      await h.sleep(300);
      const after = (await h.getJson(a.base, '/stats')).json;
      assert.ok(after.malformed_sid - before.malformed_sid >= bad.length * 4, `malformed_sid ${before.malformed_sid} -> ${after.malformed_sid}`);
      assert.ok(seen.some((c) => c.includes(unknownSigned)), 'the well-formed unknown sid was looked up in Redis (the monitor works)');
      for (const sid of bad) {
        assert.deepEqual(seen.filter((c) => c.includes(sid)), [], `Redis calls naming ${sid}`);
        assert.deepEqual(await pub.keys(`*${sid}*`), [], `keys naming ${sid}`);
      }
    } finally {
      monitor.disconnect();
      mon.disconnect();
    }
  });
});

describe('operational endpoints disclose no channel names on the public port', () => {
  test('public-stats counters (default): /stats and /metrics without channel names; off: 404; the admin port has them', async () => {
    const c = await h.sioConnect(plain.base, { transports: ['websocket'] });
    const ch = h.uid('private-secret-room');
    await subscribed(c, ch);
    for (const p of ['/stats', '/metrics']) {
      const r = await request(plain.port, 'GET', p);
      assert.equal(r.status, 200, p);
      assert.ok(!r.text.includes(ch), `${p} on the public port names the channel`);
    }
    const admin = (await request(a.adminPort, 'GET', '/stats'));
    assert.ok('top_channels' in JSON.parse(admin.text), 'the admin port keeps top_channels');
    c.close();
    const off = await h.startDaemon({ redisUrl: redis.url, config: { 'public-stats': 'off' } });
    try {
      for (const p of ['/stats', '/metrics']) assert.equal((await request(off.port, 'GET', p)).status, 404, p);
      assert.equal((await request(off.port, 'GET', '/health')).status, 200);
    } finally {
      await off.stop();
    }
  });
});

/* Writes TEXT in one write on a new connection; resolves with everything read until WANT
 * matches it or MS pass. */
function rawExchange(port, text, want, ms = 5000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = () => { clearTimeout(timer); sock.destroy(); resolve(got); };
    const timer = setTimeout(done, ms);
    sock.on('data', (d) => { got += d.toString('utf8'); if (want.test(got)) done(); });
    sock.on('error', done);
    sock.on('connect', () => sock.write(text));
  });
}

describe('admin port', () => {
  test('a request pipelined behind POST /publish on one connection is answered', async () => {
    const body = JSON.stringify({ channel: h.uid('pipe'), data: 1 });
    const text = `POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}GET /health HTTP/1.1\r\nHost: x\r\n\r\n`;
    const got = await rawExchange(a.adminPort, text, /\{"seq":\d+\}\n[\s\S]*\r\n\r\nok\n/);
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"seq":\d+\}\n/, 'the publish is answered');
    assert.match(got, /\{"seq":\d+\}\nHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/, `then /health: ${JSON.stringify(got)}`);
  });
});

describe('check first, act after', () => {
  test('cluster yes: ?disconnect from a refused origin or on a disabled transport ends nothing and claims nothing', async () => {
    const d = await clusterInstance({ origins: '"http://good.example:*"', transports: 'websocket,xhr-polling' });
    const good = { Origin: 'http://good.example:3000' };
    const mon = await pub.duplicate();
    mon.on('error', () => {});
    let monitor;
    try {
      const hs = await request(d.port, 'GET', `/socket.io/1/?t=${Date.now()}`, undefined, good);
      assert.equal(hs.status, 200, hs.text);
      const sid = hs.text.split(':')[0];
      const first = await request(d.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=1`, undefined, good);
      assert.equal(first.text, '1::');
      const ch = h.uid('alive');
      const match = (e) => e.json && e.json.session_id === sid && e.json.channel === ch;
      const sub = await request(d.port, 'POST', `/socket.io/1/xhr-polling/${sid}`, `3:::${JSON.stringify({ type: 'subscribe', channel: ch })}`, good);
      assert.equal(sub.text, '1');
      await events.waitFor((e) => e.channel === 'juggernaut:subscribe' && match(e), 5000);
      monitor = await mon.monitor();
      monitor.on('error', () => {});
      const seen = [];
      monitor.on('monitor', (time, args) => { seen.push(args.join(' ')); });
      const evil = await request(d.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=2&disconnect`, undefined, { Origin: 'http://evil.example' });
      assert.equal(evil.status, 403);
      const evilPost = await request(d.port, 'POST', `/socket.io/1/xhr-polling/${sid}`, '0::', { Origin: 'http://evil.example' });
      assert.equal(evilPost.status, 403);
      // socket.io-client's own form names no transport; the origin check still applies
      const evilBare = await request(d.port, 'GET', `/socket.io/1//${sid}/?disconnect=1`, undefined, { Origin: 'http://evil.example' });
      assert.equal(evilBare.status, 403);
      // jsonp-polling is not enabled: the connection is closed without an answer
      const off = await rawExchange(d.port, `GET /socket.io/1/jsonp-polling/${sid}?t=3&i=0&disconnect HTTP/1.1\r\nHost: x\r\nOrigin: http://good.example:3000\r\n\r\n`, /HTTP/, 1500);
      assert.equal(off, '', 'no answer on a disabled transport');
      await h.sleep(500);
      assert.deepEqual(seen.filter((c) => c.includes(sid)), [], 'refused requests made Redis calls for the session');
      assert.deepEqual(events.matching((e) => e.channel === 'juggernaut:unsubscribe' && match(e)), [], 'the session was ended');
      assert.equal(await pub.exists(`jg:session:${sid}`), 1, 'the session record is still there');
      // and an allowed ?disconnect does end it (the client's form, without a transport)
      const bye = await request(d.port, 'GET', `/socket.io/1//${sid}/?disconnect=1`, undefined, good);
      assert.equal(bye.status, 200);
      await events.waitFor((e) => e.channel === 'juggernaut:unsubscribe' && match(e), 5000);
    } finally {
      if (monitor) monitor.disconnect();
      mon.disconnect();
      await d.stop();
    }
  });
});

describe('a signed sid is used once (first use wins)', () => {
  async function endedSession(d, headers = {}) {
    const hs = await request(d.port, 'GET', `/socket.io/1/?t=${Date.now()}`, undefined, headers);
    const sid = hs.text.split(':')[0];
    assert.equal(sid.length, 38, `a signed sid: ${hs.text}`);
    assert.equal((await request(d.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=1`)).text, '1::');
    assert.equal((await request(d.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=2&disconnect`)).status, 200);
    return sid;
  }

  test('cluster yes: once its session ended, the sid is an unknown session on every instance', async () => {
    const sid = await endedSession(a);
    await until(async () => (await pub.exists(`jg:session:${sid}`)) === 0, 5000, 'the record deleted');
    const before = (await h.getJson(b.base, '/stats')).json.sids_replayed;
    for (const d of [b, a]) {
      const r = await request(d.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=3`);
      assert.equal(r.text, '7:::1+0', `replayed on ${d === a ? 'A' : 'B'}: ${r.text}`);
      const w = await request(d.port, 'POST', `/socket.io/1/xhr-polling/${sid}`, '3:::{"type":"subscribe","channel":"x"}');
      assert.equal(w.status, 200);
    }
    await h.sleep(300);
    assert.equal(await pub.exists(`jg:session:${sid}`), 0, 'no record was made again');
    assert.ok((await h.getJson(b.base, '/stats')).json.sids_replayed > before, 'counted');
    assert.ok((await pub.ttl(`jg:spent:${sid}`)) > 0, 'jg:spent expires');
  });

  test('cluster no, with a cluster-secret: the instance that ended it refuses it', async () => {
    const d = await h.startDaemon({ redisUrl: redis.url, config: { 'cluster-secret': SECRET } });
    try {
      const sid = await endedSession(d);
      assert.equal((await request(d.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=3`)).text, '7:::1+0');
      assert.equal((await h.getJson(d.base, '/stats')).json.sessions, 0);
    } finally {
      await d.stop();
    }
  });
});
