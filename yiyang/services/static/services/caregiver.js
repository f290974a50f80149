/* Yiyang caregiver app (颐养护理员): 签到 / 签退 / photos through the shared offline queue
   (core/static/core/offline_queue.js), and the service worker's registration.

   Every tap becomes one queued request with its own client key (crypto.randomUUID) and the time of the tap
   (`at`), stored in IndexedDB before anything is sent. The queue is sent in order on load, when the phone comes
   back online, and every 30 seconds while something waits. A 2xx (also the server's answer to a replay of a
   key it has seen) removes the item; a 4xx refusal removes it and says why; no network, a 5xx or an ended
   session (401) keep it. The server applies each key once, so a replay never records a visit twice.
   Without this script the forms post to the server directly. */
(function () {
  "use strict";

  var configNode = document.getElementById("cg-config");
  if (!configNode || !window.YiyangOfflineQueue) return;
  var cfg = JSON.parse(configNode.textContent);
  var t = cfg.t, OQ = window.YiyangOfflineQueue, fmt = OQ.fmt, uuid = OQ.uuid, csrfToken = OQ.csrfToken;

  // ------------------------------------------------------------------------------------------- the page
  var STEP_WORD = {"check-in": t.checkInWord, "check-out": t.checkOutWord, "photo": t.photoWord};
  var STAGES = {assigned: "before", checked_in: "during", checked_out: "after", confirmed: "after", rated: "after",
                settled: "after"};
  function renderCards(items) {
    // What the caregiver has done but the server does not know yet shows on the visit's cards and steps.
    var queued = {};
    items.forEach(function (it) { (queued[it.order] = queued[it.order] || {})[it.kind] = true; });
    document.querySelectorAll("[data-order][data-status]").forEach(function (card) {
      var q = queued[card.getAttribute("data-order")] || {}, status = card.getAttribute("data-status");
      var label = card.querySelector("[data-status-label]");
      var stage = STAGES[status] || "closed";
      if (q["check-out"] && stage !== "after") { stage = "after"; if (label) label.textContent = t.checkedOutQueued; }
      else if (q["check-in"] && stage === "before") { stage = "during"; if (label) label.textContent = t.checkedInQueued; }
      else if (label && label.getAttribute("data-server")) label.textContent = label.getAttribute("data-server");
      card.classList.toggle("cg-queued", !!(q["check-in"] || q["check-out"] || q.photo));
      var next = card.querySelector("[data-next-link]");
      if (next) next.textContent = {before: t.goCheckIn, during: t.goCheckOut}[stage] || t.view;
      if (card.tagName === "ARTICLE") {
        document.querySelectorAll("section[data-stage]").forEach(function (s) {
          s.hidden = s.getAttribute("data-stage") === "after" ? stage === "before" || stage === "closed"
            : s.getAttribute("data-stage") !== stage;
        });
      }
    });
  }

  var clockFormat = new Intl.DateTimeFormat("en-GB", {hour: "2-digit", minute: "2-digit", hourCycle: "h23",
                                                        timeZone: cfg.timeZone});
  function applyServer(order) {
    // The server's answer after a step: the order's status and result as they now are.
    document.querySelectorAll('[data-order="' + order.id + '"][data-status]').forEach(function (card) {
      card.setAttribute("data-status", order.status);
      var label = card.querySelector("[data-status-label]");
      if (label) {
        label.textContent = order.status_label;
        label.setAttribute("data-server", order.status_label);
        label.className = "cg-status cg-status-" + order.status;
      }
    });
    // In the jurisdiction's zone (cfg.timeZone), like the server-rendered times, not the phone's.
    var hm = function (iso) { return iso ? clockFormat.format(new Date(iso)) : "—"; };
    var set = function (field, text) { var n = document.querySelector('[data-field="' + field + '"]'); if (n) n.textContent = text; };
    if (document.querySelector("article[data-order='" + order.id + "']")) {
      set("check_in_at", hm(order.check_in_at));
      set("check_out_at", hm(order.check_out_at));
      if (order.service_notes) set("service_notes", order.service_notes);
      if (order.check_in_at && order.check_out_at) {
        var m = Math.round((new Date(order.check_out_at) - new Date(order.check_in_at)) / 60000);
        set("minutes", fmt(t.minutes, {m: m}));
      }
      if (order.has_photo && !document.querySelector('[data-field="photo"] img')) set("photo", t.photoSent);
    }
  }

  // ------------------------------------------------------------------------------------------- sending
  function urlFor(template, order) { return template.replace(cfg.idSentinel, String(order)); }

  function send(item) {
    var headers = {"X-CSRFToken": csrfToken(), "Accept": "application/json"}, body;
    if (item.kind === "photo") {
      body = new FormData();
      body.append("photo", item.photo, item.photoName || "photo.jpg");
      body.append("client_key", item.key);
    } else {
      headers["Content-Type"] = "application/json";
      var data = {at: item.at, client_key: item.key};
      if (item.latitude != null) { data.latitude = item.latitude; data.longitude = item.longitude; }
      if (item.kind === "check-out") data.notes = item.notes || "";
      body = JSON.stringify(data);
    }
    var url = urlFor(item.kind === "photo" ? cfg.photo : item.kind === "check-in" ? cfg.checkIn : cfg.checkOut, item.order);
    return fetch(url, {method: "POST", credentials: "same-origin", headers: headers, body: body});
  }

  var app = OQ.create({
    dbName: "yiyang-caregiver", noticesKey: "yiyang-caregiver-notices", t: t, send: send, render: renderCards,
    ids: {notices: "cg-notices", pending: "cg-pending", net: "cg-net", offline: "cg-offline"},
    word: function (item) { return STEP_WORD[item.kind] || ""; },
    ready: function (item) { return item.kind !== "photo" || !!cfg.photo; },
    onSent: function (item, response) {
      return response.json().then(function (order) { if (order && order.id) applyServer(order); });
    },
    afterSent: function () { keepPages(); },  // the kept copies now show the new status
  });
  var queue = app.queue, outcome = app.outcome, sync = app.sync, refresh = app.refresh, say = app.say;
  function locate() { return OQ.locate(t); }

  // ------------------------------------------------------------------------------------------- the steps
  async function shrink(file) {
    try {
      if (!window.createImageBitmap || file.size < 600 * 1024) return file;
      var bitmap = await createImageBitmap(file);
      var scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale); canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      var blob = await new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.82); });
      return blob && blob.size < file.size ? blob : file;
    } catch (e) { return file; }
  }

  async function queuePhoto(form, order, at) {
    var input = form.querySelector("input[type=file]");
    var file = input && !input.disabled && input.files && input.files[0];
    if (!file || !cfg.photo) return null;
    var photo = await shrink(file);
    var item = {kind: "photo", order: order, key: uuid(), at: at, created: Date.now(), photo: photo,
                photoName: photo === file ? file.name : "photo.jpg"};
    item.id = await queue.add(item);
    input.value = "";
    return item;
  }

  async function onStep(event) {
    var form = event.target;
    event.preventDefault();
    var kind = form.getAttribute("data-step"), order = form.getAttribute("data-order");
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      // The moment of the tap is what counts, not when the phone finds a network.
      var at = new Date().toISOString(), lines = [], item;
      if (kind === "photo") {
        item = await queuePhoto(form, order, at);
        if (!item) return;
      } else {
        item = {kind: kind, order: order, key: uuid(), at: at, created: Date.now(), locating: true};
        if (kind === "check-out") item.notes = (form.querySelector("[name=notes]") || {}).value || "";
        item.id = await queue.add(item);  // stored before anything else can go wrong
        await queuePhoto(form, order, at);
        await refresh();
        say(t.locating);
        var where = await locate();
        delete item.locating;
        if (where.latitude != null) { item.latitude = where.latitude; item.longitude = where.longitude; }
        else lines.push(fmt(t.noLocation, {why: where.why}));
        await queue.put(item);
      }
      await sync();
      if (outcome[item.key] === "refused") { say(""); return; }  // the notice says why
      var done = {"check-in": t.checkedIn, "check-out": t.checkedOut, "photo": t.photoSent}[kind];
      lines.unshift(outcome[item.key] === "sent" ? done : kind === "photo" ? t.photoQueued : t.queued);
      say(lines.join(" "));
    } finally {
      if (button) button.disabled = false;
    }
  }

  // ------------------------------------------------------------------------------------------- offline
  function keepPages() {
    // Ask the worker to keep today's page and every visit page linked from it, for use offline.
    if (!navigator.serviceWorker || !navigator.serviceWorker.controller) return;
    var urls = [cfg.scope];
    document.querySelectorAll("a[href^='" + cfg.scope + "visits/']").forEach(function (a) { urls.push(a.getAttribute("href")); });
    if (location.pathname.indexOf(cfg.scope) === 0 && urls.indexOf(location.pathname) < 0) urls.push(location.pathname);
    navigator.serviceWorker.controller.postMessage({type: "keep", urls: urls});
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register(cfg.sw, {scope: cfg.scope}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      if (navigator.serviceWorker.controller) keepPages();
      else navigator.serviceWorker.addEventListener("controllerchange", keepPages, {once: true});
    }).catch(function () { /* no worker (e.g. not a secure context): the app still works online */ });
  }

  // For the people who test this (and the browser test): the queue and a way to push it now.
  window.caregiverQueue = {all: queue.all, add: queue.add, sync: sync, refresh: refresh};

  document.addEventListener("submit", function (event) {
    if (event.target.id === "cg-logout") app.onLogout(event, "yiyang-caregiver-");
    else if (event.target.classList.contains("cg-step")) onStep(event);
  });
  document.querySelectorAll("[data-status-label]").forEach(function (l) { l.setAttribute("data-server", l.textContent); });
  registerWorker();
  app.start();
})();
