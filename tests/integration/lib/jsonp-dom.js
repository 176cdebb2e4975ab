'use strict';
// socket.io-client 0.9.16 only loads websocket and xhr-polling under Node: its
// jsonp-polling transport needs a DOM (<script> tags for GETs, a <form> posted into an
// <iframe> for POSTs). This installs the UNMODIFIED transport source from the package
// on top of a minimal fake DOM that does what a browser does on the wire:
//   - inserting a <script src=U> GETs U and evaluates the answer (`io.j[N]("...")`)
//     with the client's `io` in scope; a non-200 answer or network error fires onerror;
//   - form.submit() POSTs `application/x-www-form-urlencoded` (`d=<urlencoded value>`)
//     to form.action and fires the target iframe's onload when the answer arrives.

const fs = require('node:fs');
const http = require('node:http');
const { formEncode } = require('./raw');

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function fetchText(url, method, body, headers, cb) {
  const req = http.request(url, { method, agent, headers }, (res) => {
    const chunks = [];
    res.on('data', (d) => chunks.push(d));
    res.on('end', () => cb(null, res.statusCode, Buffer.concat(chunks).toString('utf8')));
    res.on('error', (e) => cb(e));
  });
  req.on('error', (e) => cb(e));
  req.setTimeout(120000, () => req.destroy(new Error('timeout')));
  if (body !== undefined) req.end(body); else req.end();
  return req;
}

function makeDocument(io) {
  class Node {
    constructor(tag) {
      this.tagName = tag.toUpperCase();
      this.children = [];
      this.parentNode = null;
      this.style = {};
      this.attributes = {};
    }
    appendChild(c) { c.parentNode = this; this.children.push(c); c._inserted(); return c; }
    insertBefore(c, ref) {
      c.parentNode = this;
      const i = this.children.indexOf(ref);
      if (i < 0) this.children.push(c); else this.children.splice(i, 0, c);
      c._inserted();
      return c;
    }
    removeChild(c) {
      const i = this.children.indexOf(c);
      if (i >= 0) this.children.splice(i, 1);
      c.parentNode = null;
      return c;
    }
    setAttribute(k, v) { this.attributes[k] = String(v); }
    getAttribute(k) { return this.attributes[k]; }
    _inserted() {}
  }

  class Script extends Node {
    _inserted() {
      if (!this.src || this._started) return;
      this._started = true;
      fetchText(this.src, 'GET', undefined, {}, (err, status, text) => {
        if (err || status !== 200) {
          if (typeof this.onerror === 'function') this.onerror(err || new Error(`HTTP ${status}`));
          return;
        }
        try {
          // eslint-disable-next-line no-new-func
          new Function('io', text)(io);
        } catch (e) {
          // a browser reports script errors to window.onerror and carries on
          process.emitWarning(`jsonp script threw: ${e && e.message}; script: ${text.slice(0, 200)}`);
        }
        if (typeof this.onload === 'function') this.onload();
      });
    }
  }

  class Form extends Node {
    submit() {
      const area = this.children.find((c) => c.tagName === 'TEXTAREA');
      const body = `${area.name}=${formEncode(area.value)}`;
      const target = this.target;
      fetchText(this.action, 'POST', body, { 'Content-Type': 'application/x-www-form-urlencoded' }, () => {
        // the answer (whatever it is) loads into the iframe
        const iframe = this.children.find((c) => c.tagName === 'IFRAME' && c.name === target);
        if (iframe && typeof iframe.onload === 'function') iframe.onload();
      });
    }
  }

  const head = new Node('head');
  const body = new Node('body');
  const first = new Script('script');
  head.children.push(first);
  first.parentNode = head;

  return {
    documentElement: { style: {} },
    head,
    body,
    readyState: 'complete',
    createElement(tag) {
      if (tag.startsWith('<')) throw new Error('not IE');
      const t = tag.toLowerCase();
      if (t === 'script') return new Script(t);
      if (t === 'form') return new Form(t);
      return new Node(t);
    },
    getElementsByTagName(tag) {
      const t = tag.toUpperCase();
      const out = [];
      const walk = (n) => { for (const c of n.children) { if (c.tagName === t) out.push(c); walk(c); } };
      walk(head); walk(body);
      return out;
    },
  };
}

/* Register io.Transport['jsonp-polling'] on socket.io-client's io object (once). */
function installJsonp(io) {
  if (io.Transport['jsonp-polling']) return;
  const file = require.resolve('socket.io-client/lib/transports/jsonp-polling.js');
  const src = fs.readFileSync(file, 'utf8');
  const document = makeDocument(io);
  const fakeGlobal = { document };
  // The file is `(function (exports, io, global) {...})(io.Transport, io, this)` when a
  // global `io` exists; `this` is our fake window.
  // eslint-disable-next-line no-new-func
  new Function('io', 'document', src).call(fakeGlobal, io, document);
  if (!io.Transport['jsonp-polling']) throw new Error('jsonp-polling transport did not register');
}

module.exports = { installJsonp };
