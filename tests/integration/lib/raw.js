'use strict';
// Byte-level helpers for the black-box tests: a buffered TCP connection, an HTTP/1.1
// response parser (Content-Length, chunked, read-until-close), RFC 6455 frame
// encode/decode, and a tiny raw WebSocket client that speaks socket.io protocol 1.
// Nothing here trusts the server: every wait is bounded and reports what it saw.

const net = require('node:net');
const crypto = require('node:crypto');

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

function hexdump(buf, max = 256) {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf));
  const hex = b.subarray(0, max).toString('hex').replace(/(..)/g, '$1 ').trim();
  return b.length > max ? `${hex} ... (${b.length} bytes)` : hex;
}

function preview(buf, max = 600) {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf));
  const s = JSON.stringify(b.subarray(0, max).toString('latin1'));
  return b.length > max ? `${s}... (${b.length} bytes)` : s;
}

// ---------------------------------------------------------------------------------
// HTTP response parsing

/* Parse the head of an HTTP response at the start of buf. Returns null while the head
 * is incomplete. */
function parseHead(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) {
    const err = new Error(`bad HTTP status line: ${JSON.stringify(lines[0])}`);
    err.code = 'EBADRESPONSE';
    throw err;
  }
  const rawHeaders = [];
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) {
      const err = new Error(`bad header line: ${JSON.stringify(line)}`);
      err.code = 'EBADRESPONSE';
      throw err;
    }
    const name = line.slice(0, i);
    const value = line.slice(i + 1).trim();
    rawHeaders.push([name, value]);
    const k = name.toLowerCase();
    headers[k] = k in headers ? `${headers[k]}, ${value}` : value;
  }
  return {
    version: m[1], status: Number(m[2]), statusText: m[3] || '', headers, rawHeaders,
    headLength: end + 4, headLines: lines,
  };
}

/* Decode chunked data starting at buf[0]. Returns {chunks, complete, length} where
 * length is the number of bytes consumed when complete (incl. trailers). Throws on
 * malformed framing. */
function dechunk(buf) {
  const chunks = [];
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return { chunks, complete: false, length: pos };
    const sizeText = buf.subarray(pos, eol).toString('latin1').split(';')[0].trim();
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
      const err = new Error(`bad chunk size ${JSON.stringify(sizeText)} at ${pos}`);
      err.code = 'EBADRESPONSE';
      throw err;
    }
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      // trailers end with an empty line
      let p = eol + 2;
      for (;;) {
        const e = buf.indexOf('\r\n', p);
        if (e < 0) return { chunks, complete: false, length: pos };
        if (e === p) return { chunks, complete: true, length: e + 2 };
        p = e + 2;
      }
    }
    if (buf.length < eol + 2 + size + 2) return { chunks, complete: false, length: pos };
    chunks.push(buf.subarray(eol + 2, eol + 2 + size));
    if (buf[eol + 2 + size] !== 0x0d || buf[eol + 3 + size] !== 0x0a) {
      const err = new Error(`chunk of ${size} bytes not followed by CRLF`);
      err.code = 'EBADRESPONSE';
      throw err;
    }
    pos = eol + 2 + size + 2;
  }
}

/* Try to parse one complete response at the start of buf.
 * opts.head: response to a HEAD request (no body). opts.closed: the peer closed.
 * Returns null if incomplete. */
function parseResponse(buf, opts = {}) {
  const head = parseHead(buf);
  if (!head) return null;
  const rest = buf.subarray(head.headLength);
  let body;
  let length;
  let chunked = false;
  const te = (head.headers['transfer-encoding'] || '').toLowerCase();
  if (opts.head || head.status === 204 || head.status === 304 || (head.status >= 100 && head.status < 200)) {
    body = Buffer.alloc(0);
    length = head.headLength;
  } else if (te.includes('chunked')) {
    chunked = true;
    const d = dechunk(rest);
    if (!d.complete) return null;
    body = Buffer.concat(d.chunks);
    length = head.headLength + d.length;
  } else if (head.headers['content-length'] !== undefined) {
    const n = Number(head.headers['content-length']);
    if (!Number.isInteger(n) || n < 0) {
      const err = new Error(`bad Content-Length ${head.headers['content-length']}`);
      err.code = 'EBADRESPONSE';
      throw err;
    }
    if (rest.length < n) return null;
    body = rest.subarray(0, n);
    length = head.headLength + n;
  } else {
    if (!opts.closed) return null; // read until close
    body = rest;
    length = buf.length;
  }
  return {
    status: head.status, statusText: head.statusText, version: head.version,
    headers: head.headers, rawHeaders: head.rawHeaders, headLines: head.headLines,
    body, bodyText: body.toString('utf8'), chunked,
    raw: Buffer.from(buf.subarray(0, length)), length,
  };
}

