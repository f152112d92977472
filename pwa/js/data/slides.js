// Slides with a life cycle (contract 2): open -> paused <-> open -> finished (read-only; only a
// reviewer re-opens it, on the server, and the phone takes that state from the pull). A result
// joins the chosen slide only while it is open: never a paused or finished one, and a slide left
// open with no activity for more than STALE_MS is paused at app start.
import { TARGETS } from "../classifier/differential.js";
import { DEFAULT_TARGET as MALARIA_DEFAULT, TARGETS as MALARIA_TARGETS } from "../classifier/parasitaemia.js";
import { t } from "../i18n.js";
import { put } from "./db.js";

export const STALE_MS = 8 * 3600 * 1000;
// Kept with a slide the app paused itself (slides paused before the app spoke other languages
// hold these very words); shown as the catalogue's "slide.stale_reason".
export const STALE_REASON = "no activity for more than 8 hours";

// A slide counts white cells (the differential) or red cells (a malaria slide's parasitaemia),
// each toward its own targets; the first target of each list is the one offered first.
export const WBC_DIFFERENTIAL = "wbc-differential";
export const MALARIA = "malaria";
export const SLIDE_KINDS = {
  [WBC_DIFFERENTIAL]: { targets: TARGETS, defaultTarget: TARGETS[0] },
  [MALARIA]: { targets: MALARIA_TARGETS, defaultTarget: MALARIA_DEFAULT },
};

/** A v1 slide ({sampleId, createdAt}) read as a v2 one. */
export function slideView(s) {
  if (!s) return null;
  return {
    ...s,
    sample_id: s.sample_id || s.sampleId,
    state: s.state || "open",
    kind: s.kind || WBC_DIFFERENTIAL, // every slide made before malaria slides
    target: s.target || 100,
    started_at: s.started_at || s.createdAt,
    updated_at: s.updated_at || s.createdAt,
  };
}

export function newSlide({ sampleId, patient, specimen, kind = WBC_DIFFERENTIAL, target }, deviceId) {
  const now = new Date().toISOString();
  const sample = (sampleId || "").trim();
  if (!sample) throw new Error(t("slide.sample_required"));
  if (sample.length > 120) throw new Error(t("slide.sample_too_long", { max: 120 }));
  const kindOf = SLIDE_KINDS[kind];
  if (!kindOf) throw new Error(t("slide.unknown_kind", { kind }));
  return {
    id: crypto.randomUUID(),
    sample_id: sample,
    sampleId: sample, // what v1 of the app read
    patient: (patient || "").trim() || null,
    specimen: (specimen || "").trim() || null,
    note: null,
    kind,
    target: kindOf.targets.includes(Number(target)) ? Number(target) : kindOf.defaultTarget,
    state: "open",
    started_at: now,
    updated_at: now,
    createdAt: now,
    finished_at: null,
    device_id: deviceId,
    syncState: "pending",
    syncError: null,
  };
}

/** The slide with its state changed by this phone ("paused", "open" again, "finished");
 * `why`: a reason kept with a pause the app made itself (shown until the slide is resumed). */
export async function changeState(slide, state, username = null, why = null) {
  const current = slideView(slide);
  if (current.state === "finished") throw new Error(t("slide.finished_read_only"));
  const now = new Date().toISOString();
  const next = { ...slide, ...current, state, updated_at: now, pausedWhy: why, syncState: "pending", syncError: null };
  if (state === "finished") Object.assign(next, { finished_at: now, finished_by: username });
  await put("slides", next);
  return next;
}

/** The slide new results join: the chosen one, only while it is open. */
export function activeSlide(slides, currentId) {
  const slide = slideView(slides.find((s) => s.id === currentId));
  return slide && slide.state === "open" ? slide : null;
}

/** Open slides with no activity (their change or their last result) for more than STALE_MS. */
export function staleSlides(slides, records, now = Date.now()) {
  return slides.map(slideView).filter((s) => {
    if (s.state !== "open") return false;
    const last = records
      .filter((r) => r.slide_id === s.id)
      .reduce((latest, r) => (r.captured_at > latest ? r.captured_at : latest), s.updated_at || "");
    return now - Date.parse(last) > STALE_MS;
  });
}
