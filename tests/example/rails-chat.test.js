'use strict';
// examples/rails-chat end to end, deployed like production (bin/start: Redis, two
// juggernautd in cluster mode and Rails, all behind HAProxy with no affinity), driven by
// Debian's Chromium: two users sign in, see each other online, chat one-to-one and in a
// group, navigate away and back, lose nothing when one juggernautd gets SIGTERM, log out
// with the transcript in the database, and the other side sees them go offline.
// Free ports, never 8080/8011/6379.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '../..');
const APP = path.join(ROOT, 'examples/rails-chat');
const run = fs.mkdtempSync(path.join(os.tmpdir(), 'rails-chat-'));
const db = path.join(run, 'chat.sqlite3');
let env;
let url;
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function sql(query) {
  return execFileSync('sqlite3', ['-cmd', '.timeout 10000', '-separator', '|', db, query], { encoding: 'utf8' }).trim();
}

function pids() {
  return Object.fromEntries(fs.readFileSync(path.join(run, 'pids'), 'utf8').trim().split('\n')
    .map((l) => l.split(' ')).map(([n, p]) => [n, Number(p)]));
}

before(async () => {
  env = Object.assign({}, process.env, {
    CHAT_RUN_DIR: run, CHAT_DB: db, CHAT_CLEANUP_SECONDS: '2', CHAT_CLEANUP_GRACE: '6',
    FRONT_PORT: String(await freePort()), J1_PORT: String(await freePort()), J2_PORT: String(await freePort()),
    RAILS_PORT: String(await freePort()), REDIS_PORT: String(await freePort()),
  });
  const out = execFileSync(path.join(APP, 'bin/start'), { env, encoding: 'utf8', timeout: 120000 });
  url = /http:\/\/\S+\//.exec(out)[0];
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  execFileSync(path.join(APP, 'bin/stop'), { env, stdio: 'ignore' });
  if (!process.env.KEEP_RUN) fs.rmSync(run, { recursive: true, force: true });
});

async function signIn(name) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 640 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error:`, e.message));
  await page.goto(url + 'login');
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', 'chat');
  await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-push=connected]');
  return page;
}

const online = (page, name) => page.waitForSelector(`#online-list a.user:text-is("${name}")`, { timeout: 15000 });
const win = (page, title) => `.win[data-title="${title}"]`;

async function send(page, title, text) {
  await page.fill(`${win(page, title)} input`, text);
  await page.press(`${win(page, title)} input`, 'Enter');
  await page.waitForSelector(`${win(page, title)} .log li:has-text("${text}")`);
}

async function lines(page, title) {
  return page.$$eval(`${win(page, title)} .log li`, (lis) => lis.map((li) => li.textContent));
}

