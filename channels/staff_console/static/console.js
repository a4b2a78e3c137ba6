/* Threadline staff console: sign in, watch handoffs live, claim, reply, note, resolve. */
(function () {
  "use strict";

  var state = { staff: null, cards: [], selected: null, socket: null, retry: 0, signedOut: false };
  var $ = function (id) { return document.getElementById(id); };
  var AUTHOR = { customer: "Customer", bot: "Bot", staff: "Staff", system: "System" };
  var ACTION_DONE = {
    claim: "Claimed. The conversation is yours: the bot stays quiet.",
    reply: "Reply sent to the customer.",
    note: "Note added (only staff see it).",
    assign: "Assigned. It is your colleague's now.",
    resolve: "Resolved. The customer was asked for a rating.",
    "back-to-bot": "Handed back to the bot. The customer was told."
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function when(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }

  // "12 min", "2 h 5 min", "3 d 4 h": how long, at a glance.
  function span(ms) {
    var mins = Math.max(0, Math.floor(ms / 60000));
    if (mins < 1) return "under a minute";
    if (mins < 60) return mins + " min";
    var hours = Math.floor(mins / 60);
    if (hours < 24) return hours + " h" + (mins % 60 ? " " + (mins % 60) + " min" : "");
    return Math.floor(hours / 24) + " d" + (hours % 24 ? " " + (hours % 24) + " h" : "");
  }

  function since(iso) { return Date.now() - new Date(iso).getTime(); }

  // A waiting handoff that missed its time to claim: reposted, or past sla_due_at.
  function overdue(c) {
    if (c.state !== "waiting") return false;
    return c.sla_reposts > 0 || (!!c.sla_due_at && since(c.sla_due_at) >= 0);
  }

  function claimTarget(c) {
    var missed = c.sla_reposts ? "missed, reposted " + c.sla_reposts + "×" : "";
    if (c.state !== "waiting") return missed || "met";
    if (!c.sla_due_at) return missed || "no target for this queue";
    var left = new Date(c.sla_due_at).getTime() - Date.now();
    if (missed) return missed + " · next repost " + (left > 0 ? "in " + span(left) : "now");
    return left > 0 ? "due in " + span(left) : "overdue by " + span(-left);
  }

  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { status: res.status, data: data };
      });
    });
  }

  // --- sign-in ---------------------------------------------------------------------

  function showLogin(message) {
    state.staff = null;
    $("desk").hidden = true;
    $("who").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function showDesk(staff) {
    state.staff = staff;
    state.signedOut = false;
    $("login").hidden = true;
    $("desk").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = staff;
    connect();
  }

  $("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var token = $("token").value.trim();
    if (!token) { $("login-error").textContent = "Enter your staff token."; return; }
    api("POST", "/staff/login", { token: token }).then(function (r) {
      $("token").value = "";
      if (r.status === 200) showDesk(r.data.staff);
      else showLogin(r.data.error || "Sign-in failed (" + r.status + ").");
    });
  });

  $("logout").addEventListener("click", function () {
    state.signedOut = true;
    if (state.socket) state.socket.close();
    api("POST", "/staff/logout").then(function () { showLogin("Signed out."); });
  });

  // --- live updates ----------------------------------------------------------------

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/staff/ws";
    var ws = new WebSocket(url);
    state.socket = ws;
    ws.onopen = function () { state.retry = 0; $("live-dot").classList.add("on"); };
    ws.onmessage = function (ev) {
      var frame = JSON.parse(ev.data);
      if (frame.type === "handoffs") update(frame);
    };
    ws.onclose = function (ev) {
      $("live-dot").classList.remove("on");
      if (state.socket === ws) state.socket = null;
      if (state.signedOut) return;
      if (ev.code === 4401) { showLogin("Your session has ended; sign in again."); return; }
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(function () { if (state.staff) connect(); }, 500 * Math.pow(2, state.retry - 1));
    };
  }

  function update(frame) {
    state.cards = frame.handoffs || [];
    renderColleagues(frame.colleagues || []);
    renderOutcomes(frame.outcomes || {});
    renderList();
    var still = state.cards.some(function (c) { return c.id === state.selected; });
    if (state.selected !== null && !still) {
      setStatus("Handoff " + state.selected + " is closed.");
      state.selected = null;
    }
    renderDetail();
  }

  // --- rendering -------------------------------------------------------------------

  function renderOutcomes(o) {
    if (o.conversations === undefined) { $("outcomes").textContent = ""; return; }
    var parts = [
      "Last 30 days: " + o.conversations + (o.conversations === 1 ? " conversation" : " conversations"),
      o.resolved_by_bot + " handled by the bot",
      o.resolved_by_staff + " resolved by staff",
      o.reopened + " came back within " + o.reopened_within_days + " days"
    ];
    if (o.ratings) parts.push("rating " + o.average_rating + "/5 (" + o.ratings + ")");
    $("outcomes").textContent = parts.join(" · ");
  }

  function renderList() {
    ["waiting", "claimed"].forEach(function (kind) {
      var list = $(kind);
      var cards = state.cards.filter(function (c) { return c.state === kind; });
      $("count-" + kind).textContent = cards.length;
      list.replaceChildren();
      if (!cards.length) list.appendChild(el("li", { class: "muted" }, "None"));
      cards.forEach(function (c) {
        var item = el("li");
        var button = el("button", { type: "button", class: "card-link", "data-id": c.id });
        if (c.id === state.selected) button.setAttribute("aria-current", "true");
        if (c.priority === "high" || c.priority === "urgent") button.classList.add(c.priority);
        if (overdue(c)) button.classList.add("overdue");
        var head = el("span", { class: "name" }, customerName(c));
        if (c.priority === "high" || c.priority === "urgent") {
          head.appendChild(el("span", { class: "badge " + c.priority }, c.priority));
        }
        if (overdue(c)) head.appendChild(el("span", { class: "badge overdue" }, "overdue"));
        button.appendChild(head);
        button.appendChild(el("span", { class: "why" }, c.rule_id));
        var sub = c.customer.channel + " · ";
        sub += c.state === "waiting" ? "waiting " + span(since(c.created_at)) : when(c.created_at);
        if (c.claimed_by) sub += " · " + c.claimed_by;
        button.appendChild(el("span", { class: "sub" }, sub));
        button.addEventListener("click", function () { select(c.id); });
        item.appendChild(button);
        list.appendChild(item);
      });
    });
  }

  function customerName(c) {
    return c.customer.name || c.customer.email || "Guest #" + c.customer.id;
  }

  function select(id) {
    state.selected = id;
    setStatus("");
    renderList();
    renderDetail();
    $("text").focus();
  }

  function renderDetail() {
    var card = state.cards.find(function (c) { return c.id === state.selected; });
    $("empty").hidden = !!card;
    $("card").hidden = !card;
    if (!card) return;
    $("card-title").textContent = customerName(card) + " · handoff " + card.id;
    var mine = card.state === "claimed" && card.claimed_by === state.staff;
    $("card-state").textContent = card.state === "waiting"
      ? "Waiting for someone to claim it"
      : mine ? "Claimed by you" : "Claimed by " + card.claimed_by;
    var facts = [
      ["Email", card.customer.email || "unknown"],
      ["On channel", card.customer.channel],
      ["Rule", card.rule_id],
      ["Reason", card.reason || "—"],
      ["Queue", card.queue + " · " + card.priority + " priority"],
      ["Waiting since", when(card.created_at)],
      ["Time to claim", claimTarget(card)]
    ];
    $("facts").replaceChildren();
    facts.forEach(function (f) {
      $("facts").appendChild(el("dt", {}, f[0]));
      $("facts").appendChild(el("dd", {}, f[1]));
    });
    renderOrders(card.orders || []);
    renderTurns(card);
    var open = card.state === "waiting" || card.state === "claimed";
    var canClose = card.state === "waiting" || mine;
    setEnabled("claim", card.state === "waiting");
    setEnabled("reply", mine);
    setEnabled("note", open);
    setEnabled("assign", canClose && $("assignee").options.length > 0);
    setEnabled("resolve", canClose);
    setEnabled("back-to-bot", canClose);
  }

  function renderOrders(orders) {
    var body = $("orders").querySelector("tbody");
    body.replaceChildren();
    $("orders").hidden = !orders.length;
    $("no-orders").hidden = !!orders.length;
    orders.forEach(function (o) {
      var row = el("tr");
      row.appendChild(el("td", {}, o.id));
      row.appendChild(el("td", {}, o.status.replace(/_/g, " ")));
      row.appendChild(el("td", {}, o.total + " " + o.currency));
      row.appendChild(el("td", {}, when(o.created_at)));
      body.appendChild(row);
    });
  }

  function renderTurns(card) {
    var list = $("turns");
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren();
    card.turns.forEach(function (t) {
      var kind = t.internal ? (t.author === "system" ? "system" : "note") : t.author;
      var item = el("li", { class: "turn " + kind });
      var who = t.author === "customer" ? customerName(card) : AUTHOR[t.author] || t.author;
      if (t.staff) who = t.staff;
      var label = who + (t.internal && t.author === "staff" ? " · internal note" : "");
      var meta = el("p", { class: "meta" });
      meta.appendChild(el("span", { class: "who" }, label));
      meta.appendChild(el("span", { class: "at" }, t.channel + " · " + when(t.created_at)));
      item.appendChild(meta);
      item.appendChild(el("p", { class: "text" }, t.text));
      list.appendChild(item);
    });
    if (atBottom || list.dataset.card !== String(card.id)) list.scrollTop = list.scrollHeight;
    list.dataset.card = String(card.id);
  }

  function renderColleagues(names) {
    var select = $("assignee");
    var chosen = select.value;
    select.replaceChildren();
    names.forEach(function (name) { select.appendChild(el("option", { value: name }, name)); });
    if (names.indexOf(chosen) >= 0) select.value = chosen;
    select.disabled = !names.length;
  }

  function setEnabled(action, on) {
    var button = document.querySelector('[data-action="' + action + '"]');
    button.disabled = !on;
  }

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error", !!isError);
  }

  // --- actions ---------------------------------------------------------------------

  function act(action) {
    var id = state.selected;
    if (id === null) return;
    var text = action === "assign" ? $("assignee").value : $("text").value;
    if ((action === "reply" || action === "note") && !text.trim()) {
      setStatus("Write the message first.", true);
      $("text").focus();
      return;
    }
    api("POST", "/staff/api/handoffs/" + id + "/" + action, { text: text }).then(function (r) {
      if (r.status === 401) { showLogin("Your session has ended; sign in again."); return; }
      if (r.status !== 200) { setStatus(r.data.error || "Failed (" + r.status + ").", true); return; }
      if (action === "reply" || action === "note") $("text").value = "";
      setStatus(ACTION_DONE[action]);
    });
  }

  $("compose").addEventListener("submit", function (ev) { ev.preventDefault(); act("reply"); });
  document.querySelectorAll("[data-action]").forEach(function (button) {
    if (button.type === "submit") return;
    button.addEventListener("click", function () { act(button.getAttribute("data-action")); });
  });
  $("text").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); act("reply"); }
  });

  // "waiting 12 min" and "overdue" move with the clock, not only when something changes.
  setInterval(function () {
    if (!state.staff) return;
    renderList();
    var card = state.cards.find(function (c) { return c.id === state.selected; });
    if (card) $("facts").lastChild.textContent = claimTarget(card);
  }, 30000);

  api("GET", "/staff/api/me").then(function (r) {
    if (r.status === 200) showDesk(r.data.staff); else showLogin("");
  });
})();
