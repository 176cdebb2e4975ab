'use strict';
// Issue 17: /metrics fits Prometheus' conventions. `promtool check metrics` (Debian's
// prometheus package) must print nothing, in cluster mode (the shipped default) and with
// `cluster no`, on the admin port and the public port, after real traffic (a client
// subscribed, messages published and delivered): counters end in _total, base units in the
// names (seconds, bytes), HELP and TYPE on each metric.

const { before, after, describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./lib/harness');
const ops = require('./lib/ops');

let redis;
let rc;

before(async () => { redis = await h.startRedis(); rc = await h.redisClient(redis); });
after(async () => {
  h.closeAllClients();
  if (rc) rc.disconnect();
  if (redis) await redis.stop();
});

function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20000 });
  if (r.error) throw new Error(`promtool (Debian package prometheus) did not run: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/* name -> {type, help, value} from Prometheus text */
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    let m;
    if ((m = /^# HELP (\w+) (.+)$/.exec(line))) (out[m[1]] ||= {}).help = m[2];
    else if ((m = /^# TYPE (\w+) (\w+)$/.exec(line))) (out[m[1]] ||= {}).type = m[2];
    else if ((m = /^(\w+) (\S+)$/.exec(line))) (out[m[1]] ||= {}).value = Number(m[2]);
  }
  return out;
}

const DASHBOARD = path.join(__dirname, '..', '..', 'conf', 'grafana-juggernautd.json');

/* Every PromQL expression of the dashboard's panels. */
function dashboardExprs() {
  const d = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  const exprs = [];
  for (const p of d.panels) for (const t of p.targets || []) exprs.push(t.expr);
  return exprs;
}

function dashboardMetrics() {
  const names = new Set();
  for (const e of dashboardExprs()) for (const m of e.matchAll(/\bjuggernautd_\w+/g)) names.add(m[0]);
  return names;
}

test('the Grafana dashboard\'s expressions are valid PromQL (promtool check rules)', () => {
  // Grafana's variables replaced by what Prometheus would get
  const exprs = dashboardExprs().map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*'));
  assert.ok(exprs.length >= 15);
  const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:expr${i}`, expr: e })) }] };
  const dir = h.tempDir('jg-metrics-');
  const file = path.join(dir, 'rules.yml');
  fs.writeFileSync(file, JSON.stringify(rules)); // JSON is YAML
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8', timeout: 20000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
});

for (const cluster of ['yes', 'no']) {
  describe(`cluster ${cluster}`, () => {
    let d;
    let admin;
    before(async () => {
      admin = await h.freePort();
      d = await h.startDaemon({ redisUrl: redis.url, config: { cluster, 'admin-port': admin, 'drain-period': 0 } });
    });
    after(async () => { if (d) await d.stop(); });

    test('promtool check metrics reports nothing on /metrics (admin and public port) after traffic', { timeout: 60000 }, async () => {
      const channel = h.uid('m');
      const c = await h.sioConnect(d.base, { transports: ['websocket'] });
      c.send({ type: 'subscribe', channel });
      await ops.waitFor(async () => (await ops.getStats(admin)).subscriptions >= 1, 5000, 'subscribed');
      for (let i = 0; i < 3; i++) await rc.publish('juggernaut', JSON.stringify({ channels: [channel], data: `m${i}` }));
      await ops.waitFor(() => c.messages.length >= 3, 5000, 'three messages delivered');

      for (const port of [admin, d.port]) {
        const r = await ops.httpGet(port, '/metrics');
        assert.equal(r.status, 200);
        const res = promtool(r.body);
        assert.equal(res.output, '', `promtool on port ${port}:\n${res.output}`);
        assert.equal(res.status, 0);
        const m = parseMetrics(r.body);
        assert.ok(Object.keys(m).length >= 40, 'all the counters are there');
        for (const [name, v] of Object.entries(m)) {
          assert.ok(v.help && v.type && Number.isFinite(v.value), `${name}: HELP, TYPE and a value`);
          assert.equal(v.type === 'counter', name.endsWith('_total'), `${name} is a ${v.type}`);
          assert.ok(!/_ms$|_milliseconds/.test(name), `${name}: base units`);
        }
        assert.ok(m.juggernautd_messages_in_total.value >= 3);
        assert.ok(m.juggernautd_deliveries_total.value >= 3);
        assert.equal(m.juggernautd_ws_connections.value, 1);
        assert.equal(m.juggernautd_redis_connected.value, 1);
        assert.equal(m.juggernautd_cluster_leader.value, cluster === 'yes' ? 1 : 0);
        assert.ok(m.juggernautd_loop_lag_seconds.value < 1);
      }
      // the Grafana dashboard reads only metrics this daemon exports
      const live = parseMetrics((await ops.httpGet(admin, '/metrics')).body);
      const used = dashboardMetrics();
      assert.ok(used.size >= 20, `the dashboard uses ${used.size} metrics`);
      for (const name of used) assert.ok(name in live, `${name} (conf/grafana-juggernautd.json) in /metrics`);
      // /stats keeps its names (milliseconds, no _total)
      const st = await ops.getStats(admin);
      assert.equal(typeof st.loop_lag_ms, 'number');
      assert.ok(st.deliveries >= 3);
    });
  });
}