test('two users chat through HAProxy and two juggernautd, nothing lost', { timeout: 240000 }, async () => {
  const alice = await signIn('alice');
  const bob = await signIn('bob');

  // presence: each sees the other online, not themselves
  await online(alice, 'bob');
  await online(bob, 'alice');
  assert.deepEqual(await alice.$$eval('#online-list a.user', (as) => as.map((a) => a.textContent)), ['bob']);

  // one-to-one: alice opens the chat, bob's window opens on the first message
  await alice.click('#online-list a.user:text-is("bob")');
  await alice.waitForSelector(win(alice, 'bob'));
  await send(alice, 'bob', 'hi bob');
  await bob.waitForSelector(`${win(bob, 'alice')} .log li:has-text("hi bob")`, { timeout: 15000 });
  await send(bob, 'alice', 'hi alice');
  await alice.waitForSelector(`${win(alice, 'bob')} .log li:has-text("hi alice")`, { timeout: 15000 });

  // group chat
  await alice.click('.open-group:text-is("Ops team")');
  await send(alice, 'Ops team', 'hello team');
  await bob.waitForSelector(`${win(bob, 'Ops team')} .log li:has-text("hello team")`, { timeout: 15000 });
  await send(bob, 'Ops team', 'hello from bob');
  await alice.waitForSelector(`${win(alice, 'Ops team')} .log li:has-text("hello from bob")`, { timeout: 15000 });

  // Rails published with except: the sender's session, so neither got its own lines pushed back
  assert.equal(await alice.evaluate(() => window.chatStats.ownPushes), 0);
  assert.equal(await bob.evaluate(() => window.chatStats.ownPushes), 0);

  // navigation: another page and back; windows and transcripts come along, each line once
  const before1 = await lines(bob, 'alice');
  await bob.click('nav a:text-is("Another page")');
  await bob.waitForSelector(`${win(bob, 'alice')} .log li:has-text("hi alice")`);
  await bob.click('nav a:text-is("Chat")');
  await bob.waitForSelector(`${win(bob, 'alice')} .log li:has-text("hi alice")`);
  await bob.waitForSelector(`${win(bob, 'Ops team')} .log li:has-text("hello from bob")`);
  assert.deepEqual(await lines(bob, 'alice'), before1);

  // SIGTERM one juggernautd mid-conversation: every message still arrives, once, in order
  const sent = [];
  for (let i = 1; i <= 3; i++) { const t = `before kill ${i}`; await send(alice, 'bob', t); sent.push(t); }
  process.kill(pids().juggernautd1, 'SIGTERM');
  for (let i = 1; i <= 6; i++) {
    const t = `after kill ${i}`;
    await send(i % 2 ? alice : bob, i % 2 ? 'bob' : 'alice', t);
    sent.push(t);
    await new Promise((r) => setTimeout(r, 300));
  }
  for (const t of sent) {
    await bob.waitForSelector(`${win(bob, 'alice')} .log li:has-text("${t}")`, { timeout: 30000 });
    await alice.waitForSelector(`${win(alice, 'bob')} .log li:has-text("${t}")`, { timeout: 30000 });
  }
  const expected = ['hi bob', 'hi alice', ...sent];
  const strip = (l) => l.replace(/^alice: |^bob: /, '');
  assert.deepEqual((await lines(bob, 'alice')).map(strip), expected);
  assert.deepEqual((await lines(alice, 'bob')).map(strip), expected);

  fs.mkdirSync(path.join(run, 'shots'), { recursive: true });
  await alice.screenshot({ path: path.join(run, 'shots', 'alice.png') });
  if (process.env.SCREENSHOT) await alice.screenshot({ path: process.env.SCREENSHOT });

  // the database has every message
  const rows = sql("select u.name, m.body from messages m join users u on u.id = m.user_id order by m.id");
  assert.equal(rows.split('\n').length, expected.length + 2);
  for (const t of expected) assert.ok(rows.includes(t), `${t} not in the database`);

  // alice logs out: her session is closed, the transcript stays; bob sees her go offline
  const t0 = Date.now();
  await Promise.all([alice.waitForURL(url + 'login'), alice.click('#logout')]);
  assert.match(sql("select ended_by from chat_sessions where user_id = (select id from users where name = 'alice')"), /logout/);
  await bob.waitForSelector('#online-list a.user:text-is("alice")', { state: 'detached', timeout: 20000 });
  console.log(`alice offline for bob after ${Date.now() - t0} ms`);
  assert.equal(sql('select count(*) from messages'), String(expected.length + 2));

  // bob's transcripts page: grouped by session, then by user/group
  await bob.goto(url + 'transcripts');
  const h4 = await bob.$$eval('.chat-session h4', (hs) => hs.map((h) => h.textContent));
  assert.deepEqual(h4.sort(), ['with Ops team', 'with alice']);
  assert.ok((await bob.textContent('.chat-session')).includes('after kill 6'));

  // bob closes his last tab without logging out: alice (back again) sees him go offline
  // within close-timeout (10 s in bin/start) plus a second, and the periodic cleanup closes
  // his chat session; his messages stay
  const alice2 = await signIn('alice');
  await online(alice2, 'bob');
  const t1 = Date.now();
  await bob.context().close();
  await alice2.waitForSelector('#online-list a.user:text-is("bob")', { state: 'detached', timeout: 20000 });
  const gone = Date.now() - t1;
  console.log(`bob offline for alice ${gone} ms after his tab closed`);
  assert.ok(gone <= 12000, `offline after ${gone} ms`);
  const deadline = Date.now() + 25000;
  let ended = '';
  while (Date.now() < deadline && !/cleanup/.test(ended)) {
    ended = sql("select ended_by from chat_sessions where user_id = (select id from users where name = 'bob')");
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.match(ended, /cleanup/);
  assert.equal(sql('select count(*) from messages'), String(expected.length + 2));
});
