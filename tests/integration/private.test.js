'use strict';
// Hardening (issue "Hardening", point 5): private channels and signed meta (auth-secret).
// socket.io-client 0.9.16 over WebSocket against a real juggernautd and redis-server; the
// signatures are computed here with node:crypto exactly as the README's Rails controller
// does: hex(HMAC-SHA256(secret, session_id + ":" + channel)), and for meta
// hex(HMAC-SHA256(secret, session_id + ":" + JSON.stringify(meta))).

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const h = require('./lib/harness');
const x = require('./lib/hostile');

const ONLY_OURS = h.IS_REFERENCE ? 'private channels are a juggernautd extension' : false;
const SECRET = 'test-auth-secret-0123456789';

const sign = (sid, subject, secret = SECRET) =>
  crypto.createHmac('sha256', secret).update(`${sid}:${subject}`).digest('hex');

let redis;
let events;
let pub;
let daemon; // auth-secret set, require-meta-auth no
let strict; // auth-secret set, require-meta-auth yes
let baseline;
let strictBaseline;

before(async () => {
  if (ONLY_OURS) return;
  redis = await h.startRedis();
  events = await h.eventCollector(redis);
  pub = await h.redisClient(redis);
  daemon = await h.startDaemon({ redisUrl: redis.url, env: x.daemonEnv(),
    config: { 'auth-secret': SECRET, 'drain-period': 0 } });
  strict = await h.startDaemon({ redisUrl: redis.url, env: x.daemonEnv(),
    config: { 'auth-secret': SECRET, 'require-meta-auth': 'yes', 'drain-period': 0 } });
  baseline = x.rss(daemon.pid);
  strictBaseline = x.rss(strict.pid);
});

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  try {
    if (daemon) await daemon.stop();
  } finally {
    try {
      if (strict) await strict.stop();
    } finally {
      if (redis) await redis.stop();
    }
  }
});

const connect = (d = daemon) => h.sioConnect(d.base, { transports: ['websocket'] });
const subscribeEvent = (sid, channel) => (e) => e.channel === 'juggernaut:subscribe' && e.json &&
  e.json.session_id === sid && (channel === undefined || e.json.channel === channel);

/* A fence: subscribe to a fresh public channel and wait for its event. Events of one
 * session are published in order, so an event for anything sent before it would be
 * recorded by then. */
async function fence(c) {
  const ch = h.uid('fence');
  c.subscribe(ch);
  await events.waitFor(subscribeEvent(c.sid, ch), 5000, `fence ${ch}`);
  return ch;
}

async function statsOf(d) { return x.stats(d); }

