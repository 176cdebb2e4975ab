'use strict';
// History and recovery (cluster issue, point 4) in headless Chromium: our public/application.js
// on the chat demo page (public/chat.html, served by juggernautd with cluster mode on).
//
//  - the transcript survives navigating to another page and back: messages published
//    meanwhile come from the channel's history, the earlier ones again, all in order, none
//    twice (the client keeps the last seq per channel in sessionStorage and subscribes with
//    {"since": seq});
//  - a channel whose history was trimmed meanwhile shows a gap, then what is left;
//  - presence: a snapshot, then a second user's join and leave;
//  - a lost connection (the WebSocket killed, or the instance SIGKILLed and restarted with
//    the same Redis while another instance keeps sequencing) loses nothing.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const b = require('./lib/browser.js');

const { harness } = b;
const SKIP = harness.IS_REFERENCE ? 'history, recovery and presence are juggernautd cluster mode' : false;
// "short-" channels keep 3 messages, so the test can trim one's history while the page is away
const HISTORY = '"* 100 3600;short- 3 3600"';
const CONFIG = { cluster: 'yes', history: HISTORY };

let redis, pub, daemon, events, browser;
const pageErrors = [];

before(async () => {
  if (SKIP) return;
  redis = await harness.startRedis();
  pub = await harness.redisClient(redis);
  daemon = await harness.startDaemon({ redisUrl: redis.url, config: CONFIG });
  events = await b.watchEvents(redis);
  browser = await b.launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (events) await events.close();
  if (pub) pub.disconnect();
  if (daemon) await daemon.stop();
  if (redis) await redis.stop();
});

const say = (channel, text, user = 'bob') =>
  pub.publish('juggernaut', JSON.stringify({ channels: [channel], data: { user, text } }));

/* The chat page of DAEMON on CHANNEL (optionally as USER, over TRANSPORTS), connected and
 * subscribed. */
async function openChat(page, channel, user, d = daemon, transports = null) {
  const q = `?channel=${encodeURIComponent(channel)}${user ? `&user=${encodeURIComponent(user)}` : ''}` +
    `${transports ? `&transports=${transports}` : ''}`;
  await page.goto(`${d.base}/chat.html${q}`);
  return chatReady(page, channel);
}

async function chatReady(page, channel) {
  await page.waitForFunction(() => window.jug && window.jug.isConnected() && !!window.jug.sessionID,
    null, { timeout: 15000 });
  const sid = await page.evaluate(() => window.jug.sessionID);
  await events.subscribed(sid, channel);
  return sid;
}

/* What the page shows: the transcript's lines (text, class, seq) and window.lines. */
function transcript(page) {
  return page.evaluate(() => ({
    items: Array.prototype.map.call(document.querySelectorAll('#transcript li'), (li) => ({
      text: li.textContent, cls: li.className, seq: li.getAttribute('data-seq') })),
    lines: window.lines.map((l) => ({ seq: l.seq, text: l.data && l.data.text })),
  }));
}

/* Waits until the page shows N messages (plus gap lines), then a little longer to catch a
 * duplicate arriving late; returns the transcript. */
async function waitForLines(page, n, timeout = 15000) {
  try {
    await page.waitForFunction((k) => window.lines && window.lines.length >= k, n, { timeout });
  } catch (e) {
    throw new Error(`page shows ${JSON.stringify(await transcript(page))}, wanted ${n} messages`);
  }
  await new Promise((r) => setTimeout(r, 300));
  return transcript(page);
}

/* Every message exactly once, in order, each with a seq, strictly increasing. */
function assertExactly(t, texts, what) {
  assert.deepEqual(t.lines.map((l) => l.text), texts, `${what}: ${JSON.stringify(t)}`);
  for (let i = 0; i < t.lines.length; i++) {
    assert.ok(Number.isSafeInteger(t.lines[i].seq), `${what}: line ${i} has a seq: ${JSON.stringify(t.lines[i])}`);
    if (i) assert.ok(t.lines[i].seq > t.lines[i - 1].seq, `${what}: seqs increase: ${JSON.stringify(t.lines)}`);
  }
  const shown = t.items.filter((it) => it.cls !== 'gap').map((it) => it.text);
  assert.deepEqual(shown, texts.map((x) => `bob: ${x}`), `${what}: rendered transcript`);
}

