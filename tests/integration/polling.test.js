'use strict';
// Long-polling transports (issue 3): the core list with socket.io-client 0.9.16 forced
// to xhr-polling and to jsonp-polling, then protocol.md §14 items 11-12 and 20-35 at the
// HTTP level (short timers: polling-duration 2, close-timeout 3, heartbeat-interval 1,
// heartbeat-timeout 2, handshake-expiry 2), htmlfile, CORS, origins, 413, unknown sids.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');

const T_TEST = 120000; // cap for each describe (and, inherited, each of its tests)
const T_HOOK = { timeout: 60000 };
// SIGTERM drains sessions over drain-period (default 10 s); the tests here do not test
// draining, so keep stop() quick. Every other setting is the default unless stated.
const FAST_STOP = { 'drain-period': 1 };
const { defineCoreSuite, fix } = require('./lib/core-suite');

const daemonOnly = h.IS_REFERENCE ? { skip: 'daemon-only feature (not configurable in the original)' } : {};
const POLL = 2; // polling-duration, s
const CLOSE = 3; // close-timeout, s
const HB_INTERVAL = 1;
const HB_TIMEOUT = 2;
const MAX_POST = 100000;
const PREAMBLE = `<html><body><script>var _ = function (msg) { parent.s._(msg, document); };</script>${' '.repeat(173)}`;

let redis;
let daemon;
let clusterDaemon; // the same Redis, cluster mode on: a cluster of one
let events;
let pub;
let port;

before(async () => {
  redis = await h.startRedis();
  daemon = await h.startDaemon({
    redisUrl: redis.url,
    config: {
      ...FAST_STOP,
      'polling-duration': POLL,
      'close-timeout': CLOSE,
      'heartbeat-interval': HB_INTERVAL,
      'heartbeat-timeout': HB_TIMEOUT,
      'handshake-expiry': 2,
      'max-post-body': MAX_POST,
    },
  });
  port = daemon.port;
  clusterDaemon = await h.startDaemon({
    redisUrl: redis.url,
    config: { ...FAST_STOP, cluster: 'yes', 'polling-duration': POLL, 'close-timeout': CLOSE },
  });
  events = await h.eventCollector(redis);
  pub = await h.redisClient(redis);
}, T_HOOK);

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  try {
    if (daemon) await daemon.stop();
    if (clusterDaemon) await clusterDaemon.stop();
  } finally {
    if (redis) await redis.stop();
  }
}, T_HOOK);

const env = () => ({ daemon, redis, events, pub });

describe('xhr-polling core (socket.io-client 0.9.16)', { timeout: T_TEST }, () => {
  defineCoreSuite({ transport: 'xhr-polling', env, closeTimeout: CLOSE, pollingDuration: POLL });
});

describe('jsonp-polling core (socket.io-client 0.9.16)', { timeout: T_TEST }, () => {
  defineCoreSuite({ transport: 'jsonp-polling', env, closeTimeout: CLOSE, pollingDuration: POLL });
});

const clusterEnv = () => ({ daemon: clusterDaemon, redis, events, pub });
describe('xhr-polling core, cluster mode (a cluster of one)', { timeout: T_TEST }, () => {
  defineCoreSuite({ transport: 'xhr-polling', cluster: true, env: clusterEnv, closeTimeout: CLOSE, pollingDuration: POLL });
});

describe('jsonp-polling core, cluster mode (a cluster of one)', { timeout: T_TEST }, () => {
  defineCoreSuite({ transport: 'jsonp-polling', cluster: true, env: clusterEnv, closeTimeout: CLOSE, pollingDuration: POLL });
});

// ---------------------------------------------------------------------------------
// HTTP-level helpers

const publish = (obj) => pub.publish('juggernaut', typeof obj === 'string' ? obj : JSON.stringify(obj));
const evOf = (name, sid, ch) => (e) => e.channel === `juggernaut:${name}` && e.json && e.json.session_id === sid &&
  (ch === undefined || e.json.channel === ch);
const sub = (ch) => `3:::${JSON.stringify({ type: 'subscribe', channel: ch })}`;
const JSONP_RE = /^io\.j\[(\d+)\]\(("(?:[^"\\]|\\.)*")\);$/s;

/* Unwrap `io.j[N]("...");` -> {index, payload}. */
function unjsonp(text) {
  const m = JSONP_RE.exec(text);
  assert.ok(m, `not a JSONP answer: ${JSON.stringify(text.slice(0, 300))}`);
  return { index: Number(m[1]), payload: JSON.parse(m[2]) };
}

