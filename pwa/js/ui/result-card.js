// One result, told as honestly as the model's status allows: only `confident` looks like an
// answer (the class as a headline, its calibrated confidence); `review` reads as a suggestion to
// check; `unfamiliar` shows no label and no confidence at all, with the model's guess one tap
// away (a <details>). "Show why" draws the model's map of its call over the cell (when the model
// makes one; not for an unfamiliar result, which puts no class forward). Then the top 3, the
// model, a reviewer's label pulled from the server, and the technician's correction (any class, "Not a cell / artefact", "Other / cannot tell").
import { topK } from "../classifier/decision-rule.js";
import { CENTRED, NO_CELLS, NO_WHITE_CELL } from "../classifier/cells/model-framing.js";
import { PERSON_ONLY_LABELS, displayName } from "../classifier/differential.js";
import { classNames, language, msgKey, t } from "../i18n.js";
import { WhyOverlay } from "./why-overlay.js";

const STATUS_TEXT = {
  confident: msgKey("result.status_confident"),
  review: msgKey("result.status_review"),
  unfamiliar: msgKey("result.status_unfamiliar"),
};
const STATUS_WORDS = { confident: msgKey("status.confident"), review: msgKey("status.review"), unfamiliar: msgKey("status.unfamiliar") };
// Why a call is not confident (decision-rule.js STATUS_REASONS), said the same way on the
// dashboard (backend/dashboard/vocabulary.py); a record without one (an older app) shows none.
const STATUS_REASON_TEXT = {
  below_threshold: msgKey("status_reason.below_threshold"),
  view_check: msgKey("status_reason.view_check"),
  unfamiliar: msgKey("status_reason.unfamiliar"),
  no_cell: msgKey("status_reason.no_cell"),
};
const STATUS_WHY_TEXT = { review: msgKey("result.status_review_why"), unfamiliar: msgKey("result.status_unfamiliar_why") };
const SYNC_WORDS = { pending: msgKey("sync.pending"), synced: msgKey("sync.synced"), failed: msgKey("sync.failed") };
/** A status ("confident", "review", "unfamiliar") or a sync state in the active language. */
export const statusWord = (status) => (STATUS_WORDS[status] ? t(STATUS_WORDS[status]) : status);
export const syncWord = (state) => (SYNC_WORDS[state] ? t(SYNC_WORDS[state]) : state);

/** Why the record's call is not confident, in words ("" when it is, or the record does not say). */
export function statusReasonText(record) {
  const key = STATUS_REASON_TEXT[record.status_reason];
  return key ? t(key, { percent: percent(record.confidence) }) : "";
}

/** "review: <why>" for History and the field list; the bare status word when there is no why. */
export function statusWithReason(record) {
  const why = statusReasonText(record);
  return why ? t("status.with_reason", { status: statusWord(record.status), why }) : statusWord(record.status);
}

/** The card's status line: the status's advice, with the rule's reason where the record has one. */
function statusLine(record) {
  const why = statusReasonText(record);
  if (why && STATUS_WHY_TEXT[record.status]) return t(STATUS_WHY_TEXT[record.status], { why });
  return STATUS_TEXT[record.status] ? t(STATUS_TEXT[record.status]) : record.status;
}

/** People's words for a label in the active language: the installed model's card where it
 * names the class, else the catalogue's class names. */
export const nameOf = (label, model = null) =>
  displayName(label, model ? model.card || model.meta || null : null, language(), classNames());

// Why the worker framed what it did (classifier/cells/model-framing.js, compared with Python
// word for word): the rule's English is the key to the words shown.
const REASONS = {
  [NO_WHITE_CELL]: msgKey("reason.no_white_cell"),
  [NO_CELLS]: msgKey("reason.no_cells"),
  [CENTRED]: msgKey("reason.centred"),
};
export const reasonText = (reason) => (REASONS[reason] ? t(REASONS[reason]) : reason);

const SYNC_TEXT = {
  pending: msgKey("result.saved_pending"),
  synced: msgKey("result.saved_synced"),
  failed: msgKey("result.saved_failed"),
};

/** "87.5%": the figure as the model gave it, the same on every screen and language. */
export function percent(p) {
  return `${(p * 100).toFixed(1)}%`;
}

/** The headline of a result in people's words, by its status (also used by History and the
 * field list, which says what to do once, above the list: `short`). */
export function headline(record, model, { short = false } = {}) {
  if (record.status === "unfamiliar") return short ? t("result.not_recognised_short") : t("result.not_recognised");
  const name = nameOf(record.label, model);
  return record.status === "review" ? t("result.suggestion", { name }) : name;
}

/** What people said about a record: the technician's label, a reviewer's label. */
export function personText(record, model) {
  const parts = [];
  if (record.corrected_label) parts.push(t("result.your_label", { name: nameOf(record.corrected_label, model) }));
  if (record.review) parts.push(reviewText(record.review, model));
  return parts.join(" · ");
}

export function reviewText(review, model) {
  const label = review.label ? nameOf(review.label, model) : t("result.model_confirmed");
  return t("result.reviewed_by", { by: review.by, label });
}

/** Options of a correction menu: the model's classes and the person-only labels, in words. */
export function correctionOptions(labels, model, none = t("result.as_model")) {
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
    const said = { percent: percent(record.confidence) };
    confidence.textContent = record.status === "confident" ? t("result.confidence", said) : t("result.model_confidence", said);
    confidence.className = record.status === "confident" ? "confidence" : "muted";
    const status = this.q("#result-status");
    status.dataset.status = record.status;
    status.textContent = statusLine(record);
    const why = this.q("#result-reason");
    why.textContent = reason ? t("result.note", { reason: reasonText(reason) }) : "";
    why.hidden = !reason;
    const people = this.q("#result-people");
    people.textContent = personText(record, model);
    people.hidden = !people.textContent;
    this.showWhy(record, model);
    this.showGuess(record, labels, model, unfamiliar, fresh);
    this.q("#result-model").textContent = t("result.model", { name: record.model_name, version: record.model_version });
    const select = this.q("#result-correct");
    select.replaceChildren(...correctionOptions(labels, model, unfamiliar ? t("result.not_marked") : t("result.as_model")));
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
    this.q("#result-guess summary").textContent = unfamiliar ? t("result.show_guess") : t("result.top3");
    const text = this.q("#result-guess-text");
    text.textContent = unfamiliar ? t("result.guess", { name: nameOf(record.label, model), percent: percent(record.confidence) }) : "";
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
    this.q("#result-saved").textContent = `${SYNC_TEXT[record.syncState] ? t(SYNC_TEXT[record.syncState]) : record.syncState}${why}`;
  }

  hide() {
    this.root.hidden = true;
    this.record = null;
    this.why.clear();
  }
}
