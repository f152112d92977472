// Released models on the phone. GET /api/models lists the active version per model name; a new
// version is downloaded, checked against its sha256, put in the "hv-models" cache (which app
// updates never clear) and only then made current, so a half download never replaces a working
// model. The model list and each model.json live in IndexedDB.
import { t } from "../i18n.js";
import { ApiError, OfflineError, languageHeaders, parseError } from "./api.js";
import { StorageFullError, getSetting, setSetting } from "./db.js";

export const MODEL_CACHE = "hv-models";

export class NoModelError extends Error {
  constructor() {
    super(t("models.none_on_phone"));
    this.name = "NoModelError";
  }
}

async function sha256Hex(buffer) {
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function cardUrlOf(entry) {
  return entry.meta_url || entry.model_json_url || entry.url.replace(/[^/]+$/, "model.json");
}

// Models are public on the server (their URLs carry the version, cached for a year).
async function download(url) {
  let response;
  try {
    response = await fetch(url, { headers: languageHeaders() });
  } catch {
    throw new OfflineError();
  }
  if (!response.ok) throw await parseError(response);
  return response;
}

export class ModelStore {
  async installed() {
    return getSetting("models", {});
  }

  async current(name) {
    const models = await this.installed();
    if (!models[name]) throw new NoModelError();
    return models[name];
  }

  /** The model file's bytes, from the model cache (works offline). */
  async bytes(model) {
    const cache = await caches.open(MODEL_CACHE);
    const response = await cache.match(model.url);
    if (!response) throw new NoModelError();
    return response.arrayBuffer();
  }

  /** Downloads what is new on the server. Returns [{name, version, previous}] of updated models. */
  async update() {
    const listing = await (await download("/api/models")).json();
    const released = Array.isArray(listing) ? listing : listing.models;
    const models = await this.installed();
    const updated = [];
    const cache = await caches.open(MODEL_CACHE);
    for (const entry of released) {
      const have = models[entry.name];
      const current = have && have.version === entry.version && have.sha256 === entry.sha256;
      // A model the browser evicted from the cache is downloaded again.
      if (current && (await cache.match(have.url))) continue;
      models[entry.name] = await this.install(entry);
      await setSetting("models", models);
      if (have && have.url !== models[entry.name].url) await cache.delete(have.url);
      if (!current) updated.push({ name: entry.name, version: entry.version, previous: have ? have.version : null });
    }
    return updated;
  }

  async install(entry) {
    const url = new URL(entry.url, self.location.href).href;
    const fileResponse = await download(url);
    const bytes = await fileResponse.arrayBuffer();
    const digest = await sha256Hex(bytes);
    if (digest !== entry.sha256) {
      throw new ApiError(0, "bad_download", t("models.damaged", { name: entry.name, version: entry.version }));
    }
    const card = await (await download(new URL(cardUrlOf(entry), url).href)).json();
    try {
      const cache = await caches.open(MODEL_CACHE);
      await cache.put(url, new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } }));
    } catch (error) {
      throw error && error.name === "QuotaExceededError" ? new StorageFullError() : error;
    }
    return {
      name: entry.name,
      version: entry.version,
      labels: entry.labels || card.labels,
      sha256: entry.sha256,
      size: bytes.byteLength,
      url,
      card,
      installedAt: new Date().toISOString(),
    };
  }
}
