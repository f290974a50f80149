{% autoescape off %}/* Yiyang caregiver app: service worker (rendered by views_caregiver.service_worker). Version {{ version }}.

   The app shell (CSS, JS, icons) is precached and served from the cache. Pages under the app's scope are
   network first: a fresh copy is kept for later, and when the network is gone the kept copy is served with
   its body marked data-source="cache", so the page can say from when its data are. Writes (POST) are never
   touched here: the page's own queue (caregiver.js) replays them. */
"use strict";
const CACHE_PREFIX = "{{ prefix|default:"yiyang-caregiver-" }}";
const CACHE = CACHE_PREFIX + "{{ version }}";
const SCOPE = {{ scope }};
const ASSETS = {{ assets }};
const SKIP = {{ skip }};
const OFFLINE_PAGE = {{ offline_page }};

async function keepPage(cache, url) {
  // Only a real page: not the login page we would be redirected to when the session has ended.
  try {
    const response = await fetch(url, {credentials: "same-origin", redirect: "manual"});
    if (response.ok && response.type === "basic") await cache.put(url, response);
  } catch (e) { /* offline at install: the page is kept on its next visit */ }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(ASSETS);
    await keepPage(cache, SCOPE);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function fromCache(response) {
  return response.text().then((html) => new Response(
    html.replace('data-source="network"', 'data-source="cache"'),
    {status: 200, headers: {"Content-Type": response.headers.get("Content-Type") || "text/html; charset=utf-8"}}));
}

async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    const type = response.headers.get("Content-Type") || "";
    if (response.ok && response.type === "basic" && !response.redirected && type.startsWith("text/html")) {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (err) {
    const kept = await cache.match(request, {ignoreSearch: true});
    if (kept) return fromCache(kept);
    if (request.mode === "navigate") {
      return new Response(OFFLINE_PAGE, {status: 503, headers: {"Content-Type": "text/html; charset=utf-8"}});
    }
    throw err;
  }
}

async function asset(request) {
  const kept = await caches.match(request, {ignoreSearch: true});
  return kept || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (ASSETS.includes(url.pathname)) {
    event.respondWith(asset(request));
  } else if (url.pathname.startsWith(SCOPE) && !SKIP.includes(url.pathname)) {
    event.respondWith(page(request));
  }
});

// The page asks for its visit pages to be kept, so that they open offline too.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "keep" && Array.isArray(data.urls)) {
    event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(
      data.urls.filter((u) => typeof u === "string" && u.startsWith(SCOPE)).map((u) => keepPage(cache, u)))));
  }
});
{% endautoescape %}
