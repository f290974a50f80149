/* Yiyang visitor app (颐养巡访员): a visit record goes through the shared offline queue (core/offline_queue.js).

   Submitting the record form stores the whole form (fields, checklist, follow-ups, the photo as a Blob), the
   moment of the tap and a client key on the phone first; the location is added when the phone finds it. The
   queue posts each item as multipart to the task's record endpoint (JSON answers), which gives a replay of the
   same key the first record. Without this script the form posts to the server directly. */
(function () {
  "use strict";
  var configNode = document.getElementById("vs-config");
  if (!configNode || !window.YiyangOfflineQueue) return;
  var cfg = JSON.parse(configNode.textContent), t = cfg.t, OQ = window.YiyangOfflineQueue;
  var CACHE_PREFIX = "yiyang-visitor-";

  function urlFor(task) { return cfg.record.replace(cfg.idSentinel, String(task)); }

  function send(item) {
    var body = new FormData();
    Object.keys(item.fields).forEach(function (k) { body.append(k, item.fields[k]); });
    body.append("client_key", item.key);
    body.append("at", item.at);
    if (item.latitude != null) { body.append("latitude", item.latitude); body.append("longitude", item.longitude); }
    if (item.photo) body.append("photo", item.photo, item.photoName || "photo.jpg");
    return fetch(urlFor(item.task), {method: "POST", credentials: "same-origin", body: body,
                                     headers: {"X-CSRFToken": OQ.csrfToken(), "Accept": "application/json"}});
  }

  function render(items) {
    var queued = {};
    items.forEach(function (it) { queued[it.task] = true; });
    document.querySelectorAll("[data-task]").forEach(function (card) {
      var id = card.getAttribute("data-task"), label = card.querySelector("[data-status-label]");
      card.classList.toggle("cg-queued", !!queued[id]);
      if (label) label.textContent = queued[id] ? t.recordedQueued : label.getAttribute("data-server");
    });
  }

  async function onSent(item, response) {
    var answer = await response.json();
    document.querySelectorAll('[data-task="' + item.task + '"] [data-status-label]').forEach(function (label) {
      if (answer.task_status_label) { label.textContent = answer.task_status_label; label.setAttribute("data-server", answer.task_status_label); }
    });
  }

  var app = OQ.create({dbName: "yiyang-visitor", noticesKey: "yiyang-visitor-notices", t: t, send: send,
                       render: render, onSent: onSent, word: function () { return t.what; },
                       afterSent: keepPages});

  function keepPages() {
    if (!navigator.serviceWorker || !navigator.serviceWorker.controller) return;
    var urls = [cfg.scope];
    document.querySelectorAll("a[href^='" + cfg.scope + "tasks/']").forEach(function (a) { urls.push(a.getAttribute("href")); });
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
    }).catch(function () { /* no worker (not a secure context): the app still works online */ });
  }

  async function onRecord(event) {
    var form = event.target;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      var fields = {};
      new FormData(form).forEach(function (value, name) {
        if (name !== "client_key" && name !== "csrfmiddlewaretoken" && typeof value === "string") fields[name] = value;
      });
      var input = form.querySelector("input[type=file]"), file = input && input.files && input.files[0];
      // The moment of the tap is what counts, not when the phone finds a network.
      var item = {task: form.getAttribute("data-task"), key: OQ.uuid(), at: new Date().toISOString(),
                  created: Date.now(), fields: fields, locating: true};
      if (file) { item.photo = file; item.photoName = file.name; }
      item.id = await app.queue.add(item);  // stored before anything else can go wrong
      await app.refresh();
      app.say(t.locating);
      var where = await OQ.locate(t), lines = [];
      delete item.locating;
      if (where.latitude != null) { item.latitude = where.latitude; item.longitude = where.longitude; }
      else lines.push(OQ.fmt(t.noLocation, {why: where.why}));
      await app.queue.put(item);
      await app.sync();
      if (app.outcome[item.key] === "refused") { app.say(""); return; }  // the notice says why
      lines.unshift(app.outcome[item.key] === "sent" ? t.recorded : t.queued);
      app.say(lines.join(" "));
      if (app.outcome[item.key] === "sent") form.hidden = true;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // For the people who test this (and the browser test): the queue and a way to push it now.
  window.visitorQueue = {all: app.queue.all, add: app.queue.add, sync: app.sync, refresh: app.refresh};

  document.querySelectorAll("[data-status-label]").forEach(function (l) { l.setAttribute("data-server", l.textContent); });
  document.addEventListener("submit", function (event) {
    if (event.target.id === "oq-logout") app.onLogout(event, CACHE_PREFIX);
    else if (event.target.classList.contains("vs-record")) onRecord(event);
  });
  registerWorker();
  app.start();
})();
