// The chat dock on every page: the online list (juggernautd presence on "online") and the
// chat windows. Which windows are open lives in sessionStorage; their transcripts come back
// from juggernautd's history of the user's private channel after every page load (our
// application.js subscribes with `since`), so both survive navigation. Every message is
// persisted by Rails before it is published.
(function () {
  "use strict";
  var meEl = document.getElementById("me");
  var me = { id: Number(meEl.getAttribute("data-user-id")), name: meEl.getAttribute("data-name") };
  var csrf = document.querySelector("meta[name=csrf-token]").content;
  var OPEN_KEY = "chat:open:" + me.id;
  var open = JSON.parse(sessionStorage.getItem(OPEN_KEY) || "[]"); // [{id, kind, title}]
  var logs = {};   // chat id -> [message data], in order (what a window shows)
  var seen = {};   // message id -> true (a message is shown once, however it arrived)
  var windows = {}; // chat id -> window element

  function saveOpen() { sessionStorage.setItem(OPEN_KEY, JSON.stringify(open)); }

  function request(method, url, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    if (body) xhr.setRequestHeader("Content-Type", "application/json");
    if (jug.sessionID) xhr.setRequestHeader("X-Session-ID", jug.sessionID);
    xhr.onload = function () { done(xhr.status, xhr.status === 200 ? JSON.parse(xhr.responseText || "null") : null); };
    xhr.onerror = function () { done(0, null); };
    xhr.send(body ? JSON.stringify(body) : null);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function renderLine(win, m) {
    var li = el("li", m.from.id === me.id ? "sent" : "received");
    li.setAttribute("data-message-id", m.id);
    if (m.from.id !== me.id) li.appendChild(el("b", null, m.from.name + ": "));
    li.appendChild(document.createTextNode(m.body));
    // in the order Rails stored them (our own line may be shown before an earlier
    // message from the other side arrives, e.g. while the push connection moves)
    var log = win.querySelector(".log"), next = null, items = log.children, i;
    for (i = items.length - 1; i >= 0 && Number(items[i].getAttribute("data-message-id")) > m.id; i--) next = items[i];
    log.insertBefore(li, next);
    log.scrollTop = log.scrollHeight;
  }

  function openWindow(chat) {
    if (windows[chat.id]) return windows[chat.id];
    if (!open.some(function (c) { return c.id === chat.id; })) { open.push(chat); saveOpen(); }
    var win = el("div", "win");
    win.setAttribute("data-chat-id", chat.id);
    win.setAttribute("data-title", chat.title);
    var title = el("div", "title");
    title.appendChild(el("span", null, chat.title + (chat.kind === "Group" ? " (group)" : "")));
    var close = el("button", "close", "\u00d7");
    close.title = "close";
    close.onclick = function () {
      win.parentNode.removeChild(win);
      delete windows[chat.id];
      open = open.filter(function (c) { return c.id !== chat.id; });
      saveOpen();
    };
    title.appendChild(close);
    win.appendChild(title);
    win.appendChild(el("ul", "log"));
    var form = el("form");
    var input = el("input");
    input.placeholder = "Message " + chat.title;
    form.appendChild(input);
    form.onsubmit = function (e) {
      e.preventDefault();
      var body = input.value.trim();
      if (!body) return;
      input.value = "";
      request("POST", "/chats/" + chat.id + "/messages", { body: body }, function (status, m) {
        if (m) deliver(m); else input.value = body; // keep it to send again
      });
    };
    win.appendChild(form);
    document.getElementById("windows").appendChild(win);
    windows[chat.id] = win;
    (logs[chat.id] || []).forEach(function (m) { renderLine(win, m); });
    return win;
  }

  // A message from Rails' answer (our own) or from juggernautd (anyone's).
  function deliver(m, replayed) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    var log = (logs[m.chat.id] = logs[m.chat.id] || []);
    log.push(m);
    log.sort(function (a, b) { return a.id - b.id; });
    var win = windows[m.chat.id];
    if (!win && !replayed) win = openWindow(m.chat); // a new message opens its window
    else if (win) renderLine(win, m);
  }

  var jug = new Juggernaut({
    host: location.hostname,
    port: Number(location.port) || (location.protocol === "https:" ? 443 : 80),
    meta: { user_id: me.id, name: me.name },
    authorize: function (req, done) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/juggernaut/auth?channel=" + encodeURIComponent(req.channel));
      xhr.setRequestHeader("X-Session-ID", req.sessionID);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.onload = function () { if (xhr.status === 200) done(xhr.responseText); };
      xhr.send();
    }
  });
  window.chatJug = jug; // for the curious (and the browser test)

  jug.on("connect", function () { document.body.setAttribute("data-push", "connected"); });
  jug.on("disconnect", function () { document.body.setAttribute("data-push", "disconnected"); });

  function showOnline(members) {
    var ul = document.getElementById("online-list");
    ul.innerHTML = "";
    var users = {};
    members.forEach(function (m) {
      var meta = m && m.meta !== undefined ? m.meta : m;
      if (meta && meta.user_id && meta.user_id !== me.id) users[meta.user_id] = meta.name;
    });
    Object.keys(users).sort(function (a, b) { return users[a] < users[b] ? -1 : 1; }).forEach(function (id) {
      var li = el("li"), a = el("a", "user", users[id]);
      a.href = "#";
      a.setAttribute("data-user-id", id);
      a.onclick = function (e) {
        e.preventDefault();
        request("POST", "/chats/direct/" + id, null, function (status, chat) { if (chat) openWindow(chat); });
      };
      li.appendChild(a);
      ul.appendChild(li);
    });
  }
  jug.subscribe("online", function () {}, { presence: function (event, members) { showOnline(members); } });
  // live pushes of messages this tab sent itself: Rails publishes with except: our session,
  // so this stays 0 in a tab's first session (a later session, after a reconnect or a page
  // load, gets them from history: this tab showed them, but not from a push)
  window.chatStats = { ownPushes: 0 };
  jug.subscribe("private-user-" + me.id, function (data, message) {
    if (data.from.id === me.id && !(message && message.replayed)) window.chatStats.ownPushes++;
    deliver(data, message && message.replayed);
  }, { history: 200 });

  open.forEach(openWindow);
  Array.prototype.forEach.call(document.querySelectorAll(".open-group"), function (a) {
    a.onclick = function (e) {
      e.preventDefault();
      request("GET", "/chats/" + a.getAttribute("data-chat-id"), null, function (s, chat) { if (chat) openWindow(chat); });
    };
  });
  var logout = document.getElementById("logout");
  if (logout) logout.form.addEventListener("submit", function () {
    sessionStorage.removeItem(OPEN_KEY);
    jug.disconnect(); // the server ends the session now: the others see us go offline
  });
})();
