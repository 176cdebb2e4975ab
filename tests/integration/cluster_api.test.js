'use strict';
// Cluster mode's interfaces, one by one, against real juggernautd instances (cluster yes)
// and a real Redis: publishing without the leader (FCALL jg_publish, POST /publish on the
// admin port), history ("history": N, "since": seq, "history trimmed"), presence (snapshot,
// join/leave, identities, GET /presence and the Redis hash), the session record moving
// between two instances, and a dead instance's sessions reaped once. The chaos test
// (cluster.test.js) runs all of it together under failures; this file pins each contract.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./lib/harness');

const T_HOOK = { timeout: 60000 };
const TOKEN = 'publish-token-0123456789abcdef';
const SECRET = 'cluster-api-secret-0123456789abcdef';
const HISTORY = '* 100 3600; short- 3 3600; none- 0 0; aged- 5 1';

let redis;
let a; // instance A (admin port, publish token)
let b; // instance B
let pub;
let events;
let adminA;

async function startInstance(extra = {}) {
  const admin = await h.freePort();
  const d = await h.startDaemon({
    redisUrl: redis.url,
    config: Object.assign({
      cluster: 'yes', 'cluster-secret': SECRET, 'admin-port': admin, 'admin-bind': '127.0.0.1',
      'publish-token': TOKEN, 'drain-period': 1, 'instance-timeout': 2, 'leader-lease': 1,
      history: `"${HISTORY}"`,
    }, extra),
  });
  d.adminPort = admin;
  return d;
}

function request(port, method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const parsed = (c) => c.messages.map((m) => JSON.parse(m));
const onChannel = (c, ch) => parsed(c).filter((m) => m.channel === ch && m.presence === undefined);

async function subscribed(c, ch, extra = {}) {
  const before = events.matching((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === c.sid && e.json.channel === ch).length;
  c.send(Object.assign({ type: 'subscribe', channel: ch }, extra));
  await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === c.sid && e.json.channel === ch,
    before + 1, 5000, `subscribe event for ${ch}`);
}

const until = h.until;

before(async () => {
  redis = await h.startRedis();
  a = await startInstance();
  b = await startInstance();
  adminA = a.adminPort;
  pub = await h.redisClient(redis);
  events = await h.eventCollector(redis);
  // one of them holds the lease before anything is published
  await until(async () => (await h.getJson(a.base, '/stats')).json.cluster_leader ||
    (await h.getJson(b.base, '/stats')).json.cluster_leader, 10000, 'a leader');
}, T_HOOK);

after(async () => {
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  try {
    for (const d of [a, b]) if (d) await d.stop();
  } finally {
    if (redis) await redis.stop();
  }
}, T_HOOK);

describe('publishing without the leader', () => {
  test('FCALL jg_publish returns the seq the subscriber then sees; PUBLISH juggernaut gets one too', async () => {
    const c = await h.sioConnect(b.base, { transports: ['websocket'] });
    const ch = h.uid('direct');
    await subscribed(c, ch);
    const seq = Number(await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: 'direct' })));
    assert.ok(Number.isSafeInteger(seq) && seq > 0, `seq ${seq}`);
    await pub.publish('juggernaut', JSON.stringify({ channels: [ch], data: 'legacy' }));
    await c.waitForMessages(2);
    assert.deepEqual(parsed(c), [
      { channel: ch, data: 'direct', seq },
      { data: 'legacy', channel: ch, seq: parsed(c)[1].seq },
    ]);
    assert.ok(parsed(c)[1].seq > seq);
    await assert.rejects(pub.call('FCALL', 'jg_publish', '0', 'not json'), /must be a JSON object/);
    c.close();
  });

  test('POST /publish on the admin port: 200 {"seq":N} with the token; 403 without; 400 for bad JSON', async () => {
    const c = await h.sioConnect(a.base, { transports: ['xhr-polling'] });
    const ch = h.uid('http');
    await subscribed(c, ch);
    const body = JSON.stringify({ channels: [ch], data: { via: 'http' } });
    const ok = await request(adminA, 'POST', '/publish', body, { Authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200, ok.text);
    const seq = JSON.parse(ok.text).seq;
    assert.ok(Number.isSafeInteger(seq) && seq > 0);
    await c.waitForMessages(1);
    assert.deepEqual(parsed(c)[0], { data: { via: 'http' }, channel: ch, seq });
    const noToken = await request(adminA, 'POST', '/publish', body);
    assert.equal(noToken.status, 403);
    const wrong = await request(adminA, 'POST', '/publish', body, { Authorization: `Bearer ${TOKEN}x` });
    assert.equal(wrong.status, 403);
    const bad = await request(adminA, 'POST', '/publish', '{"channels":', { Authorization: `Bearer ${TOKEN}` });
    assert.equal(bad.status, 400, bad.text);
    // the main port does not serve it
    const main = await request(a.port, 'POST', '/publish', body, { Authorization: `Bearer ${TOKEN}` });
    assert.notEqual(main.status, 200);
    await h.sleep(200);
    assert.equal(onChannel(c, ch).length, 1, 'refused publishes delivered nothing');
    c.close();
  });
});