// ---------------------------------------------------------------------------------
// A buffered TCP connection with bounded waits

class RawConn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.error = null;
    this.waiters = new Set();
    this.closedAt = null;
    sock.setNoDelay(true);
    sock.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this._wake();
    });
    sock.on('error', (e) => { this.error = e; });
    sock.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this._wake();
    });
  }

  static connect(port, host = '127.0.0.1', ms = 5000) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host });
      const t = setTimeout(() => { sock.destroy(); reject(new Error(`connect ${host}:${port} timed out`)); }, ms);
      sock.once('connect', () => { clearTimeout(t); resolve(new RawConn(sock)); });
      sock.once('error', (e) => { clearTimeout(t); reject(e); });
    });
  }

  _wake() {
    for (const w of [...this.waiters]) w();
  }

  write(data) {
    return new Promise((resolve, reject) => {
      if (this.sock.destroyed) { reject(new Error('write on a closed connection')); return; }
      this.sock.write(data, (e) => (e ? reject(e) : resolve()));
    });
  }

  /* Resolve with pred(this)'s first truthy value; reject after ms with a description of
   * what was received. pred is re-evaluated on every data/close event. */
  waitFor(pred, ms = 5000, what = 'condition') {
    return new Promise((resolve, reject) => {
      let done = false;
      const check = () => {
        if (done) return;
        let v;
        try { v = pred(this); } catch (e) { finish(); reject(e); return; }
        if (v) { finish(); resolve(v); }
      };
      const finish = () => { done = true; clearTimeout(timer); this.waiters.delete(check); };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; closed=${this.closed}; ` +
          `buffered ${this.buf.length} bytes: ${preview(this.buf)}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  /* Read one HTTP response from the front of the buffer and consume it. If the peer
   * closes before a complete response, resolves {status: null, closed: true, raw}. */
  async readResponse(ms = 5000, opts = {}) {
    const res = await this.waitFor((c) => {
      const r = parseResponse(c.buf, { head: opts.head, closed: c.closed });
      if (r) return r;
      if (c.closed) return { status: null, closed: true, raw: Buffer.from(c.buf), headers: {}, rawHeaders: [], body: Buffer.from(c.buf), bodyText: c.buf.toString('utf8') };
      return null;
    }, ms, 'an HTTP response');
    if (res.status !== null) this.buf = this.buf.subarray(res.length);
    else this.buf = Buffer.alloc(0);
    return res;
  }

  /* Wait for and consume exactly n bytes. */
  async readBytes(n, ms = 5000) {
    await this.waitFor((c) => c.buf.length >= n || (c.closed && (() => { throw new Error(`closed after ${c.buf.length}/${n} bytes: ${hexdump(c.buf)}`); })()), ms, `${n} bytes`);
    const out = Buffer.from(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
    return out;
  }

  /* Resolve true once the peer has closed (EOF or reset). */
  waitClose(ms = 5000) {
    return this.waitFor((c) => c.closed, ms, 'the connection to close');
  }

  end() { this.sock.end(); }

  destroy() { this.sock.destroy(); }
}

/* Send requestText (string or Buffer) on a fresh connection, read one response, close.
 * Resolves {status, headers, rawHeaders, body, bodyText, raw}; status is null when the
 * server closed the connection without a complete answer. */
async function rawHttp(port, requestText, opts = {}) {
  const conn = await RawConn.connect(port, opts.host || '127.0.0.1');
  try {
    await conn.write(requestText);
    return await conn.readResponse(opts.timeout || 5000, { head: opts.head });
  } finally {
    conn.destroy();
  }
}

/* Build request text. headers: object or [[name, value]]; body: string or Buffer. */
function buildRequest(method, path, headers = {}, body) {
  const list = Array.isArray(headers) ? headers.slice() : Object.entries(headers);
  const names = list.map(([k]) => k.toLowerCase());
  if (!names.includes('host')) list.unshift(['Host', '127.0.0.1']);
  let bodyBuf = null;
  if (body !== undefined && body !== null) {
    bodyBuf = Buffer.isBuffer(body) ? body : Buffer.from(String(body), 'utf8');
    if (!names.includes('content-length') && !names.includes('transfer-encoding')) {
      list.push(['Content-Length', String(bodyBuf.length)]);
    }
  }
  const head = `${method} ${path} HTTP/1.1\r\n${list.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return bodyBuf ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}

function httpRequest(port, method, path, headers, body, opts) {
  return rawHttp(port, buildRequest(method, path, headers, body), Object.assign({ head: method === 'HEAD' }, opts));
}

// ---------------------------------------------------------------------------------
// socket.io helpers at the byte level

const HANDSHAKE_RE = /^([0-9A-Za-z_-]{1,40}):(\d*):(\d*):([a-z-]+(?:,[a-z-]+)*)$/;

/* GET /socket.io/1/?t=... and return the parsed answer. */
async function handshake(port, headers = {}) {
  const res = await httpRequest(port, 'GET', `/socket.io/1/?t=${Date.now()}`, headers);
  const m = HANDSHAKE_RE.exec(res.bodyText);
  if (res.status !== 200 || !m) {
    throw new Error(`handshake failed: ${res.status} ${preview(res.raw)}`);
  }
  return { sid: m[1], heartbeat: m[2], close: m[3], transports: m[4].split(','), res };
}

/* UTF-16 length of a string, as socket.io counts it. */
function u16len(s) { return s.length; }

/* Encode a payload the way socket.io does: one packet bare, several framed. */
function encodePayload(packets) {
  if (packets.length === 1) return packets[0];
  return packets.map((p) => `\ufffd${u16len(p)}\ufffd${p}`).join('');
}

/* Decode a socket.io payload (string). Throws on bad framing. */
function decodePayload(text) {
  if (text[0] !== '\ufffd') return [text];
  const out = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '\ufffd') throw new Error(`payload framing broken at ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
    const j = text.indexOf('\ufffd', i + 1);
    if (j < 0) throw new Error('payload framing: no closing U+FFFD');
    const lenText = text.slice(i + 1, j);
    if (!/^\d+$/.test(lenText)) throw new Error(`payload framing: bad length ${JSON.stringify(lenText)}`);
    const n = Number(lenText);
    if (j + 1 + n > text.length) throw new Error(`payload framing: length ${n} runs past the end`);
    out.push(text.slice(j + 1, j + 1 + n));
    i = j + 1 + n;
  }
  return out;
}

/* V8 JSON.stringify of a string plus the daemon's U+2028/U+2029 fix (protocol.md §8.1). */
function jsString(s) {
  return JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/* application/x-www-form-urlencoded encoding as browsers do it (UTF-8). */
function formEncode(s) {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9*\-._]/.test(ch)) out += ch;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------
// WebSocket frames (RFC 6455)

function wsAccept(key) {
  return crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
}

/* Build one frame. payload: string (UTF-8) or Buffer. opts: fin (true), mask (true),
 * maskKey (Buffer(4), random), rsv (0..7), length16/length64 to force a length form. */
function wsFrame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(String(payload), 'utf8');
  const fin = opts.fin === undefined ? true : opts.fin;
  const mask = opts.mask === undefined ? true : opts.mask;
  const parts = [];
  const b0 = (fin ? 0x80 : 0) | ((opts.rsv || 0) << 4) | (opcode & 0x0f);
  const mbit = mask ? 0x80 : 0;
  if (data.length < 126 && !opts.length16 && !opts.length64) {
    parts.push(Buffer.from([b0, mbit | data.length]));
  } else if (data.length < 65536 && !opts.length64) {
    const h = Buffer.alloc(4);
    h[0] = b0; h[1] = mbit | 126; h.writeUInt16BE(data.length, 2);
    parts.push(h);
  } else {
    const h = Buffer.alloc(10);
    h[0] = b0; h[1] = mbit | 127; h.writeBigUInt64BE(BigInt(data.length), 2);
    parts.push(h);
  }
  if (mask) {
    const key = opts.maskKey || crypto.randomBytes(4);
    const masked = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
    parts.push(key, masked);
  } else {
    parts.push(data);
  }
  return Buffer.concat(parts);
}

/* Parse one frame at the start of buf; null if incomplete. */
function parseFrame(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  const rsv = (buf[0] >> 4) & 7;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let pos = 2;
  let lengthForm = 7;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2); pos = 4; lengthForm = 16;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`absurd frame length ${big}`);
    len = Number(big); pos = 10; lengthForm = 64;
  }
  let key = null;
  if (masked) {
    if (buf.length < pos + 4) return null;
    key = buf.subarray(pos, pos + 4); pos += 4;
  }
  if (buf.length < pos + len) return null;
  let payload = Buffer.from(buf.subarray(pos, pos + len));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  return {
    fin, rsv, opcode, masked, length: len, lengthForm, payload,
    text: opcode === 1 || opcode === 0 ? payload.toString('utf8') : undefined,
    header: Buffer.from(buf.subarray(0, pos)), size: pos + len,
  };
}

