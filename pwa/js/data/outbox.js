// The outbox (sync contract 2, docs/notes/sync-contract-2.md): every prediction, correction event
// and slide change is stored with syncState "pending" the moment it is made, and is replayed to
// POST /api/sync/predictions on app start, on `online`, by Background Sync and on demand. The
// server deduplicates on the phone-made uuids, so a batch re-sent after a reload or a lost
// response is answered "duplicate" and stored once: exactly once, never lost. A record synced
// under contract 1 is "synced" and never sent again; its later corrections travel as events.
// Nothing one item holds stops the items behind it: an `invalid` answer sets that item aside
// ("failed", with the server's reason, in History), and a batch the server refuses whole is
// split until the items it takes are in and the one it refuses alone is set aside too.
import { msgKey, t } from "../i18n.js";
import { ApiError, authFetch, authJson, getAuth, parseError } from "./api.js";
import { getAll, getAllByIndex, getSetting, put, setSetting, update } from "./db.js";

export const BATCH_SIZE = 100; // the server takes up to 500
export const CELL_IMAGE_SIDE = 256;
export const CELL_IMAGE_QUALITY = 0.85;
const SYNC_FIELDS = [
  "id",
  "model_name",
  "model_version",
  "label",
  "confidence",
  "status",
  "status_reason",
  "probabilities",
  "captured_at",
  "device_id",
  "slide_id",
  "note",
  "cam",
];
const CORRECTION_FIELDS = ["id", "prediction_id", "label", "previous_label", "at"];
const SLIDE_FIELDS = [
  "id",
  "sample_id",
  "patient",
  "specimen",
  "note",
  "kind",
  "target",
  "state",
  "started_at",
  "updated_at",
  "finished_at",
  "device_id",
];
const UNKNOWN_RECORD = "unknown_record"; // the `code` of a sync result
const UNKNOWN_RECORD_TEXT = "unknown record";

/**
 * The record a result is saved as, and that this outbox syncs: a phone-made uuid (the server
 * deduplicates on it), the model that made it, its guess, "pending" until the server has it.
 * `result` is the worker's answer (or a field cell); `extra` holds what only one kind of result
 * has (a single cell's crop; a field cell's box, photo hash and added_by_hand). `cellImage` is
 * the JPEG of what the model saw, kept so that a re-send carries the very same bytes; `cam` the
 * model's map of why it made this call over that image (null for a model that makes none).
 */
export function newRecord(model, result, { deviceId, slideId, correctedLabel, thumbnail, cellImage = null, extra = {} }) {
  return {
    id: crypto.randomUUID(),
    model_name: model.name,
    model_version: model.version,
    label: result.label,
    confidence: result.confidence,
    status: result.status,
    // why it is not confident (decision-rule.js STATUS_REASONS); null when it is
    status_reason: result.status_reason ?? null,
    probabilities: result.probabilities,
    captured_at: new Date().toISOString(),
    device_id: deviceId,
    slide_id: slideId || null,
    note: null,
    corrected_label: correctedLabel,
    familiarity: result.familiarity,
    cam: result.cam || null,
    ...extra,
    inference_ms: result.inferenceMs,
    thumbnail,
    cell_image: cellImage,
    syncState: "pending",
    syncError: null,
  };
}

function pick(value, fields) {
  const out = {};
  for (const field of fields) {
    if (value[field] !== undefined && value[field] !== null) out[field] = value[field];
  }
  return out;
}

