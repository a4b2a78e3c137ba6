/*
 * Threadline web-chat widget. Plain JavaScript, no build step.
 *
 * A shop adds one line to its pages:
 *   <script src="https://support.example.com/widget/widget.js" defer
 *           data-threadline-customer="CUSTOMER_ID" data-threadline-hmac="HEX"></script>
 * Without the two data attributes the visitor chats anonymously (a signed session
 * kept in localStorage). Protocol: docs/channels/webchat.md.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__threadlineWidget) return;
  window.__threadlineWidget = true;

  var MAX_CHARS = 4000;
  var TYPING_TIMEOUT_MS = 45000;
  var SESSION_KEY = "threadline:session";
  var OPEN_KEY = "threadline:open";

  var assetBase = new URL(".", script.src);
  var serverBase = new URL("..", assetBase);
  var wsUrl = new URL("webchat/ws", serverBase);
  wsUrl.protocol = serverBase.protocol === "https:" ? "wss:" : "ws:";

  var customer = script.getAttribute("data-threadline-customer");
  var customerHmac = script.getAttribute("data-threadline-hmac");
  var title = script.getAttribute("data-threadline-title") || "Chat with us";
  var greeting = script.getAttribute("data-threadline-greeting") ||
    "Hi! Ask us about delivery, returns or your orders.";
  var identityKey = customer ? "customer:" + customer : "anon";
  var PENDING_KEY = "threadline:pending:" + identityKey;

  // ---- storage (never fatal: private modes may refuse it) ----------------------
  function load(store, key) {
    try { return store.getItem(key); } catch (e) { return null; }
  }
  function save(store, key, value) {
    try {
      if (value === null) store.removeItem(key); else store.setItem(key, value);
    } catch (e) { /* storage unavailable: the chat still works for this page view */ }
  }

  function newClientId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  // ---- DOM ---------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var host = el("div", { id: "threadline-widget" });
  host.style.display = "none";
  var shadow = host.attachShadow({ mode: "open" });
  var css = el("link", { rel: "stylesheet", href: new URL("widget.css", assetBase).href });
  css.addEventListener("load", function () { host.style.display = ""; });
  css.addEventListener("error", function () { host.style.display = ""; });
  shadow.appendChild(css);

  var bubble = el("button", {
    type: "button", "class": "tl-bubble", "aria-label": "Open chat", "aria-expanded": "false",
    "aria-controls": "tl-panel"
  });
  bubble.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>' +
    "</svg>";
  var badge = el("span", { "class": "tl-badge", "aria-hidden": "true" });
  badge.hidden = true;
  bubble.appendChild(badge);

  var panel = el("section", { id: "tl-panel", "class": "tl-panel", role: "dialog",
    "aria-label": title });
  panel.hidden = true;
  var head = el("header", { "class": "tl-head" });
  var headText = el("div", { "class": "tl-head-text" });
  headText.appendChild(el("strong", {}, title));
  var status = el("span", { "class": "tl-status", role: "status", "aria-live": "polite" },
    "Connecting…");
  headText.appendChild(status);
  var closeBtn = el("button", { type: "button", "class": "tl-close", "aria-label": "Close chat" },
    "×");
  head.appendChild(headText);
  head.appendChild(closeBtn);

  var log = el("ol", { "class": "tl-log", role: "log", "aria-live": "polite",
    "aria-label": "Messages", tabindex: "0" });
  var typing = el("div", { "class": "tl-typing", role: "status", "aria-label": "Assistant is typing" });
  typing.appendChild(el("span")); typing.appendChild(el("span")); typing.appendChild(el("span"));
  typing.hidden = true;
  var quick = el("div", { "class": "tl-quick", role: "group", "aria-label": "Suggested replies" });
  var notice = el("p", { "class": "tl-notice", role: "alert" });
  notice.hidden = true;
  // "Continue on Telegram": shown only when the server says Telegram is on (ready frame).
  var elsewhere = el("div", { "class": "tl-elsewhere" });
  var telegramBtn = el("button", { type: "button", "class": "tl-telegram" },
    "Continue on Telegram");
  var elsewhereInfo = el("p", { "class": "tl-elsewhere-info", role: "status" });
  elsewhere.appendChild(telegramBtn);
  elsewhere.appendChild(elsewhereInfo);
  elsewhere.hidden = true;

  var form = el("form", { "class": "tl-form" });
  var label = el("label", { "for": "tl-input", "class": "tl-sr" }, "Your message");
  var input = el("textarea", { id: "tl-input", rows: "1", maxlength: String(MAX_CHARS),
    placeholder: "Write a message…", autocomplete: "off" });
  var sendBtn = el("button", { type: "submit", "class": "tl-send", "aria-label": "Send message" },
    "Send");
  form.appendChild(label); form.appendChild(input); form.appendChild(sendBtn);

  [head, elsewhere, log, typing, quick, notice, form].forEach(function (n) { panel.appendChild(n); });
  shadow.appendChild(panel);
  shadow.appendChild(bubble);

  var AUTHOR_LABEL = { customer: "You", bot: "Assistant", staff: "Support team", system: "Notice" };

  function linkify(container, text) {
    var re = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)]/g;
    var last = 0, m;
    while ((m = re.exec(text)) !== null) {
      container.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", { href: m[0], target: "_blank", rel: "noopener noreferrer" }, m[0]);
      container.appendChild(a);
      last = m.index + m[0].length;
    }
    container.appendChild(document.createTextNode(text.slice(last)));
  }

  function timeOf(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) d = new Date();
    return el("time", { datetime: d.toISOString() },
      d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  }

  function showGreeting() {
    log.appendChild(el("li", { "class": "tl-hint" }, greeting));
  }

  function renderMessage(author, text, createdAt) {
    var hint = log.querySelector(".tl-hint");
    if (hint) hint.remove();
    var kind = AUTHOR_LABEL[author] ? author : "bot";
    var item = el("li", { "class": "tl-msg tl-" + kind });
    item.appendChild(el("span", { "class": "tl-sr" }, AUTHOR_LABEL[kind] + ": "));
    var body = el("div", { "class": "tl-text" });
    linkify(body, text);
    item.appendChild(body);
    var meta = el("div", { "class": "tl-meta" });
    meta.appendChild(timeOf(createdAt));
    item.appendChild(meta);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function setStatus(text) { status.textContent = text; }

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  // ---- typing indicator and quick replies ---------------------------------------
  var typingTimer = null;
  function setTyping(on) {
    typing.hidden = !on;
    if (typingTimer) { clearTimeout(typingTimer); typingTimer = null; }
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
    if (on) log.scrollTop = log.scrollHeight;
  }

  function setQuickReplies(options) {
    quick.textContent = "";
    (options || []).forEach(function (text) {
      var b = el("button", { type: "button", "class": "tl-chip" }, text);
      b.addEventListener("click", function () { submitText(text); });
      quick.appendChild(b);
    });
  }

  // ---- open / close -----------------------------------------------------------
  var unread = 0;
  function setOpen(open, focus) {
    panel.hidden = !open;
    bubble.setAttribute("aria-expanded", open ? "true" : "false");
    bubble.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    save(window.sessionStorage, OPEN_KEY, open ? "1" : null);
    if (open) {
      unread = 0;
      badge.hidden = true;
      log.scrollTop = log.scrollHeight;
      if (focus) input.focus();
    } else if (focus) {
      bubble.focus();
    }
  }
  bubble.addEventListener("click", function () { setOpen(panel.hidden, true); });
  closeBtn.addEventListener("click", function () { setOpen(false, true); });
  panel.addEventListener("keydown", function (e) {
    if (e.key === "Escape") { e.preventDefault(); setOpen(false, true); }
  });

  function noteUnread() {
    if (!panel.hidden) return;
    unread += 1;
    badge.textContent = String(unread);
    badge.hidden = false;
    bubble.setAttribute("aria-label", "Open chat, " + unread + " new message" +
      (unread > 1 ? "s" : ""));
  }

  // ---- pending messages: kept until the server acks them ------------------------
  // localStorage holds the un-acked messages of every tab of this user (so a reload
  // resends them with the same client_id); each tab edits it by client_id only.
  var pending = [];           // [{client_id, text}] of this page view, oldest first
  var pendingEls = {};        // client_id -> <li>
  var sentHere = {};          // client_ids sent from this tab (their echoes are skipped)
  var seenIds = {};           // stored message ids already rendered

  function storedPending() {
    try {
      var list = JSON.parse(load(window.localStorage, PENDING_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) { return []; }
  }
  function writePending(list) {
    save(window.localStorage, PENDING_KEY, list.length ? JSON.stringify(list) : null);
  }

  pending = storedPending();
  pending.forEach(function (p) { sentHere[p.client_id] = true; });

  function addPending(p) {
    pending.push(p);
    writePending(storedPending().concat([p]));
  }

  function dropPending(clientId) {
    function keep(p) { return p.client_id !== clientId; }
    pending = pending.filter(keep);
    writePending(storedPending().filter(keep));
  }

  function renderPending(p) {
    var item = renderMessage("customer", p.text);
    item.classList.add("tl-sending");
    pendingEls[p.client_id] = item;
  }

  // ---- connection -------------------------------------------------------------
  var ws = null;
  var ready = false;
  var attempt = 0;
  var stopped = false;
  var freshSession = false;

  function sendFrame(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  function sendPending(p) {
    if (ready) sendFrame({ type: "message", text: p.text, client_id: p.client_id });
  }

  function helloFrame() {
    if (customer) {
      return Promise.resolve({ type: "hello", customer: { id: customer, hmac: customerHmac || "" } });
    }
    var token = load(window.localStorage, SESSION_KEY);
    if (token) return Promise.resolve({ type: "hello", session: token });
    return fetch(new URL("webchat/session", serverBase).href, { method: "POST" })
      .then(function (r) {
        if (!r.ok) throw new Error("session request failed: " + r.status);
        return r.json();
      })
      .then(function (body) {
        // Another tab may have won the race: share its session so history is one story.
        var existing = load(window.localStorage, SESSION_KEY);
        var chosen = existing || body.session;
        if (!existing) save(window.localStorage, SESSION_KEY, chosen);
        freshSession = true;
        return { type: "hello", session: chosen };
      });
  }

  function scheduleReconnect() {
    if (stopped) return;
    var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
    attempt += 1;
    setStatus("Reconnecting…");
    setTimeout(connect, delay);
  }

  function connect() {
    if (stopped) return;
    ready = false;
    setStatus(attempt ? "Reconnecting…" : "Connecting…");
    helloFrame().then(function (hello) {
      var socket = new WebSocket(wsUrl.href);
      ws = socket;
      socket.onopen = function () { socket.send(JSON.stringify(hello)); };
      socket.onmessage = function (ev) {
        var frame;
        try { frame = JSON.parse(ev.data); } catch (e) { return; }
        handleFrame(frame);
      };
      socket.onclose = function (ev) {
        if (ws !== socket) return;
        ready = false;
        ws = null;
        handleClose(ev);
      };
    }).catch(scheduleReconnect);
  }

  function handleClose(ev) {
    if (ev.code === 4401) {
      if (!customer && !freshSession) {
        // The stored session is no longer valid (e.g. the secret changed): start a new one.
        save(window.localStorage, SESSION_KEY, null);
        connect();
        return;
      }
      stopped = true;
      setStatus("Offline");
      showNotice(customer
        ? "We could not confirm your login for the chat. Please reload the page or log in again."
        : "The chat could not start a session. Please reload the page.");
      return;
    }
    scheduleReconnect();
  }

  // ---- continue on Telegram ----------------------------------------------------
  function credentials(hello) {
    return hello.session ? { session: hello.session } : { customer: hello.customer };
  }

  function continueOnTelegram() {
    telegramBtn.disabled = true;
    elsewhereInfo.textContent = "Getting your link…";
    helloFrame().then(function (hello) {
      return fetch(new URL("webchat/link", serverBase).href, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(credentials(hello))
      });
    }).then(function (r) {
      if (!r.ok) throw new Error("link request failed: " + r.status);
      return r.json();
    }).then(function (body) {
      elsewhereInfo.textContent = "";
      var a = el("a", { href: body.telegram, target: "_blank", rel: "noopener noreferrer",
        "class": "tl-telegram-link" }, "Open Telegram");
      elsewhereInfo.appendChild(a);
      elsewhereInfo.appendChild(document.createTextNode(
        " — or send /link " + body.code + " to our Telegram bot. The code works once, " +
        "for 15 minutes, and Telegram will know this conversation."));
      telegramBtn.disabled = false;
    }).catch(function () {
      elsewhereInfo.textContent = "We could not get a Telegram link right now. Please try again.";
      telegramBtn.disabled = false;
    });
  }
  telegramBtn.addEventListener("click", continueOnTelegram);

  function handleFrame(frame) {
    switch (frame.type) {
      case "ready":
        ready = true;
        elsewhere.hidden = !(Array.isArray(frame.continue_on) &&
          frame.continue_on.indexOf("telegram") !== -1);
        if (typeof frame.max_chars === "number" && frame.max_chars > 0) {
          MAX_CHARS = frame.max_chars;
          input.setAttribute("maxlength", String(MAX_CHARS));
        }
        attempt = 0;
        freshSession = false;
        setStatus("Online");
        showNotice("");
        break;
      case "history":
        onHistory(frame.messages || []);
        break;
      case "ack":
        onAck(frame.client_id, frame.duplicate === true);
        break;
      case "message":
        onMessage(frame);
        break;
      case "error":
        onError(frame);
        break;
      default:
        break;
    }
  }

  function onHistory(messages) {
    log.textContent = "";
    seenIds = {};
    pendingEls = {};
    var recentCustomerTexts = {};
    messages.forEach(function (m) {
      if (m.id !== null && m.id !== undefined) seenIds[m.id] = true;
      renderMessage(m.author, m.text, m.created_at);
      if (m.author === "customer") recentCustomerTexts[m.text] = true;
    });
    if (!messages.length && !pending.length) showGreeting();
    var last = messages[messages.length - 1];
    if (last && last.author !== "customer") setTyping(false);
    pending.forEach(function (p) {
      // A message already in the history was stored; its ack was lost on the way.
      if (!recentCustomerTexts[p.text]) renderPending(p);
      sendPending(p);
    });
  }

  function onAck(clientId, duplicate) {
    var item = pendingEls[clientId];
    var p = pending.filter(function (x) { return x.client_id === clientId; })[0];
    if (item) {
      item.classList.remove("tl-sending");
      delete pendingEls[clientId];
    } else if (p && !duplicate) {
      renderMessage("customer", p.text);
    }
    dropPending(clientId);
  }

  function onMessage(m) {
    if (m.id !== null && m.id !== undefined) {
      if (seenIds[m.id]) return;
      seenIds[m.id] = true;
    }
    if (m.author === "customer" && m.client_id && sentHere[m.client_id]) return;
    renderMessage(m.author, m.text, m.created_at);
    if (m.author === "customer") {
      setTyping(true);
      setQuickReplies([]);
      return;
    }
    setTyping(false);
    setQuickReplies(m.quick_replies);
    noteUnread();
  }

  function onError(frame) {
    if (frame.client_id) {
      var item = pendingEls[frame.client_id];
      if (item) {
        item.classList.remove("tl-sending");
        item.classList.add("tl-failed");
        item.appendChild(el("div", { "class": "tl-why" }, "Not sent: " + frame.reason));
        delete pendingEls[frame.client_id];
      }
      dropPending(frame.client_id);
      setTyping(false);
      return;
    }
    showNotice(frame.reason);
  }

  // ---- sending ----------------------------------------------------------------
  function submitText(raw) {
    var text = raw.trim();
    if (!text || stopped) return false;
    if (text.length > MAX_CHARS) {
      showNotice("Messages can be at most " + MAX_CHARS + " characters.");
      return false;
    }
    showNotice("");
    var p = { client_id: newClientId(), text: text };
    sentHere[p.client_id] = true;
    addPending(p);
    renderPending(p);
    setQuickReplies([]);
    setTyping(true);
    sendPending(p);
    return true;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (submitText(input.value)) {
      input.value = "";
      input.style.height = "";
    }
    input.focus();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    input.style.height = "";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  });

  function start() {
    document.body.appendChild(host);
    if (load(window.sessionStorage, OPEN_KEY) === "1") setOpen(true, false);
    connect();
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