/* A raw WebSocket client for /socket.io/1/websocket/<sid>. */
class RawWs {
  constructor(conn, upgradeResponse) {
    this.conn = conn;
    this.upgrade = upgradeResponse;
    this.frames = []; // every frame received, in order
    this.next = 0; // index of the first frame not yet consumed by nextFrame()
  }

  /* Connect, send the upgrade request, read the 101 answer. opts: key, path, headers
   * (extra, object), version ('13'), origin, expectStatus (101), extraBytes (sent in the
   * same write right after the request). */
  static async open(port, sid, opts = {}) {
    const key = opts.key || crypto.randomBytes(16).toString('base64');
    const path = opts.path || `/socket.io/1/websocket/${sid}`;
    const headers = [
      ['Host', `127.0.0.1:${port}`],
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', key],
      ['Sec-WebSocket-Version', opts.version || '13'],
    ];
    if (opts.origin) headers.push(['Origin', opts.origin]);
    for (const [k, v] of Object.entries(opts.headers || {})) headers.push([k, v]);
    const conn = await RawConn.connect(port);
    let req = buildRequest('GET', path, headers);
    if (opts.extraBytes) req = Buffer.concat([req, opts.extraBytes]);
    await conn.write(req);
    const res = await conn.readResponse(opts.timeout || 5000);
    const ws = new RawWs(conn, res);
    ws.key = key;
    if (res.status === 101) ws._pump();
    return ws;
  }

