'use strict';
// Byte-level conformance checks (protocol.md §14): handshake and routing (1-10),
// packets and framing (13-19, over xhr-polling), WebSocket (36-44, raw frames),
// disconnect (45-46), Juggernaut semantics (47-59, raw WebSocket), static files (61),
// plus the daemon's own HTTP surface and bad input.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

const T_TEST = 120000; // cap for each describe (and, inherited, each of its tests)
const T_HOOK = { timeout: 60000 };
// SIGTERM drains sessions over drain-period (default 10 s); the tests here do not test
// draining, so keep stop() quick. Every other setting is the default unless stated.
const FAST_STOP = { 'drain-period': 1 };
const { fix } = require('./lib/core-suite');

const daemonOnly = h.IS_REFERENCE ? { skip: 'daemon-only feature (not in the original)' } : {};
const HS_RE = /^[0-9A-Za-z_-]{1,40}:15:25:websocket,htmlfile,xhr-polling,jsonp-polling$/;

let redis;
let daemon;
let events;
let pub;
let port;

before(async () => {
  redis = await h.startRedis();
  daemon = await h.startDaemon({ redisUrl: redis.url, config: FAST_STOP });
  port = daemon.port;
  events = await h.eventCollector(redis);
  pub = await h.redisClient(redis);
}, T_HOOK);

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  try {
    // the original dies in test 44 (5000 frames); that is expected in reference mode
    if (daemon) await daemon.stop().catch((e) => { if (!h.IS_REFERENCE) throw e; });
  } finally {
    if (redis) await redis.stop();
  }
}, T_HOOK);

// ---------------------------------------------------------------------------------
// helpers

const get = (path, headers = {}, opts) => h.httpRequest(port, 'GET', path, headers, undefined, opts);
const publish = (obj) => pub.publish('juggernaut', typeof obj === 'string' ? obj : JSON.stringify(obj));
const evOf = (name, sid, ch) => (e) => e.channel === `juggernaut:${name}` && e.json && e.json.session_id === sid &&
  (ch === undefined || e.json.channel === ch);
const frame = (p) => `\ufffd${p.length}\ufffd${p}`;
const sub = (ch) => `3:::${JSON.stringify({ type: 'subscribe', channel: ch })}`;

/* A session on xhr-polling whose first GET (1::) has been answered. */
async function pollSession(p = port) {
  const hs = await h.handshake(p);
  const path = `/socket.io/1/xhr-polling/${hs.sid}`;
  const s = {
    sid: hs.sid,
    path,
    get: (headers = {}, opts = { timeout: 25000 }) => h.httpRequest(p, 'GET', `${path}?t=${Date.now()}`, headers, undefined, opts),
    post: (body, headers = {}) => h.httpRequest(p, 'POST', `${path}?t=${Date.now()}`,
      Object.assign({ 'Content-Type': 'text/plain;charset=UTF-8' }, headers), body),
  };
  const first = await s.get();
  assert.equal(first.bodyText, '1::', 'first poll answers 1::');
  return s;
}

/* A raw WebSocket session whose 1:: frame has been read. */
async function wsSession(p = port, opts = {}) {
  const hs = await h.handshake(p);
  const ws = await h.RawWs.open(p, hs.sid, opts);
  assert.equal(ws.upgrade.status, 101, `upgrade answered ${h.preview(ws.upgrade.raw)}`);
  const f = await ws.nextFrame();
  assert.equal(f.text, '1::');
  ws.sid = hs.sid;
  return ws;
}

async function wsSubscribe(ws, ch) {
  const n = events.matching(evOf('subscribe', ws.sid, ch)).length;
  await ws.sendJson({ type: 'subscribe', channel: ch });
  await events.waitForCount(evOf('subscribe', ws.sid, ch), n + 1, 5000, `subscribe event ${ch}`);
}

/* Everything published before has reached ws when this resolves. */
async function wsFence(list) {
  const ch = h.uid('fence');
  for (const ws of list) await wsSubscribe(ws, ch);
  const marker = h.uid('m');
  await publish({ channels: [ch], data: marker });
  for (const ws of list) await ws.waitForText(`3:::{"data":"${marker}","channel":"${ch}"}`);
}

const textsOn = (ws, ch) => ws.texts().filter((t) => t.startsWith('3:::') && (() => {
  try { return JSON.parse(t.slice(4)).channel === ch; } catch (e) { return false; }
})());

// ---------------------------------------------------------------------------------

