'use strict';
// A raw socket.io protocol 1 polling client (xhr-polling or jsonp-polling) that opens a NEW
// TCP connection for every request, as browsers behind a balancer effectively do: nothing
// pins it to one instance. It never starts over: one handshake, one session for its whole
// life, so every error, disconnect or failed request is the server's fault and is recorded
// (the tests assert there are none). Requests that fail are sent again byte for byte (same
// t), like HAProxy's own retry.

const raw = require('./raw');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Poller {
  /* kind: 'xhr' | 'jsonp'; port: the front (HAProxy) port. */
  constructor(name, kind, port) {
    Object.assign(this, { name, kind, port });
    this.transport = kind === 'xhr' ? 'xhr-polling' : 'jsonp-polling';
    this.sid = null;
    this.handshakes = 0;
    this.t = 1;
    this.recv = [];            // {channel, n, seq, at}
    this.notices = [];         // server notices without a channel ({"error": ...})
    this.problems = [];        // what the server did wrong: error/disconnect packets, HTTP errors
    this.netErrors = 0;        // requests that got no answer (sent again)
    this.gets = 0;
    this.stopped = false;
    this.pauseUntil = 0;       // no new GET before this time (a client that went quiet)
    this.conns = new Set();
    // like socket.io clients, nothing is POSTed before the first GET brought "1::"
    this.postChain = new Promise((resolve) => { this.onConnect = resolve; });
    this.loop = null;
  }

  async handshake() {
    const r = await this._request('GET', `/socket.io/1/?t=${Date.now()}`);
    const m = /^([0-9A-Za-z_-]{1,64}):/.exec(r.bodyText);
    if (r.status !== 200 || !m) throw new Error(`${this.name}: handshake ${r.status} ${r.bodyText.slice(0, 80)}`);
    this.handshakes++;
    this.sid = m[1];
    return this.sid;
  }

  start() {
    this.loop = this._pollLoop();
    return this;
  }

  /* Sends packets in one POST (queued behind earlier POSTs, as socket.io does). */
  post(packets) {
    const payload = raw.encodePayload(packets);
    const send = async () => {
      for (let attempt = 0; attempt < 20 && !this.stopped; attempt++) {
        let r;
        try {
          r = this.kind === 'xhr'
            ? await this._request('POST', this._path(), { 'Content-Type': 'text/plain;charset=UTF-8' }, payload)
            : await this._request('POST', this._path(), { 'Content-Type': 'application/x-www-form-urlencoded' },
              `d=${raw.formEncode(JSON.stringify(payload))}`);
        } catch (e) {
          this.netErrors++;
          await sleep(100);
          continue;
        }
        if (r.status === 200 && r.bodyText === '1') return;
        this.problems.push(`POST ${JSON.stringify(payload).slice(0, 60)}: ${r.status} ${r.bodyText.slice(0, 60)}`);
        return;
      }
    };
    this.postChain = this.postChain.then(send);
    return this.postChain;
  }

  subscribe(channel) {
    return this.post([`3:::${JSON.stringify({ type: 'subscribe', channel })}`]);
  }

  lastN(channel) {
    let n = -1;
    for (const r of this.recv) if (r.channel === channel && r.n > n) n = r.n;
    return n;
  }

  /* Stops polling; the session is ended with ?disconnect (its unsubscribe events follow). */
  async stop() {
    this.stopped = true;
    this.onConnect();
    for (const c of this.conns) c.destroy();
    await this.loop;
    await this.postChain;
    try { await this._request('GET', `${this._path()}&disconnect=1`); } catch (e) { /* best effort */ }
  }

  _path() {
    const q = this.kind === 'jsonp' ? '&i=0' : '';
    return `/socket.io/1/${this.transport}/${this.sid}?t=${this.t}${q}`;
  }

  async _request(method, path, headers = {}, body) {
    const conn = await raw.RawConn.connect(this.port);
    this.conns.add(conn);
    try {
      await conn.write(raw.buildRequest(method, path, Object.assign({ Connection: 'close' }, headers), body));
      return await conn.readResponse(60000);
    } finally {
      this.conns.delete(conn);
      conn.destroy();
    }
  }

  _packets(r) {
    let text = r.bodyText;
    if (this.kind === 'jsonp') {
      const m = /^io\.j\[0\]\(("(?:[^"\\]|\\.)*")\);$/s.exec(text);
      if (!m) throw new Error(`not a jsonp answer: ${text.slice(0, 80)}`);
      text = JSON.parse(m[1]);
    }
    return raw.decodePayload(text);
  }

  async _pollLoop() {
    while (!this.stopped) {
      if (Date.now() < this.pauseUntil) { await sleep(Math.min(100, this.pauseUntil - Date.now())); continue; }
      let r;
      try {
        r = await this._request('GET', this._path());
      } catch (e) {
        if (this.stopped) return;
        this.netErrors++;
        await sleep(100);
        continue;   // the same request again (same t)
      }
      if (this.stopped) return;
      if (r.status !== 200) {
        this.problems.push(`GET t=${this.t}: HTTP ${r.status} ${r.bodyText.slice(0, 60)}`);
        await sleep(200);
        continue;
      }
      this.gets++;
      this.t++;
      let packets;
      try { packets = this._packets(r); } catch (e) { this.problems.push(`GET: ${e.message}`); continue; }
      for (const p of packets) this._packet(p);
    }
  }

  _packet(p) {
    if (p === '1::') { this.onConnect(); return; }
    if (p === '8::') return;
    if (p.startsWith('2::')) { this.post(['2::']); return; }
    if (p.startsWith('3:::')) {
      let m;
      try { m = JSON.parse(p.slice(4)); } catch (e) { this.problems.push(`bad message ${p.slice(0, 60)}`); return; }
      if (m && m.error !== undefined && m.channel === undefined) {
        this.notices.push(m);      // {"error": "messages lost", ...}: asserted by the tests that expect it
      } else if (m && m.data && typeof m.data.n === 'number') {
        this.recv.push({ channel: m.channel, n: m.data.n, seq: m.seq, at: Date.now() });
      } else {
        this.problems.push(`unexpected message ${p.slice(0, 80)}`);
      }
      return;
    }
    this.problems.push(`packet ${p.slice(0, 60)}`);   // 7::: error, 0:: disconnect, ...
  }
}

/* What C received on CHANNEL against a publisher that sent 1..last: each n exactly once and
 * in order, seq rising, from FIRST (1, or for a late subscriber the first n published
 * after its subscribe was acknowledged, or earlier) to LAST. */
function checkChannel(c, channel, first, last) {
  const got = c.recv.filter((r) => r.channel === channel);
  const out = { received: got.length, duplicates: 0, order: 0, seqErrors: 0, missing: [] };
  const seen = new Set();
  let prevN = -Infinity;
  let prevSeq = -Infinity;
  for (const r of got) {
    if (seen.has(r.n)) out.duplicates++;
    else if (r.n < prevN) out.order++;
    seen.add(r.n);
    prevN = Math.max(prevN, r.n);
    if (!(typeof r.seq === 'number' && r.seq > prevSeq)) out.seqErrors++;
    prevSeq = Math.max(prevSeq, r.seq || 0);
  }
  const start = Math.min(first, got.length ? got[0].n : first);
  for (let n = start; n <= last; n++) if (!seen.has(n)) out.missing.push(n);
  return out;
}

module.exports = { Poller, checkChannel, sleep };
