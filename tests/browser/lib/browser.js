'use strict';
// Helpers for the headless-Chromium tests: Debian's chromium driven by
// playwright-core (never a downloaded browser), a static server for pages on
// another origin, a Redis event watcher, and small in-page helpers that work
// with both the ORIGINAL application.js (juggernaut@2.1.1) and ours.

const http = require('http');
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

// The harness shared with the black-box tests (JUGGERNAUTD_REFERENCE=1 runs
// the ORIGINAL server instead of juggernautd, JUGGERNAUTD_BIN another binary).
const harness = require('../../integration/lib/harness.js');

const ROOT = path.join(__dirname, '..', '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];

async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

// A fresh page that reports its console errors into ERRORS (if given).
async function newPage(browser, errors) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (errors) {
    page.on('pageerror', (e) => errors.push(String(e && e.message || e)));
  }
  return page;
}

// The ORIGINAL client as installed by npm (juggernaut@2.1.1, not committed).
function originalApplicationJs() {
  let file;
  try {
    file = require.resolve('juggernaut/public/application.js', { paths: [ROOT] });
  } catch (e) {
    file = path.join(ROOT, 'node_modules', 'juggernaut', 'public', 'application.js');
  }
  return fs.readFileSync(file);
}

// Serves FILES ({"/path": {type, body}}) on 127.0.0.1:<free port>; BODY is a
// string, a Buffer or a function returning one (called per request).
async function startStaticServer(files) {
  const port = await harness.freePort();
  const server = http.createServer((req, res) => {
    const f = files[req.url.split('?')[0]];
    if (!f) {
      res.writeHead(404, { 'Content-Length': 0 });
      return res.end();
    }
    const body = Buffer.from(typeof f.body === 'function' ? f.body() : f.body);
    res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': body.length,
      'Cache-Control': 'no-store' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

// A test page that loads the client from SCRIPT_URL and offers start():
// new Juggernaut(opts), subscribes CHANNELS before the connection is up (the
// only subscriptions the original client re-sends after a reconnect, J8) and
// records everything in window.got / window.events.
function clientPage(scriptUrl) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>client test</title>
<script src="${scriptUrl}" charset="utf-8"></script>
<script>
  window.got = [];
  window.events = [];
  window.start = function (opts, channels) {
    var jug = window.jug = new Juggernaut(opts);
    jug.on("connect", function () { events.push("connect:" + jug.sessionID); });
    jug.on("disconnect", function () { events.push("disconnect"); });
    jug.on("reconnect", function () { events.push("reconnect"); });
    for (var i = 0; i < channels.length; i++) (function (channel) {
      jug.subscribe(channel, function (data) { got.push({ channel: channel, data: data }); });
    })(channels[i]);
  };
  window.subscribe = function (channel) {
    jug.subscribe(channel, function (data) { got.push({ channel: channel, data: data }); });
  };
  window.transportName = function () {
    if (jug.io) { // the original: socket.io-client 0.8.7 inside
      var s = jug.io.socket;
      return s.connected && s.transport ? s.transport.name : null;
    }
    return jug.transport();
  };
  window.connected = function () {
    return jug.io ? !!jug.io.socket.connected : jug.isConnected();
  };
</script></head><body><p>client test page</p></body></html>`;
}

// Starts a client in PAGE and waits until it is connected; returns its sid.
async function startClient(page, opts, channels, timeout = 15000) {
  await page.evaluate(([o, c]) => window.start(o, c), [opts, channels]);
  await page.waitForFunction(() => window.connected() && !!window.jug.sessionID, null,
    { timeout });
  return page.evaluate(() => window.jug.sessionID);
}

// Waits until PAGE has received a message whose data equals DATA (deep).
async function waitForData(page, data, timeout = 10000) {
  await page.waitForFunction((d) => window.got.some(
    (m) => JSON.stringify(m.data) === JSON.stringify(d)), data, { timeout });
}

async function received(page) {
  return page.evaluate(() => window.got.map((m) => m.data));
}

// Watches the juggernaut:subscribe/unsubscribe/custom events on Redis (the
// harness's eventCollector) and adds subscribed(sid, channel).
async function watchEvents(redis) {
  const events = await harness.eventCollector(redis);
  events.subscribed = (sid, channel, ms = 10000) => events.waitFor((e) =>
    e.channel === 'juggernaut:subscribe' && e.json && e.json.session_id === sid &&
    e.json.channel === channel, ms, `juggernaut:subscribe of ${sid} to ${channel}`);
  return events;
}

module.exports = {
  harness, ROOT, launchBrowser, newPage, originalApplicationJs, startStaticServer,
  clientPage, startClient, waitForData, received, watchEvents,
};
