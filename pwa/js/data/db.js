// IndexedDB behind one small module: the database is opened once, every call is one transaction
// and one promise. Stores: predictions (every result, kept until the user deletes it), slides,
// corrections (the technician's corrections, each an event synced on its own: v2) and kv
// (settings, tokens, the device id, the downloaded models' list). Used by the page and by the
// service worker (Background Sync).
import { t } from "../i18n.js";

const DB_NAME = "hematovision";
const DB_VERSION = 2;
let opening = null;

export class StorageFullError extends Error {
  constructor() {
    super(t("storage.full"));
    this.name = "StorageFullError";
  }
}

// Each step takes the schema from one version to the next; nothing stored is dropped.
function upgrade(db, tx, oldVersion) {
  if (oldVersion < 1) {
    const predictions = db.createObjectStore("predictions", { keyPath: "id" });
    predictions.createIndex("syncState", "syncState");
    predictions.createIndex("capturedAt", "captured_at");
    predictions.createIndex("slideId", "slide_id");
    db.createObjectStore("slides", { keyPath: "id" });
    db.createObjectStore("kv", { keyPath: "key" });
  }
  if (oldVersion < 2) {
    db.createObjectStore("corrections", { keyPath: "id" }).createIndex("syncState", "syncState");
    if (oldVersion >= 1) upgradeV1Data(tx);
  }
}

// v1 kept a correction inside its record and a slide as {id, sampleId, createdAt}: a v1
// correction becomes a pending event (the doctor sees it), a v1 slide an open slide of contract
// 2 (the 8-hour rule pauses it at start if it is stale). Records keep everything they had.
function upgradeV1Data(tx) {
  const corrections = tx.objectStore("corrections");
  tx.objectStore("predictions").openCursor().onsuccess = (event) => {
    const cursor = event.target.result;
    if (!cursor) return;
    const r = cursor.value;
    if (r.corrected_label) {
      const at = r.corrected_at || r.captured_at;
      corrections.put(correctionEvent(r.id, r.corrected_label, r.label, at));
    }
    cursor.continue();
  };
  tx.objectStore("slides").openCursor().onsuccess = (event) => {
    const cursor = event.target.result;
    if (!cursor) return;
    const s = cursor.value;
    const at = s.createdAt || new Date().toISOString();
    cursor.update({
      sample_id: s.sampleId,
      patient: null,
      specimen: null,
      note: null,
      target: 100,
      state: "open",
      started_at: at,
      updated_at: at,
      finished_at: null,
      syncState: "pending",
      ...s,
    });
    cursor.continue();
  };
}

/** A correction as its own event (contract 2): `label` null = back to the model's label. */
export function correctionEvent(predictionId, label, previousLabel, at = new Date().toISOString()) {
  return {
    id: crypto.randomUUID(),
    prediction_id: predictionId,
    label: label || null,
    previous_label: previousLabel || null,
    at,
    syncState: "pending",
    syncError: null,
  };
}

export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = (event) => upgrade(request.result, request.transaction, event.oldVersion);
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => db.close(); // let a newer app version upgrade the schema
        resolve(db);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error(t("storage.blocked")));
    });
    opening.catch(() => (opening = null));
  }
  return opening;
}

function wrapError(error) {
  return error && error.name === "QuotaExceededError" ? new StorageFullError() : error;
}

async function run(storeName, mode, work) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const store = tx.objectStore(storeName);
    let result;
    const fail = (error) => {
      reject(wrapError(error));
      try {
        tx.abort();
      } catch {
        // already finished
      }
    };
    let pending;
    try {
      pending = Promise.resolve(work(store));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then((value) => (result = value), fail);
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(wrapError(tx.error));
    tx.onabort = () => reject(wrapError(tx.error || new Error("storage transaction aborted")));
  });
}

function requestValue(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export const put = (storeName, value) => run(storeName, "readwrite", (s) => requestValue(s.put(value)));
export const get = (storeName, key) => run(storeName, "readonly", (s) => requestValue(s.get(key)));
export const getAll = (storeName) => run(storeName, "readonly", (s) => requestValue(s.getAll()));
export const remove = (storeName, key) => run(storeName, "readwrite", (s) => requestValue(s.delete(key)));

/** Puts several values, possibly in several stores, in one transaction: all or none. */
export async function putMany(entries) {
  const db = await openDb();
  const names = [...new Set(entries.map(([store]) => store))];
  if (!names.length) return;
  return new Promise((resolve, reject) => {
    const tx = db.transaction(names, "readwrite");
    try {
      for (const [store, value] of entries) tx.objectStore(store).put(value);
    } catch (error) {
      reject(wrapError(error));
      tx.abort();
      return;
    }
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(wrapError(tx.error));
    tx.onabort = () => reject(wrapError(tx.error || new Error("storage transaction aborted")));
  });
}

export function getAllByIndex(storeName, index, value) {
  return run(storeName, "readonly", (s) => requestValue(s.index(index).getAll(value)));
}

/** Read-modify-write of one record in one transaction; `change` returns the new record. */
export function update(storeName, key, change) {
  return run(storeName, "readwrite", async (s) => {
    const current = await requestValue(s.get(key));
    if (current === undefined) return undefined;
    const next = change(current);
    await requestValue(s.put(next));
    return next;
  });
}

export async function getSetting(key, fallback = null) {
  const row = await get("kv", key);
  return row === undefined ? fallback : row.value;
}

export const setSetting = (key, value) => put("kv", { key, value });