describe('handshake and routing (§14 1-10)', { timeout: T_TEST }, () => {
  test('1. handshake: 200 text/plain sid:15:25:websocket,htmlfile,xhr-polling,jsonp-polling', async () => {
    const r = await get('/socket.io/1/?t=1');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.match(r.bodyText, HS_RE);
  });

  test('2. two handshakes give different URL-safe sids', async () => {
    const a = await h.handshake(port);
    const b = await h.handshake(port);
    assert.notEqual(a.sid, b.sid);
    assert.match(a.sid, /^[0-9A-Za-z_-]+$/);
    assert.match(b.sid, /^[0-9A-Za-z_-]+$/);
  });

  test('3. POST /socket.io/1/, GET /socket.io/1 and GET /socket.io/1/xhr-polling handshake too', async () => {
    for (const [m, p] of [['POST', '/socket.io/1/'], ['GET', '/socket.io/1'], ['GET', '/socket.io/1/xhr-polling']]) {
      const r = await h.httpRequest(port, m, p, {}, m === 'POST' ? '' : undefined);
      assert.equal(r.status, 200, `${m} ${p}`);
      assert.match(r.bodyText, HS_RE, `${m} ${p}`);
    }
  });

  test('4. JSONP handshake (&jsonp=3): application/javascript io.j[3]("<hs>");', async () => {
    const r = await get('/socket.io/1/?t=1&jsonp=3');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/javascript');
    const m = /^io\.j\[3\]\("(.*)"\);$/.exec(r.bodyText);
    assert.ok(m, `body ${r.bodyText}`);
    assert.match(m[1], HS_RE);
  });

  test('5. &jsonp=alert(1) is not reflected', fix('jsonp must be digits only'), async () => {
    const r = await get('/socket.io/1/?t=1&jsonp=alert(1)');
    assert.ok(!r.bodyText.includes('alert(1)'), `body ${r.bodyText}`);
    assert.equal(r.status, 200);
    assert.match(r.bodyText, HS_RE, 'answered as a plain handshake');
  });

  test('6a. without Origin there are no CORS headers', async () => {
    const r = await get('/socket.io/1/?t=1');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
  });

  test('6b. with Origin: the origin is echoed with credentials (0.9.16 form)', fix('0.8.7 answers *'), async () => {
    const r = await get('/socket.io/1/?t=1', { Origin: 'http://a.example' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], 'http://a.example');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
  });

  test('7. /socket.io/2/ answers 500 "Protocol version not supported."', async () => {
    const r = await get('/socket.io/2/');
    assert.equal(r.status, 500);
    assert.equal(r.bodyText, 'Protocol version not supported.');
  });

  test('8. /socket.io/ answers 200 "Welcome to socket.io."', async () => {
    const r = await get('/socket.io/');
    assert.equal(r.status, 200);
    assert.equal(r.bodyText, 'Welcome to socket.io.');
  });

  test('9. an unknown transport gets no handshake and creates no session', async () => {
    const statsBefore = h.IS_REFERENCE ? null : (await h.getJson(daemon.base, '/stats')).json;
    for (const [m, extra] of [['GET', {}], ['POST', {}], ['GET', { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' }]]) {
      const r = await h.httpRequest(port, m, '/socket.io/1/bogus/123456', extra, m === 'POST' ? '3:::x' : undefined);
      assert.ok(r.status === null || (r.status >= 400 && r.status < 500), `${m}: ${h.preview(r.raw)}`);
      assert.doesNotMatch(r.bodyText, /:15:25:/);
    }
    const r2 = await get('/socket.io/1/flashsocket/123456');
    assert.ok(r2.status === null || (r2.status >= 400 && r2.status < 500), h.preview(r2.raw));
    if (statsBefore) {
      const statsAfter = (await h.getJson(daemon.base, '/stats')).json;
      assert.equal(statsAfter.sessions, statsBefore.sessions, 'no session created');
    }
  });

  test('10. an Upgrade outside /socket.io is refused (never 101)', async () => {
    for (const p of ['/foo', '/', '/application.js']) {
      const r = await h.httpRequest(port, 'GET', p, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' });
      assert.ok(r.status === null || (r.status >= 400 && r.status < 500), `${p}: ${h.preview(r.raw)}`);
    }
  });
});

describe('packets and framing (§14 13-19, over xhr-polling)', { timeout: T_TEST }, () => {
  test('13. 3:1::{meta} is acknowledged with 6:::1', async () => {
    const s = await pollSession();
    const p = await s.post('3:1::{"type":"meta","data":1}');
    assert.equal(p.status, 200);
    const r = await s.get();
    assert.equal(r.bodyText, '6:::1');
  });

  test('14. 3:1+::x gets no ack', async () => {
    const s = await pollSession();
    await s.post('3:1+::x');
    await s.post('3:2::{"type":"meta","data":1}');
    const r = await s.get();
    assert.equal(r.bodyText, '6:::2');
  });

  test('15. two buffered packets are framed with UTF-16 lengths; one is sent bare', async () => {
    const s = await pollSession();
    const ch = h.uid('frm');
    await s.post(sub(ch));
    await events.waitFor(evOf('subscribe', s.sid, ch));
    await publish(`{"channels":["${ch}"],"data":"é😀中"}`);
    await publish(`{"channels":["${ch}"],"data":"a"}`);
    await h.sleep(200);
    const r = await s.get();
    const p1 = `3:::{"data":"é😀中","channel":"${ch}"}`;
    const p2 = `3:::{"data":"a","channel":"${ch}"}`;
    assert.equal(r.bodyText, `\ufffd${p1.length}\ufffd${p1}\ufffd${p2.length}\ufffd${p2}`);
    assert.equal(r.body.length, Buffer.byteLength(r.bodyText), 'Content-Length counts bytes');
    await publish(`{"channels":["${ch}"],"data":"single"}`);
    await h.sleep(100);
    const r2 = await s.get();
    assert.equal(r2.bodyText, `3:::{"data":"single","channel":"${ch}"}`);
  });

  test('16. a framed POST with UTF-16 lengths (é😀 = 40 units / 43 bytes) subscribes to both channels', async () => {
    const s = await pollSession();
    const body = '\ufffd40\ufffd3:::{"type":"subscribe","channel":"é😀"}\ufffd38\ufffd3:::{"type":"subscribe","channel":"a"}';
    assert.equal(Buffer.byteLength('3:::{"type":"subscribe","channel":"é😀"}'), 43);
    const p = await s.post(body);
    assert.equal(p.status, 200);
    const evs = await events.waitForCount(evOf('subscribe', s.sid), 2);
    assert.deepEqual(evs.map((e) => e.message), [
      `{"channel":"é😀","session_id":"${s.sid}"}`,
      `{"channel":"a","session_id":"${s.sid}"}`,
    ]);
  });

  test('17a. a framed POST with a non-numeric length keeps earlier packets and drops the rest', async () => {
    const s = await pollSession();
    const ok = h.uid('ok');
    const bad = h.uid('bad');
    const after = h.uid('after');
    await s.post(`${frame(sub(ok))}\ufffdx1\ufffd${sub(bad)}${frame(sub(after))}`);
    const fenceCh = h.uid('fence');
    await s.post(sub(fenceCh));
    await events.waitFor(evOf('subscribe', s.sid, fenceCh));
    const chans = events.matching(evOf('subscribe', s.sid)).map((e) => e.json.channel);
    assert.deepEqual(chans, [ok, fenceCh]);
    daemon.assertAlive();
  });

  test('17b. a framed POST whose length runs past the end is rejected from there on', fix('the original takes what is left'), async () => {
    const s = await pollSession();
    const ok = h.uid('ok');
    const past = h.uid('past');
    await s.post(`${frame(sub(ok))}\ufffd999\ufffd${sub(past)}`);
    const fenceCh = h.uid('fence');
    await s.post(sub(fenceCh));
    await events.waitFor(evOf('subscribe', s.sid, fenceCh));
    const chans = events.matching(evOf('subscribe', s.sid)).map((e) => e.json.channel);
    assert.deepEqual(chans, [ok, fenceCh]);
    daemon.assertAlive();
  });

  test('18. a POST body split inside a UTF-8 character across TCP segments is decoded whole', fix('0.8.7 decodes per chunk'), async () => {
    const s = await pollSession();
    const ch = `${h.uid('split')}-é中😀`;
    const body = Buffer.from(sub(ch), 'utf8');
    const req = h.buildRequest('POST', `${s.path}?t=${Date.now()}`, { 'Content-Type': 'text/plain;charset=UTF-8' }, body);
    const headLen = req.length - body.length;
    const cut = headLen + Buffer.from(sub(ch).slice(0, sub(ch).indexOf('é')), 'utf8').length + 1; // after 0xC3
    const conn = await h.RawConn.connect(port);
    try {
      await conn.write(req.subarray(0, cut));
      await h.sleep(150);
      const cut2 = cut + 4; // inside 中 (3 bytes) ...
      await conn.write(req.subarray(cut, cut2));
      await h.sleep(150);
      await conn.write(req.subarray(cut2));
      const r = await conn.readResponse();
      assert.equal(r.status, 200);
    } finally {
      conn.destroy();
    }
    const e = await events.waitFor(evOf('subscribe', s.sid));
    assert.equal(e.message, `{"channel":"${ch}","session_id":"${s.sid}"}`);
  });

  test('19. 3::, 3::: and 3:::a:b:c are message packets (acked; data keeps its colons)', async () => {
    const s = await pollSession();
    await s.post(`${frame('3:1::')}${frame('3:2:::')}${frame('3:3:::a:b:c')}`);
    const r = await s.get();
    assert.deepEqual(h.decodePayload(r.bodyText), ['6:::1', '6:::2', '6:::3']);
    const ch = `${h.uid('x')}:y:z`;
    await s.post(sub(ch));
    const e = await events.waitFor(evOf('subscribe', s.sid));
    assert.equal(e.json.channel, ch);
  });
});

describe('WebSocket (§14 36-43)', { timeout: T_TEST }, () => {
  test('36. RFC 6455 upgrade: exact 101, correct accept key, first frame 81 03 31 3a 3a', async () => {
    const hs = await h.handshake(port);
    const ws = await h.RawWs.open(port, hs.sid, { key: 'dGhlIHNhbXBsZSBub25jZQ==', origin: 'http://app.example' });
    try {
      assert.equal(ws.upgrade.headLines[0], 'HTTP/1.1 101 Switching Protocols');
      assert.equal(ws.upgrade.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
      assert.equal(ws.upgrade.headers.upgrade.toLowerCase(), 'websocket');
      assert.equal(ws.upgrade.headers.connection.toLowerCase(), 'upgrade');
      assert.deepEqual(ws.upgrade.rawHeaders.map(([k]) => k.toLowerCase()).sort(), ['connection', 'sec-websocket-accept', 'upgrade'],
        `exactly the three headers: ${JSON.stringify(ws.upgrade.headLines)}`);
      const f = await ws.nextFrame();
      assert.equal(h.hexdump(Buffer.concat([f.header, f.payload])), '81 03 31 3a 3a');
    } finally {
      ws.destroy();
    }
  });

  test('36b. a random key gets its RFC 6455 accept value', async () => {
    const ws = await wsSession();
    try {
      assert.equal(ws.upgrade.headers['sec-websocket-accept'], h.wsAccept(ws.key));
    } finally {
      ws.destroy();
    }
  });

  test('37. a masked subscribe frame subscribes; a publish arrives as one unmasked FIN text frame', fix('the original relays except (J5)'), async () => {
    const ws = await wsSession();
    try {
      const ch = h.uid('c');
      await ws.send(h.wsFrame(1, `3:::{"type":"subscribe","channel":"${ch}"}`, { maskKey: Buffer.from([0x37, 0xfa, 0x21, 0x3d]) }));
      await events.waitFor(evOf('subscribe', ws.sid, ch));
      await publish({ channels: [ch], data: { body: 'héllo 😀' }, except: '999' });
      const f = await ws.nextFrame();
      assert.equal(f.opcode, 1);
      assert.equal(f.fin, true);
      assert.equal(f.rsv, 0);
      assert.equal(f.masked, false);
      // "except" is not relayed (a deliberate difference: it holds session ids)
      assert.equal(f.text, `3:::{"data":{"body":"héllo 😀"},"channel":"${ch}"}`);
    } finally {
      ws.destroy();
    }
  });

  test('38. length forms: 125 -> 7-bit, 126..65535 -> 16-bit, 65536 -> 64-bit', fix('0.8.7 writes 65536 as 16-bit 0'), async () => {
    const ws = await wsSession();
    try {
      const ch = h.uid('len');
      await wsSubscribe(ws, ch);
      const overhead = `3:::{"data":"","channel":"${ch}"}`.length;
      const sizes = [125, 126, 200, 65535, 65536, 70000];
      for (const n of sizes) await publish({ channels: [ch], data: 'x'.repeat(n - overhead) });
      for (const n of sizes) {
        const f = await ws.nextFrame(10000);
        assert.equal(f.length, n, `payload of ${n} bytes`);
        assert.equal(f.text, `3:::{"data":"${'x'.repeat(n - overhead)}","channel":"${ch}"}`);
        const want = n <= 125 ? 7 : n <= 65535 ? 16 : 64;
        assert.equal(f.lengthForm, want, `${n} bytes use the ${want}-bit form, header ${h.hexdump(f.header)}`);
        assert.equal(f.masked, false);
      }
    } finally {
      ws.destroy();
    }
  });

  test('39. a client message fragmented over continuation frames (with a ping in between) is one packet', async () => {
    const ws = await wsSession();
    try {
      const ch = h.uid('frag');
      await ws.send(Buffer.concat([
        h.wsFrame(1, '3:::{"type":"subs', { fin: false }),
        h.wsFrame(0, 'cribe","channel":"', { fin: false }),
        h.wsFrame(0, `${ch}`, { fin: false }),
        h.wsFrame(0, '"}', { fin: true }),
      ]));
      const e = await events.waitFor(evOf('subscribe', ws.sid, ch));
      assert.equal(e.message, `{"channel":"${ch}","session_id":"${ws.sid}"}`);
    } finally {
      ws.destroy();
    }
  });

  test('39b. fragments split in the middle of a UTF-8 character are reassembled', fix('0.8.7 decodes each fragment on its own'), async () => {
    const ws = await wsSession();
    try {
      const ch = `${h.uid('frag')}-😀中`;
      const all = Buffer.from(`3:::{"type":"subscribe","channel":"${ch}"}`, 'utf8');
      const cut = all.indexOf(0xf0) + 2;
      await ws.send(Buffer.concat([h.wsFrame(1, all.subarray(0, cut), { fin: false }), h.wsFrame(0, all.subarray(cut), { fin: true })]));
      const e = await events.waitFor(evOf('subscribe', ws.sid));
      assert.equal(e.json.channel, ch);
    } finally {
      ws.destroy();
    }
  });

  test('41. client frame 0:: is answered with 0::, the connection closes, unsubscribe events follow', async () => {
    const ws = await wsSession();
    const ch = h.uid('bye');
    await wsSubscribe(ws, ch);
    await ws.sendText('0::');
    const f = await ws.waitForFrame((x) => x.opcode === 1, 3000, 'a text frame');
    assert.equal(f.text, '0::');
    await ws.waitClose(3000);
    const rest = ws.frames.slice(ws.next);
    assert.ok(rest.every((x) => x.opcode === 8), `only a close frame may follow: ${ws.describe()}`);
    const e = await events.waitFor(evOf('unsubscribe', ws.sid, ch));
    assert.equal(e.message, `{"channel":"${ch}","session_id":"${ws.sid}"}`);
  });

  test('42. an upgrade for an unknown sid: 101, frame 7:::1+0, then close', async () => {
    const ws = await h.RawWs.open(port, '987654321');
    assert.equal(ws.upgrade.status, 101);
    const f = await ws.nextFrame();
    assert.equal(h.hexdump(Buffer.concat([f.header, f.payload])), '81 07 37 3a 3a 3a 31 2b 30');
    await ws.waitClose(3000);
    assert.ok(ws.frames.slice(1).every((x) => x.opcode === 8), `only a close frame may follow: ${ws.describe()}`);
  });

  test('43a. a ping is answered by a pong with the same payload', fix('0.8.7 answers c2 8a 00'), async () => {
    const ws = await wsSession();
    try {
      await ws.send(h.wsFrame(9, 'ping-payload'));
      const f = await ws.nextFrame();
      assert.equal(f.opcode, 10, `got ${ws.describe()} / unparsed ${h.hexdump(ws.conn.buf)}`);
      assert.equal(f.fin, true);
      assert.equal(f.masked, false);
      assert.equal(f.payload.toString(), 'ping-payload');
      // still usable
      const ch = h.uid('afterping');
      await wsSubscribe(ws, ch);
    } finally {
      ws.destroy();
    }
  });

  test('43b. a close frame is answered by a close frame echoing the status code', fix('0.8.7 closes without a close frame'), async () => {
    const ws = await wsSession();
    const ch = h.uid('close');
    await wsSubscribe(ws, ch);
    await ws.send(h.wsFrame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')])));
    const f = await ws.nextFrame(3000);
    assert.equal(f.opcode, 8, `got ${ws.describe()}`);
    assert.equal(f.masked, false);
    assert.equal(f.payload.readUInt16BE(0), 1000);
    await ws.waitClose(3000);
    await events.waitFor(evOf('unsubscribe', ws.sid, ch));
  });

  test('43c. binary frames and unsolicited pongs are ignored', fix('0.8.7 ends the session on a pong'), async () => {
    const ws = await wsSession();
    try {
      await ws.send(h.wsFrame(2, Buffer.from([1, 2, 3])));
      await ws.send(h.wsFrame(10, 'unsolicited'));
      const ch = h.uid('after-pong');
      await ws.send(h.wsFrame(1, sub(ch)));
      await events.waitFor(evOf('subscribe', ws.sid, ch));
    } finally {
      ws.destroy();
    }
  });

  test('43d. frames sent in the same segment as the upgrade request are processed', fix('0.8.7 drops them'), async () => {
    const hs = await h.handshake(port);
    const ch = h.uid('early');
    const ws = await h.RawWs.open(port, hs.sid, { extraBytes: h.wsFrame(1, sub(ch)) });
    try {
      assert.equal(ws.upgrade.status, 101);
      await events.waitFor(evOf('subscribe', hs.sid, ch));
    } finally {
      ws.destroy();
    }
  });
});

describe('WebSocket heartbeats (§14 40; heartbeat-interval 1, heartbeat-timeout 2)', { timeout: T_TEST }, () => {
  let hb;
  before(async () => {
    hb = await h.startDaemon({ redisUrl: redis.url, config: { ...FAST_STOP, 'heartbeat-interval': 1, 'heartbeat-timeout': 2 } });
  });
  after(async () => { if (hb) await hb.stop(); });

  test('40a. 2:: arrives every interval; answering keeps the connection open', async () => {
    const hs = await h.handshake(hb.port);
    assert.equal(hs.heartbeat, '2');
    const ws = await h.RawWs.open(hb.port, hs.sid);
    try {
      const opened = Date.now();
      assert.equal((await ws.nextFrame()).text, '1::');
      let last = opened;
      for (let i = 0; i < 4; i++) {
        const f = await ws.nextFrame(3000);
        assert.equal(f.text, '2::', `heartbeat #${i + 1}`);
        const dt = f.at - last;
        assert.ok(dt > 600 && dt < 1800, `heartbeat #${i + 1} came ${dt} ms after ${i ? 'the reply' : 'the open'}`);
        await ws.sendText('2::');
        last = Date.now();
      }
      assert.equal(ws.conn.closed, false);
    } finally {
      ws.destroy();
    }
  });

  test('40b. no reply: closed heartbeat-timeout after the 2::, even while messages flow', async () => {
    const hs = await h.handshake(hb.port);
    const ws = await h.RawWs.open(hb.port, hs.sid);
    ws.sid = hs.sid;
    const ch = h.uid('hb');
    await ws.sendJson({ type: 'subscribe', channel: ch });
    const timer = setInterval(() => { ws.sendJson({ type: 'meta', data: Date.now() }).catch(() => {}); }, 250);
    try {
      const hbFrame = await ws.waitForText('2::', 3000);
      await ws.waitClose(5000);
      const dt = ws.conn.closedAt - hbFrame.at;
      assert.ok(dt > 1500 && dt < 3000, `closed ${dt} ms after the unanswered 2:: (want ~2000)`);
      assert.equal(ws.texts().filter((t) => t === '2::').length, 1, 'no second heartbeat before the reply');
      await events.waitFor(evOf('unsubscribe', hs.sid, ch), 3000);
    } finally {
      clearInterval(timer);
      ws.destroy();
    }
  });

  test('40c. socket.io-client 0.9.16 stays connected across many short heartbeats', async () => {
    const c = await h.sioConnect(hb.base, { transports: ['websocket'] });
    await h.sleep(4500);
    assert.equal(c.disconnectReason, null);
    assert.equal(c.connected, true);
    c.close();
  });
});

describe('disconnect (§14 45-46)', { timeout: T_TEST }, () => {
  test('45a. GET /socket.io/1//<sid>/?disconnect=1 answers 200 empty and answers a pending GET 0::', fix('0.8.7 never answers it'), async () => {
    const s = await pollSession();
    const ch = h.uid('disc');
    await s.post(sub(ch));
    await events.waitFor(evOf('subscribe', s.sid, ch));
    const pending = s.get();
    await h.sleep(200);
    const r = await get(`/socket.io/1//${s.sid}/?disconnect=1`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal((await pending).bodyText, '0::');
    await events.waitFor(evOf('unsubscribe', s.sid, ch));
    assert.equal((await s.get()).bodyText, '7:::1+0');
  });

  test('45b. ?disconnect ends a session that has no open transport', fix('0.8.7 ignores it'), async () => {
    const s = await pollSession();
    const ch = h.uid('disc');
    await s.post(sub(ch));
    await events.waitFor(evOf('subscribe', s.sid, ch));
    const r = await get(`/socket.io/1/xhr-polling/${s.sid}?disconnect`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    await events.waitFor(evOf('unsubscribe', s.sid, ch), 2000);
    assert.equal((await s.get()).bodyText, '7:::1+0');
  });

  test('46. POST 0:: ends the session and answers the pending GET with 0::', async () => {
    const s = await pollSession();
    const ch = h.uid('disc');
    await s.post(sub(ch));
    await events.waitFor(evOf('subscribe', s.sid, ch));
    const pending = s.get();
    await h.sleep(200);
    const p = await s.post('0::');
    assert.equal(p.status, 200);
    assert.equal((await pending).bodyText, '0::');
    const e = await events.waitFor(evOf('unsubscribe', s.sid, ch));
    assert.equal(e.message, `{"channel":"${ch}","session_id":"${s.sid}"}`);
    assert.equal((await s.get()).bodyText, '7:::1+0');
  });
});

describe('Juggernaut semantics over a raw WebSocket (§14 47-59)', { timeout: T_TEST }, () => {
  test('47-49. subscribe / meta / event produce byte-exact events', async () => {
    const ws = await wsSession();
    try {
      const c1 = h.uid('c1');
      await ws.sendJson({ type: 'subscribe', channel: c1 });
      assert.equal((await events.waitFor(evOf('subscribe', ws.sid, c1))).message, `{"channel":"${c1}","session_id":"${ws.sid}"}`);
      await ws.sendJson({ type: 'meta', data: { user_id: 1 } });
      const c2 = h.uid('c2');
      await ws.sendJson({ type: 'subscribe', channel: c2 });
      assert.equal((await events.waitFor(evOf('subscribe', ws.sid, c2))).message,
        `{"channel":"${c2}","meta":{"user_id":1},"session_id":"${ws.sid}"}`);
      await ws.sendJson({ type: 'event', data: { k: 'v' } });
      assert.equal((await events.waitFor(evOf('custom', ws.sid))).message,
        `{"meta":{"user_id":1},"session_id":"${ws.sid}","data":{"k":"v"}}`);
    } finally {
      ws.destroy();
    }
  });

  test('50-52. publish forms, pass-through fields, only subscribers receive', fix('the original relays except (J5)'), async () => {
    const a = await wsSession();
    const b = await wsSession();
    try {
      const c1 = h.uid('c1');
      await wsSubscribe(a, c1);
      await publish(`{"channels":["${c1}"],"data":"x"}`);
      await publish(`{"channel":"${c1}","data":"x"}`);
      await publish(`{"channels":"${c1}","data":"y"}`);
      await publish(`{"foo":1,"channels":["${c1}"],"data":"z","except":"nobody"}`);
      await wsFence([a, b]);
      assert.deepEqual(textsOn(a, c1), [
        `3:::{"data":"x","channel":"${c1}"}`,
        `3:::{"channel":"${c1}","data":"x"}`,
        `3:::{"data":"y","channel":"${c1}"}`,
        `3:::{"foo":1,"data":"z","channel":"${c1}"}`,
      ]);
      assert.deepEqual(textsOn(b, c1), []);
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  test('53. except: string and array suppress that session only; a number suppresses nobody', async () => {
    const a = await wsSession();
    const b = await wsSession();
    try {
      const ch = h.uid('ex');
      await wsSubscribe(a, ch);
      await wsSubscribe(b, ch);
      await publish(`{"channels":["${ch}"],"data":1,"except":"${a.sid}"}`);
      await publish(`{"channels":["${ch}"],"data":2,"except":["${a.sid}"]}`);
      await publish(`{"channels":["${ch}"],"data":3,"except":7}`);
      await wsFence([a, b]);
      assert.deepEqual(textsOn(a, ch).map((t) => JSON.parse(t.slice(4)).data), [3]);
      assert.deepEqual(textsOn(b, ch).map((t) => JSON.parse(t.slice(4)).data), [1, 2, 3]);
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  test('54. a publish to two of a client\'s channels delivers two copies in published order', async () => {
    const a = await wsSession();
    try {
      const x = h.uid('x');
      const y = h.uid('y');
      await wsSubscribe(a, x);
      await wsSubscribe(a, y);
      await publish({ channels: [y, 'nobody-here', x], data: 'two' });
      assert.equal((await a.nextFrame()).text, `3:::{"data":"two","channel":"${y}"}`);
      assert.equal((await a.nextFrame()).text, `3:::{"data":"two","channel":"${x}"}`);
    } finally {
      a.destroy();
    }
  });

  test('55. invalid JSON, a string, an array or null on `juggernaut` deliver nothing', async () => {
    const a = await wsSession();
    try {
      const ch = h.uid('inv');
      await wsSubscribe(a, ch);
      for (const bad of ['{', `"${ch}"`, `["${ch}"]`, 'null', `{"channels":["${ch}"],"data":"x"`]) await publish(bad);
      await wsFence([a]);
      assert.deepEqual(textsOn(a, ch), []);
      daemon.assertAlive();
    } finally {
      a.destroy();
    }
  });

  test('56-57. unsubscribe events: one per subscribed channel, none for others; all on session end with current meta', async () => {
    const a = await wsSession();
    const c1 = h.uid('u1');
    const c2 = h.uid('u2');
    const c3 = h.uid('u3');
    await wsSubscribe(a, c1);
    await wsSubscribe(a, c2);
    await wsSubscribe(a, c3);
    await a.sendJson({ type: 'unsubscribe', channel: c1 });
    await a.sendJson({ type: 'unsubscribe', channel: h.uid('never') });
    await a.sendJson({ type: 'meta', data: { user_id: 9 } });
    await events.waitFor(evOf('unsubscribe', a.sid, c1));
    a.destroy(); // TCP close
    const evs = await events.waitForCount(evOf('unsubscribe', a.sid), 3);
    assert.equal(evs[0].message, `{"channel":"${c1}","session_id":"${a.sid}"}`);
    assert.deepEqual(evs.slice(1).map((e) => e.message).sort(), [c2, c3].map((c) => `{"channel":"${c}","meta":{"user_id":9},"session_id":"${a.sid}"}`).sort());
    await h.sleep(300);
    assert.equal(events.matching(evOf('unsubscribe', a.sid)).length, 3);
  });

  test('58. non-JSON, unknown types, non-objects and 5::: packets change nothing', async () => {
    const a = await wsSession();
    try {
      const z = h.uid('z');
      for (const p of ['3:::not json', `3:::{"type":"bogus","channel":"${z}"}`, `4:::"${z}"`, '4:::not json',
        `5:::{"name":"subscribe","args":[{"channel":"${z}"}]}`, `3:::"${z}"`, `3:::["${z}"]`, '3:::null', '3:::5', '3:::',
        `3:::{"channel":"${z}"}`, 'garbage', '9:::x', '']) {
        await a.sendText(p);
      }
      await wsFence([a]);
      await publish({ channels: [z], data: 'no' });
      await wsFence([a]);
      assert.deepEqual(textsOn(a, z), []);
      const mine = events.matching((e) => e.json && e.json.session_id === a.sid && !String(e.json.channel).startsWith('fence-'));
      assert.deepEqual(mine.map((e) => e.message), []);
    } finally {
      a.destroy();
    }
  });

  test('58a. a 4::: JSON packet carries a Juggernaut message like 3::: (the core issue asks for it; the original ignored it)', async () => {
    const a = await wsSession();
    try {
      const z = h.uid('json');
      await a.sendText(`4:::{"type":"subscribe","channel":"${z}"}`);
      await events.waitFor((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === a.sid && e.json.channel === z,
        3000, 'the subscribe event of the 4::: packet');
      await publish({ channels: [z], data: 'via-json-packet' });
      await wsFence([a]);
      assert.deepEqual(textsOn(a, z), [`3:::{"data":"via-json-packet","channel":"${z}"}`]);
    } finally {
      a.destroy();
    }
  });

  test('58b. subscribe/unsubscribe without a usable channel are ignored', fix('J11: original joins channel "undefined"'), async () => {
    const a = await wsSession();
    try {
      for (const m of ['{"type":"subscribe"}', '{"type":"subscribe","channel":5}', '{"type":"subscribe","channel":null}',
        '{"type":"subscribe","channels":[]}', '{"type":"unsubscribe"}']) {
        await a.sendText(`3:::${m}`);
      }
      await wsFence([a]);
      await publish({ channels: ['undefined', '5', 'null'], data: 'no' });
      await wsFence([a]);
      assert.deepEqual(a.texts().filter((t) => t.includes('"data":"no"')), []);
      const mine = events.matching((e) => e.json && e.json.session_id === a.sid && !String(e.json.channel).startsWith('fence-'));
      assert.deepEqual(mine.map((e) => e.message), []);
    } finally {
      a.destroy();
    }
  });

  test('59. duplicate subscribe: one copy, one event', fix('J1'), async () => {
    const a = await wsSession();
    try {
      const ch = h.uid('dup');
      await a.sendJson({ type: 'subscribe', channel: ch });
      await a.sendJson({ type: 'subscribe', channel: ch });
      await wsFence([a]);
      assert.equal(events.matching(evOf('subscribe', a.sid, ch)).length, 1);
      await publish({ channels: [ch], data: 'd' });
      await wsFence([a]);
      assert.equal(textsOn(a, ch).length, 1);
    } finally {
      a.destroy();
    }
  });
});

describe('duplicate-subscribe yes (the original quirk J1, compatibility switch)', { timeout: T_TEST }, () => {
  let d2;
  before(async () => {
    d2 = await h.startDaemon({ redisUrl: redis.url, config: { ...FAST_STOP, 'duplicate-subscribe': 'yes' } });
  });
  after(async () => { if (d2) await d2.stop(); });

  test('59b. two subscribes: two copies and two events, one unsubscribe event on close', async () => {
    const a = await wsSession(d2.port);
    const ch = h.uid('dup2');
    await a.sendJson({ type: 'subscribe', channel: ch });
    await a.sendJson({ type: 'subscribe', channel: ch });
    await events.waitForCount(evOf('subscribe', a.sid, ch), 2);
    await publish({ channels: [ch], data: 'twice' });
    assert.equal((await a.nextFrame()).text, `3:::{"data":"twice","channel":"${ch}"}`);
    assert.equal((await a.nextFrame()).text, `3:::{"data":"twice","channel":"${ch}"}`);
    a.destroy();
    await events.waitFor(evOf('unsubscribe', a.sid, ch));
    await h.sleep(300);
    assert.equal(events.matching(evOf('unsubscribe', a.sid, ch)).length, 1);
  });
});

describe('static files and HTTP surface (§14 61)', { timeout: T_TEST }, () => {
  const fs = require('node:fs');
  const path = require('node:path');

  test('61. GET / and /application.js are byte-identical to public/; /nope 404; POST / 405', async () => {
    const index = fs.readFileSync(path.join(daemon.publicDir, 'index.html'));
    const app = fs.readFileSync(path.join(daemon.publicDir, 'application.js'));
    const r1 = await get('/');
    assert.equal(r1.status, 200);
    assert.equal(r1.headers['content-type'], 'text/html');
    assert.ok(r1.body.equals(index), 'index.html byte-identical');
    for (let i = 0; i < 2; i++) { // twice: the original's cache bug served NULs the second time
      const r2 = await get('/application.js');
      assert.equal(r2.status, 200);
      assert.equal(r2.headers['content-type'], 'text/javascript');
      assert.ok(r2.body.equals(app), 'application.js byte-identical');
    }
    const r3 = await get('/nope');
    assert.equal(r3.status, 404);
    const r4 = await h.httpRequest(port, 'POST', '/', {}, 'x=1');
    assert.equal(r4.status, 405);
  });

  test('61b. HEAD / has the headers without a body', async () => {
    const index = fs.readFileSync(path.join(daemon.publicDir, 'index.html'));
    const conn = await h.RawConn.connect(port);
    try {
      await conn.write(h.buildRequest('HEAD', '/'));
      const r = await conn.readResponse(5000, { head: true });
      assert.equal(r.status, 200);
      if (r.headers['content-length'] !== undefined) assert.equal(Number(r.headers['content-length']), index.length);
      // nothing after the head: a GET on the same connection answers next
      await conn.write(h.buildRequest('GET', '/nope'));
      const r2 = await conn.readResponse();
      assert.equal(r2.status, 404);
    } finally {
      conn.destroy();
    }
  });

  test('61c. paths escaping the public directory never serve a file', async () => {
    for (const p of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '//etc/passwd', '/./../index.html']) {
      const r = await get(p);
      assert.ok(r.status === null || r.status === 400 || r.status === 403 || r.status === 404, `${p}: ${r.status}`);
      assert.ok(!r.bodyText.includes('root:'), p);
    }
  });

  test('GET /health answers 200 ok; /stats is JSON with the documented keys', daemonOnly, async () => {
    const r = await get('/health');
    assert.equal(r.status, 200);
    assert.equal(r.bodyText.trim(), 'ok');
    const s = await h.getJson(daemon.base, '/stats');
    assert.equal(s.status, 200);
    for (const k of ['connections', 'sessions', 'channels', 'subscriptions', 'deliveries']) {
      assert.equal(typeof s.json[k], 'number', `stats.${k}`);
    }
    assert.equal(s.json.redis_connected, true);
  });

  test('keep-alive and pipelining: three requests in one write get three answers in order', async () => {
    const conn = await h.RawConn.connect(port);
    try {
      await conn.write(Buffer.concat([
        h.buildRequest('GET', '/socket.io/1/?t=1'),
        h.buildRequest('GET', '/socket.io/'),
        h.buildRequest('GET', '/nope'),
      ]));
      const a = await conn.readResponse();
      const b = await conn.readResponse();
      const c = await conn.readResponse();
      assert.match(a.bodyText, HS_RE);
      assert.equal(b.bodyText, 'Welcome to socket.io.');
      assert.equal(c.status, 404);
    } finally {
      conn.destroy();
    }
  });
});

describe('bad input does not disturb anyone else', { timeout: T_TEST }, () => {
  test('malformed HTTP gets 4xx or a closed connection; the daemon keeps serving', async () => {
    const c = await h.sioConnect(daemon.base, { transports: ['websocket'] });
    const ch = h.uid('bystander');
    c.subscribe(ch);
    await events.waitFor(evOf('subscribe', c.sid, ch));
    const junk = [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/1.1 extra\r\n\r\n',
      'GET /socket.io/1/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'GET /socket.io/1/ HTTP/1.1\r\nBad Header Line\r\n\r\n',
      `GET /${'a'.repeat(100000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(200000)}\r\n\r\n`,
      'POST /socket.io/1/xhr-polling/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      '\x00\x01\x02\xff\xfe\r\n\r\n',
    ];
    for (const j of junk) {
      const r = await h.rawHttp(port, Buffer.from(j, 'latin1'), { timeout: 5000 }).catch((e) => ({ status: 'timeout', error: e }));
      assert.ok(r.status === null || (r.status >= 400 && r.status < 500),
        `${JSON.stringify(j.slice(0, 60))}: ${r.status} ${r.raw ? h.preview(r.raw, 200) : r.error}`);
    }
    daemon.assertAlive();
    await publish({ channels: [ch], data: 'still fine' });
    assert.equal(await c.nthMessage(1), `{"data":"still fine","channel":"${ch}"}`);
    const hs = await h.handshake(port);
    assert.match(hs.sid, /^[0-9A-Za-z_-]+$/);
    c.close();
  });

  test('44. 5000 small frames in one write are all processed and nothing crashes', fix('0.8.7 overflows its stack'), async () => {
    const ws = await wsSession();
    try {
      const ch = h.uid('burst');
      const frames = [];
      for (let i = 0; i < 4999; i++) frames.push(h.wsFrame(1, `3:::{"type":"meta","data":${i}}`));
      frames.push(h.wsFrame(1, sub(ch)));
      await ws.send(Buffer.concat(frames));
      const e = await events.waitFor(evOf('subscribe', ws.sid, ch), 10000);
      assert.equal(e.message, `{"channel":"${ch}","meta":4998,"session_id":"${ws.sid}"}`);
      daemon.assertAlive();
    } finally {
      ws.destroy();
    }
  });
});