/* A polling session (kind 'xhr' or 'jsonp'). get() resolves {res, text (payload), at}. */
async function session(kind = 'xhr', opts = {}) {
  const headers = opts.headers || {};
  const hs = await h.handshake(port, headers);
  const name = kind === 'jsonp' ? 'jsonp-polling' : 'xhr-polling';
  const path = `/socket.io/1/${name}/${hs.sid}`;
  const i = opts.i === undefined ? 1 : opts.i;
  const q = () => `?t=${Date.now()}${kind === 'jsonp' ? `&i=${i}` : ''}`;
  const s = {
    sid: hs.sid,
    kind,
    path,
    lastAnswerAt: null,
    async get(ms = (POLL + 3) * 1000) {
      const res = await h.httpRequest(port, 'GET', `${path}${q()}`, headers, undefined, { timeout: ms });
      const at = Date.now();
      s.lastAnswerAt = at;
      assert.equal(res.status, 200, `GET answered ${h.preview(res.raw)}`);
      const text = kind === 'jsonp' ? unjsonp(res.bodyText).payload : res.bodyText;
      return { res, text, at };
    },
    post(payload, extraHeaders = {}) {
      if (kind === 'jsonp') {
        return h.httpRequest(port, 'POST', `${path}${q()}`, Object.assign({ 'Content-Type': 'application/x-www-form-urlencoded' }, headers, extraHeaders),
          `d=${h.formEncode(JSON.stringify(payload))}`);
      }
      return h.httpRequest(port, 'POST', `${path}${q()}`, Object.assign({ 'Content-Type': 'text/plain;charset=UTF-8' }, headers, extraHeaders), payload);
    },
  };
  if (opts.connect !== false) {
    const first = await s.get();
    assert.equal(first.text, '1::');
  }
  return s;
}

async function subscribeVia(s, ch) {
  const p = await s.post(sub(ch));
  assert.equal(p.status, 200);
  await events.waitFor(evOf('subscribe', s.sid, ch), 5000, `subscribe event ${ch}`);
}

// ---------------------------------------------------------------------------------

