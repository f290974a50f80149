/* Yiyang phone apps: the offline queue shared by the caregiver's and the visitor's app.

   Every tap becomes one queued item with its own client key, stored in IndexedDB before anything is sent. The
   queue is sent in order on load, when the phone comes back online, and every 30 seconds while something
   waits. A 2xx (also the server's answer to a replay of a key it has seen) removes the item; a 4xx refusal
   removes it and says why (a notice kept until dismissed); no network, a 5xx, 408/429 or an ended session
   (401) keep it. The server applies each key once, so a replay never records anything twice.

   YiyangOfflineQueue.create({dbName, noticesKey, t, send(item) → Promise<Response>, word(item) → text,
   onSent(item, response), render(items)}) returns the queue and its helpers; the app adds its own steps. */
(function () {
  "use strict";
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

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function reason(response) {
    return response.json().then(function (b) {
      var parts = [b.message].concat((b.errors || []).map(function (e) { return e.message; }));
      return parts.filter(function (p, i) { return p && parts.indexOf(p) === i; }).join(" ");
    }, function () { return "HTTP " + response.status; });
  }

  function locate(t) {
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

  function create(opts) {
    var t = opts.t, STORE = "queue";
    var ids = Object.assign({notices: "oq-notices", pending: "oq-pending", net: "oq-net", offline: "oq-offline"},
                            opts.ids || {});

    // IndexedDB (keeps photos as Blobs); items keep their insertion order through the auto-increment id.
    var dbPromise = null;
    function db() {
      if (!dbPromise) {
        dbPromise = new Promise(function (resolve, reject) {
          var req = indexedDB.open(opts.dbName, 1);
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

    // Notices: refusals, kept (localStorage) until dismissed.
    function notices() {
      try { return JSON.parse(localStorage.getItem(opts.noticesKey) || "[]"); } catch (e) { return []; }
    }
    function saveNotices(list) { try { localStorage.setItem(opts.noticesKey, JSON.stringify(list.slice(-10))); } catch (e) { /* full */ } }
    function renderNotices() {
      var box = document.getElementById(ids.notices);
      if (!box) return;
      box.querySelectorAll("[data-testid=notice]").forEach(function (n) { n.remove(); });
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
    // A passing line ("已记录，待同步"): replaced by the next one, not kept.
    function say(text) {
      var box = document.getElementById(ids.notices);
      if (!box) return;
      var old = box.querySelector("[data-transient]");
      if (old) old.remove();
      if (!text) return;
      var li = document.createElement("li");
      li.className = "msg"; li.setAttribute("data-transient", ""); li.setAttribute("data-testid", "say");
      li.textContent = text;
      box.insertBefore(li, box.firstChild);
    }

    function render(items) {
      document.body.setAttribute("data-pending", String(items.length));
      var pending = document.getElementById(ids.pending);
      if (pending) {
        pending.textContent = fmt(t.pending, {n: items.length});
        pending.hidden = items.length === 0;
      }
      if (opts.render) opts.render(items);
    }
    function refresh() { return queue.all().then(render); }

    var outcome = {};  // client key → "sent" or "refused", for the message after a tap

    async function syncOnce() {
      var sent = 0;
      var items = await queue.all();
      for (var i = 0; i < items.length; i++) {
        var item = items[i];
        // Still waiting for its location (the tap was moments ago): keep the order, try again soon.
        if (item.locating && Date.now() - item.created < LOCATE_GRACE_MS) break;
        if (opts.ready && !opts.ready(item)) break;
        var response;
        try { response = await opts.send(item); } catch (e) { break; }  // offline: keep it
        if (response.ok) {
          await queue.remove(item.id);
          outcome[item.key] = "sent";
          sent++;
          if (opts.onSent) { try { await opts.onSent(item, response); } catch (e) { /* no body */ } }
          continue;
        }
        if (response.status === 401) { say(t.signIn); break; }
        if (response.status >= 500 || response.status === 408 || response.status === 429) break;
        // Refused (not now, not yours, invalid): retrying would not help. Say why and drop it.
        await queue.remove(item.id);
        outcome[item.key] = "refused";
        notice(fmt(t.rejected, {what: opts.word ? opts.word(item) : "", why: await reason(response)}));
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
          if (opts.afterSent) opts.afterSent(sent);
        }
        return sent;
      })();
      return running;
    }

    function showNetwork() {
      var net = document.getElementById(ids.net);
      if (net) net.hidden = navigator.onLine;
      var banner = document.getElementById(ids.offline);
      if (banner) banner.hidden = document.body.getAttribute("data-source") !== "cache";
    }

    // Start: the pending badge pushes the queue, and the queue is sent on load, online, return and every 30 s.
    function start() {
      var pendingButton = document.getElementById(ids.pending);
      if (pendingButton) pendingButton.addEventListener("click", function () { sync(); });
      window.addEventListener("online", function () { showNetwork(); sync(); });
      window.addEventListener("offline", showNetwork);
      document.addEventListener("visibilitychange", function () { if (!document.hidden) sync(); });
      setInterval(function () { queue.all().then(function (items) { if (items.length) sync(); }); }, RETRY_MS);
      showNetwork();
      renderNotices();
      return refresh().then(sync);
    }

    // Signing out clears the queue, the kept pages and the notices (people's names must not stay on a phone).
    function onLogout(event, cachePrefix) {
      event.preventDefault();
      queue.all().then(function (items) {
        if (items.length && !window.confirm(fmt(t.logoutPending, {n: items.length}))) return;
        var work = [queue.clear().catch(function () {})];
        if (window.caches) work.push(caches.keys().then(function (names) {
          return Promise.all(names.filter(function (n) { return n.indexOf(cachePrefix) === 0; }).map(function (n) { return caches.delete(n); }));
        }));
        try { localStorage.removeItem(opts.noticesKey); } catch (e) { /* ignore */ }
        Promise.all(work).finally(function () { event.target.submit(); });
      });
    }

    return {queue: queue, sync: sync, refresh: refresh, notice: notice, say: say, outcome: outcome,
            showNetwork: showNetwork, start: start, onLogout: onLogout};
  }

  window.YiyangOfflineQueue = {create: create, fmt: fmt, uuid: uuid, csrfToken: csrfToken, locate: locate,
                               reason: reason};
})();
