// IndexedDB behind one small module: the database is opened once, every call is one transaction
// and one promise. Stores: predictions (every result, kept until the user deletes it), slides,
// and kv (settings, tokens, the device id, the downloaded models' list). Used by the page and by
// the service worker (Background Sync).

const DB_NAME = "hematovision";
const DB_VERSION = 1;
let opening = null;

export class StorageFullError extends Error {
  constructor() {
    super("The phone's storage for this app is full. Export and delete old history, then retry.");
    this.name = "StorageFullError";
  }
}

function upgrade(db) {
  const predictions = db.createObjectStore("predictions", { keyPath: "id" });
  predictions.createIndex("syncState", "syncState");
  predictions.createIndex("capturedAt", "captured_at");
  predictions.createIndex("slideId", "slide_id");
  db.createObjectStore("slides", { keyPath: "id" });
  db.createObjectStore("kv", { keyPath: "key" });
}

export function openDb() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => upgrade(request.result);
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => db.close(); // let a newer app version upgrade the schema
        resolve(db);
      };
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("Close the app's other tabs, then reload."));
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
