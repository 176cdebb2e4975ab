'use strict';
// Hardening (issue "Hardening", point 6): our public/application.js in headless Chromium
// with the `authorize` option. A tiny HTTP server here plays the Rails app of the README:
// it serves the page and POST /juggernaut/auth, which signs with the shared auth-secret
// for the session id the client sends in X-Session-ID:
//   hex(HMAC-SHA256(secret, sid + ":" + channel))          for {type: "subscribe"}
//   hex(HMAC-SHA256(secret, sid + ":" + JSON(meta)))        for {type: "meta"} (signMeta)
// Without authorize the private subscribe is refused and the client emits "error".

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');
const b = require('./lib/browser.js');

const { harness } = b;
const SECRET = 'browser-auth-secret-0123456789';
const ONLY_OURS = harness.IS_REFERENCE ? 'authorize / private channels are juggernautd extensions' : false;

let redis, daemon, app, browser, events, pub;
const authRequests = []; // what the "Rails" endpoint was asked
const pageErrors = [];

const sign = (sid, subject) => crypto.createHmac('sha256', SECRET).update(`${sid}:${subject}`).digest('hex');

/* The test page: the harness's client page plus an authorize() that asks the app server,
 * and a recorder of the client's "error" events. */
function page(scriptUrl) {
  const extra = `<script>
  window.refusals = [];
  window.authorize = function (request, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/juggernaut/auth?channel=" + encodeURIComponent(request.channel || ""));
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.setRequestHeader("X-Session-ID", request.sessionID);
    xhr.onload = function () { if (xhr.status === 200) done(xhr.responseText); };
    xhr.send(JSON.stringify({ type: request.type, data: request.data }));
  };
  window.startPrivate = function (opts, channels, useAuthorize) {
    if (useAuthorize) opts.authorize = window.authorize;
    window.start(opts, channels);
    jug.on("error", function (reason, request) { refusals.push({ reason: reason, request: request }); });
  };
</script></head>`;
  return b.clientPage(scriptUrl).replace('</head>', extra);
}

/* The app server: GET / (the page), POST /juggernaut/auth (signatures). */
async function startApp() {
  const port = await harness.freePort();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/') {
      const body = Buffer.from(page(`${daemon.base}/application.js`));
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length });
      res.end(body);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/juggernaut/auth') {
      const chunks = [];
      req.on('data', (d) => chunks.push(d));
      req.on('end', () => {
        const sid = req.headers['x-session-id'];
        let body = {};
        try { body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'); } catch (e) { /* empty */ }
        const channel = url.searchParams.get('channel');
        authRequests.push({ sid, type: body.type, channel, data: body.data });
        let sig = null;
        if (sid && body.type === 'subscribe' && channel) sig = sign(sid, channel);
        if (sid && body.type === 'meta') sig = sign(sid, JSON.stringify(body.data));
        if (!sig) {
          res.writeHead(403, { 'Content-Length': 0 });
          res.end();
          return;
        }
        // the meta signature comes back last (a slower check on the app side), so a client
        // that does not wait for it before subscribing is caught every time
        setTimeout(() => {
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': sig.length });
          res.end(sig);
        }, body.type === 'meta' ? 300 : 0);
      });
      return;
    }
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

before(async () => {
  if (ONLY_OURS) return;
  redis = await harness.startRedis();
  pub = await harness.redisClient(redis);
  daemon = await harness.startDaemon({ redisUrl: redis.url,
    config: { 'auth-secret': SECRET, 'require-meta-auth': 'yes', 'drain-period': 0 } });
  events = await b.watchEvents(redis);
  app = await startApp();
  browser = await b.launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (app) await app.close();
  if (events) await events.close();
  if (pub) pub.disconnect();
  if (daemon) await daemon.stop();
  if (redis) await redis.stop();
});

