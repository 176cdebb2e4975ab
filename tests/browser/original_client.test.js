'use strict';
// Headless Chromium, pages on ANOTHER origin than juggernautd:
//  - the ORIGINAL application.js (npm juggernaut@2.1.1, served by the test's
//    own static server) and ours (GET /application.js from juggernautd), over
//    WebSocket: subscribe, receive, and except with jug.sessionID;
//  - each forced to xhr-polling and to jsonp-polling, receiving emoji/CJK;
//  - our client falling back to polling (server without websocket, a
//    WebSocket that fails, a WebSocket that never delivers 1::);
//  - both reconnecting after juggernautd is restarted on the same port.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const b = require('./lib/browser.js');

const { harness } = b;
const TEXT = 'héllo 😀 漢字';
// Published back to back, so that polling answers carry framed payloads
// (\ufffd<len>\ufffd, len in UTF-16 units) and JSONP needs its escapes.
const BURST = [TEXT, '😀😀 二 "quoted" \\ back\\slash', 'line\nbreak </script> \u2028 end',
  { nested: TEXT, list: [1, '漢'] }];
const META = { user: 'ünï 😀', id: 7 };
const KINDS = ['original', 'ours'];

let redis, daemon, statics, browser, events, pub;
const errors = [];
let channelCounter = 0;

// Where each client comes from. Against the ORIGINAL server
// (JUGGERNAUTD_REFERENCE=1) ours comes from the static server too.
function scriptUrl(kind) {
  if (kind === 'original') return `${statics.origin}/original/application.js`;
  if (harness.IS_REFERENCE) return `${statics.origin}/ours/application.js`;
  return `${daemon.base}/application.js`;
}

async function openClientPage(kind) {
  const page = await b.newPage(browser, errors);
  await page.goto(`${statics.origin}/${kind}.html`);
  return page;
}

function nextChannel(prefix) {
  channelCounter += 1;
  return `${prefix}/${channelCounter}/é`;
}

function publish(message) {
  return pub.publish('juggernaut', JSON.stringify(message));
}

function clientOptions(port, extra) {
  return Object.assign({ host: '127.0.0.1', port, meta: META }, extra);
}

// Opens a page with a KIND client on CHANNEL and waits for the server to
// report the subscription (with our meta); returns {page, sid}.
async function connectedClient(kind, port, channel, extra) {
  const page = await openClientPage(kind);
  const sid = await b.startClient(page, clientOptions(port, extra), [channel]);
  const ev = await events.subscribed(sid, channel);
  assert.deepEqual(ev.json.meta, META, 'meta sent before the subscribe');
  return { page, sid };
}

before(async () => {
  redis = await harness.startRedis();
  pub = await harness.redisClient(redis);
  daemon = await harness.startDaemon({ redisUrl: redis.url });
  const ours = fs.readFileSync(path.join(b.ROOT, 'public', 'application.js'));
  statics = await b.startStaticServer({
    '/original/application.js': { type: 'text/javascript', body: b.originalApplicationJs() },
    '/ours/application.js': { type: 'text/javascript', body: ours },
    '/original.html': { type: 'text/html; charset=utf-8', body: () => b.clientPage(scriptUrl('original')) },
    '/ours.html': { type: 'text/html; charset=utf-8', body: () => b.clientPage(scriptUrl('ours')) },
  });
  events = await b.watchEvents(redis);
  browser = await b.launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (events) await events.close();
  if (pub) pub.disconnect();
  if (statics) await statics.close();
  if (daemon) await daemon.stop();
  if (redis) await redis.stop();
});

