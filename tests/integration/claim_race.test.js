'use strict';
// A polling session's requests racing with an instance's own claim of it (cluster mode, two
// real instances, a real Redis, raw HTTP to each instance in a chosen order). Redis is paused
// for writes (CLIENT PAUSE WRITE) so that the race cluster.test.js hit once in a few runs
// happens every time: instance A holds a stale copy of the session (its handshake) while B
// owns it; the client's GET reaches A, whose claim waits in Redis, and its subscribe POST
// reaches A meanwhile. The claim's reply replaces A's copy with the record as it was before
// the subscribe; the POST must still reach the copy that holds the GET, or every message
// of the channel is lost (the GET was held 20 s with nothing, poll after poll).

const { before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./lib/harness');
const pair = require('./lib/pair');
const ops = require('./lib/ops');
const raw = require('./lib/raw');

const T_HOOK = { timeout: 60000 };
const SECRET = 'claim-race-secret-0123456789abcdef';

const P = {};
let a;
let b;
let rc;
let events;

before(async () => {
  await pair.start(P, SECRET, { 'polling-duration': 5 });
  ({ a, b, rc, events } = P);
}, T_HOOK);

after(() => pair.stop(P), T_HOOK);

const { poll, post } = pair;

test('a subscribe POST that arrives while the instance claims its session back reaches the copy holding the GET', { timeout: 30000 }, async () => {
  const { sid } = await raw.handshake(a.port);       // a copy at A, not in Redis yet
  const first = await poll(b, sid, 1);               // B records the session and owns it
  assert.equal(first.status, 200);
  assert.equal(first.bodyText, '1::');

  const ch = h.uid('race');
  const claims = (await ops.getStats(a.port)).claims;
  await rc.call('CLIENT', 'PAUSE', '1000', 'WRITE'); // A's claim waits in Redis
  const held = poll(a, sid, 2, { timeout: 15000 });
  await ops.waitFor(async () => (await ops.getStats(a.port)).claims > claims, 800, 'the GET\'s claim sent by A');
  const subscribed = post(a, sid, 3, `3:::${JSON.stringify({ type: 'subscribe', channel: ch })}`);
  const p = await subscribed;
  assert.equal(p.status, 200);
  await events.waitFor((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === sid && e.json.channel === ch,
    5000, 'the subscribe event');

  const seq = Number(await rc.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: 'after the race' })));
  assert.ok(seq > 0);
  const t0 = Date.now();
  const got = await held;
  assert.equal(got.status, 200);
  assert.match(got.bodyText, /after the race/,
    `the GET held at A got ${JSON.stringify(got.bodyText)} after ${Date.now() - t0} ms, not the message`);
  assert.ok(Date.now() - t0 < 2000, `the message came ${Date.now() - t0} ms after it was published`);
});
