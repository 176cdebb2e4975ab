'use strict';
// The "core" black-box list (issue 2, repeated for polling in issue 3), run with
// socket.io-client 0.9.16 forced to one transport. A test file calls
// defineCoreSuite({transport, env}) inside a describe(); env() returns
// {daemon, redis, events, pub} set up by the file's before() hook.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

// The original relays "except" to clients (quirk J5); juggernautd strips it (session ids are
// credentials). EX(v) is the member as the reference writes it, or nothing.
const ex = (v) => (h.IS_REFERENCE ? `"except":${v},` : '');

/* Options for tests that check a deliberate *Fix* (protocol.md): against the original
 * server (JUGGERNAUTD_REFERENCE=1) they are expected to fail, so run them as todo. */
function fix(what) {
  return h.IS_REFERENCE ? { todo: `Fix (original differs): ${what}` } : {};
}

function defineCoreSuite({ transport, env, closeTimeout = 25, pollingDuration = 20, cluster = false }) {
  const T = [transport];
  const clients = new Set();
  // cluster mode: the same list must hold, with every message carrying an increasing "seq"
  const label = cluster ? `${transport} (cluster mode)` : transport;

  async function client(opts = {}) {
    const { daemon } = env();
    const c = await h.sioConnect(daemon.base, Object.assign({ transports: T, stripSeq: cluster }, opts));
    clients.add(c);
    if (cluster) {
      // one seq per published message: it never decreases, and on one channel it increases
      c.checkSeqs = () => {
        const last = new Map();
        let prev = 0;
        c.messages.forEach((m, i) => {
          const seq = c.seqs[i];
          let channel = null;
          try { channel = JSON.parse(m).channel; } catch (e) { /* not JSON */ }
          if (channel === undefined || channel === null) return;   // refusals carry no seq
          assert.ok(Number.isSafeInteger(seq) && seq > 0, `message ${i} carries a seq: ${m}`);
          assert.ok(seq >= prev, `seq never decreases: ${prev} then ${seq}`);
          assert.ok(seq > (last.get(channel) || 0), `seq increases on ${channel}: ${last.get(channel)} then ${seq}`);
          last.set(channel, seq);
          prev = seq;
        });
      };
      clientsWithSeq.push(c);
    }
    return c;
  }
  const clientsWithSeq = [];

  function closeClients() {
    const check = clientsWithSeq.splice(0);
    for (const c of clients) c.close();
    clients.clear();
    for (const c of check) c.checkSeqs();
  }

  /* Subscribe and wait until the daemon has published the subscribe event, which means
   * the subscription is live. */
  async function subscribed(c, channel) {
    const { events } = env();
    const before = events.matching((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === c.sid && e.json.channel === channel).length;
    c.subscribe(channel);
    await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === c.sid && e.json.channel === channel,
      before + 1, 5000, `subscribe event for ${channel} (${c.sid})`);
  }

  async function publish(obj) {
    const { pub } = env();
    return pub.publish('juggernaut', typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  /* Fence: publish a marker on a fresh channel every given client is subscribed to and
   * wait until each has it. Everything published before the marker has been delivered
   * by then (one Redis connection, one order), so "nothing else arrived" is checkable. */
  async function fence(list) {
    const ch = h.uid('fence');
    for (const c of list) await subscribed(c, ch);
    const marker = h.uid('m');
    await publish({ channels: [ch], data: marker });
    for (const c of list) await c.waitForMessage((t, j) => j && j.channel === ch && j.data === marker, 5000);
    return ch;
  }

  const dataOn = (c, ch) => c.on(ch).map((t) => JSON.parse(t).data);

  test(`${label}: connects with an opaque URL-safe session id`, async (t) => {
    t.after(closeClients);
    const c = await client();
    assert.equal(c.transport, transport);
    assert.match(c.sid, /^[0-9A-Za-z_-]{1,40}$/);
    const c2 = await client();
    assert.notEqual(c.sid, c2.sid);
  });

  test(`${label}: subscribe, then string / object / array data arrive byte-exact`, async (t) => {
    t.after(closeClients);
    const c = await client();
    const ch = h.uid('data');
    await subscribed(c, ch);
    await publish(`{"channels":["${ch}"],"data":"hello"}`);
    await publish(`{"channels":["${ch}"],"data":{"a":1,"b":[true,false,null],"c":{"d":"e"}}}`);
    await publish(`{"channels":["${ch}"],"data":[1,"two",{"three":3},[],{}]}`);
    await publish(`{"channels":["${ch}"],"data":""}`);
    await publish(`{"channels":["${ch}"],"data":12.5}`);
    const msgs = await c.waitForMessages(5, 5000);
    assert.deepEqual(msgs, [
      `{"data":"hello","channel":"${ch}"}`,
      `{"data":{"a":1,"b":[true,false,null],"c":{"d":"e"}},"channel":"${ch}"}`,
      `{"data":[1,"two",{"three":3},[],{}],"channel":"${ch}"}`,
      `{"data":"","channel":"${ch}"}`,
      `{"data":12.5,"channel":"${ch}"}`,
    ]);
  });

  test(`${label}: "channel" (string) and "channels" as a string; extra fields pass through`, async (t) => {
    t.after(closeClients);
    const c = await client();
    const ch = h.uid('forms');
    await subscribed(c, ch);
    await publish(`{"channel":"${ch}","data":"plain"}`);
    await publish(`{"channels":"${ch}","data":"as string"}`);
    await publish(`{"channels":["${ch}"],"data":{"a":1},"except":"nobody","extra":true}`);
    await publish(`{"channels":["${ch}"]}`);
    const msgs = await c.waitForMessages(4, 5000);
    assert.deepEqual(msgs, [
      `{"channel":"${ch}","data":"plain"}`,
      `{"data":"as string","channel":"${ch}"}`,
      `{"data":{"a":1},${ex('"nobody"')}"extra":true,"channel":"${ch}"}`,
      `{"channel":"${ch}"}`,
    ]);
  });

  test(`${label}: a publish to an array of channels reaches each subscriber once per channel, in order`, async (t) => {
    t.after(closeClients);
    const a = await client();
    const b = await client();
    const c1 = h.uid('arr1');
    const c2 = h.uid('arr2');
    const c3 = h.uid('arr3');
    await subscribed(a, c1);
    await subscribed(a, c2);
    await subscribed(b, c3);
    await publish({ channels: [c1, c3, c2], data: 'multi' });
    const got = await a.waitForMessages(2, 5000);
    assert.deepEqual(got, [`{"data":"multi","channel":"${c1}"}`, `{"data":"multi","channel":"${c2}"}`]);
    assert.deepEqual(await b.waitForMessages(1, 5000), [`{"data":"multi","channel":"${c3}"}`]);
    await fence([a, b]);
    assert.equal(a.on(c3).length, 0, 'a is not on c3');
    assert.equal(a.on(c1).length + a.on(c2).length, 2);
    assert.equal(b.on(c1).length + b.on(c2).length, 0, 'b is only on c3');
  });

  test(`${label}: except as a string and as an array skips exactly those sessions`, async (t) => {
    t.after(closeClients);
    const a = await client();
    const b = await client();
    const ch = h.uid('except');
    await subscribed(a, ch);
    await subscribed(b, ch);
    await publish(`{"channels":["${ch}"],"data":"e1","except":"${a.sid}"}`);
    await publish(`{"channels":["${ch}"],"data":"e2","except":["nobody","${a.sid}"]}`);
    await publish(`{"channels":["${ch}"],"data":"e3","except":["${a.sid}","${b.sid}"]}`);
    await publish(`{"channels":["${ch}"],"data":"e4","except":12345}`);
    await publish(`{"channels":["${ch}"],"data":"e5","except":"${b.sid}"}`);
    await fence([a, b]);
    assert.deepEqual(a.on(ch), [
      `{"data":"e4",${ex('12345')}"channel":"${ch}"}`,
      `{"data":"e5",${ex(`"${b.sid}"`)}"channel":"${ch}"}`,
    ]);
    assert.deepEqual(b.on(ch), [
      `{"data":"e1",${ex(`"${a.sid}"`)}"channel":"${ch}"}`,
      `{"data":"e2",${ex(`["nobody","${a.sid}"]`)}"channel":"${ch}"}`,
      `{"data":"e4",${ex('12345')}"channel":"${ch}"}`,
    ]);
  });

  test(`${label}: unsubscribe stops delivery (and publishes one unsubscribe event)`, async (t) => {
    t.after(closeClients);
    const { events } = env();
    const c = await client();
    const other = await client();
    const ch = h.uid('unsub');
    await subscribed(c, ch);
    await subscribed(other, ch);
    await publish({ channels: [ch], data: 'before' });
    await c.waitForMessages(1);
    c.unsubscribe(ch);
    const ev = await events.waitFor((e) => e.channel === 'juggernaut:unsubscribe' && e.json.session_id === c.sid && e.json.channel === ch);
    assert.equal(ev.message, `{"channel":"${ch}","session_id":"${c.sid}"}`);
    c.unsubscribe(ch); // not subscribed any more: no second event
    await publish({ channels: [ch], data: 'after' });
    await fence([c, other]);
    assert.deepEqual(dataOn(c, ch), ['before']);
    assert.deepEqual(dataOn(other, ch), ['before', 'after']);
    assert.equal(events.matching((e) => e.channel === 'juggernaut:unsubscribe' && e.json.session_id === c.sid && e.json.channel === ch).length, 1);
  });

  test(`${label}: 1,000 messages arrive in order, none lost, none duplicated`, async (t) => {
    t.after(closeClients);
    const { pub } = env();
    const c = await client();
    const ch = h.uid('many');
    await subscribed(c, ch);
    const p = pub.pipeline();
    for (let i = 0; i < 1000; i++) p.publish('juggernaut', `{"channels":["${ch}"],"data":{"i":${i},"text":"message number ${i}"}}`);
    await p.exec();
    const msgs = await c.waitForMessages(1000, 30000);
    for (let i = 0; i < 1000; i++) {
      assert.equal(msgs[i], `{"data":{"i":${i},"text":"message number ${i}"},"channel":"${ch}"}`, `message #${i}`);
    }
    await fence([c]);
    assert.equal(c.on(ch).length, 1000, 'no extra copies');
  });

  test(`${label}: a 64 KiB message arrives intact`, async (t) => {
    t.after(closeClients);
    const c = await client();
    const ch = h.uid('big');
    await subscribed(c, ch);
    let big = '';
    for (let i = 0; big.length < 65536; i++) big += `${i % 10}abcdefghijklmnopqrstuvwxyz-`;
    big = big.slice(0, 65536);
    await publish({ channels: [ch], data: big });
    const msg = await c.nthMessage(1, 10000);
    assert.equal(msg.length, `{"data":"","channel":"${ch}"}`.length + 65536);
    assert.equal(msg, `{"data":"${big}","channel":"${ch}"}`);
  });

  test(`${label}: non-ASCII text (emoji, CJK, accents) round-trips in data and channel names`, async (t) => {
    t.after(closeClients);
    const { events } = env();
    const c = await client();
    const ch = `${h.uid('ü')}-聊天-😀`;
    await subscribed(c, ch);
    const sub = events.matching((e) => e.channel === 'juggernaut:subscribe' && e.json.session_id === c.sid);
    assert.equal(sub[0].message, `{"channel":"${ch}","session_id":"${c.sid}"}`);
    const text = 'héllo wörld 😀👍🏽 你好，世界 日本語 한국어 Ελληνικά 𝄞 \u00a0';
    await publish(`{"channels":["${ch}"],"data":"${text}"}`);
    await publish(`{"channels":["${ch}"],"data":{"emoji":"😀","cjk":"中文","mix":"a😀b中c"}}`);
    const msgs = await c.waitForMessages(2, 5000);
    assert.equal(msgs[0], `{"data":"${text}","channel":"${ch}"}`);
    assert.equal(msgs[1], `{"data":{"emoji":"😀","cjk":"中文","mix":"a😀b中c"},"channel":"${ch}"}`);
  });

  test(`${label}: juggernaut:* events carry exact fields and the client's session id`, async (t) => {
    t.after(closeClients);
    const { events } = env();
    const c = await client();
    const sid = c.sid;
    const ch = h.uid('ev');
    const mine = (name) => (e) => e.channel === `juggernaut:${name}` && e.json && e.json.session_id === sid;
    // without meta
    c.subscribe(ch);
    let e = await events.waitFor(mine('subscribe'));
    assert.equal(e.message, `{"channel":"${ch}","session_id":"${sid}"}`);
    c.event({ k: 'v' });
    e = await events.waitFor(mine('custom'));
    assert.equal(e.message, `{"session_id":"${sid}","data":{"k":"v"}}`);
    // with meta: it applies to later events only, in this key order
    c.meta({ user_id: 1, name: 'Zoë' });
    c.event(['x', 2]);
    const customs = await events.waitForCount(mine('custom'), 2);
    assert.equal(customs[1].message, `{"meta":{"user_id":1,"name":"Zoë"},"session_id":"${sid}","data":["x",2]}`);
    const ch2 = h.uid('ev2');
    c.subscribe(ch2);
    const subs = await events.waitForCount(mine('subscribe'), 2);
    assert.equal(subs[1].message, `{"channel":"${ch2}","meta":{"user_id":1,"name":"Zoë"},"session_id":"${sid}"}`);
    c.unsubscribe(ch);
    e = await events.waitFor(mine('unsubscribe'));
    assert.equal(e.message, `{"channel":"${ch}","meta":{"user_id":1,"name":"Zoë"},"session_id":"${sid}"}`);
    // meta can be any JSON value; an event without data has no data key
    c.meta('just a string');
    c.send('{"type":"event"}');
    const customs3 = await events.waitForCount(mine('custom'), 3);
    assert.equal(customs3[2].message, `{"meta":"just a string","session_id":"${sid}"}`);
    c.meta(null);
    c.event(0);
    const customs4 = await events.waitForCount(mine('custom'), 4);
    assert.equal(customs4[3].message, `{"meta":null,"session_id":"${sid}","data":0}`);
  });

  test(`${label}: disconnect publishes one unsubscribe event per subscribed channel, with meta`, async (t) => {
    t.after(closeClients);
    const { events } = env();
    const c = await client();
    const sid = c.sid;
    c.meta({ user_id: 42 });
    const chans = [h.uid('d1'), h.uid('d2'), h.uid('d3')];
    for (const ch of chans) await subscribed(c, ch);
    c.unsubscribe(chans[1]);
    await events.waitFor((e) => e.channel === 'juggernaut:unsubscribe' && e.json.session_id === sid);
    c.disconnect();
    const unsubs = await events.waitForCount((e) => e.channel === 'juggernaut:unsubscribe' && e.json.session_id === sid, 3, 5000);
    const got = unsubs.slice(1).map((e) => e.message).sort();
    assert.deepEqual(got, [chans[0], chans[2]].map((ch) => `{"channel":"${ch}","meta":{"user_id":42},"session_id":"${sid}"}`).sort());
    await h.sleep(300);
    assert.equal(events.matching((e) => e.channel === 'juggernaut:unsubscribe' && e.json.session_id === sid).length, 3, 'no extra unsubscribe events');
  });

  test(`${label}: a client that vanishes (TCP dropped, no 0::) is unsubscribed too`, async (t) => {
    t.after(closeClients);
    const { events } = env();
    const c = await client();
    const sid = c.sid;
    const ch = h.uid('vanish');
    await subscribed(c, ch);
    const t0 = Date.now();
    c.drop();
    // websocket / pending GET: at once; polling without a pending GET: close timeout
    const limit = (transport === 'websocket' ? 2000 : ((closeTimeout + pollingDuration) * 1000 + 3000));
    const e = await events.waitFor((x) => x.channel === 'juggernaut:unsubscribe' && x.json.session_id === sid, limit);
    assert.equal(e.message, `{"channel":"${ch}","session_id":"${sid}"}`);
    t.diagnostic(`unsubscribe event ${Date.now() - t0} ms after the drop`);
  });

  test(`${label}: malformed JSON from Redis is ignored and the next good message still arrives`, async (t) => {
    t.after(closeClients);
    const { daemon } = env();
    const c = await client();
    const ch = h.uid('bad');
    await subscribed(c, ch);
    for (const bad of ['not json', `{"channels":["${ch}"],"data":`, `"${ch}"`, `["${ch}"]`, 'null', '42', 'true', '',
      `{"channels":["${ch}"],"data":"x"}trailing`, `{"channels":5,"data":"n"}`, `{"channels":{"a":1},"data":"o"}`,
      '\u0000\u0001\u0002', '{"channels":["', '{}', '[]']) {
      await publish(bad);
    }
    await publish({ channels: [ch], data: 'good' });
    assert.equal(await c.nthMessage(1, 5000), `{"data":"good","channel":"${ch}"}`);
    await fence([c]);
    assert.deepEqual(c.on(ch), [`{"data":"good","channel":"${ch}"}`]);
    daemon.assertAlive();
  });

  test(`${label}: subscribing twice delivers each message once and publishes one event`, fix('J1 duplicate subscribe'), async (t) => {
    t.after(closeClients);
    const { events } = env();
    const c = await client();
    const ch = h.uid('dup');
    c.subscribe(ch);
    c.subscribe(ch);
    await fence([c]); // the fence's own subscribe is processed after both
    assert.equal(events.matching((e) => e.channel === 'juggernaut:subscribe' && e.json.session_id === c.sid && e.json.channel === ch).length, 1,
      'one subscribe event');
    await publish({ channels: [ch], data: 'once' });
    await fence([c]);
    assert.deepEqual(dataOn(c, ch), ['once']);
    c.unsubscribe(ch);
    await events.waitFor((e) => e.channel === 'juggernaut:unsubscribe' && e.json.session_id === c.sid && e.json.channel === ch);
    await publish({ channels: [ch], data: 'gone' });
    await fence([c]);
    assert.deepEqual(dataOn(c, ch), ['once'], 'one unsubscribe removes the subscription');
  });

  test(`${label}: Redis restarted (killed) while clients stay connected; later messages arrive`,
    h.IS_REFERENCE ? { skip: 'the original never re-subscribes after a Redis restart (redis@0.6.6), which breaks the rest of the file' } : {},
    async (t) => {
    t.after(closeClients);
    const { redis, pub, daemon } = env();
    const c = await client();
    const ch = h.uid('restart');
    await subscribed(c, ch);
    await publish({ channels: [ch], data: 'before' });
    await c.waitForMessages(1);
    redis.kill('SIGKILL');
    await h.sleep(1500);
    await redis.restart();
    // wait until the daemon has re-subscribed
    const deadline = Date.now() + 15000;
    let n = 0;
    while (Date.now() < deadline) {
      n = await h.numsub(pub).catch(() => 0);
      if (n >= 1) break;
      await h.sleep(100);
    }
    assert.ok(n >= 1, `daemon re-subscribed to juggernaut after the Redis restart (NUMSUB ${n}); log:\n${daemon.logs().slice(-2000)}`);
    // our own event collector reconnects by itself; wait for it too
    while (Date.now() < deadline && await h.numsub(pub, 'juggernaut:subscribe').catch(() => 0) < 1) await h.sleep(50);
    // cluster mode: messages wait for a leader (the lease went with Redis's data)
    while (cluster && Date.now() < deadline && !(await h.getJson(daemon.base, '/stats')).json.cluster_leader) await h.sleep(50);
    assert.equal(c.disconnectReason, null, 'client stayed connected');
    await publish({ channels: [ch], data: 'after' });
    await c.waitForMessages(2, 5000);
    assert.deepEqual(dataOn(c, ch), ['before', 'after']);
    // and new clients work as before
    const d = await client();
    await subscribed(d, ch);
    await publish({ channels: [ch], data: 'later' });
    assert.equal(await d.nthMessage(1), `{"data":"later","channel":"${ch}"}`);
    assert.equal(c.disconnectReason, null, 'client stayed connected');
  });

  return { client, subscribed, publish, fence, closeClients };
}

module.exports = { defineCoreSuite, fix };
