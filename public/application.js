/*
 * juggernautd browser client: the Juggernaut API on top of a small socket.io
 * protocol 1 client (WebSocket, xhr-polling and jsonp-polling transports).
 *
 *   var jug = new Juggernaut({host: "push.example.com", port: 8080, meta: {user_id: 1}});
 *   jug.on("connect", function () { ... });
 *   jug.subscribe("/chat", function (data, message) { ... });
 *   jug.write({type: "event", data: {typing: true}});
 *
 * Plain ES5, no dependencies, no build step. The wire protocol is described in
 * docs/protocol.md (sections 3, 4, 5, 7, 8, 10 and 11).
 *
 * Events: "connect", "disconnect", "reconnect" (before "connect" when a lost
 * connection comes back), "message" (message), "data" (channel, data, message),
 * "<channel>:data" (data, message), "error" (reason[, request]),
 * "presence" (channel, event, members), "<channel>:presence" (event, members),
 * "gap" (channel, info), "<channel>:gap" (info).
 *
 * History and recovery (juggernautd cluster mode, where every message carries a
 * "seq"): the client remembers the last seq of each channel in sessionStorage and
 * subscribes with {"since": seq} after a page load or a reconnect, so nothing
 * published meanwhile is lost; a message it already delivered is never delivered
 * twice. Per channel options:
 *   jug.subscribe("chat", fn, {history: 50, presence: function (event, members) {}});
 * history: N gives the last N messages on the first visit, and the same window
 * again (then everything newer) when the page is loaded again in this tab;
 * presence: true (or a callback) asks for a snapshot of who is subscribed, then
 * join/leave events. A "gap" event says the server no longer has every message
 * asked for. Messages without "seq" (legacy servers) are delivered as before.
 *
 * Private channels (server option auth-secret): pass
 *   authorize: function (request, done) { ... done(signature); }
 * It is called with {type: "subscribe", channel, sessionID} for every channel whose
 * name starts with privatePrefix ("private-"), and, with signMeta: true, with
 * {type: "meta", data, sessionID} for the meta; ask your app server for the
 * signature (hex HMAC-SHA256 of sessionID + ":" + channel, or + ":" + JSON meta)
 * and call done with it. A refused subscribe or meta arrives as an "error" event.
 *
 * MIT licence.
 */