const unsubscribed = (sid, channel) => events.waitFor((e) => e.channel === 'juggernaut:unsubscribe' &&
  e.json && e.json.session_id === sid && e.json.channel === channel, 10000, `unsubscribe of ${sid}`);

test('the chat transcript survives navigating to another page and back', { skip: SKIP }, async () => {
  const channel = harness.uid('chat');
  const page = await b.newPage(browser, pageErrors);
  const sid = await openChat(page, channel, 'ann');
  for (const x of ['one', 'two', 'three', 'four', 'five']) await say(channel, x);
  assertExactly(await waitForLines(page, 5), ['one', 'two', 'three', 'four', 'five'], 'first visit');

  // away: the page is gone (its session ends), three more messages are said
  await page.click('#other');
  await page.waitForURL(/other\.html/);
  await unsubscribed(sid, channel);
  for (const x of ['six', 'seven', 'eight']) await say(channel, x);

  // back: a new page, a new session; the client subscribes with the position it kept
  await page.click('#back');
  await page.waitForURL(/chat\.html/);
  const sid2 = await chatReady(page, channel);
  assert.notEqual(sid2, sid);
  const all = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight'];
  let t = await waitForLines(page, 8);
  assertExactly(t, all, 'back again');
  // the first five were shown before: marked as replayed
  assert.deepEqual(t.items.map((it) => it.cls), ['replayed', 'replayed', 'replayed', 'replayed', 'replayed',
    '', '', ''], JSON.stringify(t.items));

  // live messages keep coming, once each
  await say(channel, 'nine');
  t = await waitForLines(page, 9);
  assertExactly(t, [...all, 'nine'], 'live after coming back');

  // the server sending messages again (as after a lost polling answer) changes nothing
  const dropped = await page.evaluate(([ch, old]) => {
    const s = window.jug.socket, before = window.jug.duplicates;
    for (const l of old) {
      s.onPacket(s.transport, '3:::' + JSON.stringify({ channel: ch, data: { user: 'bob', text: l.text }, seq: l.seq }));
    }
    return window.jug.duplicates - before;
  }, [channel, [t.lines[2], t.lines[8]]]);
  assert.equal(dropped, 2);
  t = await waitForLines(page, 9);
  assertExactly(t, [...all, 'nine'], 'after messages sent again');

  // what the client keeps: the last seq and the transcript window, per server and channel
  const kept = await page.evaluate((ch) => JSON.parse(sessionStorage.getItem(
    `juggernaut:${location.hostname}:${location.port}:${ch}`)), channel);
  assert.equal(kept.last, t.lines[8].seq, JSON.stringify(kept));
  assert.deepEqual(kept.win, t.lines.map((l) => l.seq));

  // a reload is one more page load: the same transcript again, nothing twice
  await page.reload();
  await chatReady(page, channel);
  t = await waitForLines(page, 9);
  assertExactly(t, [...all, 'nine'], 'after a reload');
  await page.context().close();
});

test('a history trimmed while the page was away shows a gap, then what is left', { skip: SKIP }, async () => {
  const channel = harness.uid('short-chat');
  const page = await b.newPage(browser, pageErrors);
  const sid = await openChat(page, channel);
  await page.evaluate(() => {
    window.gaps = [];
    window.jug.on('gap', (ch, info) => window.gaps.push({ ch, info }));
  });
  for (const x of ['a', 'b']) await say(channel, x);
  assertExactly(await waitForLines(page, 2), ['a', 'b'], 'first visit');

  await page.click('#other');
  await page.waitForURL(/other\.html/);
  await unsubscribed(sid, channel);
  for (const x of ['c', 'd', 'e', 'f', 'g']) await say(channel, x); // history keeps e, f, g

  await page.click('#back');
  await page.waitForURL(/chat\.html/);
  await chatReady(page, channel);
  const t = await waitForLines(page, 3);
  assertExactly(t, ['e', 'f', 'g'], 'after the gap');
  assert.equal(t.items[0].cls, 'gap', `the gap is shown first: ${JSON.stringify(t.items)}`);
  assert.equal(t.items.filter((it) => it.cls === 'gap').length, 1);
  await page.context().close();
});

