// The outbox: every prediction is stored with syncState "pending" the moment it is made, and is
// replayed to POST /api/sync/predictions on app start, on `online`, by Background Sync and on
// demand. The server deduplicates on the phone-made uuid, so a batch re-sent after a reload or a
// lost response is answered "duplicate" and stored once: exactly once, never lost.
import { authFetch, parseError } from "./api.js";
import { getAllByIndex, update } from "./db.js";

export const BATCH_SIZE = 100; // the server takes up to 500
const SYNC_FIELDS = [
  "id",
  "model_name",
  "model_version",
  "label",
  "confidence",
  "status",
  "probabilities",
  "captured_at",
  "device_id",
  "slide_id",
  "note",
];

/**
 * The record a result is saved as, and that this outbox syncs: a phone-made uuid (the server
 * deduplicates on it), the model that made it, its guess, "pending" until the server has it.
 * `result` is the worker's answer (or a field cell); `extra` holds what only one kind of result
 * has (a single cell's crop; a field cell's box, photo hash and added_by_hand).
 */
export function newRecord(model, result, { deviceId, slideId, correctedLabel, thumbnail, extra = {} }) {
  return {
    id: crypto.randomUUID(),
    model_name: model.name,
    model_version: model.version,
    label: result.label,
    confidence: result.confidence,
    status: result.status,
    probabilities: result.probabilities,
    captured_at: new Date().toISOString(),
    device_id: deviceId,
    slide_id: slideId || null,
    note: null,
    corrected_label: correctedLabel,
    familiarity: result.familiarity,
    ...extra,
    inference_ms: result.inferenceMs,
    thumbnail,
    syncState: "pending",
    syncError: null,
  };
}

export function toPayload(record) {
  const payload = {};
  for (const field of SYNC_FIELDS) {
    if (record[field] !== undefined && record[field] !== null) payload[field] = record[field];
  }
  return payload;
}

async function markResult(result) {
  const accepted = result.status === "created" || result.status === "duplicate";
  await update("predictions", result.id, (record) => ({
    ...record,
    syncState: accepted ? "synced" : "failed",
    syncError: accepted ? null : describeRejection(result),
    syncConflict: result.status === "conflict",
    syncedAt: accepted ? new Date().toISOString() : null,
  }));
  return accepted;
}

function describeRejection(result) {
  if (result.status === "conflict") {
    const why = result.error ? ` (${result.error})` : "";
    return `The server already has a different record with this id${why}; it kept its own. This copy stays on the phone: export it as CSV.`;
  }
  return `The server rejected this record: ${result.error || result.status}.`;
}

async function sendBatch(batch) {
  const response = await authFetch("/api/sync/predictions", {
    method: "POST",
    body: { predictions: batch.map(toPayload) },
  });
  if (!response.ok) throw await parseError(response);
  const { results } = await response.json();
  let synced = 0;
  for (const result of results) {
    if (await markResult(result)) synced += 1;
  }
  return synced;
}

/**
 * Sends every pending record. Resolves {synced, failed, pending}; throws OfflineError/ApiError
 * (records stay pending). A Web Lock keeps two tabs (or a tab and the service worker) from
 * sending the same batch at once; the server would deduplicate it anyway.
 */
export async function replayOutbox() {
  const work = async () => {
    const pending = await getAllByIndex("predictions", "syncState", "pending");
    pending.sort((a, b) => a.captured_at.localeCompare(b.captured_at));
    let synced = 0;
    for (let i = 0; i < pending.length; i += BATCH_SIZE) {
      synced += await sendBatch(pending.slice(i, i + BATCH_SIZE));
    }
    const failed = (await getAllByIndex("predictions", "syncState", "failed")).length;
    return { synced, failed, pending: pending.length - synced };
  };
  if (self.navigator && navigator.locks) return navigator.locks.request("hv-outbox", work);
  return work();
}

/** A rejected record the user has fixed (e.g. after a new login) goes back into the queue. */
export function retryRecord(id) {
  return update("predictions", id, (record) => ({ ...record, syncState: "pending", syncError: null }));
}
