// The service worker (bundled by build.mjs into vendor/sw.js, served at /sw.js so that its scope
// is the whole app). Caches: the app shell, versioned by a hash of its files (a new hash is a new
// app version: it waits until the user taps "Reload"); the inference runtime, versioned by the
// LiteRT.js version; the models ("hv-models"), never cleared by an app update.
import { getSetting } from "./js/data/db.js";
import { MODEL_CACHE } from "./js/data/model-store.js";
import { replayOutbox } from "./js/data/outbox.js";
import { bestLanguage, setLanguage } from "./js/i18n.js";

/* global __APP_VERSION__, __SHELL_FILES__, __RUNTIME_VERSION__ */
const SHELL_CACHE = `hv-shell-${__APP_VERSION__}`;
const RUNTIME_CACHE = `hv-runtime-${__RUNTIME_VERSION__}`;
const KEEP = new Set([SHELL_CACHE, RUNTIME_CACHE, MODEL_CACHE]);
// The same probe LiteRT.js uses to pick its WASM build: a relaxed-SIMD instruction.
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15,
  65, 2, 253, 15, 253, 128, 2, 11,
]);

// The build the inference worker will load (startRuntime in inference-worker.js): threaded when
// cross-origin isolated, which the worker is exactly when this service worker is (both get the
// server's COOP/COEP headers).
function runtimeFiles() {
  const relaxedSimd = WebAssembly.validate(RELAXED_SIMD_PROBE);
  const build = !relaxedSimd
    ? "litert_wasm_compat_internal"
    : self.crossOriginIsolated
      ? "litert_wasm_threaded_internal"
      : "litert_wasm_internal";
  return [`/vendor/wasm/${build}.js`, `/vendor/wasm/${build}.wasm`];
}

async function precache() {
  const shell = await caches.open(SHELL_CACHE);
  await shell.addAll(__SHELL_FILES__.map((url) => new Request(url, { cache: "no-cache" })));
  const runtime = await caches.open(RUNTIME_CACHE);
  const missing = [];
  for (const url of runtimeFiles()) if (!(await runtime.match(url))) missing.push(url);
  await runtime.addAll(missing);
}

self.addEventListener("install", (event) => event.waitUntil(precache()));

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("hv-") && !KEEP.has(name)) await caches.delete(name);
      }
      // Another build of the same runtime version (the single-thread one an app kept before it
      // was cross-origin isolated): only now, when no page of the old version is served.
      const runtime = await caches.open(RUNTIME_CACHE);
      const wanted = new Set(runtimeFiles());
      for (const request of await runtime.keys()) {
        if (!wanted.has(new URL(request.url).pathname)) await runtime.delete(request);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
});

async function fromCache(request) {
  const cached = await caches.match(request, { ignoreSearch: true });
  if (cached) return cached;
  return fetch(request);
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/dashboard")) return;
  if (request.mode === "navigate") {
    if (url.pathname !== "/" && url.pathname !== "/index.html") return;
    event.respondWith(caches.match("/").then((cached) => cached || fetch(request)));
    return;
  }
  event.respondWith(fromCache(request));
});

async function notifyClients(message) {
  for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage(message);
}

/** The page's language (mirrored into IndexedDB) for what a background sync writes down, its
 * catalogue read from this worker's own cache; English when neither can be had. */
async function speakThePagesLanguage() {
  const lang = (await getSetting("language", null).catch(() => null)) || bestLanguage(self.navigator.languages || []);
  const fromCache = async (url) => (await caches.match(url)) || fetch(url);
  await setLanguage(lang, { save: false, fetchCatalogue: fromCache }).catch(() => {});
}

self.addEventListener("sync", (event) => {
  if (event.tag !== "hv-outbox") return;
  event.waitUntil(
    speakThePagesLanguage().then(replayOutbox).then(
      (summary) => notifyClients({ type: "synced", summary }),
      (error) => {
        notifyClients({ type: "sync-failed", message: error.message });
        throw error; // the browser retries Background Sync later
      },
    ),
  );
});