test('presence: a snapshot, then the join and leave of a second user (two tabs are one user)',
  { skip: SKIP }, async () => {
  const channel = harness.uid('chat');
  const ann = await b.newPage(browser, pageErrors);
  await openChat(ann, channel, 'ann');
  const members = (page) => page.evaluate((ch) => window.jug.members(ch), channel);
  await ann.waitForFunction((ch) => JSON.stringify(window.jug.members(ch)) === '[{"user":"ann"}]',
    channel, { timeout: 10000 }).catch(async () => {
    assert.fail(`ann's members: ${JSON.stringify(await members(ann))}`);
  });
  await ann.evaluate((ch) => {
    window.presence = [];
    window.jug.on(`${ch}:presence`, (ev) => window.presence.push(ev.presence + ':' + (ev.meta && ev.meta.user)));
  }, channel);

  const bob = await b.newPage(browser, pageErrors);
  await openChat(bob, channel, 'bob');
  const bobTab2 = await bob.context().newPage(); // same user in a second tab: no second join
  bobTab2.on('pageerror', (e) => pageErrors.push(String(e && e.message || e)));
  await openChat(bobTab2, channel, 'bob');
  const both = JSON.stringify([{ user: 'ann' }, { user: 'bob' }]);
  await ann.waitForFunction(([ch, want]) => JSON.stringify(window.jug.members(ch)) === want,
    [channel, both], { timeout: 10000 });
  const bobSees = await members(bob);
  assert.deepEqual(bobSees.map((m) => m.user).sort(), ['ann', 'bob'], JSON.stringify(bobSees));
  assert.equal((await bob.$$('#member-list li')).length, 2);

  await bobTab2.close();
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await ann.evaluate(() => window.presence), ['join:bob'], 'one join for two tabs');
  await bob.context().close();
  await ann.waitForFunction((ch) => JSON.stringify(window.jug.members(ch)) === '[{"user":"ann"}]',
    channel, { timeout: 15000 }).catch(async () => {
    assert.fail(`ann's members after bob left: ${JSON.stringify(await members(ann))}`);
  });
  assert.deepEqual(await ann.evaluate(() => window.presence), ['join:bob', 'leave:bob']);
  await ann.context().close();
});

test('a killed WebSocket: the client reconnects with a new session and loses nothing',
  { skip: SKIP }, async () => {
  const channel = harness.uid('chat');
  const page = await b.newPage(browser, pageErrors);
  const sid = await openChat(page, channel);
  for (const x of ['one', 'two']) await say(channel, x);
  await waitForLines(page, 2);

  // the connection dies; the client waits 2 s before reconnecting, messages flow meanwhile
  await page.evaluate(() => {
    const s = window.jug.socket;
    s.delay = 2000;
    s.transport.ws.close();
  });
  await unsubscribed(sid, channel);
  for (const x of ['three', 'four', 'five']) await say(channel, x);
  await page.waitForFunction((old) => window.jug.isConnected() && window.jug.sessionID !== old, sid,
    { timeout: 15000 });
  await chatReady(page, channel);
  await say(channel, 'six');
  assertExactly(await waitForLines(page, 6), ['one', 'two', 'three', 'four', 'five', 'six'],
    'across the reconnect');
  await page.context().close();
});