  _pump() {
    const drain = () => {
      for (;;) {
        const f = parseFrame(this.conn.buf);
        if (!f) break;
        f.at = Date.now();
        this.frames.push(f);
        this.conn.buf = this.conn.buf.subarray(f.size);
      }
      return false;
    };
    this.conn.waiters.add(drain);
    drain();
  }

  /* Wait for the next unconsumed frame. */
  async nextFrame(ms = 5000) {
    await this.conn.waitFor(() => this.frames.length > this.next || (this.conn.closed && this._closedError()), ms,
      `WebSocket frame #${this.next + 1} (have ${this.frames.length}: ${this.describe()})`);
    return this.frames[this.next++];
  }

  _closedError() {
    throw Object.assign(new Error(`connection closed while waiting for a frame; frames so far: ${this.describe()}; ` +
      `unparsed bytes: ${hexdump(this.conn.buf)}`), { code: 'ECLOSED' });
  }

  /* Wait for (and consume up to) the first unconsumed frame matching pred. */
  async waitForFrame(pred, ms = 5000, what = 'a matching frame') {
    let found = null;
    await this.conn.waitFor(() => {
      for (let i = this.next; i < this.frames.length; i++) {
        if (pred(this.frames[i])) { found = i; return true; }
      }
      if (this.conn.closed) this._closedError();
      return false;
    }, ms, `${what}; frames: ${this.describe()}`);
    this.next = found + 1;
    return this.frames[found];
  }

  waitForText(text, ms = 5000) {
    return this.waitForFrame((f) => f.opcode === 1 && f.text === text, ms, `text frame ${JSON.stringify(text)}`);
  }

  describe(max = 12) {
    const list = this.frames.slice(-max).map((f) => (f.opcode === 1
      ? `text(${f.text.length > 60 ? JSON.stringify(f.text.slice(0, 60)) + '...' : JSON.stringify(f.text)})`
      : `op${f.opcode}(${hexdump(f.payload, 16)})`));
    return `[${list.join(', ')}]`;
  }

  texts() { return this.frames.filter((f) => f.opcode === 1).map((f) => f.text); }

  send(buf) { return this.conn.write(buf); }

  sendText(text, opts) { return this.conn.write(wsFrame(1, text, opts)); }

  sendJson(obj) { return this.sendText(`3:::${JSON.stringify(obj)}`); }

  waitClose(ms = 5000) { return this.conn.waitClose(ms); }

  destroy() { this.conn.destroy(); }
}

module.exports = {
  RawConn, RawWs, rawHttp, httpRequest, buildRequest, parseResponse, parseHead, dechunk,
  handshake, HANDSHAKE_RE, encodePayload, decodePayload, u16len, jsString, formEncode,
  wsAccept, wsFrame, parseFrame, hexdump, preview, WS_GUID,
};