async function base64Of(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The record as sent: never its correction (that is an event of its own). The image goes
 * unless the server wants none, or one this big would be refused (the record would fail). */
export async function toPayload(record, { cellImages = true, maxBytes = null } = {}) {
  const payload = pick(record, SYNC_FIELDS);
  const image = record.cell_image;
  if (cellImages && image && !(maxBytes && image.size > maxBytes)) payload.image = await base64Of(image);
  return payload;
}

export const correctionPayload = (event) => ({ ...pick(event, CORRECTION_FIELDS), label: event.label ?? null, previous_label: event.previous_label ?? null });

/** A slide as sent; one from the app's first version has no device id: it was made here. */
export function slidePayload(slide, deviceId = null) {
  const payload = { ...pick(slide, SLIDE_FIELDS), sample_id: slide.sample_id || slide.sampleId };
  if (!payload.device_id && deviceId) payload.device_id = deviceId;
  return payload;
}

const accepted = (status) => status === "created" || status === "duplicate" || status === "applied";

async function markResult(id, result) {
  const ok = accepted(result.status);
  await update("predictions", id, (record) => ({
    ...record,
    syncState: ok ? "synced" : "failed",
    syncError: ok ? null : describeRejection(result),
    syncConflict: result.status === "conflict",
    syncedAt: ok ? new Date().toISOString() : null,
  }));
  return ok;
}

async function markCorrection(id, result) {
  // The record is not on the server yet (e.g. it failed): the event waits and is sent again.
  // By the result's code; a server older than the codes says it only in English words.
  const waits = result.status === "invalid" && (result.code ? result.code === UNKNOWN_RECORD : String(result.error || "").includes(UNKNOWN_RECORD_TEXT));
  const ok = accepted(result.status);
  await update("corrections", id, (event) => ({
    ...event,
    syncState: ok ? "synced" : waits ? "pending" : "failed",
    syncError: ok ? null : result.error || result.status,
  }));
}

async function markSlide(id, result) {
  await update("slides", id, (slide) => {
    if (result.status === "stale" && result.slide) return { ...slide, ...fromServer(result.slide), syncState: "synced", syncError: null };
    const ok = accepted(result.status) || result.status === "stale";
    return { ...slide, syncState: ok ? "synced" : "failed", syncError: ok ? null : result.error || result.status };
  });
}

/** The server's slide as stored on the phone (its state wins: e.g. a reviewer re-opened it). */
export function fromServer(s) {
  const keep = pick(s, [...SLIDE_FIELDS, "finished_by", "reopened_by", "reopened_at"]);
  return { ...keep, sampleId: s.sample_id };
}

function describeRejection(result) {
  if (result.status === "conflict") {
    const why = result.error ? ` (${result.error})` : "";
    return t("outbox.conflict", { why });
  }
  return t("outbox.rejected", { error: result.error || result.status });
}

/** GET /api/sync/settings, kept in kv (with the user it is about) for offline use; an older
 * server (404) allows images. */
export async function fetchSyncSettings() {
  try {
    const auth = await getAuth();
    const settings = { ...(await authJson("/api/sync/settings")), username: auth && auth.user ? auth.user.username : null };
    await setSetting("syncSettings", settings);
    return settings;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return { contract: 1, cell_images: true, can_sync: true };
    throw error;
  }
}

/** One request; throws the server's ApiError when it refuses the whole body. The answer has one
 * result per item sent, in order, so each is marked by the phone's own id. */
async function sendBatch({ records, corrections, slides }, settings, deviceId) {
  const body = { contract: 2, predictions: [] };
  const options = { cellImages: settings.cell_images !== false, maxBytes: settings.cell_image_max_bytes || null };
  for (const record of records) body.predictions.push(await toPayload(record, options));
  if (corrections.length) body.corrections = corrections.map(correctionPayload);
  if (slides.length) body.slides = slides.map((s) => slidePayload(s, deviceId));
  const response = await authFetch("/api/sync/predictions", { method: "POST", body });
  if (!response.ok) throw await parseError(response);
  const answer = await response.json();
  const idOf = (items, i, result) => (items[i] ? items[i].id : result.id);
  let synced = 0;
  for (const [i, result] of (answer.results || []).entries()) {
    if (await markResult(idOf(records, i, result), result)) synced += 1;
  }
  for (const [i, result] of (answer.slide_results || []).entries()) await markSlide(idOf(slides, i, result), result);
  for (const [i, result] of (answer.correction_results || []).entries()) await markCorrection(idOf(corrections, i, result), result);
  return synced;
}

/** Pending predictions in batches; slides go with the first request, each correction with its
 * record's batch (or the first one when its record is already on the server). */
function plan(predictions, corrections, slides) {
  const batches = [];
  for (let i = 0; i < predictions.length; i += BATCH_SIZE) batches.push({ records: predictions.slice(i, i + BATCH_SIZE), corrections: [], slides: [] });
  if (!batches.length && (corrections.length || slides.length)) batches.push({ records: [], corrections: [], slides: [] });
  if (!batches.length) return batches;
  batches[0].slides = slides;
  const batchOf = new Map();
  batches.forEach((b, i) => b.records.forEach((r) => batchOf.set(r.id, i)));
  for (const event of corrections) batches[batchOf.get(event.prediction_id) ?? 0].corrections.push(event);
  return batches;
}

// A refusal that may be about what the batch holds: a bad body (400, 422), a body too large
// (413), or the server failing on it (5xx). Offline, 401, 403 and 429 are about the phone or
// the moment: everything stays pending.
const aboutTheContent = (error) => error instanceof ApiError && ([400, 413, 422].includes(error.status) || error.status >= 500);

// Slides, then records, then corrections: halves sent in order still send each correction with
// or after its record, and a slide before the records that name it.
const STORES = ["slides", "records", "corrections"];
const itemsOf = (batch) => STORES.flatMap((kind) => batch[kind].map((item) => ({ kind, item })));
function batchFrom(items) {
  const batch = { slides: [], records: [], corrections: [] };
  for (const { kind, item } of items) batch[kind].push(item);
  return batch;
}

/**
 * Sends a batch; one the server refuses whole is halved, down to single items, so everything
 * it takes gets in. An item refused alone with a 4xx is set aside with the server's reason. One
 * refused alone with a 5xx is only suspected: it is set aside when a later request of this run
 * succeeds (the server works, it fails on this item); a second one in a row, or a run that ends
 * on one, means the server is failing, and everything left stays pending (thrown).
 */
async function sendSplitting(batch, run) {
  try {
    const synced = await sendBatch(batch, run.settings, run.deviceId);
    for (const suspect of run.suspects.splice(0)) await setAside(suspect.unit, suspect.error);
    return synced;
  } catch (error) {
    if (!aboutTheContent(error)) throw error;
    const items = itemsOf(batch);
    if (items.length > 1) {
      const middle = Math.ceil(items.length / 2);
      let synced = 0;
      for (const half of [items.slice(0, middle), items.slice(middle)]) synced += await sendSplitting(batchFrom(half), run);
      return synced;
    }
    if (error.status < 500) await setAside(items[0], error);
    else if (run.suspects.length) throw error;
    else run.suspects.push({ unit: items[0], error });
    return 0;
  }
}

const STORE_OF = { records: "predictions", corrections: "corrections", slides: "slides" };

/** An item the server refused alone: kept on the phone, "failed", with the server's reason. */
async function setAside({ kind, item }, error) {
  const key = { records: msgKey("outbox.refused_record"), corrections: msgKey("outbox.refused_correction"), slides: msgKey("outbox.refused_slide") }[kind];
  const why = t(key, { status: error.status, error: error.message });
  await update(STORE_OF[kind], item.id, (value) => ({ ...value, syncState: "failed", syncError: why, syncConflict: false, syncedAt: null }));
}

/** Oldest first; a value that is not a string (an old or damaged record) must not stop the sort. */
const byText = (key) => (a, b) => String(a[key] ?? "").localeCompare(String(b[key] ?? ""));

/**
 * Sends everything pending. Resolves {synced, failed, pending}; throws OfflineError/ApiError
 * (what was not sent stays pending). A Web Lock keeps two tabs (or a tab and the service worker)
 * from sending the same batch at once; the server would deduplicate it anyway.
 */
export async function replayOutbox() {
  const work = async () => {
    const settings = (await fetchSyncSettings().catch(() => null)) || (await getSetting("syncSettings")) || {};
    if (settings.can_sync === false) throw new ApiError(403, "cannot_sync", t(CANNOT_SYNC));
    const pending = await getAllByIndex("predictions", "syncState", "pending");
    pending.sort(byText("captured_at"));
    const corrections = await getAllByIndex("corrections", "syncState", "pending");
    corrections.sort(byText("at"));
    const slides = (await getAll("slides")).filter((s) => s.syncState === "pending");
    const run = { settings, deviceId: await getSetting("deviceId"), suspects: [] };
    let synced = 0;
    for (const batch of plan(pending, corrections, slides)) synced += await sendSplitting(batch, run);
    if (run.suspects.length) throw run.suspects[0].error; // nothing succeeded after it: the server
    await pull();
    const failed = (await getAllByIndex("predictions", "syncState", "failed")).length;
    const left = (await getAllByIndex("predictions", "syncState", "pending")).length;
    return { synced, failed, pending: left };
  };
  if (self.navigator && navigator.locks) return navigator.locks.request("hv-outbox", work);
  return work();
}

/** The catalogue key of why a viewer's results stay on the phone (t(CANNOT_SYNC) for the words). */
export const CANNOT_SYNC = msgKey("sync.cannot_sync");

/** After a push: the server's state of this user's slides, and the reviews of their records
 * since the cursor kept in kv. An older server without these endpoints is skipped. */
export async function pull() {
  try {
    await pullSlides();
    await pullReviews();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
}

// The server writes "+00:00" and microseconds, the phone "Z" and milliseconds: compare instants.
const time = (iso) => (iso ? Date.parse(iso) : 0);

async function pullSlides() {
  const { slides } = await authJson("/api/sync/slides");
  for (const remote of slides || []) {
    const changed = await update("slides", remote.id, (local) => {
      // A local change not yet sent wins until the server answers it (applied or stale).
      if (local.syncState === "pending" && time(local.updated_at) > time(remote.updated_at)) return local;
      return { ...local, ...fromServer(remote), syncState: "synced", syncError: null };
    });
    if (changed === undefined) await put("slides", { ...fromServer(remote), syncState: "synced", syncError: null });
  }
}

async function pullReviews() {
  let since = await getSetting("reviewsSince", 0);
  for (;;) {
    const { reviews, next_since: next } = await authJson(`/api/sync/reviews?since=${since}`);
    for (const review of reviews || []) {
      await update("predictions", review.prediction_id, (record) => {
        if (record.review && record.review.id > review.id) return record;
        return { ...record, review, reviewed_label: review.label || null };
      });
    }
    if (!reviews || !reviews.length || next === since) break;
    since = next;
    await setSetting("reviewsSince", since);
  }
}

/** A rejected record the user has fixed (e.g. after a new login) goes back into the queue. */
export async function retryRecord(id) {
  await update("predictions", id, (record) => (record.syncState === "failed" ? { ...record, syncState: "pending", syncError: null } : record));
  // ...and the record's corrections the server refused (shown under it in History).
  for (const event of await getAllByIndex("corrections", "syncState", "failed")) {
    if (event.prediction_id === id) await update("corrections", event.id, (e) => ({ ...e, syncState: "pending", syncError: null }));
  }
}