describe('private channels', { skip: ONLY_OURS }, () => {
  test('subscribe to private-x without auth: error message to that client only, no event, auth_refused', async () => {
    const st0 = await statsOf(daemon);
    const c = await connect();
    const other = await connect();
    c.subscribe('private-x');
    const m = await c.waitForMessage((t, j) => j && j.error !== undefined);
    assert.equal(m.text, '{"error":"unauthorized","request":{"type":"subscribe","channel":"private-x"}}');
    await fence(c);
    await fence(other);
    assert.deepEqual(events.matching(subscribeEvent(c.sid, 'private-x')), []);
    assert.deepEqual(other.messages, [], 'the refusal goes to the refused client only');
    const st = await statsOf(daemon);
    assert.equal(st.auth_refused - st0.auth_refused, 1);
    assert.match(daemon.logs(), new RegExp(`session ${c.sid.slice(0, 8)}\\.\\.\\.: subscribe to private channel "private-x" refused: no auth`));
    // and it receives nothing published there
    await pub.publish('juggernaut', JSON.stringify({ channels: ['private-x'], data: 'secret' }));
    const f = await fence(c);
    await pub.publish('juggernaut', JSON.stringify({ channels: [f], data: 'after' }));
    await c.waitForMessage((t, j) => j && j.channel === f);
    assert.deepEqual(c.on('private-x'), []);
    c.close();
    other.close();
  });

  test('subscribe with a wrong auth is refused the same way', async () => {
    const st0 = await statsOf(daemon);
    const c = await connect();
    const wrong = [
      sign(c.sid, 'private-y'), // signed for another channel
      sign('someone-else', 'private-x'), // for another session
      sign(c.sid, 'private-x', 'another-secret-0123456789'), // with another secret
      sign(c.sid, 'private-x').slice(0, 63), // truncated
      `${sign(c.sid, 'private-x')}00`, // too long
      'x'.repeat(64),
      '',
    ];
    let from = 0;
    for (const auth of wrong) {
      c.send({ type: 'subscribe', channel: 'private-x', auth });
      const m = await c.waitForMessage((t, j) => j && j.error !== undefined, 5000, from);
      assert.equal(m.text, '{"error":"unauthorized","request":{"type":"subscribe","channel":"private-x"}}', `auth ${auth}`);
      from = m.index + 1;
    }
    // a non-string auth is no auth
    c.send({ type: 'subscribe', channel: 'private-x', auth: 12345 });
    const m = await c.waitForMessage((t, j) => j && j.error !== undefined, 5000, from);
    assert.equal(m.text, '{"error":"unauthorized","request":{"type":"subscribe","channel":"private-x"}}');
    await fence(c);
    assert.deepEqual(events.matching(subscribeEvent(c.sid, 'private-x')), []);
    const st = await statsOf(daemon);
    assert.equal(st.auth_refused - st0.auth_refused, wrong.length + 1);
    assert.match(daemon.logs(), new RegExp(`session ${c.sid.slice(0, 8)}\\.\\.\\.: subscribe to private channel "private-x" refused: wrong auth`));
    c.close();
  });

  test('subscribe with the right HMAC: subscribed (event) and receives; upper-case hex works too', async () => {
    const c = await connect();
    c.send({ type: 'subscribe', channel: 'private-x', auth: sign(c.sid, 'private-x') });
    await events.waitFor(subscribeEvent(c.sid, 'private-x'));
    const d = await connect();
    d.send({ type: 'subscribe', channel: 'private-x', auth: sign(d.sid, 'private-x').toUpperCase() });
    await events.waitFor(subscribeEvent(d.sid, 'private-x'));
    await pub.publish('juggernaut', JSON.stringify({ channels: ['private-x'], data: 'for the authorized' }));
    for (const cl of [c, d]) {
      const m = await cl.waitForMessage((t, j) => j && j.channel === 'private-x');
      assert.equal(m.text, '{"data":"for the authorized","channel":"private-x"}');
    }
    assert.ok(!c.messages.some((t) => t.includes('"error"')));
    c.close();
    d.close();
  });

  test('non-private channels need nothing (also names that only contain the prefix)', async () => {
    const c = await connect();
    const names = [h.uid('public'), `x-private-${h.uid('n')}`, `Private-${h.uid('n')}`];
    for (const n of names) {
      c.subscribe(n);
      await events.waitFor(subscribeEvent(c.sid, n));
    }
    await pub.publish('juggernaut', JSON.stringify({ channels: names, data: 'open' }));
    await c.waitForMessages(3);
    assert.deepEqual(c.messages.map((t) => JSON.parse(t).channel), names);
    c.close();
  });

  test('signed meta: a meta with a wrong auth is refused; a signed one is accepted and shows in the events', async () => {
    const c = await connect();
    // signed over JSON.stringify's text: the daemon re-serializes the same way
    const meta = { user_id: 42, name: 'Zoë "z" <z@example.com>\u2028😀\u007f\t', score: 0.1 + 0.2, big: 1e21,
      neg: -0, list: [1, 'two', null, false], deep: { '10': 'ten', '2': 'two', b: 'b' } };
    c.send({ type: 'meta', data: meta, auth: sign(c.sid, JSON.stringify({ user_id: 1, name: 'someone' })) });
    const m = await c.waitForMessage((t, j) => j && j.error !== undefined);
    assert.equal(m.text, '{"error":"unauthorized","request":{"type":"meta"}}');
    const f1 = await fence(c);
    assert.equal(events.matching(subscribeEvent(c.sid, f1))[0].json.meta, undefined, 'the refused meta is not used');
    c.send({ type: 'meta', data: meta, auth: sign(c.sid, JSON.stringify(meta)) });
    const f2 = await fence(c);
    const ev2 = events.matching(subscribeEvent(c.sid, f2))[0];
    assert.equal(ev2.message, `{"channel":"${f2}","meta":${JSON.stringify(meta)},"session_id":"${c.sid}"}`);
    // without require-meta-auth an unsigned meta is still taken (the original's behaviour)
    c.meta({ user_id: 7 });
    const f3 = await fence(c);
    assert.deepEqual(events.matching(subscribeEvent(c.sid, f3))[0].json.meta, { user_id: 7 });
    c.close();
  });

  test('require-meta-auth yes: an unsigned meta is refused and later events carry no meta; a signed one is used', async () => {
    const st0 = await statsOf(strict);
    const c = await connect(strict);
    c.meta({ user_id: 1, admin: true });
    const m = await c.waitForMessage((t, j) => j && j.error !== undefined);
    assert.equal(m.text, '{"error":"unauthorized","request":{"type":"meta"}}');
    const ch = h.uid('roster');
    c.subscribe(ch);
    const ev = await events.waitFor(subscribeEvent(c.sid, ch));
    assert.equal(ev.message, `{"channel":"${ch}","session_id":"${c.sid}"}`, 'no meta in the event');
    c.event({ hello: 1 });
    const custom = await events.waitFor((e) => e.channel === 'juggernaut:custom' && e.json && e.json.session_id === c.sid);
    assert.equal(custom.message, `{"session_id":"${c.sid}","data":{"hello":1}}`);
    assert.equal((await statsOf(strict)).auth_refused - st0.auth_refused, 1);

    const meta = { user_id: 2, tags: ['a', 'b'], nested: { ok: true, n: 1.5 } };
    c.send({ type: 'meta', data: meta, auth: sign(c.sid, JSON.stringify(meta)) });
    const ch2 = h.uid('roster');
    c.subscribe(ch2);
    const ev2 = await events.waitFor(subscribeEvent(c.sid, ch2));
    assert.equal(ev2.message, `{"channel":"${ch2}","meta":${JSON.stringify(meta)},"session_id":"${c.sid}"}`);
    // the session's meta ends with it: the unsubscribe events carry the signed meta
    c.disconnect();
    const un = await events.waitFor((e) => e.channel === 'juggernaut:unsubscribe' && e.json &&
      e.json.session_id === c.sid && e.json.channel === ch2);
    assert.deepEqual(un.json.meta, meta);
    // private channels on the strict daemon work as on the other one
    const d = await connect(strict);
    d.send({ type: 'subscribe', channel: 'private-x', auth: sign(d.sid, 'private-x') });
    await events.waitFor(subscribeEvent(d.sid, 'private-x'));
    d.close();
  });

  test('after all that: normal clients work and memory is back near the baseline', async () => {
    for (const [d, base] of [[daemon, baseline], [strict, strictBaseline]]) {
      await x.assertRecovered({ daemon: d, events, pub }, { baseline: base, what: 'private-channel refusals' });
    }
  });
});
