/* Yiyang caregiver app (颐养护理员): offline queue for 签到 / 签退 / photos, and the service worker's registration.

   Every tap becomes one queued request with its own client key (crypto.randomUUID) and the time of the tap
   (`at`), stored in IndexedDB before anything is sent. The queue is sent in order on load, when the phone comes
   back online, and every 30 seconds while something waits. A 2xx (also the server's answer to a replay of a
   key it has seen) removes the item; a 4xx refusal removes it and says why; no network, a 5xx or an ended
   session (401) keep it. The server applies each key once, so a replay never records a visit twice.
   Without this script the forms post to the server directly. */
(function () {
  "use strict";

  var configNode = document.getElementById("cg-config");
  if (!configNode) return;
  var cfg = JSON.parse(configNode.textContent);
  var t = cfg.t;
  var DB_NAME = "yiyang-caregiver", STORE = "queue", NOTICES = "yiyang-caregiver-notices";
  var RETRY_MS = 30000, LOCATE_MS = 8000, LOCATE_GRACE_MS = 30000;

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ------------------------------------------------------------------------------------------- the queue
  // IndexedDB (keeps photos as Blobs); items keep their insertion order through the auto-increment id.
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE, {keyPath: "id", autoIncrement: true}); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function tx(mode, work) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var x = d.transaction(STORE, mode), store = x.objectStore(STORE), result;
        var req = work(store);
        if (req) req.onsuccess = function () { result = req.result; };
        x.oncomplete = function () { resolve(result); };
        x.onerror = x.onabort = function () { reject(x.error); };
      });
    });
  }
  var queue = {
    all: function () { return tx("readonly", function (s) { return s.getAll(); }).then(function (r) { return r || []; }); },
    add: function (item) { return tx("readwrite", function (s) { return s.add(item); }); },
    put: function (item) { return tx("readwrite", function (s) { return s.put(item); }); },
    remove: function (id) { return tx("readwrite", function (s) { return s.delete(id); }); },
    clear: function () { return tx("readwrite", function (s) { return s.clear(); }); },
  };

  // ------------------------------------------------------------------------------------------- messages
  function notices() {
    try { return JSON.parse(localStorage.getItem(NOTICES) || "[]"); } catch (e) { return []; }
  }
  function saveNotices(list) { try { localStorage.setItem(NOTICES, JSON.stringify(list.slice(-10))); } catch (e) { /* full */ } }
  function renderNotices() {
    var box = document.getElementById("cg-notices");
    if (!box) return;
    box.textContent = "";
    notices().forEach(function (n, i) {
      var li = document.createElement("li");
      li.className = "msg msg-error";
      li.setAttribute("data-testid", "notice");
      li.textContent = n + " ";
      var b = document.createElement("button");
      b.type = "button"; b.className = "linkish"; b.textContent = t.dismiss;
      b.addEventListener("click", function () { var l = notices(); l.splice(i, 1); saveNotices(l); renderNotices(); });
      li.appendChild(b);
      box.appendChild(li);
    });
  }
  function notice(text) { var l = notices(); l.push(text); saveNotices(l); renderNotices(); }
  // A passing line (e.g. "已记录，待同步"): replaced by the next one, not kept.
  function say(text) {
    var box = document.getElementById("cg-notices");
    if (!box) return;
    var old = box.querySelector("[data-transient]");
    if (old) old.remove();
    if (!text) return;
    var li = document.createElement("li");
    li.className = "msg"; li.setAttribute("data-transient", ""); li.setAttribute("data-testid", "say");
    li.textContent = text;
    box.insertBefore(li, box.firstChild);
  }

  // ------------------------------------------------------------------------------------------- the page
  var STEP_WORD = {"check-in": t.checkInWord, "check-out": t.checkOutWord, "photo": t.photoWord};
  var STAGES = {assigned: "before", checked_in: "during", checked_out: "after", confirmed: "after", rated: "after",
                settled: "after"};

  function render(items) {
    document.body.setAttribute("data-pending", String(items.length));
    var pending = document.getElementById("cg-pending");
    if (pending) {
      pending.textContent = fmt(t.pending, {n: items.length});
      pending.hidden = items.length === 0;
    }
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
  function refresh() { return queue.all().then(render); }

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
  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
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

  function reason(response) {
    return response.json().then(function (b) {
      var parts = [b.message].concat((b.errors || []).map(function (e) { return e.message; }));
      return parts.filter(function (p, i) { return p && parts.indexOf(p) === i; }).join(" ");
    }, function () { return "HTTP " + response.status; });
  }

  var outcome = {};  // client key → "sent" or "refused", for the message after a tap

  async function syncOnce() {
    var sent = 0;
    var items = await queue.all();
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      // Still waiting for its location (the tap was moments ago): keep the order, try again soon.
      if (item.locating && Date.now() - item.created < LOCATE_GRACE_MS) break;
      if (item.kind === "photo" && !cfg.photo) break;
      var response;
      try { response = await send(item); } catch (e) { break; }  // offline: keep it
      if (response.ok) {
        await queue.remove(item.id);
        outcome[item.key] = "sent";
        sent++;
        try { var order = await response.json(); if (order && order.id) applyServer(order); } catch (e) { /* no body */ }
        continue;
      }
      if (response.status === 401) { say(t.signIn); break; }
      if (response.status >= 500 || response.status === 408 || response.status === 429) break;
      // Refused (not now, not yours, invalid): retrying would not help. Say why and drop it.
      await queue.remove(item.id);
      outcome[item.key] = "refused";
      notice(fmt(t.rejected, {what: STEP_WORD[item.kind] || "", why: await reason(response)}));
    }
    return sent;
  }

  var running = null, again = false;
  function sync() {
    if (running) { again = true; return running; }  // one run at a time; run once more when it ends
    running = (async function () {
      var sent = 0;
      try {
        do { again = false; sent += await syncOnce(); } while (again);
      } finally {
        running = null;
        await refresh();
      }
      if (sent) {
        say(t.sent);
        keepPages();  // the kept copies now show the new status
      }
      return sent;
    })();
    return running;
  }

  // ------------------------------------------------------------------------------------------- the steps
  function locate() {
    return new Promise(function (resolve) {
      if (!("geolocation" in navigator)) { resolve({why: t.geoUnsupported}); return; }
      var done = false, finish = function (v) { if (!done) { done = true; resolve(v); } };
      setTimeout(function () { finish({why: t.geoUnavailable}); }, LOCATE_MS + 2000);  // some phones never answer
      navigator.geolocation.getCurrentPosition(function (p) {
        finish({latitude: Number(p.coords.latitude.toFixed(6)), longitude: Number(p.coords.longitude.toFixed(6))});
      }, function (err) {
        finish({why: err && err.code === 1 ? t.geoDenied : t.geoUnavailable});
      }, {enableHighAccuracy: true, timeout: LOCATE_MS, maximumAge: 60000});
    });
  }

  // Phone cameras take pictures of several megabytes: a 1600-pixel JPEG is plenty for a visit record, and
  // fits the server's 5 MB limit. When the phone cannot shrink it, the original is sent.
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
  function showNetwork() {
    var net = document.getElementById("cg-net");
    if (net) net.hidden = navigator.onLine;
    var banner = document.getElementById("cg-offline");
    if (banner) banner.hidden = document.body.getAttribute("data-source") !== "cache";
  }

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

  function onLogout(event) {
    queue.all().then(function (items) {
      if (items.length && !window.confirm(fmt(t.logoutPending, {n: items.length}))) return;
      // Elders' names and addresses must not stay on a phone after its user has left.
      var work = [queue.clear().catch(function () {})];
      if (window.caches) work.push(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (n) { return n.indexOf("yiyang-caregiver-") === 0; }).map(function (n) { return caches.delete(n); }));
      }));
      try { localStorage.removeItem(NOTICES); } catch (e) { /* ignore */ }
      Promise.all(work).finally(function () { event.target.submit(); });
    });
    event.preventDefault();
  }

  // For the people who test this (and the browser test): the queue and a way to push it now.
  window.caregiverQueue = {all: queue.all, add: queue.add, sync: sync, refresh: refresh};

  var pendingButton = document.getElementById("cg-pending");
  if (pendingButton) pendingButton.addEventListener("click", function () { sync(); });
  document.addEventListener("submit", function (event) {
    if (event.target.id === "cg-logout") onLogout(event);
    else if (event.target.classList.contains("cg-step")) onStep(event);
  });
  document.querySelectorAll("[data-status-label]").forEach(function (l) { l.setAttribute("data-server", l.textContent); });
  window.addEventListener("online", function () { showNetwork(); sync(); });
  window.addEventListener("offline", showNetwork);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) sync(); });
  setInterval(function () { queue.all().then(function (items) { if (items.length) sync(); }); }, RETRY_MS);

  showNetwork();
  renderNotices();
  registerWorker();
  refresh().then(sync);
})();