describe('history and recovery', () => {
  test('"history": N gives the last N, then live messages; "since" gives everything after a seq', async () => {
    const ch = h.uid('hist');
    const seqs = [];
    for (let i = 1; i <= 6; i++) {
      seqs.push(Number(await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: i }))));
    }
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    await subscribed(c, ch, { history: 3 });
    await c.waitForMessages(3);
    assert.deepEqual(onChannel(c, ch).map((m) => m.data), [4, 5, 6]);
    assert.deepEqual(onChannel(c, ch).map((m) => m.seq), seqs.slice(3));
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 7 }));
    await c.waitForMessages(4);
    assert.deepEqual(onChannel(c, ch).map((m) => m.data), [4, 5, 6, 7]);

    const d = await h.sioConnect(b.base, { transports: ['xhr-polling'] });
    await subscribed(d, ch, { since: seqs[1] });
    await d.waitForMessages(5);
    assert.deepEqual(onChannel(d, ch).map((m) => m.data), [3, 4, 5, 6, 7]);
    c.close();
    d.close();
  });

  test('a legacy publish to 15 channels keeps history on every one of them', async () => {
    const chans = Array.from({ length: 15 }, () => h.uid('many'));
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    await subscribed(c, chans[0]);
    await pub.publish('juggernaut', JSON.stringify({ channels: chans, data: 'wide' }));
    await c.waitForMessages(1);
    const d = await h.sioConnect(b.base, { transports: ['websocket'] });
    await subscribed(d, chans[14], { history: 5 });
    await d.waitForMessages(1);
    assert.deepEqual(parsed(d), [{ data: 'wide', channel: chans[14], seq: parsed(c)[0].seq }]);
    c.close();
    d.close();
  });

  test('"since" below what history kept: an error "history trimmed", then what remains', async () => {
    const ch = h.uid('short-');   // history keeps 3 on short-*
    const seqs = [];
    for (let i = 1; i <= 6; i++) {
      seqs.push(Number(await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: i }))));
    }
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    c.send({ type: 'subscribe', channel: ch, since: seqs[0] });
    await c.waitForMessages(4);
    const all = parsed(c);
    assert.equal(all[0].error, 'history trimmed');
    assert.equal(all[0].request.channel, ch);
    assert.deepEqual(all.slice(1).map((m) => m.data), [4, 5, 6]);
    // a since at the trimmed edge is complete: no error
    const d = await h.sioConnect(a.base, { transports: ['websocket'] });
    d.send({ type: 'subscribe', channel: ch, since: seqs[2] });
    await d.waitForMessages(3);
    assert.deepEqual(parsed(d).map((m) => m.data), [4, 5, 6]);
    c.close();
    d.close();
  });

  test('"since" exactly at what a packed burst trimmed is complete; one below it is "history trimmed"', async () => {
    const ch = h.uid('short-');   // history keeps 3 on short-*
    const other = h.uid('other');
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    await subscribed(c, ch);
    const p = pub.pipeline();
    for (let i = 1; i <= 6; i++) {   // interleaved: the channel's seqs are not consecutive
      p.publish('juggernaut', JSON.stringify({ channel: ch, data: i }));
      p.publish('juggernaut', JSON.stringify({ channel: other, data: i }));
    }
    await p.exec();
    await c.waitForMessages(6);
    const seqs = onChannel(c, ch).map((m) => m.seq);
    assert.equal(seqs.length, 6);
    // 1, 2 and 3 were trimmed: a client that had 3 misses nothing history lacks
    const d = await h.sioConnect(b.base, { transports: ['websocket'] });
    d.send({ type: 'subscribe', channel: ch, since: seqs[2] });
    await d.waitForMessages(3);
    await h.sleep(200);
    assert.deepEqual(parsed(d).map((m) => m.data), [4, 5, 6]);
    // a client whose last seq is just below 3 (a message on another channel) missed 3
    const e = await h.sioConnect(b.base, { transports: ['websocket'] });
    e.send({ type: 'subscribe', channel: ch, since: seqs[2] - 1 });
    await e.waitForMessages(4);
    assert.equal(parsed(e)[0].error, 'history trimmed');
    assert.deepEqual(parsed(e).slice(1).map((m) => m.data), [4, 5, 6]);
    for (const x of [c, d, e]) x.close();
  });

  test('a history that expired whole by age: "since" its last seq is complete, before it "history trimmed"', async () => {
    const ch = h.uid('aged-');   // history keeps 5 for 1 s on aged-*
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    await subscribed(c, ch);
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 1 }));
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 2 }));
    await c.waitForMessages(2);
    const seqs = onChannel(c, ch).map((m) => m.seq);
    // the list lives 1.25 x the age (readers drop what is older than the age)
    assert.ok(await pub.pttl(`jg:history-list:${ch}`) <= 1250);
    await until(async () => (await pub.exists(`jg:history-list:${ch}`)) === 0, 5000, 'the history to expire');
    assert.deepEqual(await pub.call('FCALL', 'jg_history', '0', ch), [String(seqs[1])], 'the floor: its newest seq');
    const d = await h.sioConnect(b.base, { transports: ['websocket'] });
    await subscribed(d, ch, { since: seqs[1] });
    await h.sleep(300);
    assert.deepEqual(parsed(d), [], 'nothing missed, nothing to say');
    const e = await h.sioConnect(b.base, { transports: ['websocket'] });
    e.send({ type: 'subscribe', channel: ch, since: seqs[0] });
    await e.waitForMessages(1);
    assert.equal(parsed(e)[0].error, 'history trimmed');
    for (const x of [c, d, e]) x.close();
  });

  test('a list lives at least its age after its last message, without a PEXPIRE per message', async () => {
    const publish = (ch, data) => pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data }));
    const busy = h.uid('hour');   // "*": an hour, so the list's TTL is 75 minutes
    await publish(busy, 1);
    const first = await pub.pttl(`jg:history-list:${busy}`);
    assert.ok(first > 3600 * 1000 && first <= 4500 * 1000, `TTL ${first} ms`);
    await h.sleep(20);
    await publish(busy, 2);
    assert.ok(await pub.pttl(`jg:history-list:${busy}`) < first, 'not renewed: far from due');
    const aged = h.uid('aged-');   // 1 s: 1.25 s, renewed once less than the age is left
    await publish(aged, 1);
    await h.sleep(400);
    await publish(aged, 2);
    const left = await pub.pttl(`jg:history-list:${aged}`);
    assert.ok(left > 900, `renewed when due: ${left} ms left`);
  });

  test('a list that outlived what jg:history-lasts knows of it keeps an exact floor', async () => {
    const ch = h.uid('short-');   // history keeps 3 on short-*
    const publish = async (data) => String(await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data })));
    const seqs = [await publish(1), await publish(2)];
    // the lasts are kept one to two days; a channel with a longer age outlives them
    for (const key of await pub.keys('jg:history-lasts:*')) await pub.hdel(key, ch);
    for (const d of [3, 4, 5]) seqs.push(await publish(d));
    const r = await pub.call('FCALL', 'jg_history', '0', ch);
    assert.equal(r[0], seqs[1], 'trimmed up to message 2: the predecessor the list itself held');
    const c = await h.sioConnect(b.base, { transports: ['websocket'] });
    c.send({ type: 'subscribe', channel: ch, since: seqs[1] });
    await c.waitForMessages(3);
    await h.sleep(200);
    assert.deepEqual(parsed(c).map((m) => m.data), [3, 4, 5], 'complete: no error');
    const d = await h.sioConnect(b.base, { transports: ['websocket'] });
    d.send({ type: 'subscribe', channel: ch, since: String(Number(seqs[1]) - 1) });
    await d.waitForMessages(4);
    assert.equal(parsed(d)[0].error, 'history trimmed');
    for (const x of [c, d]) x.close();
  });

  test('a channel without messages is complete for a "since" after the horizon; a rules change moves the horizon', async () => {
    const quiet = h.uid('quiet');   // keeps history ("*"), never published to
    const seqNow = async () => Number(await pub.get('jg:seq'));
    await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: h.uid('other'), data: 1 }));
    const since = await seqNow();
    await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: h.uid('other'), data: 2 }));
    const answer = async (s) => {
      const c = await h.sioConnect(b.base, { transports: ['websocket'] });
      await subscribed(c, quiet, { since: s });
      await h.sleep(300);
      c.close();
      return parsed(c).map((m) => m.error);
    };
    assert.deepEqual(await answer(since), [], 'nothing was published to it after the horizon');
    assert.deepEqual(await answer(1), ['history trimmed'], 'before the horizon nobody can tell');
    // new rules: a channel whose history was off may have had messages the lasts never saw
    const rules = await pub.hget('jg:config', 'history');
    try {
      await pub.hset('jg:config', 'history', `${rules}; extra- 2 60`);
      await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: h.uid('other'), data: 3 }));
      assert.deepEqual(await answer(since), ['history trimmed'], 'before the rules changed nobody can tell');
      assert.deepEqual(await answer(await seqNow()), [], 'after it, complete');
    } finally {
      await pub.hset('jg:config', 'history', rules);
    }
  });

  test('history a version before lists left in a stream is still served, joined to what follows it', async () => {
    const ch = h.uid('upgraded');
    // what that version wrote: a stream (fields m, t), trimmed below 500, meta floor and last
    const now = String(Date.now());
    for (const [seq, data] of [[600, 'old-1'], [700, 'old-2']]) {
      await pub.call('XADD', `jg:history:${ch}`, `${seq}-0`, 'm', JSON.stringify({ channel: ch, data }), 't', now);
    }
    await pub.call('HSET', `jg:history-meta:${ch}`, 'floor', '500', 'last', '700');
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    await subscribed(c, ch);
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 'new-1' }));
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 'new-2' }));
    await c.waitForMessages(2);
    const datas = (x) => parsed(x).filter((m) => !m.error).map((m) => m.data);

    const d = await h.sioConnect(b.base, { transports: ['websocket'] });
    d.send({ type: 'subscribe', channel: ch, since: 500 });
    await d.waitForMessages(4);
    await h.sleep(200);
    assert.deepEqual(parsed(d).map((m) => m.data), ['old-1', 'old-2', 'new-1', 'new-2'], 'complete: no error');
    const e = await h.sioConnect(b.base, { transports: ['websocket'] });
    e.send({ type: 'subscribe', channel: ch, since: 499 });
    await e.waitForMessages(5);
    assert.equal(parsed(e)[0].error, 'history trimmed');
    assert.deepEqual(datas(e), ['old-1', 'old-2', 'new-1', 'new-2']);
    const f = await h.sioConnect(b.base, { transports: ['websocket'] });
    f.send({ type: 'subscribe', channel: ch, history: 3 });
    await f.waitForMessages(3);
    await h.sleep(200);
    assert.deepEqual(datas(f), ['old-2', 'new-1', 'new-2']);
    for (const x of [c, d, e, f]) x.close();
  });

  test('FCALL jg_history: the history after a seq, a limit, and the floor (the highest seq trimmed)', async () => {
    const ch = h.uid('short-');   // history keeps 3 on short-*
    const seqs = [];
    for (let i = 1; i <= 5; i++) {
      seqs.push(String(await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: i }))));
    }
    const data = (r) => r.slice(1).filter((_, i) => i % 2 === 1).map((m) => JSON.parse(m).data);
    let r = await pub.call('FCALL', 'jg_history', '0', ch);
    assert.equal(r[0], seqs[1], 'messages 1 and 2 trimmed');
    assert.deepEqual(r.slice(1).filter((_, i) => i % 2 === 0), seqs.slice(2));
    assert.deepEqual(data(r), [3, 4, 5]);
    r = await pub.call('FCALL', 'jg_history', '0', ch, seqs[3]);
    assert.deepEqual(data(r), [5]);
    r = await pub.call('FCALL', 'jg_history', '0', ch, '0', '1');
    assert.deepEqual(data(r), [3]);
    assert.deepEqual(await pub.call('FCALL', 'jg_history', '0', h.uid('never')), ['0'], 'no history, nothing trimmed');
    await assert.rejects(pub.call('FCALL', 'jg_history', '0', ch, 'x'), /jg_history/);
  });

  test('a channel with history off keeps none and answers "since" with "history trimmed"', async () => {
    const ch = h.uid('none-');
    const seq = Number(await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: 1 })));
    await pub.call('FCALL', 'jg_publish', '0', JSON.stringify({ channel: ch, data: 2 }));
    assert.equal(await pub.exists(`jg:history-list:${ch}`), 0);
    assert.equal(await pub.exists(`jg:history:${ch}`), 0);
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    c.send({ type: 'subscribe', channel: ch, since: seq });
    await c.waitForMessages(1);
    assert.equal(parsed(c)[0].error, 'history trimmed');
    c.close();
  });
});