describe('clients over WebSocket from another origin', () => {
  for (const kind of KINDS) {
    test(`${kind} application.js: subscribe, receive, except with jug.sessionID`, async () => {
      const channel = nextChannel(`ws-${kind}`);
      const a = await connectedClient(kind, daemon.port, channel);
      const c = await connectedClient(kind, daemon.port, channel);
      assert.notEqual(a.sid, c.sid);
      assert.equal(await a.page.evaluate(() => window.transportName()), 'websocket');
      assert.equal(await c.page.evaluate(() => window.transportName()), 'websocket');

      await publish({ channels: [channel], data: TEXT });
      await b.waitForData(a.page, TEXT);
      await b.waitForData(c.page, TEXT);

      await publish({ channels: [channel], data: 'not for a (string)', except: a.sid });
      await publish({ channel, data: 'not for a (array)', except: ['nobody', a.sid] });
      await publish({ channels: [channel], data: 'for everyone' });
      await b.waitForData(a.page, 'for everyone');
      await b.waitForData(c.page, 'for everyone');
      assert.deepEqual(await b.received(a.page), [TEXT, 'for everyone']);
      assert.deepEqual(await b.received(c.page),
        [TEXT, 'not for a (string)', 'not for a (array)', 'for everyone']);
      await a.page.close();
      await c.page.close();
    });
  }
});

describe('clients forced to a polling transport', () => {
  for (const kind of KINDS) {
    for (const transport of ['xhr-polling', 'jsonp-polling']) {
      test(`${kind} application.js over ${transport}: emoji and CJK`, async () => {
        const channel = nextChannel(`${transport}-${kind}`);
        // The original (socket.io-client 0.8.7) merges the option INTO its default
        // list index by index, so ['jsonp-polling'] would leave htmlfile and
        // xhr-polling in place (and xhr-polling wins); fill all four slots.
        const transports = kind === 'original' ? [transport, transport, transport, transport]
          : [transport];
        const { page, sid } = await connectedClient(kind, daemon.port, channel, { transports });
        assert.equal(await page.evaluate(() => window.transportName()), transport);
        for (const data of BURST) await publish({ channels: [channel], data });
        await b.waitForData(page, BURST[BURST.length - 1]);
        assert.deepEqual(await b.received(page), BURST);

        // client -> server through a POST: a custom event with non-BMP text
        await page.evaluate((t) => window.jug.write(
          new window.Juggernaut.Message({ type: 'event', data: { text: t } })), TEXT);
        const ev = await events.waitFor((e) => e.channel === 'juggernaut:custom' &&
          e.json && e.json.session_id === sid, 10000, `juggernaut:custom from ${sid}`);
        assert.deepEqual(ev.json, { meta: META, session_id: sid, data: { text: TEXT } });
        await page.close();
      });
    }
  }
});

describe('our client falls back to polling', () => {
  let pollOnly;
  before(async () => {
    pollOnly = await harness.startDaemon({ redisUrl: redis.url,
      config: { transports: 'xhr-polling,jsonp-polling' } });
  });
  after(async () => {
    if (pollOnly) await pollOnly.stop();
  });

  test('server without websocket: default options end on xhr-polling', async () => {
    const channel = nextChannel('fallback-xhr');
    const { page } = await connectedClient('ours', pollOnly.port, channel);
    assert.equal(await page.evaluate(() => window.transportName()), 'xhr-polling');
    await publish({ channels: [channel], data: TEXT });
    await b.waitForData(page, TEXT);
    await page.close();
  });

  test('server without websocket, client without xhr-polling: jsonp-polling', async () => {
    const channel = nextChannel('fallback-jsonp');
    const { page } = await connectedClient('ours', pollOnly.port, channel,
      { transports: ['websocket', 'jsonp-polling'] });
    assert.equal(await page.evaluate(() => window.transportName()), 'jsonp-polling');
    await publish({ channels: [channel], data: TEXT });
    await b.waitForData(page, TEXT);
    await page.close();
  });

  test('a WebSocket that fails, or never delivers 1::, gives way to xhr-polling', async () => {
    for (const mode of ['fails', 'silent']) {
      const channel = nextChannel(`fallback-${mode}`);
      const page = await openClientPage('ours');
      await page.evaluate((m) => {
        window.WebSocket = function () { // stands in for a proxy that blocks WebSocket
          const ws = this;
          if (m === 'fails') setTimeout(() => ws.onclose && ws.onclose({}), 10);
        };
        window.WebSocket.prototype.send = function () {};
        window.WebSocket.prototype.close = function () {};
      }, mode);
      const sid = await b.startClient(page,
        clientOptions(daemon.port, { connectTimeout: 1000 }), [channel]);
      await events.subscribed(sid, channel);
      assert.equal(await page.evaluate(() => window.transportName()), 'xhr-polling');
      await publish({ channels: [channel], data: TEXT });
      await b.waitForData(page, TEXT);
      await page.close();
    }
  });
});

