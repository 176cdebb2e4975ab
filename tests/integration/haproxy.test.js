'use strict';
// Real HAProxy (Debian haproxy 2.6) in front of two real juggernautd instances sharing one
// real Redis and one cluster-secret, with the configuration GENERATED from the shipped
// conf/haproxy.cfg (only the frontend bind, the server addresses and the agent ports are
// replaced, and a stats socket is added so the test can read the servers' states).
//
// Clients are socket.io-client 0.9.16 over WebSocket. Like a browser page, each "user"
// loads /application.js through HAProxy and then connects: three requests per user, so
// with round-robin the handshake and the upgrade of every user land on DIFFERENT instances,
// and the users' WebSockets alternate between the two instances.

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./lib/harness');
const ops = require('./lib/ops');

const N_CLIENTS = 20;
const N_MESSAGES = 10;
const DRAIN_PERIOD = 2;
const SECRET = 'haproxy-test-secret-0123456789abcdef';

let redis;
let events;
let pub;
let hp;
let front;      // http://127.0.0.1:<haproxy port>
let frontPort;
const inst = []; // [{name: 'j1', daemon, agentPort}]
const users = []; // {client, errors, connectFailed, reconnectFailed, connects, sids}
const lateUsers = []; // users who arrived while an instance drained
const CH = h.uid('room');

/* One user: GET /application.js through HAProxy, then connect over WebSocket with
 * reconnect on; subscribe to CH on every 'connect' (socket.io-client 0.9 gets a new
 * session after a reconnect, the page re-subscribes). */
async function connectUser() {
  const js = await ops.httpGet(frontPort, '/application.js');
  assert.equal(js.status, 200, `GET /application.js through HAProxy: ${js.status} ${js.error || ''}`);
  const client = await h.sioConnect(front, { transports: ['websocket'], reconnect: true, 'reconnection delay': 300 });
  const u = { client, errors: [], connectFailed: 0, reconnectFailed: 0, connects: 1, sids: [client.sid] };
  client.ns.on('error', (e) => u.errors.push(String(e)));
  client.ns.on('connect_failed', () => { u.connectFailed++; });
  client.ns.on('reconnect_failed', () => { u.reconnectFailed++; });
  client.ns.on('connect', () => {
    u.connects++;
    u.sids.push(client.sid);
    client.subscribe(CH);
  });
  client.subscribe(CH);
  return u;
}

const dataOf = (u) => u.client.messages.map((m) => JSON.parse(m)).filter((m) => m.channel === CH).map((m) => m.data);

before(async () => {
  redis = await h.startRedis();
  events = await h.eventCollector(redis);
  pub = await h.redisClient(redis);
  for (const name of ['j1', 'j2']) {
    const agentPort = await h.freePort();
    const daemon = await h.startDaemon({
      redisUrl: redis.url,
      config: { 'cluster-secret': SECRET, 'drain-period': DRAIN_PERIOD, 'agent-port': agentPort },
    });
    inst.push({ name, daemon, agentPort });
  }
  frontPort = await h.freePort();
  front = `http://127.0.0.1:${frontPort}`;
  const dir = h.tempDir('jg-haproxy-');
  const sockPath = path.join(dir, 'haproxy.sock');
  const shipped = fs.readFileSync(path.join(h.REPO, 'conf', 'haproxy.cfg'), 'utf8');
  const cfg = ops.haproxyConfig(shipped, {
    frontPort, sockPath, globalExtra: ops.haproxyLimitLines(shipped), servers: inst.map((i) => ({ port: i.daemon.port, agentPort: i.agentPort })),
  });
  hp = await ops.startHaproxy(cfg, { frontPort, sockPath, dir });
  // both servers UP, their health check and agent check answered
  await ops.waitFor(async () => {
    const st = await ops.haproxyStat(hp);
    return ['j1', 'j2'].every((n) => {
      const r = st[`juggernaut/${n}`];
      return r && r.status === 'UP' && /L7OK/.test(r.check_status) && /L7OK/.test(r.agent_status);
    });
  }, 8000, 'haproxy: j1 and j2 UP with L7OK health and agent checks');
});

after(async () => {
  for (const u of users.concat(lateUsers)) ops.closeForGood(u.client);
  h.closeAllClients();
  if (events) await events.close();
  if (pub) pub.disconnect();
  if (hp) await hp.stop();
  for (const i of inst) {
    if (i.daemon.alive) await i.daemon.stop().catch(() => {});
  }
  if (redis) await redis.stop();
});