async function openClient(opts, channels, useAuthorize) {
  const p = await b.newPage(browser, pageErrors);
  await p.goto(`${app.origin}/`);
  await p.evaluate(([o, c, u]) => window.startPrivate(o, c, u), [Object.assign({ host: '127.0.0.1', port: daemon.port,
    transports: ['websocket'] }, opts), channels, useAuthorize]);
  await p.waitForFunction(() => window.connected() && !!window.jug.sessionID, null, { timeout: 15000 });
  return { page: p, sid: await p.evaluate(() => window.jug.sessionID) };
}

describe('private channels in the browser', { skip: ONLY_OURS }, () => {
  test('with authorize (signature from the app server, X-Session-ID): subscribed to a private channel, receives; ' +
    'signMeta: the meta is vouched for', async () => {
    const channel = `private-user-${crypto.randomBytes(4).toString('hex')}`;
    const open = `public-${crypto.randomBytes(4).toString('hex')}`;
    const meta = { user_id: 42, name: 'Zoë' };
    const { page: p, sid } = await openClient({ meta, signMeta: true }, [open, channel], true);
    // as with an unsigned meta (and the original client), the meta goes before the
    // subscribes, so every subscribe event of the session carries the identity
    const ev = await events.subscribed(sid, channel);
    assert.deepEqual(ev.json.meta, meta, 'the signed meta was accepted before the private subscribe');
    const evOpen = await events.subscribed(sid, open);
    assert.deepEqual(evOpen.json.meta, meta, 'the signed meta was accepted before the public subscribe');
    await pub.publish('juggernaut', JSON.stringify({ channels: [channel], data: { secret: 'for 42 only' } }));
    await b.waitForData(p, { secret: 'for 42 only' });
    assert.deepEqual(await p.evaluate(() => window.refusals), []);
    const asked = authRequests.filter((r) => r.sid === sid);
    assert.deepEqual(asked.map((r) => r.type).sort(), ['meta', 'subscribe']);
    assert.equal(asked.find((r) => r.type === 'subscribe').channel, channel);
    assert.deepEqual(asked.find((r) => r.type === 'meta').data, meta);
    await p.close();
  });

  test('without authorize: the private subscribe is refused with an "error" event; public channels work', async () => {
    const channel = `private-user-${crypto.randomBytes(4).toString('hex')}`;
    const open = `public-${crypto.randomBytes(4).toString('hex')}`;
    const { page: p, sid } = await openClient({}, [channel, open], false);
    await events.subscribed(sid, open);
    await p.waitForFunction(() => window.refusals.length > 0, null, { timeout: 10000 });
    assert.deepEqual(await p.evaluate(() => window.refusals),
      [{ reason: 'unauthorized', request: { type: 'subscribe', channel } }]);
    await pub.publish('juggernaut', JSON.stringify({ channels: [channel], data: 'not for you' }));
    await pub.publish('juggernaut', JSON.stringify({ channels: [open], data: 'for everyone' }));
    await b.waitForData(p, 'for everyone');
    assert.deepEqual(await b.received(p), ['for everyone']);
    assert.equal(events.matching((e) => e.channel === 'juggernaut:subscribe' && e.json &&
      e.json.session_id === sid && e.json.channel === channel).length, 0, 'no subscribe event for the private channel');
    assert.equal(authRequests.filter((r) => r.sid === sid).length, 0);
    await p.close();
  });

  test('an unsigned meta (no signMeta) is refused under require-meta-auth: "error" event, events without meta', async () => {
    const channel = `private-room-${crypto.randomBytes(4).toString('hex')}`;
    const { page: p, sid } = await openClient({ meta: { user_id: 1, admin: true } }, [channel], true);
    const ev = await events.subscribed(sid, channel);
    assert.equal(ev.json.meta, undefined, 'the unsigned meta was not used');
    await p.waitForFunction(() => window.refusals.length > 0, null, { timeout: 10000 });
    assert.deepEqual(await p.evaluate(() => window.refusals), [{ reason: 'unauthorized', request: { type: 'meta' } }]);
    await pub.publish('juggernaut', JSON.stringify({ channels: [channel], data: 'still subscribed' }));
    await b.waitForData(p, 'still subscribed');
    await p.close();
    assert.deepEqual(pageErrors, []);
  });
});
