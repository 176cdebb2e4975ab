'use strict';
// Two cluster-mode instances on one real Redis, a Redis client and the juggernaut:* event
// collector: for tests that send raw HTTP to each instance in a chosen order.
//
//   const P = {};
//   before(() => pair.start(P, SECRET, { 'polling-duration': 5 }));   // P.redis, P.a, P.b, P.rc, P.events
//   after(() => pair.stop(P));

const h = require('./harness');
const raw = require('./raw');

/* Fills P as it goes, so stop(P) releases whatever started even if a later step failed. */
async function start(P, secret, extra = {}) {
  P.redis = await h.startRedis();
  const config = Object.assign({ cluster: 'yes', 'cluster-secret': secret, 'instance-timeout': 2,
    'leader-lease': 1, 'drain-period': 1 }, extra);
  P.a = await h.startDaemon({ redisUrl: P.redis.url, config });
  P.b = await h.startDaemon({ redisUrl: P.redis.url, config });
  P.rc = await h.redisClient(P.redis);
  P.events = await h.eventCollector(P.redis);
}

async function stop(P) {
  if (P.events) await P.events.close();
  if (P.rc) P.rc.disconnect();
  try {
    for (const d of [P.a, P.b]) if (d) await d.stop();
  } finally {
    if (P.redis) await P.redis.stop();
  }
}

/* xhr-polling requests of session SID to instance D (a new connection each, unless OPTS says). */
const poll = (d, sid, t, opts) => raw.httpRequest(d.port, 'GET', `/socket.io/1/xhr-polling/${sid}?t=${t}`, {}, undefined, opts);
const post = (d, sid, t, text) => raw.httpRequest(d.port, 'POST', `/socket.io/1/xhr-polling/${sid}?t=${t}`,
  { 'Content-Type': 'text/plain' }, text);

module.exports = { start, stop, poll, post };