for (const transport of ['xhr-polling', 'jsonp-polling']) {
  test(`over ${transport}: back from another page, then a lost transport: nothing lost, nothing twice`,
    { skip: SKIP }, async () => {
    const channel = harness.uid('chat');
    const page = await b.newPage(browser, pageErrors);
    const sid = await openChat(page, channel, null, daemon, transport);
    assert.equal(await page.evaluate(() => window.jug.transport()), transport);
    for (const x of ['one', 'two']) await say(channel, x);
    await waitForLines(page, 2);

    await page.click('#other');
    await page.waitForURL(/other\.html/);
    for (const x of ['three', 'four']) await say(channel, x);
    await page.click('#back');
    await page.waitForURL(/chat\.html/);
    const sid2 = await chatReady(page, channel);
    assert.notEqual(sid2, sid);
    assert.equal(await page.evaluate(() => window.jug.transport()), transport);
    assertExactly(await waitForLines(page, 4), ['one', 'two', 'three', 'four'], 'back again');

    // the transport fails (as after a network error): a new session 2 s later
    await page.evaluate(() => {
      const s = window.jug.socket;
      s.delay = 2000;
      s.transport.fail();
    });
    for (const x of ['five', 'six']) await say(channel, x);
    await page.waitForFunction((old) => window.jug.isConnected() && window.jug.sessionID !== old, sid2,
      { timeout: 15000 });
    await chatReady(page, channel);
    await say(channel, 'seven');
    assertExactly(await waitForLines(page, 7), ['one', 'two', 'three', 'four', 'five', 'six', 'seven'],
      'across the lost transport');
    await page.context().close();
  });
}

test('the instance is SIGKILLed and restarted (same Redis, another instance sequencing): nothing lost',
  { skip: SKIP }, async () => {
  // a second instance, started first so that it holds the leader lease and keeps sequencing
  // "PUBLISH juggernaut" while the page's instance is down
  const spare = await harness.startDaemon({ redisUrl: redis.url, config: CONFIG });
  try {
    const channel = harness.uid('chat');
    const page = await b.newPage(browser, pageErrors);
    const port = daemon.port;
    // the page's instance restarts once the spare holds the lease, so that it is not the leader
    await daemon.stop();
    daemon = null;
    await waitForLeader(spare);
    daemon = await harness.startDaemon({ redisUrl: redis.url, config: CONFIG, port });
    await openChat(page, channel);
    for (const x of ['one', 'two', 'three']) await say(channel, x);
    await waitForLines(page, 3);

    daemon.kill('SIGKILL');
    await daemon.exited;
    daemon = null;
    await page.waitForFunction(() => !window.jug.isConnected(), null, { timeout: 10000 });
    for (const x of ['four', 'five', 'six']) await say(channel, x);
    // the spare instance sequenced them: they are in the channel's history
    await waitForHistory(channel, 6);

    daemon = await harness.startDaemon({ redisUrl: redis.url, config: CONFIG, port });
    await page.waitForFunction(() => window.jug.isConnected(), null, { timeout: 20000 });
    await chatReady(page, channel);
    await say(channel, 'seven');
    assertExactly(await waitForLines(page, 7),
      ['one', 'two', 'three', 'four', 'five', 'six', 'seven'], 'across the restart');
    await page.context().close();
  } finally {
    await spare.stop();
  }
});

/* Waits until D says it holds the leader lease (/stats cluster_leader). */
async function waitForLeader(d, ms = 10000) {
  const deadline = Date.now() + ms;
  let stats = null;
  while (Date.now() < deadline) {
    stats = (await harness.getJson(d.base, '/stats')).json;
    if (stats.cluster_leader === 1 || stats.cluster_leader === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the spare instance never became leader: /stats ${JSON.stringify(stats)}`);
}

async function waitForHistory(channel, n, ms = 10000) {
  const deadline = Date.now() + ms;
  let len = 0;
  while (Date.now() < deadline) {
    len = await pub.llen(`jg:history-list:${channel}`);
    if (len >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`jg:history-list:${channel} has ${len} entries, wanted ${n}`);
}

test('no uncaught errors in any page', { skip: SKIP }, () => {
  assert.deepEqual(pageErrors, []);
});
