// One result, told as honestly as the model's status allows: only `confident` looks like an
// answer (the class as a headline, its calibrated confidence); `review` reads as a suggestion to
// check; `unfamiliar` shows no label and no confidence at all, with the model's guess one tap
// away (a <details>). "Show why" draws the model's map of its call over the cell (when the model
// makes one; not for an unfamiliar result, which puts no class forward). Then the top 3, the model, a reviewer's label pulled from the server, and
// the technician's correction (any class, "Not a cell / artefact", "Other / cannot tell").
import { topK } from "../classifier/decision-rule.js";
import { PERSON_ONLY_LABELS, displayName } from "../classifier/differential.js";
import { WhyOverlay } from "./why-overlay.js";

export const NOT_RECOGNISED = "Not recognised — check focus, light and stain, or mark the cell";
export const STATUS_TEXT = {
  confident: "Confident.",
  review: "Review: have a specialist confirm this cell.",
  unfamiliar: "Unfamiliar: this does not look like the images the model knows. It is not counted until a person marks it.",
};
/** People's words for a label, by the installed model's card (display_names) where it has one. */
export const nameOf = (label, model = null) => displayName(label, model ? model.card || model.meta || null : null);

const SYNC_TEXT = {
  pending: "Saved on this phone · waiting to sync",
  synced: "Saved and synced",
  failed: "Saved on this phone · sync failed",
};

export function percent(p) {
  return `${(p * 100).toFixed(1)}%`;
}

/** The headline of a result in people's words, by its status (also used by History and the
 * field list, which says what to do once, above the list: `short`). */
export function headline(record, model, { short = false } = {}) {
  if (record.status === "unfamiliar") return short ? "Not recognised" : NOT_RECOGNISED;
  const name = nameOf(record.label, model);
  return record.status === "review" ? `Suggestion: ${name} — check it` : name;
}

/** What people said about a record: the technician's label, a reviewer's label. */
export function personText(record, model) {
  const parts = [];
  if (record.corrected_label) parts.push(`Your label: ${nameOf(record.corrected_label, model)}`);
  if (record.review) parts.push(reviewText(record.review, model));
  return parts.join(" · ");
}

export function reviewText(review, model) {
  const label = review.label ? nameOf(review.label, model) : "model's label confirmed";
  return `Reviewed by ${review.by}: ${label}`;
}

/** Options of a correction menu: the model's classes and the person-only labels, in words. */
export function correctionOptions(labels, model, none = "(as the model says)") {
  return [new Option(none, ""), ...[...labels, ...PERSON_ONLY_LABELS].map((l) => new Option(nameOf(l, model), l))];
}

export class ResultCard {
  constructor(root, { onCorrect }) {
    this.root = root;
    this.q = (sel) => root.querySelector(sel);
    this.record = null;
    this.reason = null;
    this.imageUrl = null;
    this.why = new WhyOverlay(this.q("#result-why"));
    this.q("#result-correct").addEventListener("change", (e) => {
      if (this.record) onCorrect(this.record, e.target.value || null);
    });
  }

  /** `reason`: why the model was fed what it was (a frame centred on the photo), or null. */
  show(record, model, reason = null) {
    const labels = model ? model.labels : Object.keys(record.probabilities);
    const fresh = !this.record || this.record.id !== record.id || this.root.hidden;
    this.record = record;
    this.reason = reason;
    if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
    this.imageUrl = record.thumbnail ? URL.createObjectURL(record.thumbnail) : "";
    this.q("#result-image").src = this.imageUrl;
    this.root.dataset.status = record.status;
    this.q("#result-label").textContent = headline(record, model);
    const unfamiliar = record.status === "unfamiliar";
    const confidence = this.q("#result-confidence");
    confidence.hidden = unfamiliar;
    confidence.textContent = record.status === "confident" ? `Confidence ${percent(record.confidence)}` : `Model's confidence ${percent(record.confidence)}`;
    confidence.className = record.status === "confident" ? "confidence" : "muted";
    const status = this.q("#result-status");
    status.dataset.status = record.status;
    status.textContent = STATUS_TEXT[record.status];
    const why = this.q("#result-reason");
    why.textContent = reason ? `Note: ${reason}.` : "";
    why.hidden = !reason;
    const people = this.q("#result-people");
    people.textContent = personText(record, model);
    people.hidden = !people.textContent;
    this.showWhy(record, model);
    this.showGuess(record, labels, model, unfamiliar, fresh);
    this.q("#result-model").textContent = `Model: ${record.model_name} ${record.model_version}`;
    const select = this.q("#result-correct");
    select.replaceChildren(...correctionOptions(labels, model, unfamiliar ? "(not marked yet)" : "(as the model says)"));
    select.value = record.corrected_label || "";
    this.showSync(record);
    this.root.hidden = false;
  }

  showWhy(record, model) {
    const cam = record.status === "unfamiliar" ? null : record.cam;
    this.why.show(cam, record.cell_image, cam ? nameOf(cam.label, model) : "").catch(() => this.why.clear());
  }

  /** The top 3; for an unfamiliar result they sit behind "The model's guess", closed. */
  showGuess(record, labels, model, unfamiliar, fresh) {
    const guess = this.q("#result-guess");
    // Shown again after a sync or a correction: what the person opened stays open.
    if (fresh) guess.open = !unfamiliar;
    this.q("#result-guess summary").textContent = unfamiliar ? "Show the model's guess (not reliable)" : "Top 3 classes";
    const text = this.q("#result-guess-text");
    text.textContent = unfamiliar ? `The model's guess: ${nameOf(record.label, model)}, ${percent(record.confidence)}.` : "";
    text.hidden = !unfamiliar;
    const probabilities = labels.map((l) => record.probabilities[l] ?? 0);
    this.q("#result-top").replaceChildren(
      ...topK(probabilities, labels, 3).map(({ label, p }) => {
        const li = document.createElement("li");
        li.innerHTML = '<span class="name"></span><span class="bar"><span></span></span><span class="p"></span>';
        li.querySelector(".name").textContent = nameOf(label, model);
        li.querySelector(".bar span").style.width = `${Math.round(p * 100)}%`;
        li.querySelector(".p").textContent = percent(p);
        li.setAttribute("aria-label", `${nameOf(label, model)} ${percent(p)}`);
        return li;
      }),
    );
  }

  showSync(record) {
    if (!this.record || record.id !== this.record.id) return;
    this.record = record;
    const why = record.syncState === "failed" && record.syncError ? `: ${record.syncError}` : "";
    this.q("#result-saved").textContent = `${SYNC_TEXT[record.syncState]}${why}`;
  }

  hide() {
    this.root.hidden = true;
    this.record = null;
    this.why.clear();
  }
}