describe('xhr-polling at the HTTP level (§14 11, 20-29)', { timeout: T_TEST }, () => {
  test('11. the first GET answers at once: 200 text/plain; charset=UTF-8, Content-Length 3, 1::', async () => {
    const hs = await h.handshake(port);
    const t0 = Date.now();
    const r = await h.httpRequest(port, 'GET', `/socket.io/1/xhr-polling/${hs.sid}?t=1`);
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(r.headers['content-length'], '3');
    assert.equal(r.bodyText, '1::');
  });

  test('20. an idle GET is answered 8:: after the polling duration', async () => {
    const s = await session();
    const t0 = Date.now();
    const r = await s.get();
    const dt = Date.now() - t0;
    assert.equal(r.text, '8::');
    assert.ok(dt > POLL * 1000 - 300 && dt < POLL * 1000 + 1000, `answered after ${dt} ms (polling duration ${POLL} s)`);
  });

  test('21. a publish completes a pending GET within 100 ms', async () => {
    const s = await session();
    const ch = h.uid('live');
    await subscribeVia(s, ch);
    const pending = s.get();
    await h.sleep(300);
    const t0 = Date.now();
    await publish({ channels: [ch], data: 'now' });
    const r = await pending;
    const dt = r.at - t0;
    assert.equal(r.text, `3:::{"data":"now","channel":"${ch}"}`);
    assert.ok(dt < 100, `GET completed ${dt} ms after the publish`);
  });

  test('22. messages published between polls come in order on the next GET, framed', async () => {
    const s = await session();
    const ch = h.uid('queued');
    await subscribeVia(s, ch);
    const texts = ['one', 'twö 😀', '三', '{"json":"in a string"}', 'five\nlines'];
    for (const t of texts) await publish({ channels: [ch], data: t });
    await h.sleep(200);
    const r = await s.get();
    const want = texts.map((t) => `3:::${JSON.stringify({ data: t, channel: ch })}`);
    assert.deepEqual(h.decodePayload(r.text), want);
    assert.equal(r.text, want.map((p) => `\ufffd${p.length}\ufffd${p}`).join(''));
    assert.equal(Number(r.res.headers['content-length']), Buffer.byteLength(r.text));
  });

  test('23. every POST is answered 200, Content-Length 1, body 1 (also for an unknown sid)', async () => {
    const s = await session();
    for (const body of [sub(h.uid('p')), '2::', '8::', 'garbage', '']) {
      const r = await s.post(body);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], '1');
      assert.equal(r.bodyText, '1');
    }
    const r = await h.httpRequest(port, 'POST', '/socket.io/1/xhr-polling/424242424242?t=1', {}, '3:::x');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '1');
    assert.equal(r.bodyText, '1');
  });

  test('24. a GET for an unknown sid answers 200 text/plain 7:::1+0', async () => {
    const r = await h.httpRequest(port, 'GET', '/socket.io/1/xhr-polling/424242424242?t=1');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; charset=UTF-8');
    assert.equal(r.bodyText, '7:::1+0');
  });

  test('25. no GET for the close timeout ends the session (unsubscribe events); a GET just before keeps it', async () => {
    const a = await session();
    const b = await session();
    const ca = h.uid('ct-a');
    const cb = h.uid('ct-b');
    await subscribeVia(a, ca);
    await subscribeVia(b, cb);
    // both answered a poll just now: start both close timers from here
    await publish({ channels: [ca], data: 1 });
    await publish({ channels: [cb], data: 1 });
    const ra = await a.get();
    const rb = await b.get();
    assert.equal(ra.text, `3:::{"data":1,"channel":"${ca}"}`);
    assert.equal(rb.text, `3:::{"data":1,"channel":"${cb}"}`);
    // b polls again shortly before the close timeout
    await h.sleep(CLOSE * 1000 - 800);
    const bPoll = b.get();
    const e = await events.waitFor(evOf('unsubscribe', a.sid, ca), (CLOSE + 3) * 1000);
    const dt = e.at - ra.at;
    assert.ok(dt > CLOSE * 1000 - 500 && dt < CLOSE * 1000 + 1000, `a ended ${dt} ms after its last answer (close timeout ${CLOSE} s)`);
    assert.equal(e.message, `{"channel":"${ca}","session_id":"${a.sid}"}`);
    assert.equal((await a.get()).text, '7:::1+0');
    assert.equal((await bPoll).text, '8::', 'b is alive');
    assert.equal(events.matching(evOf('unsubscribe', b.sid)).length, 0);
    await publish({ channels: [cb], data: 2 });
    assert.equal((await b.get()).text, `3:::{"data":2,"channel":"${cb}"}`);
  });

  test('26. closing the TCP connection of a pending GET ends the session within 1 s', async () => {
    const s = await session();
    const ch = h.uid('abort');
    await subscribeVia(s, ch);
    const conn = await h.RawConn.connect(port);
    await conn.write(h.buildRequest('GET', `${s.path}?t=${Date.now()}`));
    await h.sleep(300);
    const t0 = Date.now();
    conn.destroy();
    const e = await events.waitFor(evOf('unsubscribe', s.sid, ch), 2000);
    assert.ok(e.at - t0 < 1000, `ended ${e.at - t0} ms after the close`);
    assert.equal((await s.get()).text, '7:::1+0');
  });

  test('27. a second concurrent GET completes the first with 8:: and gets later data', fix('0.8.7 orphans the first GET'), async () => {
    const s = await session();
    const ch = h.uid('overlap');
    await subscribeVia(s, ch);
    const first = s.get();
    await h.sleep(300);
    const second = s.get();
    const r1 = await Promise.race([first, h.sleep(1000).then(() => null)]);
    assert.ok(r1, 'the first GET was answered at once');
    assert.equal(r1.text, '8::');
    await publish({ channels: [ch], data: 'to the second' });
    const r2 = await second;
    assert.equal(r2.text, `3:::{"data":"to the second","channel":"${ch}"}`);
  });

  test('28. a handshaken, unused sid still works before handshake-expiry and is forgotten after it', daemonOnly, async () => {
    const early = await h.handshake(port);
    const late = await h.handshake(port);
    await h.sleep(1000);
    const r1 = await h.httpRequest(port, 'GET', `/socket.io/1/xhr-polling/${early.sid}?t=1`);
    assert.equal(r1.bodyText, '1::');
    await h.sleep(4000); // expiry 2 s, allow a sweep interval
    const r2 = await h.httpRequest(port, 'GET', `/socket.io/1/xhr-polling/${late.sid}?t=2`);
    assert.equal(r2.bodyText, '7:::1+0');
  });

  test('29. with Origin, poll answers and POST answers carry the echoed CORS headers', fix('0.8.7 answers *'), async () => {
    const origin = 'http://app.example:3000';
    const s = await session('xhr', { headers: { Origin: origin } });
    const p = await s.post('2::');
    const ch = h.uid('cors');
    await s.post(sub(ch));
    await publish({ channels: [ch], data: 'c' });
    await h.sleep(100);
    const g = await s.get();
    for (const r of [p, g.res]) {
      assert.equal(r.headers['access-control-allow-origin'], origin);
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
    }
  });

  test('keep-alive: handshake, GET, POST, GET and an answered long poll on one TCP connection', async () => {
    const conn = await h.RawConn.connect(port);
    try {
      await conn.write(h.buildRequest('GET', '/socket.io/1/?t=1'));
      const hs = await conn.readResponse();
      const sid = hs.bodyText.split(':')[0];
      const path = `/socket.io/1/xhr-polling/${sid}`;
      const ch = h.uid('ka');
      // pipelined: first GET and the subscribe POST in one write
      await conn.write(Buffer.concat([
        h.buildRequest('GET', `${path}?t=2`),
        h.buildRequest('POST', `${path}?t=3`, { 'Content-Type': 'text/plain;charset=UTF-8' }, sub(ch)),
      ]));
      assert.equal((await conn.readResponse()).bodyText, '1::');
      assert.equal((await conn.readResponse()).bodyText, '1');
      await events.waitFor(evOf('subscribe', sid, ch));
      await conn.write(h.buildRequest('GET', `${path}?t=4`));
      await h.sleep(200);
      await publish({ channels: [ch], data: 'over keep-alive' });
      assert.equal((await conn.readResponse()).bodyText, `3:::{"data":"over keep-alive","channel":"${ch}"}`);
      await conn.write(h.buildRequest('GET', `${path}?t=5`));
      assert.equal((await conn.readResponse(POLL * 1000 + 2000)).bodyText, '8::');
    } finally {
      conn.destroy();
    }
  });
});

