'use strict';
// A subscription recorded before the first message a cluster ever sequenced (a fresh Redis:
// no jg:seq yet), then that first message, then the session moves (its next GET reaches
// another instance, which rebuilds the copy from the record and replays its ring). The
// record must say where the subscription started in a way the replay understands: it said
// 0, which the taking-over instance reads as "no cursor, nothing to replay", so the message
// waiting in its ring was never delivered (cluster.test.js lost the fence message, the first
// message of its run, at a polling client about one run in two).

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const pair = require('./lib/pair');
const raw = require('./lib/raw');

const T_HOOK = { timeout: 60000 };
const SECRET = 'first-message-secret-0123456789abcdef';
const POLLING_DURATION = 5;

const P = {};
let a;
let b;
let rc;
let events;

before(async () => {
  await pair.start(P, SECRET, { 'polling-duration': POLLING_DURATION });
  ({ a, b, rc, events } = P);
}, T_HOOK);

after(() => pair.stop(P), T_HOOK);

const { poll, post } = pair;
const subscribe = async (d, sid, t, ch) => {
  const p = await post(d, sid, t, `3:::${JSON.stringify({ type: 'subscribe', channel: ch })}`);
  assert.equal(p.status, 200);
  await events.waitFor((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === sid && e.json.channel === ch,
    5000, `the subscribe event of ${sid} on ${ch}`);
};

test('a session subscribed before the first message ever sequenced, taken over after it, gets it from the ring', { timeout: 30000 }, async () => {
  const ch = h.uid('first');
  assert.equal(await rc.call('EXISTS', 'jg:seq'), 0, 'a fresh Redis: no message sequenced yet');

  // the session: connected and subscribed at A, no GET held anywhere
  const { sid } = await raw.handshake(a.port);
  const first = await poll(a, sid, 1);
  assert.equal(first.status, 200);
  assert.equal(first.bodyText, '1::');
  await subscribe(a, sid, 2, ch);

  // a witness at B on the same channel, its GET held at B: once it has the message, B's ring has it
  const w = (await raw.handshake(b.port)).sid;
  assert.equal((await poll(b, w, 1)).bodyText, '1::');
  await subscribe(b, w, 2, ch);
  const witnessed = poll(b, w, 3, { timeout: 15000 });

  const seq = Number(await rc.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: 'the first message' })));
  assert.ok(seq > 0);
  const wa = await witnessed;
  assert.match(wa.bodyText, /the first message/, `the witness at B got ${JSON.stringify(wa.bodyText)}`);

  // the session's next GET reaches B: B takes it over from the record, and replays its ring
  const t0 = Date.now();
  const got = await poll(b, sid, 3, { timeout: 15000 });
  const ms = Date.now() - t0;
  assert.equal(got.status, 200);
  assert.match(got.bodyText, /the first message/,
    `the GET at B got ${JSON.stringify(got.bodyText)} after ${ms} ms, not the message (record: ` +
    `${JSON.stringify(await rc.call('HGETALL', `jg:session:${sid}`))})`);
  assert.ok(ms < 2000, `the message came ${ms} ms after the GET (polling-duration ${POLLING_DURATION} s)`);
});