describe('packed batches', () => {
  // entries of jg:log after ID (exclusive), oldest first
  const logAfter = async (id) => pub.call('XRANGE', 'jg:log', `(${id}`, '+');
  const logTip = async () => {
    const last = await pub.call('XREVRANGE', 'jg:log', '+', '-', 'COUNT', 1);
    return last.length ? last[0][0] : '0-0';
  };
  async function burst(ch, n) {
    const p = pub.pipeline();
    for (let i = 0; i < n; i++) p.publish('juggernaut', JSON.stringify({ channel: ch, data: i }));
    await p.exec();
  }
  function inOrder(c, ch, n) {
    const got = onChannel(c, ch);
    assert.deepEqual(got.map((m) => m.data), Array.from({ length: n }, (_, i) => i));
    for (let i = 1; i < n; i++) assert.ok(got[i].seq > got[i - 1].seq, `seq ${got[i].seq} after ${got[i - 1].seq}`);
  }

  test('a pipelined burst: every message reaches both instances once, in order; jg:log holds far fewer entries', async () => {
    const ch = h.uid('burst');
    const ca = await h.sioConnect(a.base, { transports: ['websocket'] });
    const cb = await h.sioConnect(b.base, { transports: ['xhr-polling'] });
    await subscribed(ca, ch);
    await subscribed(cb, ch);
    const tip = await logTip();
    const N = 300;
    await burst(ch, N);
    await ca.waitForMessages(N, 10000);
    await cb.waitForMessages(N, 10000);
    await h.sleep(200);
    inOrder(ca, ch, N);
    inOrder(cb, ch, N);
    const entries = await logAfter(tip);
    assert.ok(entries.length < N / 3, `jg:log grew by ${entries.length} entries for ${N} messages`);
    assert.ok(entries.some((e) => e[1][0] === 'b'), 'a packed entry (field b)');
    ca.close();
    cb.close();
  });

  test('while an instance of an older version beats (no wire version), one log entry per message; packing resumes when it is gone', async () => {
    const ch = h.uid('mixed');
    const c = await h.sioConnect(b.base, { transports: ['websocket'] });
    await subscribed(c, ch);
    // what a juggernautd before packed batches sends every beat: no 7th argument
    await pub.call('FCALL', 'jg_beat', '0', 'an-older-version', '1500', '10000', HISTORY, 'mature', '120');
    assert.equal(await pub.get('jg:wire1-seen'), 'an-older-version');
    let tip = await logTip();
    await burst(ch, 60);
    await c.waitForMessages(60, 10000);
    let entries = await logAfter(tip);
    assert.equal(entries.length, 60, 'one entry per message');
    assert.ok(entries.every((e) => e[1][0] === 'k' && e[1][2] === 'm'), 'the fields an older version reads');
    inOrder(c, ch, 60);

    await until(async () => (await pub.exists('jg:wire1-seen')) === 0, 5000, 'the older instance\'s mark to expire');
    await pub.call('SREM', 'jg:instances', 'an-older-version');
    c.messages.length = 0;
    tip = await logTip();
    await burst(ch, 60);
    await c.waitForMessages(60, 10000);
    entries = await logAfter(tip);
    assert.ok(entries.length < 30, `packed again: ${entries.length} entries for 60 messages`);
    inOrder(c, ch, 60);
    c.close();
  });
});