describe('HAProxy round-robin, no stickiness, two instances, one Redis', () => {
  test(`${N_CLIENTS} WebSocket clients connect at the first attempt and get every message exactly once`, async (t) => {
    for (let i = 0; i < N_CLIENTS; i++) users.push(await connectUser());
    for (const u of users) {
      assert.equal(u.errors.length + u.connectFailed, 0, `client ${u.client.sid}: ${u.errors}`);
      assert.equal(u.client.transport, 'websocket');
    }
    // everyone's subscribe event, one per session
    const sids = new Set(users.map((u) => u.client.sid));
    assert.equal(sids.size, N_CLIENTS, 'every client has its own session id');
    await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json.channel === CH && sids.has(e.json.session_id),
      N_CLIENTS, 5000, 'subscribe events');

    const stats = await Promise.all(inst.map((i) => ops.getStats(i.daemon.port)));
    const ws = stats.map((s) => s.ws_connections);
    const adopted = stats.map((s) => s.sessions_adopted);
    assert.equal(ws[0] + ws[1], N_CLIENTS, `ws_connections per instance: ${ws}`);
    assert.ok(ws[0] > 0 && ws[1] > 0, `WebSockets on both instances: ${ws}`);
    // handshake on one instance, upgrade on the other: the upgrade's instance adopted the sid
    assert.ok(adopted[0] > 0 && adopted[1] > 0, `sessions_adopted per instance: ${adopted}`);
    assert.ok(adopted[0] + adopted[1] >= N_CLIENTS / 2, `sessions_adopted per instance: ${adopted}`);
    t.diagnostic(`ws_connections ${ws}, sessions_adopted ${adopted}, handshakes ${stats.map((s) => s.handshakes)}`);

    for (let n = 1; n <= N_MESSAGES; n++) {
      await pub.publish('juggernaut', JSON.stringify({ channels: [CH], data: n }));
    }
    const want = Array.from({ length: N_MESSAGES }, (_, k) => k + 1);
    await Promise.all(users.map((u) => u.client.waitUntil(() => dataOf(u).length >= N_MESSAGES, 5000, `${N_MESSAGES} messages`)));
    await h.sleep(300); // a duplicate would arrive by now
    for (const u of users) assert.deepEqual(dataOf(u), want, `client ${u.client.sid}`);
  });

  test('SIGTERM to one instance: HAProxy drains it, its clients reconnect to the other and keep receiving', async (t) => {
    assert.equal(users.length, N_CLIENTS, 'the first test connected the clients');
    const [victim, survivor] = inst;
    const vStats = await ops.getStats(victim.daemon.port);
    assert.ok(vStats.ws_connections > 0, 'the victim holds WebSocket clients');
    const before = new Map(users.map((u) => [u, u.client.sid]));

    const t0 = Date.now();
    victim.daemon.kill('SIGTERM');

    // while it drains: /health 503, agent "drain", HAProxy shows DRAIN or DOWN
    const health = await ops.waitFor(async () => {
      const r = await ops.httpGet(victim.daemon.port, '/health', 1000);
      return r.status === 503 ? r : null;
    }, 2000, 'GET /health 503 on the draining instance');
    assert.match(health.body, /drain/);
    const agent = await ops.tcpReadAll(victim.agentPort);
    assert.equal(agent && agent.text, 'drain\n');
    // A session another instance issued, upgraded on the draining one (what HAProxy does in
    // the second before its agent check sees "drain"): the draining instance must not take
    // it (a 503 makes HAProxy retry the upgrade on another instance), or the client is
    // drained twice. Checked at the end of this test.
    const hs = await h.handshake(survivor.daemon.port);
    const lateUpgrade = await h.RawWs.open(victim.daemon.port, hs.sid);
    lateUpgrade.destroy();
    const marked = await ops.waitFor(async () => {
      const st = await ops.haproxyStat(hp);
      const r = st[`juggernaut/${victim.name}`];
      return /^(DRAIN|DOWN|NOLB|MAINT)/.test(r.status) ? r : null;
    }, (DRAIN_PERIOD + 1) * 1000, `HAProxy marking ${victim.name} DRAIN/DOWN`, 50);
    const markedAt = Date.now();
    t.diagnostic(`HAProxy: ${victim.name} ${marked.status} ${markedAt - t0} ms after SIGTERM (agent ${marked.agent_status}, check ${marked.check_status})`);
    assert.ok(victim.daemon.alive, `HAProxy marked it ${marked.status} only after the instance exited`);
    const state = (await ops.haproxyServersState(hp, 'juggernaut'))[victim.name];
    // admin state DRAIN (0x08 forced by the agent, 0x10 inherited) or operationally stopped
    assert.ok((Number(state.srv_admin_state) & 0x18) !== 0 || state.srv_op_state === '0',
      `"show servers state" for ${victim.name}: ${JSON.stringify(state)}`);
    const stotAtMark = Number(marked.stot);

    // a new user arriving now is not sent to the draining instance
    const late = await connectUser();
    lateUsers.push(late);
    assert.equal(late.errors.length, 0);

    const exit = await Promise.race([victim.daemon.exited, h.sleep((DRAIN_PERIOD + 5) * 1000)]);
    assert.ok(exit, `the instance did not exit within ${DRAIN_PERIOD + 5} s of SIGTERM`);
    const took = exit.at - t0;
    assert.equal(exit.signal, null);
    assert.equal(exit.code, 0, `exit code after SIGTERM; log:\n${victim.daemon.logs().slice(-3000)}`);
    assert.ok(took <= (DRAIN_PERIOD + 3) * 1000, `exited ${took} ms after SIGTERM (drain-period ${DRAIN_PERIOD} s)`);

    // HAProxy sent the drained instance nothing after marking it
    const stAfter = (await ops.haproxyStat(hp))[`juggernaut/${victim.name}`];
    assert.equal(Number(stAfter.stot), stotAtMark,
      `HAProxy sent ${Number(stAfter.stot) - stotAtMark} sessions to ${victim.name} after marking it ${marked.status} ` +
      `(servers state then: ${JSON.stringify(state)})`);

    // every client the victim held has a new session (on the survivor) by now
    await ops.waitFor(() => users.every((u) => u.client.connected), 5000, 'every client connected again');
    const moved = users.filter((u) => u.client.sid !== before.get(u));
    assert.equal(moved.length, vStats.ws_connections, 'the clients the victim held reconnected, the others did not');
    t.diagnostic(`${moved.length} clients moved; connects per moved client: ${moved.map((u) => u.connects)}; exit after ${took} ms`);

    // the survivor holds everyone now
    const sStats = await ops.getStats(survivor.daemon.port);
    assert.equal(sStats.ws_connections, N_CLIENTS + 1, `survivor ws_connections: ${JSON.stringify(sStats)}`);

    // unsubscribe events for the victim's sessions (the old sids of the moved clients)
    const oldSids = new Set(moved.map((u) => before.get(u)));
    await events.waitForCount((e) => e.channel === 'juggernaut:unsubscribe' && e.json.channel === CH && oldSids.has(e.json.session_id),
      oldSids.size, 3000, 'unsubscribe events for the drained sessions');
    // and the moved clients subscribed again with their new sessions
    const newSids = new Set(moved.map((u) => u.client.sid).concat(late.client.sid));
    await events.waitForCount((e) => e.channel === 'juggernaut:subscribe' && e.json.channel === CH && newSids.has(e.json.session_id),
      newSids.size, 5000, 'subscribe events of the reconnected sessions');

    for (const u of users.concat(late)) {
      assert.equal(u.connectFailed + u.reconnectFailed, 0, `client ${u.client.sid}: connect_failed/reconnect_failed`);
      assert.deepEqual(u.errors, [], `client ${u.client.sid} errors`);
    }
    assert.ok(markedAt - t0 < DRAIN_PERIOD * 1000, `HAProxy noticed the drain after ${markedAt - t0} ms`);

    // later messages reach everyone, once
    for (let n = N_MESSAGES + 1; n <= N_MESSAGES + 5; n++) {
      await pub.publish('juggernaut', JSON.stringify({ channels: [CH], data: n }));
    }
    const all = Array.from({ length: N_MESSAGES + 5 }, (_, k) => k + 1);
    await Promise.all(users.map((u) => u.client.waitUntil(() => dataOf(u).length >= all.length, 5000, 'the later messages')));
    await late.client.waitUntil(() => dataOf(late).length >= 5, 5000, 'the later messages');
    await h.sleep(300);
    for (const u of users) assert.deepEqual(dataOf(u), all, `client ${u.client.sid}`);
    assert.deepEqual(dataOf(late), all.slice(N_MESSAGES));

    // "stop accepting": the draining instance took no new session, so every client it held
    // reconnected exactly once (a second disconnect means HAProxy's upgrade reached the
    // draining instance before its agent check said "drain" and the instance accepted it)
    assert.equal(lateUpgrade.upgrade.status, 503,
      `WebSocket upgrade for a sid issued by the other instance, sent to the draining instance: ` +
      `${lateUpgrade.upgrade.status} (want 503, so HAProxy retries it elsewhere)`);
    assert.deepEqual(moved.map((u) => u.connects - 1), moved.map(() => 1),
      'reconnections per drained client (more than 1: the draining instance took it back)');
  });
});