(function (window, document) {
  "use strict";

  var FFFD = "\ufffd";

  // ----------------------------------------------------------------------
  // Small helpers

  function now() { return new Date().getTime(); }

  function bind(fn, self) {
    return function () { return fn.apply(self, arguments); };
  }

  function noop() {}

  // Calls fn without letting an exception in application code break the
  // client's own state; the exception is re-thrown asynchronously so that it
  // still shows in the console.
  function safeCall(fn, self, args) {
    try {
      fn.apply(self, args);
    } catch (e) {
      setTimeout(function () { throw e; }, 0);
    }
  }

  function option(options, names, fallback) {
    for (var i = 0; i < names.length; i++) {
      if (options[names[i]] !== undefined && options[names[i]] !== null) return options[names[i]];
    }
    return fallback;
  }

  function indexOf(list, item) {
    for (var i = 0; i < list.length; i++) if (list[i] === item) return i;
    return -1;
  }

  // The global callback array that JSONP answers call: io.j[N]("...").
  // Shared with a socket.io client loaded on the same page, if any.
  function jsonpCallbacks() {
    var io = window.io = window.io || {};
    io.j = io.j || [];
    return io.j;
  }

  function removeNode(node) {
    if (node && node.parentNode) node.parentNode.removeChild(node);
  }

  // ----------------------------------------------------------------------
  // Event emitter mixin

  var Events = {
    on: function (name, fn) {
      if (!name || typeof fn !== "function") return this;
      this._handlers = this._handlers || {};
      (this._handlers[name] = this._handlers[name] || []).push(fn);
      return this;
    },
    // unbind(name) removes every handler of NAME; unbind(name, fn) only FN.
    unbind: function (name, fn) {
      if (!this._handlers || !this._handlers[name]) return this;
      if (!fn) {
        delete this._handlers[name];
        return this;
      }
      var list = this._handlers[name];
      for (var i = list.length - 1; i >= 0; i--) if (list[i] === fn) list.splice(i, 1);
      if (!list.length) delete this._handlers[name];
      return this;
    },
    trigger: function (name) {
      var list = this._handlers && this._handlers[name];
      if (!list) return this;
      var args = Array.prototype.slice.call(arguments, 1);
      list = list.slice(); // handlers may unbind themselves
      for (var i = 0; i < list.length; i++) safeCall(list[i], this, args);
      return this;
    }
  };

  function mixin(target, source) {
    for (var k in source) if (source.hasOwnProperty(k)) target[k] = source[k];
  }

  // ----------------------------------------------------------------------
  // socket.io packets: type ":" [id ["+"]] ":" [endpoint] [":" data]   (§4)

  var PACKET_RE = /^([^:]+):([0-9]+)?(\+)?:([^:]+)?:?([\s\S]*)?$/;

  function decodePacket(text) {
    var m = PACKET_RE.exec(text);
    if (!m) return null;
    return { type: m[1], id: m[2] || "", ack: !!m[3], endpoint: m[4] || "", data: m[5] || "" };
  }

  function encodePacket(type, data) {
    return type + "::" + (data ? ":" + data : "");
  }

  // Several packets in one polling body: "\ufffd<len>\ufffd<packet>" each,
  // <len> in UTF-16 code units = JavaScript string length (§5).
  function encodePayload(packets) {
    if (packets.length === 1) return packets[0];
    var out = "";
    for (var i = 0; i < packets.length; i++) {
      out += FFFD + packets[i].length + FFFD + packets[i];
    }
    return out;
  }

  function decodePayload(text) {
    if (text.charAt(0) !== FFFD) return [text];
    var packets = [], i = 0, end, len;
    while (i < text.length && text.charAt(i) === FFFD) {
      end = text.indexOf(FFFD, i + 1);
      if (end < 0) break;
      len = text.substring(i + 1, end);
      if (!/^[0-9]+$/.test(len)) break;
      len = parseInt(len, 10);
      if (end + 1 + len > text.length) break;
      packets.push(text.substr(end + 1, len));
      i = end + 1 + len;
    }
    return packets;
  }

  // ----------------------------------------------------------------------
  // HTTP requests

  function corsXHRAvailable() {
    try {
      return typeof XMLHttpRequest !== "undefined" && "withCredentials" in new XMLHttpRequest();
    } catch (e) {
      return false;
    }
  }

  // XHR METHOD to URL; ok(responseText) on 200, fail(status) otherwise or after
  // TIMEOUT ms. Returns a function that aborts the request silently.
  function xhr(method, url, body, timeout, ok, fail) {
    var req = new XMLHttpRequest(), done = false, timer;
    function finish(success, arg) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.onreadystatechange = noop;
      if (success) ok(arg); else fail(arg);
    }
    req.open(method, url, true);
    if (body !== null) req.setRequestHeader("Content-Type", "text/plain;charset=UTF-8");
    req.onreadystatechange = function () {
      if (req.readyState !== 4) return;
      if (req.status === 200) finish(true, req.responseText);
      else finish(false, req.status);
    };
    if (timeout) timer = setTimeout(function () { finish(false, 0); try { req.abort(); } catch (e) {} }, timeout);
    req.send(body);
    return function () {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.onreadystatechange = noop;
      try { req.abort(); } catch (e) {}
    };
  }

  // Loads SRC as a script; done(true) once it ran, done(false) on error or
  // after TIMEOUT ms. Returns a function that cancels it.
  function loadScript(src, timeout, done) {
    var script = document.createElement("script"), finished = false, timer;
    var parent = document.getElementsByTagName("head")[0] || document.documentElement;
    function finish(success) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      script.onload = script.onerror = script.onreadystatechange = null;
      removeNode(script);
      if (done) done(success);
    }
    script.async = true;
    script.charset = "UTF-8";
    script.src = src;
    script.onload = function () { finish(true); };
    script.onerror = function () { finish(false); };
    script.onreadystatechange = function () { // old Internet Explorer
      if (/loaded|complete/.test(script.readyState)) finish(true);
    };
    if (timeout) timer = setTimeout(function () { finish(false); }, timeout);
    parent.insertBefore(script, parent.firstChild);
    return function () { done = null; finish(false); };
  }

  // Calls fn once the page has loaded; returns a function that cancels it. A
  // <script> inserted before the load event holds that event back until it has
  // run, so a long poll started while the page loads, and the next one chained
  // from it, would keep the page "loading" for ever (socket.io 0.9 waits too).
  function afterLoad(fn) {
    var done = false;
    if (!document || document.readyState === "complete") {
      fn();
      return noop;
    }
    function detach() {
      if (window.removeEventListener) window.removeEventListener("load", run, false);
      else if (window.detachEvent) window.detachEvent("onload", run);
    }
    function run() {
      if (done) return;
      done = true;
      detach();
      fn();
    }
    if (window.addEventListener) window.addEventListener("load", run, false);
    else if (window.attachEvent) window.attachEvent("onload", run);
    return function () {
      done = true;
      detach();
    };
  }

  // ----------------------------------------------------------------------
  // Transports. Each one talks to its socket through three calls:
  //   socket.onPacket(transport, text)   one packet arrived
  //   socket.onTransportClose(transport) the transport died (not after close())
  // and offers open(), send(arrayOfPacketTexts) and close().

  var transports = {};

  // WebSocket: one packet per text frame, both ways (§10).
  function WebSocketTransport(socket) {
    this.socket = socket;
    this.closed = false;
  }
  WebSocketTransport.prototype.name = "websocket";
  WebSocketTransport.supported = function () {
    return !!(window.WebSocket || window.MozWebSocket);
  };
  WebSocketTransport.prototype.open = function () {
    var self = this, Ctor = window.WebSocket || window.MozWebSocket;
    try {
      this.ws = new Ctor(this.socket.transportURL("websocket", true));
    } catch (e) {
      setTimeout(function () { self.fail(); }, 0);
      return;
    }
    this.ws.onmessage = function (ev) {
      if (!self.closed) self.socket.onPacket(self, String(ev.data));
    };
    this.ws.onclose = this.ws.onerror = function () { self.fail(); };
  };
  WebSocketTransport.prototype.send = function (packets) {
    for (var i = 0; i < packets.length; i++) this.ws.send(packets[i]);
  };
  WebSocketTransport.prototype.close = function () {
    if (this.closed) return;
    this.closed = true;
    if (this.ws) {
      this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
      try { this.ws.close(); } catch (e) {}
    }
  };
  WebSocketTransport.prototype.fail = function () {
    if (this.closed) return;
    this.close();
    this.socket.onTransportClose(this);
  };
  transports.websocket = WebSocketTransport;

  // Long-polling base: a GET loop receives payloads, POSTs send them; one POST
  // at a time, packets queued meanwhile go out together in the next one.
  var Polling = {
    init: function (socket) {
      this.socket = socket;
      this.closed = false;
      this.queue = [];
      this.posting = false;
      // An idle poll is answered after the server's polling duration (20 s);
      // give up on a poll that takes much longer than the close timeout.
      this.pollTimeout = (socket.closeTimeout || 25) * 1000 + 10000;
    },
    open: function () { this.poll(); },
    poll: function () {
      var self = this;
      if (this.closed) return;
      this.cancelGet = this.get(function (text) {
        self.cancelGet = null;
        var packets = decodePayload(text);
        for (var i = 0; i < packets.length && !self.closed; i++) {
          self.socket.onPacket(self, packets[i]);
        }
        self.poll();
      }, function () {
        self.cancelGet = null;
        self.fail();
      });
    },
    // Packets written in one turn of the event loop go out in one POST.
    send: function (packets) {
      var self = this;
      this.queue.push.apply(this.queue, packets);
      if (this.flushTimer) return;
      this.flushTimer = setTimeout(function () {
        self.flushTimer = null;
        self.flush();
      }, 0);
    },
    flush: function (closing) {
      var self = this;
      if ((this.closed && !closing) || this.posting || !this.queue.length) return;
      var payload = encodePayload(this.queue);
      this.queue = [];
      this.posting = true;
      this.post(payload, function () {
        self.posting = false;
        self.flush();
      }, function () {
        self.posting = false;
        self.fail();
      });
    },
    close: function () {
      if (this.closed) return;
      this.closed = true;
      if (this.flushTimer) { // e.g. a last "0::": send it now
        clearTimeout(this.flushTimer);
        this.flushTimer = null;
        this.flush(true);
      }
      if (this.cancelGet) this.cancelGet();
      this.cancelGet = null;
      this.cleanup();
    },
    cleanup: noop,
    fail: function () {
      if (this.closed) return;
      this.close();
      this.socket.onTransportClose(this);
    }
  };

  // xhr-polling over (CORS) XMLHttpRequest (§7).
  function XHRPollingTransport(socket) { this.init(socket); }
  mixin(XHRPollingTransport.prototype, Polling);
  XHRPollingTransport.prototype.name = "xhr-polling";
  XHRPollingTransport.supported = function (socket) {
    return typeof XMLHttpRequest !== "undefined" && (socket.sameOrigin() || corsXHRAvailable());
  };
  XHRPollingTransport.prototype.get = function (ok, fail) {
    return xhr("GET", this.socket.transportURL("xhr-polling"), null, this.pollTimeout, ok, fail);
  };
  XHRPollingTransport.prototype.post = function (payload, ok, fail) {
    var self = this;
    this.cancelPost = xhr("POST", this.socket.transportURL("xhr-polling"), payload, 30000,
      function () { self.cancelPost = null; ok(); },
      function () { self.cancelPost = null; fail(); });
  };
  XHRPollingTransport.prototype.cleanup = function () {
    // A POST in flight is left to finish: it may carry a "0::".
    this.cancelPost = null;
  };
  transports["xhr-polling"] = XHRPollingTransport;

  // jsonp-polling: GETs are <script> loads answered io.j[i]("payload");
  // POSTs submit a hidden form (field d = JSON string of the payload) into a
  // hidden iframe (§8).
  function JSONPPollingTransport(socket) {
    var self = this, callbacks = jsonpCallbacks();
    this.init(socket);
    this.index = callbacks.length;
    callbacks.push(function (data) { self.received = data; });
  }
  mixin(JSONPPollingTransport.prototype, Polling);
  JSONPPollingTransport.prototype.name = "jsonp-polling";
  JSONPPollingTransport.supported = function () { return !!document; };
  JSONPPollingTransport.prototype.url = function () {
    return this.socket.transportURL("jsonp-polling") + "&i=" + this.index;
  };
  JSONPPollingTransport.prototype.get = function (ok, fail) {
    var self = this, cancelScript = noop;
    var cancelWait = afterLoad(function () {
      self.received = undefined;
      cancelScript = loadScript(self.url(), self.pollTimeout, function (loaded) {
        var data = self.received;
        self.received = undefined;
        if (loaded && typeof data === "string") ok(data); else fail();
      });
    });
    return function () {
      cancelWait();
      cancelScript();
    };
  };
  JSONPPollingTransport.prototype.post = function (payload, ok, fail) {
    var self = this, name = "juggernaut_jsonp_" + this.index + "_" + now(), iframe, timer;
    if (!this.form) {
      this.form = document.createElement("form");
      this.area = document.createElement("textarea");
      this.area.name = "d";
      this.form.method = "POST";
      this.form.setAttribute("accept-charset", "utf-8");
      this.form.style.position = "absolute";
      this.form.style.top = this.form.style.left = "-1000px";
      this.form.style.width = this.form.style.height = "1px";
      this.form.appendChild(this.area);
      document.body.appendChild(this.form);
    }
    try { // old Internet Explorer only honours a name given at creation
      iframe = document.createElement('<iframe name="' + name + '">');
    } catch (e) {
      iframe = document.createElement("iframe");
      iframe.name = name;
    }
    iframe.id = name;
    iframe.style.display = "none";
    this.form.appendChild(iframe);
    this.form.target = name;
    this.form.action = this.url();
    this.area.value = JSON.stringify(payload);
    function finished(success) {
      if (self.iframe !== iframe) return;
      clearTimeout(timer);
      iframe.onload = iframe.onreadystatechange = null;
      // Removed later: removing it inside its own load event upsets some browsers.
      setTimeout(function () { removeNode(iframe); }, 0);
      self.iframe = null;
      if (success) ok(); else fail();
    }
    function loaded() { finished(true); }
    timer = setTimeout(function () { finished(false); }, 30000);
    iframe.onload = loaded;
    iframe.onreadystatechange = function () {
      if (iframe.readyState === "complete") loaded();
    };
    this.iframe = iframe;
    this.form.submit();
  };
  JSONPPollingTransport.prototype.cleanup = function () {
    var callbacks = jsonpCallbacks(), form = this.form;
    callbacks[this.index] = noop; // a late answer must not throw
    // A POST in flight (it may carry a "0::") dies with its iframe: wait a little.
    if (form) setTimeout(function () { removeNode(form); }, this.iframe ? 2000 : 0);
    this.form = this.area = this.iframe = null;
  };
  transports["jsonp-polling"] = JSONPPollingTransport;

  // ----------------------------------------------------------------------
  // Socket: one socket.io connection, handshake, transport fallback and
  // reconnects. Emits "connect", "disconnect" (reason), "reconnect",
  // "message" (text), "error" (reason).

  function Socket(options) {
    this.options = options;
    this.secure = !!options.secure;
    this.host = options.host;
    this.port = options.port;
    this.resource = option(options, ["resource"], "socket.io");
    this.query = option(options, ["query"], "");
    this.transports = option(options, ["transports"],
      ["websocket", "xhr-polling", "jsonp-polling"]);
    this.connectTimeout = option(options, ["connectTimeout", "connect timeout"], 10000);
    this.reconnect = option(options, ["reconnect"], true);
    this.reconnectDelay = option(options, ["reconnectDelay", "reconnection delay"], 500);
    this.reconnectLimit = option(options, ["reconnectLimit", "reconnection limit"], 10000);
    this.maxAttempts = option(options, ["maxReconnectAttempts", "max reconnection attempts"], Infinity);
    this.connected = false;
    this.everConnected = false;
    this.stopped = false;
    this.attempts = 0;
    this.delay = this.reconnectDelay;
    this.buffer = [];
  }
  mixin(Socket.prototype, Events);

  Socket.prototype.baseURL = function (websocket) {
    var scheme = websocket ? (this.secure ? "wss" : "ws") : (this.secure ? "https" : "http");
    return scheme + "://" + this.host + ":" + this.port + "/" + this.resource + "/1/";
  };

  Socket.prototype.transportURL = function (name, websocket) {
    var url = this.baseURL(websocket) + name + "/" + this.sessionID;
    if (websocket) return url + (this.query ? "?" + this.query : "");
    return url + "?" + (this.query ? this.query + "&" : "") + "t=" + now();
  };

  Socket.prototype.sameOrigin = function () {
    var loc = window.location, defaultPort = loc.protocol === "https:" ? "443" : "80";
    return loc.protocol === (this.secure ? "https:" : "http:") &&
      loc.hostname === String(this.host) &&
      String(loc.port || defaultPort) === String(this.port);
  };

  Socket.prototype.connect = function () {
    this.stopped = false;
    if (!this.connected && !this.busy) this.handshake();
    return this;
  };

  // GET /socket.io/1/?t=... -> "sid:heartbeat:close:transports" (§3), by XHR
  // when allowed, else by JSONP.
  Socket.prototype.handshake = function () {
    var self = this, done = false;
    var url = this.baseURL(false) + "?" + (this.query ? this.query + "&" : "") + "t=" + now();
    this.busy = true;
    function answer(ok, body) {
      if (done || self.stopped) return;
      done = true;
      if (ok) self.onHandshake(body);
      else self.onConnectFailed(body || "handshake failed");
    }
    if (this.sameOrigin() || corsXHRAvailable()) {
      this.cancelHandshake = xhr("GET", url, null, this.connectTimeout,
        function (text) { answer(true, text); },
        function (status) { answer(false, "handshake failed (status " + status + ")"); });
    } else {
      var callbacks = jsonpCallbacks(), index = callbacks.length;
      callbacks.push(function (data) {
        callbacks[index] = noop;
        if (typeof data === "string") answer(true, data);
        else answer(false, data && data.message);
      });
      this.cancelHandshake = loadScript(url + "&jsonp=" + index, this.connectTimeout, function () {
        setTimeout(function () { answer(false, "handshake failed"); }, 0);
      });
    }
  };

  Socket.prototype.onHandshake = function (body) {
    var parts = body.split(":");
    var offered = (parts[3] || "").split(",");
    this.cancelHandshake = null;
    if (parts.length < 4 || !parts[0]) return this.onConnectFailed("bad handshake answer");
    this.sessionID = parts[0];
    this.heartbeatTimeout = parseInt(parts[1], 10) || 0;
    this.closeTimeout = parseInt(parts[2], 10) || 0;
    this.candidates = [];
    for (var i = 0; i < this.transports.length; i++) {
      var name = this.transports[i], T = transports[name];
      if (T && indexOf(offered, name) >= 0 && T.supported(this)) this.candidates.push(name);
    }
    this.openNextTransport();
  };

  // Tries the next candidate transport on the same session id; a transport
  // that fails to open or to deliver "1::" in time makes way for the next.
  Socket.prototype.openNextTransport = function () {
    var self = this, name = this.candidates.shift(), transport;
    clearTimeout(this.connectTimer);
    if (!name) return this.onConnectFailed("no transport could connect");
    transport = this.transport = new transports[name](this);
    this.connectTimer = setTimeout(function () {
      if (self.transport !== transport || self.connected) return;
      transport.close();
      self.openNextTransport();
    }, this.connectTimeout);
    transport.open();
  };

  Socket.prototype.onConnectFailed = function (reason) {
    this.busy = false;
    clearTimeout(this.connectTimer);
    if (this.transport) this.transport.close();
    this.transport = null;
    this.trigger("error", reason);
    this.scheduleReconnect();
  };

  Socket.prototype.scheduleReconnect = function () {
    var self = this, delay = this.delay;
    if (this.stopped || !this.reconnect || this.reconnectTimer) return;
    if (this.attempts >= this.maxAttempts) {
      this.trigger("reconnect_failed");
      return;
    }
    this.attempts++;
    this.delay = Math.min(this.delay * 2, this.reconnectLimit);
    this.busy = true;
    this.reconnectTimer = setTimeout(function () {
      self.reconnectTimer = null;
      if (!self.stopped) self.handshake();
    }, delay);
  };

  Socket.prototype.onPacket = function (transport, text) {
    var packet;
    if (transport !== this.transport) return;
    this.resetWatchdog();
    packet = decodePacket(text);
    if (!packet || packet.endpoint) return; // Juggernaut uses no namespaces
    switch (packet.type) {
      case "0": // disconnect: the server does not want us back
        this.disconnect("booted", true);
        break;
      case "1":
        if (!this.connected) this.onConnect();
        break;
      case "2":
        transport.send([encodePacket(2)]);
        break;
      case "3":
        if (packet.id && !packet.ack) this.send(encodePacket(6, packet.id));
        this.trigger("message", packet.data);
        break;
      case "7": // error "reason+advice"; advice 0 = reconnect (e.g. 7:::1+0 unknown sid)
        if (packet.data.split("+")[1] === "0") this.onTransportClose(transport, true);
        else this.trigger("error", packet.data);
        break;
      default: // 4 json, 5 event, 6 ack, 8 noop: nothing for Juggernaut
        break;
    }
  };

  Socket.prototype.onConnect = function () {
    var wasConnected = this.everConnected, queued = this.buffer;
    clearTimeout(this.connectTimer);
    this.connected = true;
    this.everConnected = true;
    this.busy = false;
    this.attempts = 0;
    this.delay = this.reconnectDelay;
    this.buffer = [];
    this.trigger("connect", wasConnected);
    if (queued.length && this.connected) this.transport.send(queued);
  };

  // The transport died, or the session is gone (SESSION_LOST: 7:::1+0).
  Socket.prototype.onTransportClose = function (transport, sessionLost) {
    if (transport !== this.transport) return;
    clearTimeout(this.watchdog);
    if (!this.connected) {
      if (sessionLost) return this.onConnectFailed("session expired");
      transport.close();
      return this.openNextTransport();
    }
    transport.close();
    this.transport = null;
    this.connected = false;
    this.trigger("disconnect", sessionLost ? "session lost" : "transport closed");
    this.scheduleReconnect();
  };

  // No packet at all for heartbeat + close timeout seconds on a WebSocket:
  // the connection is dead even if the browser has not noticed (§11.2).
  Socket.prototype.resetWatchdog = function () {
    var self = this, transport = this.transport;
    clearTimeout(this.watchdog);
    if (!this.heartbeatTimeout || transport.name !== "websocket") return;
    this.watchdog = setTimeout(function () {
      if (self.transport === transport) transport.fail();
    }, (this.heartbeatTimeout + (this.closeTimeout || 25)) * 1000);
  };

  Socket.prototype.send = function (text) {
    if (this.connected) this.transport.send([text]);
    else this.buffer.push(text);
  };

  // Ends the session for good (no reconnect). FROM_SERVER: the server sent 0::.
  Socket.prototype.disconnect = function (reason, fromServer) {
    var wasConnected = this.connected;
    this.stopped = true;
    this.busy = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.watchdog);
    this.reconnectTimer = null;
    if (this.cancelHandshake) this.cancelHandshake();
    this.cancelHandshake = null;
    if (this.transport) {
      if (wasConnected && !fromServer) this.transport.send([encodePacket(0)]);
      this.transport.close();
    }
    this.transport = null;
    this.connected = false;
    if (wasConnected) this.trigger("disconnect", reason || "client");
  };

  // ----------------------------------------------------------------------
  // History and recovery state, per channel (cluster mode: messages carry "seq")

  // window.sessionStorage, or null where it is missing or refused (some
  // sandboxed frames and private modes throw on access, or on every write).
  function sessionStore() {
    try {
      var store = window.sessionStorage, probe = "juggernaut:probe";
      store.setItem(probe, probe);
      store.removeItem(probe);
      return store;
    } catch (e) {
      return null;
    }
  }

  // Sequence numbers are integers below 2^53: exact as JavaScript numbers.
  function isSeq(n) {
    return typeof n === "number" && n >= 0 && n <= 9007199254740991 && Math.floor(n) === n;
  }

  function positive(n) {
    n = parseInt(n, 10);
    return n > 0 ? n : 0;
  }

  var MAX_WINDOW = 1000; // seqs remembered for a {history: N} transcript

  // One subscribed channel:
  //   delivered  highest seq handed to the page (this page), null if none yet
  //   last       highest seq ever delivered in this tab (kept in sessionStorage)
  //   base       a seq known to precede the subscription (resubscribe point when
  //              nothing arrived yet), 0 if unknown
  //   win        the seqs of the last `history` messages delivered (transcript)
  function Stream(channel, opts, saved) {
    this.channel = channel;
    this.history = Math.min(positive(opts.history), MAX_WINDOW);
    this.presence = !!opts.presence;
    saved = saved || {};
    this.last = isSeq(saved.last) ? saved.last : null;
    this.base = isSeq(saved.base) ? saved.base : 0;
    this.win = [];
    if (this.history && saved.win && saved.win.length) {
      for (var i = 0; i < saved.win.length; i++) if (isSeq(saved.win[i])) this.win.push(saved.win[i]);
      this.win = this.win.slice(-this.history);
    }
    this.loadedLast = this.last;
    // A page that wants a transcript gets its window again (from the server's
    // history), then what it missed; any other page only what it missed.
    if (this.win.length && this.win[0] > 0) {
      this.delivered = this.win[0] - 1;
      this.win = []; // refilled by the replay
    } else {
      this.delivered = this.last;
    }
    this.members = null;       // presence: current members (metas), null before a snapshot
    this.presenceSeq = 0;      // presence: seq (or snapshot "at") already applied
    this.awaitingSnapshot = false;
    this.pendingPresence = []; // join/leave received before the snapshot
  }

  // The subscribe request: {since} when a position is known, else {history},
  // plus {presence}.
  Stream.prototype.request = function () {
    var req = { type: "subscribe", channel: this.channel };
    var since = this.delivered !== null ? this.delivered : (this.base > 0 ? this.base : null);
    if (since !== null) req.since = since;
    else if (this.history) req.history = this.history;
    this.sinceSent = since;
    if (this.presence) req.presence = true;
    return req;
  };

  // Records the delivery of SEQ; false if it was delivered already.
  Stream.prototype.deliver = function (seq) {
    if (this.delivered !== null && seq <= this.delivered) return false;
    this.delivered = seq;
    if (this.last === null || seq > this.last) this.last = seq;
    if (this.history) {
      this.win.push(seq);
      if (this.win.length > this.history) this.win.splice(0, this.win.length - this.history);
    }
    return true;
  };

  Stream.prototype.saved = function () {
    var out = {};
    if (this.last !== null) out.last = this.last;
    if (this.base) out.base = this.base;
    if (this.win.length) out.win = this.win;
    return out;
  };

  function sameMeta(a, b) {
    return JSON.stringify(a === undefined ? null : a) === JSON.stringify(b === undefined ? null : b);
  }

  // Applies a presence message; returns false if it is stale (already in the
  // snapshot, or seen) or must wait for the snapshot.
  Stream.prototype.applyPresence = function (message) {
    var kind = message.presence, i;
    if (kind === "snapshot") {
      this.members = (message.members || []).slice();
      this.presenceSeq = isSeq(message.at) ? message.at : 0;
      this.awaitingSnapshot = false;
      return true;
    }
    if (kind !== "join" && kind !== "leave") return false;
    if (this.awaitingSnapshot) {
      this.pendingPresence.push(message);
      return false;
    }
    if (isSeq(message.seq)) {
      if (message.seq <= this.presenceSeq) return false;
      this.presenceSeq = message.seq;
    }
    this.members = this.members || [];
    if (kind === "join") {
      this.members.push(message.meta === undefined ? null : message.meta);
    } else {
      for (i = 0; i < this.members.length; i++) {
        if (sameMeta(this.members[i], message.meta)) {
          this.members.splice(i, 1);
          break;
        }
      }
    }
    return true;
  };

  // ----------------------------------------------------------------------
  // Juggernaut

  // A message object; new Juggernaut.Message({type: "event", data: ...}).
  function Message(hash) {
    for (var key in hash) if (hash.hasOwnProperty(key)) this[key] = hash[key];
  }
  Message.fromJSON = function (json) { return new Message(JSON.parse(json)); };
  Message.prototype.toJSON = function () {
    var object = {};
    for (var key in this) {
      if (this.hasOwnProperty(key) && typeof this[key] !== "function") object[key] = this[key];
    }
    return object;
  };

  function Juggernaut(options) {
    var loc = window.location;
    if (!(this instanceof Juggernaut)) return new Juggernaut(options);
    options = this.options = options || {};
    options.host = options.host || loc.hostname;
    options.port = options.port || 8080;
    if (options.secure === undefined) options.secure = loc.protocol === "https:";
    this.meta = options.meta;
    this.channels = [];  // subscribed channel names, in subscription order
    this.streams = {};   // channel -> Stream (history/recovery/presence state)
    this.highest = 0;    // highest seq seen on any channel
    this.duplicates = 0; // messages dropped because they were delivered already
    this.store = options.persist === false ? null : sessionStore();
    this.storePrefix = "juggernaut:" + options.host + ":" + options.port + ":";
    this.sessionID = null;
    this.socket = new Socket(options);
    this.socket.on("connect", bind(this.onconnect, this));
    this.socket.on("disconnect", bind(this.ondisconnect, this));
    this.socket.on("message", bind(this.onmessage, this));
    this.socket.on("error", bind(function (reason) { this.trigger("error", reason); }, this));
    this.socket.connect();
  }
  Juggernaut.fn = Juggernaut.prototype;
  mixin(Juggernaut.prototype, Events);
  Juggernaut.prototype.bind = Juggernaut.prototype.on;
  Juggernaut.Message = Message;

  Juggernaut.prototype.isConnected = function () {
    return this.socket.connected;
  };

  // Name of the transport in use ("websocket", "xhr-polling", ...) or null.
  Juggernaut.prototype.transport = function () {
    return this.socket.connected ? this.socket.transport.name : null;
  };

  // Sends MESSAGE (a Juggernaut.Message, a plain object or a JSON string) to
  // the server, e.g. jug.write({type: "event", data: {...}}). Messages written
  // while disconnected are sent after the next connect.
  Juggernaut.prototype.write = function (message) {
    var text = typeof message === "string" ? message : JSON.stringify(message);
    this.socket.send(encodePacket(3, text));
  };

  // Sends a subscribe, asking options.authorize for a signature first when the
  // channel is private. The answer is dropped if the session changed meanwhile
  // (the next connect asks again).
  Juggernaut.prototype.sendSubscribe = function (channel) {
    var self = this, options = this.options, sid = this.sessionID;
    var prefix = options.privatePrefix || "private-";
    if (!options.authorize || channel.indexOf(prefix) !== 0) {
      return this.write(this.subscribeRequest(channel));
    }
    options.authorize({ type: "subscribe", channel: channel, sessionID: sid }, function (auth) {
      if (self.sessionID !== sid || !self.socket.connected || indexOf(self.channels, channel) < 0) return;
      var request = self.subscribeRequest(channel);
      request.auth = auth;
      self.write(request);
    });
  };

  // The subscribe message for CHANNEL, built when it is sent (a reconnect asks
  // for everything after the last message delivered).
  Juggernaut.prototype.subscribeRequest = function (channel) {
    var stream = this.streams[channel];
    if (!stream) return { type: "subscribe", channel: channel };
    if (stream.delivered === null && !stream.base && this.highest) {
      // Nothing delivered on it yet: every message on it sequenced after the
      // highest seq seen so far is still to come, so a resubscribe (after a
      // reconnect, or in the next page) may start there.
      stream.base = this.highest;
      this.saveStream(stream);
    }
    if (stream.presence) {
      stream.awaitingSnapshot = true;
      stream.pendingPresence = [];
    }
    return stream.request();
  };

  Juggernaut.prototype.loadStream = function (channel, opts) {
    var saved = null;
    if (this.store) {
      try {
        saved = JSON.parse(this.store.getItem(this.storePrefix + channel) || "null");
      } catch (e) {
        saved = null;
      }
    }
    return new Stream(channel, opts, saved);
  };

  Juggernaut.prototype.saveStream = function (stream) {
    if (!this.store) return;
    try {
      this.store.setItem(this.storePrefix + stream.channel, JSON.stringify(stream.saved()));
    } catch (e) { /* full or refused: recovery then only lasts as long as the page */ }
  };

  Juggernaut.prototype.forgetStream = function (channel) {
    delete this.streams[channel];
    if (!this.store) return;
    try { this.store.removeItem(this.storePrefix + channel); } catch (e) {}
  };

  // Sends the meta, then calls then() (the subscribes wait for a signed meta so that
  // every subscribe event carries it).
  Juggernaut.prototype.sendMeta = function (then) {
    var self = this, options = this.options, sid = this.sessionID, meta = this.meta;
    if (!options.authorize || !options.signMeta) {
      this.write({ type: "meta", data: meta });
      return then && then();
    }
    this.metaPending = true;
    options.authorize({ type: "meta", data: meta, sessionID: sid }, function (auth) {
      if (self.sessionID !== sid || !self.socket.connected) return;
      self.metaPending = false;
      self.write({ type: "meta", data: meta, auth: auth });
      if (then) then();
    });
  };

  // subscribe(channel[, callback][, options]); options (juggernautd cluster mode):
  //   history: N      the last N messages first (and the same window again when
  //                   the page is loaded again in this tab)
  //   presence: true  a snapshot of the members, then joins and leaves, as
  //                   "<channel>:presence" (event, members); a function is bound
  //                   to that event
  // The options of the first subscribe to a channel count.
  Juggernaut.prototype.subscribe = function (channel, callback, opts) {
    if (!channel) throw new Error("Must provide a channel");
    channel = String(channel);
    if (callback && typeof callback === "object" && opts === undefined) {
      opts = callback;
      callback = null;
    }
    opts = opts || {};
    if (callback) this.on(channel + ":data", callback);
    if (indexOf(this.channels, channel) >= 0) return this;
    if (typeof opts.presence === "function") this.on(channel + ":presence", opts.presence);
    this.channels.push(channel);
    this.streams[channel] = this.loadStream(channel, opts);
    if (this.socket.connected && !this.metaPending) this.sendSubscribe(channel);
    return this;
  };

  // Current members of CHANNEL (presence: true), or null before the snapshot.
  Juggernaut.prototype.members = function (channel) {
    var stream = this.streams[String(channel)];
    return stream && stream.members ? stream.members.slice() : null;
  };

  // Unsubscribing also forgets the channel's position: a later subscribe starts afresh.
  Juggernaut.prototype.unsubscribe = function (channel) {
    if (!channel) throw new Error("Must provide a channel");
    channel = String(channel);
    var i = indexOf(this.channels, channel);
    this.unbind(channel + ":data");
    this.unbind(channel + ":presence");
    this.unbind(channel + ":gap");
    if (i < 0) return this;
    this.channels.splice(i, 1);
    this.forgetStream(channel);
    // Not connected: the next session starts without it anyway.
    if (this.socket.connected) this.write({ type: "unsubscribe", channel: channel });
    return this;
  };

  // Closes the connection for good (sends 0:: so the server ends the session).
  Juggernaut.prototype.disconnect = function () {
    this.socket.disconnect("client");
  };

  // Every connect (first or after a reconnect) is a new session: send meta,
  // then every current subscription, then tell the application.
  Juggernaut.prototype.onconnect = function (isReconnect) {
    var self = this;
    this.sessionID = this.socket.sessionID;
    this.metaPending = false;
    var subscribeAll = function () {
      for (var i = 0; i < self.channels.length; i++) self.sendSubscribe(self.channels[i]);
    };
    if (this.meta !== undefined && this.meta !== null) this.sendMeta(subscribeAll);
    else subscribeAll();
    if (isReconnect) this.trigger("reconnect");
    this.trigger("connect");
  };

  Juggernaut.prototype.ondisconnect = function (reason) {
    this.trigger("disconnect", reason);
  };

  Juggernaut.prototype.onmessage = function (text) {
    var message, stream, channel;
    try {
      message = Message.fromJSON(text);
    } catch (e) {
      return this.trigger("error", "bad message: " + text);
    }
    // the server's refusals (private channel, limits) carry "error" and no channel
    if (message.error !== undefined && message.channel === undefined) {
      if (message.error === "history trimmed") this.ongap(message);
      if (message.error === "messages lost") this.onlost(message);
      return this.trigger("error", message.error, message.request);
    }
    channel = message.channel;
    stream = channel !== undefined ? this.streams[channel] : undefined;
    if (isSeq(message.seq) && message.seq > this.highest) this.highest = message.seq;
    if (isSeq(message.at) && message.at > this.highest) this.highest = message.at;
    if (message.presence !== undefined) return this.onpresence(message, stream);
    if (stream && isSeq(message.seq)) {
      if (!stream.deliver(message.seq)) { // delivered already: exactly once
        this.duplicates++;
        return;
      }
      if (stream.loadedLast !== null && message.seq <= stream.loadedLast) message.replayed = true;
      this.saveStream(stream);
    }
    this.trigger("message", message);
    this.trigger("data", message.channel, message.data, message);
    if (message.channel !== undefined) this.trigger(message.channel + ":data", message.data, message);
  };

  // {"presence": "snapshot"|"join"|"leave", ...}: only to subscriptions that
  // asked for it.
  Juggernaut.prototype.onpresence = function (message, stream) {
    var channel = message.channel, pending, i;
    if (!stream) return;
    if (!stream.applyPresence(message)) return;
    if (message.presence === "snapshot" && stream.delivered === null && stream.presenceSeq > stream.base) {
      // The snapshot is taken where the subscription's history ends and live
      // delivery begins: a resubscribe may start there.
      stream.base = stream.presenceSeq;
      this.saveStream(stream);
    }
    this.trigger("presence", channel, message, stream.members.slice());
    this.trigger(channel + ":presence", message, stream.members.slice());
    if (message.presence === "snapshot" && stream.pendingPresence.length) {
      pending = stream.pendingPresence;
      stream.pendingPresence = [];
      for (i = 0; i < pending.length; i++) this.onpresence(pending[i], stream);
    }
  };

  // {"error": "history trimmed", "request": {"type": "subscribe", "channel": C}}:
  // the server no longer has every message after the "since" asked for; what it
  // still has follows.
  Juggernaut.prototype.ongap = function (message) {
    var request = message.request || {}, channel = request.channel;
    var stream = channel !== undefined ? this.streams[channel] : undefined;
    // Only a resumed subscription has a gap; a first {"history": N} that finds
    // old entries expired has none.
    if (!stream || stream.sinceSent === null || stream.sinceSent === undefined) return;
    var info = { channel: channel, request: request, since: stream.sinceSent, last: stream.last };
    this.trigger("gap", channel, info);
    if (channel !== undefined) this.trigger(channel + ":gap", info);
  };

  // {"error": "messages lost", "request": {"type": "subscribe", "channel": C},
  // "from": A, "to": B}: this session moved between servers (cluster mode) after
  // the servers had already let go of messages A..B, some of which may have been
  // on C. The page should reload its transcript.
  Juggernaut.prototype.onlost = function (message) {
    var channel = (message.request || {}).channel;
    var stream = channel !== undefined ? this.streams[channel] : undefined;
    var info = { channel: channel, request: message.request, from: message.from, to: message.to,
                 lost: true, last: stream ? stream.last : null };
    this.trigger("gap", channel, info);
    if (channel !== undefined) this.trigger(channel + ":gap", info);
  };

  // Exposed for tests and for the curious.
  Juggernaut.protocol = {
    decodePacket: decodePacket,
    encodePacket: encodePacket,
    decodePayload: decodePayload,
    encodePayload: encodePayload
  };

  if (typeof module !== "undefined" && module.exports) module.exports = Juggernaut;
  if (window) window.Juggernaut = Juggernaut;
})(typeof window !== "undefined" ? window : null, typeof document !== "undefined" ? document : null);