describe('payload framing through every polling transport', { timeout: T_TEST }, () => {
  test('emoji (2 units) and CJK (1 unit, 3 bytes) framed for xhr-polling and jsonp-polling', async () => {
    for (const kind of ['xhr', 'jsonp']) {
      const s = await session(kind);
      const ch = h.uid(`f-${kind}`);
      await subscribeVia(s, ch);
      const texts = ['😀', '中文', 'a😀b中c', '𝄞🎉👍🏽'];
      for (const t of texts) await publish({ channels: [ch], data: t });
      await h.sleep(200);
      const r = await s.get();
      const want = texts.map((t) => `3:::{"data":"${t}","channel":"${ch}"}`);
      assert.equal(r.text, want.map((p) => `\ufffd${p.length}\ufffd${p}`).join(''), kind);
      // and the client's framing in a POST body
      const c1 = `${h.uid('p')}-😀`;
      const c2 = `${h.uid('p')}-中文`;
      await s.post(h.encodePayload([sub(c1), sub(c2)]));
      const evs = await events.waitForCount(evOf('subscribe', s.sid), 3);
      assert.deepEqual(evs.slice(1).map((e) => e.json.channel), [c1, c2], kind);
    }
  });
});

describe('jsonp-polling at the HTTP level (§14 12, 30-31)', { timeout: T_TEST }, () => {
  test('12a. first jsonp GET with i=1: io.j[1]("1::"); text/javascript; charset=UTF-8, X-XSS-Protection: 0', async () => {
    const hs = await h.handshake(port);
    const r = await h.httpRequest(port, 'GET', `/socket.io/1/jsonp-polling/${hs.sid}?t=1&i=1`);
    assert.equal(r.status, 200);
    assert.equal(r.bodyText, 'io.j[1]("1::");');
    assert.equal(r.headers['content-type'], 'text/javascript; charset=UTF-8');
    assert.equal(r.headers['x-xss-protection'], '0');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  test('12b. without i the index is 0', async () => {
    const hs = await h.handshake(port);
    const r = await h.httpRequest(port, 'GET', `/socket.io/1/jsonp-polling/${hs.sid}?t=1`);
    assert.equal(r.bodyText, 'io.j[0]("1::");');
  });

  test('12c. a non-numeric i is never reflected (i=x1 -> io.j[0])', fix('0.8.7 inserts i raw'), async () => {
    for (const i of ['x1', 'alert(1)', '1;alert(1)', '%22%3E']) {
      const hs = await h.handshake(port);
      const r = await h.httpRequest(port, 'GET', `/socket.io/1/jsonp-polling/${hs.sid}?t=1&i=${i}`);
      assert.equal(r.bodyText, 'io.j[0]("1::");', `i=${i}`);
    }
  });

  test('12d. an unknown sid answers io.j[1]("7:::1+0"); and a POST answers 1', async () => {
    const r = await h.httpRequest(port, 'GET', '/socket.io/1/jsonp-polling/424242424242?t=1&i=1');
    assert.equal(r.status, 200);
    assert.equal(r.bodyText, 'io.j[1]("7:::1+0");');
    const p = await h.httpRequest(port, 'POST', '/socket.io/1/jsonp-polling/424242424242?t=1&i=1',
      { 'Content-Type': 'application/x-www-form-urlencoded' }, `d=${h.formEncode('"3:::x"')}`);
    assert.equal(p.status, 200);
    assert.equal(p.bodyText, '1');
  });

  test('30. a jsonp POST (form field d = urlencoded JSON string) subscribes to "é 😀"', async () => {
    const s = await session('jsonp');
    const payload = '3:::{"type":"subscribe","channel":"é 😀"}';
    const body = `d=${h.formEncode(JSON.stringify(payload))}`;
    assert.ok(body.includes('+'), 'space sent as +');
    const p = await h.httpRequest(port, 'POST', `${s.path}?t=1&i=1`, { 'Content-Type': 'application/x-www-form-urlencoded' }, body);
    assert.equal(p.status, 200);
    assert.equal(p.headers['content-length'], '1');
    assert.equal(p.bodyText, '1');
    const e = await events.waitFor(evOf('subscribe', s.sid));
    assert.equal(e.message, `{"channel":"é 😀","session_id":"${s.sid}"}`);
  });

  test('30b. a jsonp POST with %20 spaces, other fields and a framed payload works too', async () => {
    const s = await session('jsonp');
    const c1 = `${h.uid('j')} one`;
    const c2 = `${h.uid('j')} 😀`;
    const d = encodeURIComponent(JSON.stringify(h.encodePayload([sub(c1), sub(c2)])));
    const p = await h.httpRequest(port, 'POST', `${s.path}?t=1&i=1`, { 'Content-Type': 'application/x-www-form-urlencoded' }, `x=1&d=${d}&y=2`);
    assert.equal(p.bodyText, '1');
    const evs = await events.waitForCount(evOf('subscribe', s.sid), 2);
    assert.deepEqual(evs.map((e) => e.json.channel), [c1, c2]);
  });

  test('31. jsonp GET escaping: quotes, backslashes, controls, U+2028/2029 escaped; é 😀 / raw', fix('U+2028/U+2029 raw in 0.8.7'), async () => {
    const s = await session('jsonp');
    const ch = h.uid('esc');
    await subscribeVia(s, ch);
    const data = 'q"uote b\\ack nl\nline tab\t ctl\u0001\u001f ls\u2028 ps\u2029 é 😀 a/b </script> \u007f';
    await publish({ channels: [ch], data });
    const r = await s.get();
    const P = `3:::${JSON.stringify({ data, channel: ch })}`;
    assert.equal(r.res.bodyText, `io.j[1](${h.jsString(P)});`);
    // the raw bytes: U+2028 never raw, é and 😀 raw, '/' raw
    assert.ok(!r.res.body.includes(Buffer.from('\u2028')), 'no raw U+2028');
    assert.ok(!r.res.body.includes(Buffer.from('\u2029')), 'no raw U+2029');
    assert.ok(r.res.body.includes(Buffer.from('é 😀 a/b')), 'é 😀 / raw');
    assert.equal(r.text, P);
  });
});

describe('htmlfile at the HTTP level (§14 33-35)', { timeout: T_TEST }, () => {
  /* Open a htmlfile stream; returns {conn, head, scripts(): string[] of _() payloads}. */
  async function openStream(sid) {
    const conn = await h.RawConn.connect(port);
    await conn.write(h.buildRequest('GET', `/socket.io/1/htmlfile/${sid}?t=${Date.now()}`));
    const head = await conn.waitFor((c) => h.parseHead(c.buf), 5000, 'htmlfile response head');
    const body = () => {
      const d = h.dechunk(conn.buf.subarray(head.headLength));
      return { text: Buffer.concat(d.chunks).toString('utf8'), complete: d.complete };
    };
    const scripts = () => {
      const t = body().text;
      const out = [];
      const re = /<script>_\(("(?:[^"\\]|\\.)*")\);<\/script>/g;
      let m;
      while ((m = re.exec(t))) out.push({ raw: m[1], text: JSON.parse(m[1]), index: m.index });
      return out;
    };
    const waitScripts = (n, ms = 5000) => conn.waitFor(() => scripts().length >= n && scripts(), ms, `${n} htmlfile scripts (have ${JSON.stringify(scripts().map((x) => x.text))})`);
    return { conn, head, body, scripts, waitScripts };
  }

  test('33. htmlfile: 200 text/html; charset=UTF-8, chunked, exact 256-byte preamble, then _("1::")', async () => {
    const hs = await h.handshake(port);
    const st = await openStream(hs.sid);
    try {
      assert.equal(st.head.status, 200);
      assert.equal(st.head.headers['content-type'], 'text/html; charset=UTF-8');
      assert.match(st.head.headers['transfer-encoding'] || '', /chunked/);
      assert.equal(st.head.headers['content-length'], undefined);
      await st.waitScripts(1);
      const text = st.body().text;
      assert.equal(Buffer.byteLength(PREAMBLE), 256);
      assert.ok(text.startsWith(PREAMBLE), `preamble: ${JSON.stringify(text.slice(0, 300))}`);
      assert.equal(text.slice(256, 256 + '<script>_("1::");</script>'.length), '<script>_("1::");</script>');
    } finally {
      st.conn.destroy();
    }
  });

  test('34. a message with </script> and <!--<script> arrives with every / escaped as \\/ and every < as \\u003c', fix('0.8.7 writes / and < raw'), async () => {
    const hs = await h.handshake(port);
    const st = await openStream(hs.sid);
    try {
      await st.waitScripts(1);
      const ch = h.uid('html');
      const p = await h.httpRequest(port, 'POST', `/socket.io/1/htmlfile/${hs.sid}?t=1`, { 'Content-Type': 'text/plain;charset=UTF-8' }, sub(ch));
      assert.equal(p.bodyText, '1');
      await events.waitFor(evOf('subscribe', hs.sid, ch));
      // issue 13: "<!--<script>" left raw puts the HTML parser in its script data escaped
      // states, where the next "</script>" no longer ends the element
      const data = 'a/b</script><script>alert(1)</script> "q" é😀 \u2028 <!--<script> <';
      await publish({ channels: [ch], data });
      const got = await st.conn.waitFor(() => st.scripts().find((x) => x.text.includes('alert')), 5000, 'the message script');
      const P = `3:::${JSON.stringify({ data, channel: ch })}`;
      assert.equal(got.text, P);
      assert.ok(!/(^|[^\\])\//.test(got.raw), `every / escaped: ${got.raw}`);
      assert.ok(!got.raw.includes('<'), `no raw <: ${got.raw}`);
      assert.equal(got.raw, h.jsString(P).replace(/\//g, '\\/').replace(/</g, '\\u003c'));
      // the stream as a whole: "<" only in the wrappers of the script elements
      const body = st.body().text.slice(256);
      assert.equal(body.replace(/<script>_\(|\);<\/script>/g, '').indexOf('<'), -1, 'a raw < outside the wrappers');
    } finally {
      st.conn.destroy();
    }
  });

  test('35. 2:: every heartbeat interval; answered by POST 2:: it stays, unanswered it closes after the heartbeat timeout', async () => {
    const hs = await h.handshake(port);
    const ch = h.uid('hbhtml');
    const st = await openStream(hs.sid);
    try {
      await st.waitScripts(1);
      await h.httpRequest(port, 'POST', `/socket.io/1/htmlfile/${hs.sid}?t=1`, {}, sub(ch));
      await events.waitFor(evOf('subscribe', hs.sid, ch));
      // answer three heartbeats
      for (let i = 1; i <= 3; i++) {
        const list = await st.waitScripts(1 + i, 3000);
        assert.equal(list[i].text, '2::', `heartbeat #${i}`);
        const r = await h.httpRequest(port, 'POST', `/socket.io/1/htmlfile/${hs.sid}?t=${Date.now()}`, {}, '2::');
        assert.equal(r.bodyText, '1');
      }
      assert.equal(st.conn.closed, false);
      assert.equal(events.matching(evOf('unsubscribe', hs.sid)).length, 0);
      // now stop answering
      const list = await st.waitScripts(5, 3000);
      assert.equal(list[4].text, '2::');
      const t0 = Date.now();
      const e = await events.waitFor(evOf('unsubscribe', hs.sid, ch), (HB_TIMEOUT + 3) * 1000);
      const dt = e.at - t0;
      assert.ok(dt > HB_TIMEOUT * 1000 - 700 && dt < HB_TIMEOUT * 1000 + 1000, `ended ${dt} ms after the unanswered 2::`);
      // the stream is completed (terminating chunk) or closed
      await st.conn.waitFor((c) => c.closed || st.body().complete, 3000, 'the stream to end');
    } finally {
      st.conn.destroy();
    }
  });

  test('htmlfile: closing the stream ends the session at once', async () => {
    const hs = await h.handshake(port);
    const ch = h.uid('htmlclose');
    const st = await openStream(hs.sid);
    await st.waitScripts(1);
    await h.httpRequest(port, 'POST', `/socket.io/1/htmlfile/${hs.sid}?t=1`, {}, sub(ch));
    await events.waitFor(evOf('subscribe', hs.sid, ch));
    st.conn.destroy();
    await events.waitFor(evOf('unsubscribe', hs.sid, ch), 1500);
  });

  test('htmlfile: an unknown sid gets the preamble, _("7:::1+0") and a completed response', async () => {
    const st = await openStream('424242424242');
    try {
      await st.conn.waitFor(() => st.body().complete || st.conn.closed, 5000, 'the response to complete');
      const text = st.body().text;
      assert.equal(text, `${PREAMBLE}<script>_("7:::1+0");</script>`);
    } finally {
      st.conn.destroy();
    }
  });
});

describe('CORS, origins, limits', { timeout: T_TEST }, () => {
  test('OPTIONS preflight on a transport URL: 204 with echoed origin, credentials and methods', daemonOnly, async () => {
    const s = await session();
    const r = await h.httpRequest(port, 'OPTIONS', `${s.path}?t=1`, {
      Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type',
    });
    assert.ok(r.status === 204 || r.status === 200, `status ${r.status}`);
    assert.equal(r.headers['access-control-allow-origin'], 'http://app.example');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    const methods = (r.headers['access-control-allow-methods'] || '').split(/\s*,\s*/);
    assert.ok(methods.includes('GET') && methods.includes('POST'), `methods ${r.headers['access-control-allow-methods']}`);
  });

  test('other methods on a transport URL answer 405 with Allow: GET, POST', daemonOnly, async () => {
    const s = await session();
    const r = await h.httpRequest(port, 'PUT', `${s.path}?t=1`, {}, 'x');
    assert.equal(r.status, 405);
    assert.match(r.headers.allow || '', /GET/);
    assert.match(r.headers.allow || '', /POST/);
  });

  test(`a POST larger than max-post-body (${MAX_POST}) is answered 413 and ends the session`, daemonOnly, async () => {
    const s = await session();
    const ch = h.uid('big');
    await subscribeVia(s, ch);
    const body = Buffer.from(`3:::${JSON.stringify({ type: 'event', data: 'x'.repeat(MAX_POST * 2) })}`);
    const req = h.buildRequest('POST', `${s.path}?t=${Date.now()}`, { 'Content-Type': 'text/plain;charset=UTF-8' }, body);
    const headLen = req.length - body.length;
    const conn = await h.RawConn.connect(port);
    let r;
    try {
      await conn.write(req.subarray(0, headLen));
      // an early answer (from Content-Length) is fine; otherwise send the body
      r = await conn.readResponse(1000).catch(() => null);
      if (!r) {
        await conn.write(req.subarray(headLen)).catch(() => {});
        r = await conn.readResponse(5000);
      }
    } finally {
      conn.destroy();
    }
    assert.equal(r.status, 413, `answered ${h.preview(r.raw)}`);
    await events.waitFor(evOf('unsubscribe', s.sid, ch), 3000);
    assert.equal(events.matching(evOf('custom', s.sid)).length, 0, 'the oversized event was not processed');
    assert.equal((await s.get()).text, '7:::1+0');
  });

  test('a POST just under max-post-body is accepted', daemonOnly, async () => {
    const s = await session();
    const data = 'y'.repeat(MAX_POST - 200);
    const r = await s.post(`3:::${JSON.stringify({ type: 'event', data })}`);
    assert.equal(r.status, 200);
    const e = await events.waitFor(evOf('custom', s.sid));
    assert.equal(e.json.data, data);
  });

  describe('with an origins allow-list', { timeout: T_TEST }, () => {
    let od;
    before(async () => {
      od = await h.startDaemon({ redisUrl: redis.url, config: { ...FAST_STOP, origins: 'http://a.example:80 http://b.example:*' } });
    });
    after(async () => { if (od) await od.stop(); });

    test('allowed origins get a handshake with CORS headers', async () => {
      for (const origin of ['http://a.example:80', 'http://b.example:8000', 'http://b.example:80']) {
        const r = await h.httpRequest(od.port, 'GET', '/socket.io/1/?t=1', { Origin: origin });
        assert.equal(r.status, 200, origin);
        assert.match(r.bodyText, /^[0-9A-Za-z_-]+:15:25:/, origin);
      }
    });

    test('a default port in the allow-list matches an Origin without a port', daemonOnly, async () => {
      const r = await h.httpRequest(od.port, 'GET', '/socket.io/1/?t=1', { Origin: 'http://a.example' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['access-control-allow-origin'], 'http://a.example');
    });

    test('other origins: handshake 403 "handshake bad origin" without CORS headers; JSONP form too', async () => {
      for (const origin of ['http://evil.example', 'http://a.example:81', 'http://evil.example:80']) {
        const r = await h.httpRequest(od.port, 'GET', '/socket.io/1/?t=1', { Origin: origin });
        assert.equal(r.status, 403, origin);
        assert.equal(r.bodyText, 'handshake bad origin');
        assert.equal(r.headers['access-control-allow-origin'], undefined);
      }
      const j = await h.httpRequest(od.port, 'GET', '/socket.io/1/?t=1&jsonp=2', { Origin: 'http://evil.example' });
      assert.equal(j.status, 200);
      assert.equal(j.bodyText, 'io.j[2](new Error("handshake bad origin"));');
    });

    test('other origins are refused (403) on transport requests too', fix('0.8.7 checks only the handshake'), async () => {
      const hs = await h.handshake(od.port, { Origin: 'http://a.example:80' });
      const path = `/socket.io/1/xhr-polling/${hs.sid}?t=1`;
      const g = await h.httpRequest(od.port, 'GET', path, { Origin: 'http://evil.example' });
      assert.equal(g.status, 403);
      const p = await h.httpRequest(od.port, 'POST', path, { Origin: 'http://evil.example' }, '2::');
      assert.equal(p.status, 403);
      // the rightful origin can still use the session
      const ok = await h.httpRequest(od.port, 'GET', path, { Origin: 'http://a.example:80' });
      assert.equal(ok.bodyText, '1::');
    });

    test('without Origin, the Referer decides (script-tag JSONP handshakes send no Origin)', async () => {
      const ok = await h.httpRequest(od.port, 'GET', '/socket.io/1/?t=1&jsonp=0', { Referer: 'http://b.example:8000/chat/room?x=1' });
      assert.match(ok.bodyText, /^io\.j\[0\]\("[0-9A-Za-z_-]+:15:25:[a-z,-]+"\);$/);
      const bad = await h.httpRequest(od.port, 'GET', '/socket.io/1/?t=1&jsonp=0', { Referer: 'http://evil.example/page' });
      assert.equal(bad.bodyText, 'io.j[0](new Error("handshake bad origin"));');
    });
  });
});

describe('malformed jsonp POSTs (last: they crash the original)', { timeout: T_TEST }, () => {
  test('32. d=not-json, d=5, no d, bad escapes: answered 1, the server stays up', fix('0.8.7 crashes'), async () => {
    const s = await session('jsonp');
    for (const body of ['d=not-json', 'd=5', '', 'x=1', 'd=%22unterminated', 'd=%ZZ', 'd=%22%5Cx%22', 'd=null', 'd=%5B%5D']) {
      const r = await h.httpRequest(port, 'POST', `${s.path}?t=1&i=1`, { 'Content-Type': 'application/x-www-form-urlencoded' }, body);
      assert.equal(r.status, 200, body);
      assert.equal(r.bodyText, '1', body);
    }
    daemon.assertAlive();
    const c = await h.sioConnect(daemon.base, { transports: ['jsonp-polling'] });
    const ch = h.uid('after');
    c.subscribe(ch);
    await events.waitFor(evOf('subscribe', c.sid, ch));
    await publish({ channels: [ch], data: 'fine' });
    assert.equal(await c.nthMessage(1), `{"data":"fine","channel":"${ch}"}`);
    c.close();
  });
});