describe('presence', () => {
  test('snapshot, join and leave per identity (two tabs of one user are one member); GET /presence and the Redis hash', async () => {
    const ch = h.uid('room');
    const ann1 = await h.sioConnect(a.base, { transports: ['websocket'] });
    ann1.send({ type: 'meta', data: { user: 'ann' } });
    await subscribed(ann1, ch, { presence: true });
    await ann1.waitForMessage((t, j) => j && j.presence === 'snapshot');
    const snap = parsed(ann1).find((m) => m.presence === 'snapshot');
    assert.deepEqual(snap.members, [{ user: 'ann' }]);
    assert.equal(snap.channel, ch);

    const bob = await h.sioConnect(b.base, { transports: ['xhr-polling'] });
    bob.send({ type: 'meta', data: { user: 'bob' } });
    await subscribed(bob, ch);
    await ann1.waitForMessage((t, j) => j && j.presence === 'join' && j.meta && j.meta.user === 'bob');

    const ann2 = await h.sioConnect(b.base, { transports: ['websocket'] });   // a second tab
    ann2.send({ type: 'meta', data: { user: 'ann' } });
    await subscribed(ann2, ch);
    const presence = await request(b.adminPort, 'GET', `/presence/${ch}`);
    assert.equal(presence.status, 200);
    const p = JSON.parse(presence.text);
    assert.equal(p.sessions, 3);
    const members = Object.fromEntries(p.members.map((m) => [m.meta.user, m.sessions]));
    assert.deepEqual(members, { ann: 2, bob: 1 });
    const hash = await pub.hgetall(`jg:presence:${ch}`);
    assert.deepEqual(Object.keys(hash).sort(), [ann1.sid, ann2.sid, bob.sid].sort());
    assert.equal(hash[bob.sid], '{"user":"bob"}');

    ann2.close();   // ann is still there in her first tab: no leave
    bob.close();
    await ann1.waitForMessage((t, j) => j && j.presence === 'leave' && j.meta && j.meta.user === 'bob');
    await h.sleep(300);
    const joinsAndLeaves = parsed(ann1).filter((m) => m.presence === 'join' || m.presence === 'leave')
      .map((m) => `${m.presence}:${m.meta.user}`);
    assert.deepEqual(joinsAndLeaves, ['join:bob', 'leave:bob'], JSON.stringify(parsed(ann1)));
    assert.deepEqual(Object.keys(await pub.hgetall(`jg:presence:${ch}`)), [ann1.sid]);
    ann1.close();
  });

  test('joins and leaves are sequenced only while a subscription watches presence; the hash is kept regardless', async () => {
    const ch = h.uid('quiet');
    const pMessages = async () => (await pub.call('XRANGE', 'jg:log', '-', '+'))
      .filter(([, f]) => f[f.indexOf('k') + 1] === 'P' && f[f.indexOf('m') + 1].includes(JSON.stringify(ch)));
    // nobody watches: subscribes and a leave cost no sequenced message, presence is still kept
    const x = await h.sioConnect(a.base, { transports: ['websocket'] });
    const y = await h.sioConnect(b.base, { transports: ['xhr-polling'] });
    await subscribed(x, ch);
    await subscribed(y, ch);
    y.close();
    await until(async () => !(await pub.hexists(`jg:presence:${ch}`, y.sid)), 5000, 'y left presence');
    assert.deepEqual(Object.keys(await pub.hgetall(`jg:presence:${ch}`)), [x.sid]);
    assert.equal((await pMessages()).length, 0, 'no join or leave sequenced while nobody watches');
    assert.equal(await pub.exists(`jg:presence-watch:${ch}`), 0);
    // a watcher: it gets the snapshot (x), then a later join and leave, sequenced
    const w = await h.sioConnect(a.base, { transports: ['websocket'] });
    w.send({ type: 'meta', data: { user: 'wat' } });
    await subscribed(w, ch, { presence: true });
    await w.waitForMessage((t, j) => j && j.presence === 'snapshot');
    assert.equal(await pub.get(`jg:presence-watch:${ch}`), '1');
    const z = await h.sioConnect(b.base, { transports: ['websocket'] });
    z.send({ type: 'meta', data: { user: 'zed' } });
    await subscribed(z, ch);
    await w.waitForMessage((t, j) => j && j.presence === 'join' && j.meta && j.meta.user === 'zed');
    z.close();
    await w.waitForMessage((t, j) => j && j.presence === 'leave' && j.meta && j.meta.user === 'zed');
    assert.ok((await pMessages()).length >= 2, 'join and leave of zed sequenced');
    // the watcher leaves: nothing watches any more
    w.close();
    await until(async () => !(await pub.exists(`jg:presence-watch:${ch}`)), 5000, 'the watch count went');
    const before = (await pMessages()).length;
    const v = await h.sioConnect(a.base, { transports: ['websocket'] });
    await subscribed(v, ch);
    v.close();
    await until(async () => !(await pub.hexists(`jg:presence:${ch}`, v.sid)), 5000, 'v left presence');
    assert.equal((await pMessages()).length, before, 'no join or leave sequenced once the watcher left');
    x.close();
  });

  test('GET /presence/<channel> takes the channel name percent-encoded', async () => {
    const ch = `${h.uid('room')} a/b é`;
    const c = await h.sioConnect(a.base, { transports: ['websocket'] });
    await subscribed(c, ch);
    const r = await request(a.adminPort, 'GET', `/presence/${encodeURIComponent(ch)}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { channel: ch, sessions: 1, members: [{ meta: null, sessions: 1 }] });
    c.close();
  });
});

describe('sessions across instances', () => {
  test('a polling session answered by A, then by B: the record moves, nothing is lost or repeated', async () => {
    const c = await h.sioConnect(a.base, { transports: ['xhr-polling'] });
    const ch = h.uid('move');
    await subscribed(c, ch);
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 1 }));
    await c.waitForMessages(1);
    // the next polls go to B: as a balancer would send them (the same sid, another port)
    const before = (await h.getJson(b.base, '/stats')).json.takeovers;
    c.socket.options.port = b.port;
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 2 }));
    await pub.publish('juggernaut', JSON.stringify({ channel: ch, data: 3 }));
    await c.waitForMessages(3, 25000);
    assert.deepEqual(onChannel(c, ch).map((m) => m.data), [1, 2, 3]);
    const record = await pub.hgetall(`jg:session:${c.sid}`);
    await until(async () => (await pub.hget(`jg:session:${c.sid}`, 'owner')) !== record.owner ||
      (await h.getJson(b.base, '/stats')).json.takeovers > before, 25000, 'B took the session over');
    c.close();
  });

  test('an instance that dies: one survivor publishes its sessions\' unsubscribe events, once', async () => {
    const c3 = await startInstance();
    const c = await h.sioConnect(c3.base, { transports: ['websocket'] });
    const ch = h.uid('reap');
    await subscribed(c, ch);
    c3.kill('SIGKILL');
    const matching = (e) => e.channel === 'juggernaut:unsubscribe' && e.json && e.json.session_id === c.sid && e.json.channel === ch;
    await events.waitFor(matching, 8000);
    await h.sleep(2500);   // more reaping rounds of both survivors
    assert.equal(events.matching(matching).length, 1);
    assert.equal(await pub.exists(`jg:session:${c.sid}`), 0);
    assert.equal(await pub.hexists(`jg:presence:${ch}`, c.sid), 0);
    const reaped = (await h.getJson(a.base, '/stats')).json.sessions_reaped + (await h.getJson(b.base, '/stats')).json.sessions_reaped;
    assert.ok(reaped >= 1, `sessions_reaped ${reaped}`);
    await c3.stop().catch(() => {});   /* it was killed on purpose: only the bookkeeping */
  });
});