describe('idle clients stay connected', () => {
  let fast;
  before(async () => {
    // Short timers so that a few seconds cover several heartbeats (websocket)
    // and several empty poll answers (8::) and close-timeout windows (polling).
    fast = await harness.startDaemon({ redisUrl: redis.url, config: {
      'heartbeat-interval': 1, 'heartbeat-timeout': 3, 'close-timeout': 4, 'polling-duration': 2 } });
  });
  after(async () => {
    if (fast) await fast.stop();
  });

  test('both clients on every transport: no disconnect over 7 s of silence', async () => {
    const clients = [];
    for (const kind of KINDS) {
      for (const transport of ['websocket', 'xhr-polling', 'jsonp-polling']) {
        const channel = nextChannel(`idle-${kind}-${transport}`);
        const transports = kind === 'original' ? [transport, transport, transport, transport]
          : [transport];
        const c = await connectedClient(kind, fast.port, channel, { transports });
        assert.equal(await c.page.evaluate(() => window.transportName()), transport);
        clients.push(Object.assign(c, { kind, transport, channel }));
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 7000));
    for (const c of clients) {
      const seen = await c.page.evaluate(() => window.events);
      assert.deepEqual(seen, [`connect:${c.sid}`], `${c.kind} on ${c.transport}`);
      await publish({ channels: [c.channel], data: TEXT });
    }
    for (const c of clients) {
      await b.waitForData(c.page, TEXT);
      await c.page.close();
    }
  });
});

describe('reconnect after juggernautd restarts', () => {
  test('both clients reconnect, re-subscribe and receive later messages', async () => {
    const channel = nextChannel('restart');
    const late = nextChannel('restart-late');
    const clients = [];
    for (const kind of KINDS) {
      clients.push(Object.assign({ kind }, await connectedClient(kind, daemon.port, channel)));
    }
    clients.push(Object.assign({ kind: 'ours (xhr-polling)' }, await connectedClient('ours',
      daemon.port, channel, { transports: ['xhr-polling'] })));
    // Subscribed after the first connect: the original forgets these on a
    // reconnect (quirk J8); ours must not.
    const ours = clients[1];
    await ours.page.evaluate((ch) => window.subscribe(ch), late);
    await events.subscribed(ours.sid, late);

    const port = daemon.port;
    await daemon.stop();
    daemon = null;
    daemon = await harness.startDaemon({ redisUrl: redis.url, port });

    for (const c of clients) {
      await c.page.waitForFunction((old) => window.connected() &&
        window.jug.sessionID && window.jug.sessionID !== old, c.sid, { timeout: 20000 });
      c.sid = await c.page.evaluate(() => window.jug.sessionID);
      await events.subscribed(c.sid, channel);
      const seen = await c.page.evaluate(() => window.events);
      assert.ok(seen.includes('disconnect'), `${c.kind}: disconnect seen: ${seen}`);
    }
    await events.subscribed(ours.sid, late);
    const oursEvents = await ours.page.evaluate(() => window.events);
    assert.deepEqual(oursEvents.filter((e) => !e.startsWith('connect:')).slice(-2),
      ['disconnect', 'reconnect']);
    assert.ok(oursEvents[oursEvents.length - 1].startsWith('connect:'));

    await publish({ channels: [channel], data: TEXT });
    await publish({ channels: [late], data: 'late channel' });
    for (const c of clients) await b.waitForData(c.page, TEXT);
    await b.waitForData(ours.page, 'late channel');
    for (const c of clients) await c.page.close();
  });
});

test('no uncaught errors in any page', () => {
  assert.deepEqual(errors, []);
});
