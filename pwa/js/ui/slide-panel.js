// Slides: start one (sample id required; its kind, a white-cell differential or a malaria slide,
// and the target of that kind; patient and specimen optional), pause / resume, finish (read-only
// after: who and when), and the running count: a white-cell slide's differential by the one
// differential rule (classifier/differential.js): white cells with % and the adult range,
// erythroblasts per 100 white cells, platelets seen, and what is counted apart (artefacts,
// "other", cells not recognised until a person marks them); a malaria slide's parasitaemia by
// the one parasitaemia rule (classifier/parasitaemia.js), with its unrecognised cells listed.
import { MIN_WBC_FOR_PERCENT, WBC_RANGES, differential } from "../classifier/differential.js";
import { parasitaemia } from "../classifier/parasitaemia.js";
import { MALARIA, SLIDE_KINDS, STALE_REASON, WBC_DIFFERENTIAL, slideView } from "../data/slides.js";
import { language, msgKey, t } from "../i18n.js";
import { nameOf } from "./result-card.js";

const STATE_WORDS = { open: msgKey("slide.state_open"), paused: msgKey("slide.state_paused"), finished: msgKey("slide.state_finished") };
// The rule's JSON says "high"/"low" and names its basis in English (compared with Python word for
// word); the words shown come from the catalogue by these keys.
const FLAG_WORDS = { high: msgKey("slide.flag_high"), low: msgKey("slide.flag_low") };
const BASIS_WORDS = { "% of white cells": msgKey("slide.basis_percent"), "per 100 white cells": msgKey("slide.basis_per100") };
const flagWord = (flag) => (flag ? t(FLAG_WORDS[flag]) : null);
const basisWord = (basis) => (BASIS_WORDS[basis] ? t(BASIS_WORDS[basis]) : basis);
const KIND_CELLS = { [WBC_DIFFERENTIAL]: msgKey("slide.target_white"), [MALARIA]: msgKey("slide.target_red") };

/** Why the app paused a slide, in the active language (the stored reason is the rule's English). */
export const pausedWhyText = (slide) => (slide.pausedWhy === STALE_REASON ? t("slide.stale_reason") : slide.pausedWhy);

/** The rule's flags (counts.flags: English, compared with Python) in the active language, built
 * from the same numbers and conditions, with the plural forms of the language. */
export function flagTexts(counts, kind = WBC_DIFFERENTIAL, model = null) {
  if (kind === MALARIA) {
    const out = [];
    if (counts.red_cells < counts.target) out.push(t("flag.few_red", { count: counts.red_cells, target: counts.target }));
    if (counts.unconfirmed) out.push(t("flag.unconfirmed", { count: counts.unconfirmed }));
    return out;
  }
  const out = counts.rows
    .filter((r) => r.flag)
    .map((r) => {
      const said = { name: nameOf(r.label, model), percent: r.percent.toFixed(1), basis: basisWord(r.basis), low: r.low, high: r.high };
      return r.flag === "high" ? t("flag.above", said) : t("flag.below", said);
    });
  const wbc = counts.white_cells;
  if (wbc > 0 && wbc < MIN_WBC_FOR_PERCENT) out.push(t("flag.few_white", { count: wbc, min: MIN_WBC_FOR_PERCENT }));
  if (counts.apart.unconfirmed) out.push(t("flag.unconfirmed", { count: counts.apart.unconfirmed }));
  return out;
}
// A malaria slide counts up to 5000 red cells: the panel shows its counts and, of its cells, only
// those waiting for a person, at most this many rows (the rest: a line saying how many more).
export const REVIEW_SHOWN = 50;

/** The table the panel shows and the CSV exports ({counts, rows: [{label, name, count,
 * percent, note}]}): the white cells (all six, zeros too), erythroblasts per 100 white cells,
 * platelets seen, then what is counted apart. */
export function slideTable(records, target, model, kind = WBC_DIFFERENTIAL) {
  if (kind === MALARIA) return malariaTable(records, target, model);
  const counts = differential(records, { target });
  const byLabel = Object.fromEntries(counts.rows.map((r) => [r.label, r]));
  const line = (label, count, percent, note) => ({ label, name: nameOf(label, model), count, percent, note });
  const rows = Object.keys(WBC_RANGES).map((label) => {
    const r = byLabel[label] || { count: 0, percent: null, low: WBC_RANGES[label][0], high: WBC_RANGES[label][1], flag: null };
    return line(label, r.count, r.percent, [t("slide.note_adult", { low: r.low, high: r.high }), flagWord(r.flag)].filter(Boolean).join(" · "));
  });
  for (const r of counts.rows.filter((x) => !(x.label in WBC_RANGES))) {
    const per = r.percent === null ? "" : `${r.percent.toFixed(1)} ${basisWord(r.basis)}`;
    rows.push(line(r.label, r.count, null, [per, flagWord(r.flag)].filter(Boolean).join(" · ")));
  }
  if (counts.platelets) rows.push(line("platelet", counts.platelets, null, t("slide.note_seen")));
  for (const [label, count] of Object.entries(counts.apart)) {
    if (!count) continue;
    const row = line(label, count, null, t("slide.note_apart"));
    if (label === "unconfirmed") row.name = t("slide.unconfirmed_name");
    rows.push(row);
  }
  for (const [label, count] of Object.entries(counts.other_classes)) rows.push(line(label, count, null, t("slide.note_apart")));
  return { counts, rows };
}

/** A malaria slide's table: parasitized (with the parasitaemia and its 95 % interval),
 * uninfected, then what is counted apart. */
function malariaTable(records, target, model) {
  const counts = parasitaemia(records, { target });
  const line = (label, count, percent, note) => ({ label, name: nameOf(label, model), count, percent, note });
  const interval = counts.ci95 ? t("slide.ci", { interval: intervalText(counts) }) : t("slide.no_red_yet");
  const rows = [line("parasitized", counts.parasitized, counts.parasitaemia, interval), line("uninfected", counts.uninfected, null, "")];
  for (const [label, count] of Object.entries(counts.apart)) if (count) rows.push(line(label, count, null, t("slide.note_apart")));
  if (counts.unconfirmed) {
    rows.push({ ...line("unconfirmed", counts.unconfirmed, null, t("slide.note_review")), name: t("slide.unconfirmed_name") });
  }
  for (const [label, count] of Object.entries(counts.other_classes)) rows.push(line(label, count, null, t("slide.note_not_red")));
  return { counts, rows, kind: MALARIA, digits: 2 };
}

/** The dashboard's "Awaiting review" of a slide (backend/dashboard/slides.py needing_review):
 * cells unclear to the model (review or unfamiliar) or corrected on the phone, and how many of
 * them no reviewer has answered yet; the phone and the slide page print the same two numbers. */
function awaitingReview(records) {
  const unclear = records.filter((r) => r.status === "review" || r.status === "unfamiliar" || r.corrected_label || r.corrected_at);
  return { count: unclear.length, waiting: unclear.filter((r) => !r.review).length };
}

/** "0.69–2.09 %": the rule rounded both ends half-up; toFixed only pads them to two digits. */
export function intervalText(counts) {
  return counts.ci95 ? `${counts.ci95[0].toFixed(2)}–${counts.ci95[1].toFixed(2)} %` : "–";
}

/** "1.20 % (95 % CI 0.69–2.09 %)", or "–" while no red cell is counted. */
export function parasitaemiaText(counts) {
  return counts.parasitaemia === null ? "–" : `${counts.parasitaemia.toFixed(2)} % (${t("slide.ci", { interval: intervalText(counts) })})`;
}

export function progressText(slide, counts) {
  const reached = counts.target_reached ? t("slide.target_reached") : "";
  if (slide.kind === MALARIA) {
    const said = { count: counts.red_cells, target: slide.target, reached, parasitized: counts.parasitized, parasitaemia: parasitaemiaText(counts) };
    return t("slide.progress_red", said);
  }
  return t("slide.progress_white", { count: counts.white_cells, target: slide.target, reached });
}

/** The count the meter shows: white cells, or a malaria slide's red cells. */
export const countedCells = (slide, counts) => (slide && slide.kind === MALARIA ? counts.red_cells : counts.white_cells);

/** The kind of slide a model's cells count on: a malaria screen's (parasitized / uninfected) on
 * a malaria slide, any other's on a white-cell differential. */
export const slideKindFor = (model) => (model && model.labels.includes("parasitized") ? MALARIA : WBC_DIFFERENTIAL);

export class SlidePanel {
  constructor(root, { onCreate, onSelect, onState, onExport }) {
    this.q = (sel) => root.querySelector(sel);
    this.q("#slide-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = (id) => this.q(id).value;
      const kind = value("#slide-kind");
      onCreate({ sampleId: value("#slide-sample"), patient: value("#slide-patient"), specimen: value("#slide-specimen"), kind, target: value("#slide-target") });
      for (const id of ["#slide-sample", "#slide-patient", "#slide-specimen"]) this.q(id).value = "";
      this.kindPicked = false;
    });
    // Each kind offers its own targets: 100 or 200 white cells, 500 to 5000 red cells.
    this.kindPicked = false; // the technician chose the kind: the model no longer suggests it
    this.q("#slide-kind").addEventListener("change", () => {
      this.kindPicked = true;
      this.offerTargets();
    });
    this.offerTargets();
    this.q("#slide-select").addEventListener("change", (e) => onSelect(e.target.value || null));
    this.q("#slide-pause").addEventListener("click", () => onState(this.slide && this.slide.state === "open" ? "paused" : "open"));
    // Finishing cannot be undone on the phone (only a reviewer re-opens a slide): the first tap
    // asks, the second finishes; any other choice or render of another slide cancels.
    this.finishAsked = null;
    this.q("#slide-finish").addEventListener("click", () => {
      if (!this.slide) return;
      if (this.finishAsked !== this.slide.id) {
        this.finishAsked = this.slide.id;
        this.showFinish();
        return;
      }
      this.finishAsked = null;
      onState("finished");
    });
    this.q("#slide-csv").addEventListener("click", onExport);
  }

  offerTargets() {
    const kind = SLIDE_KINDS[this.q("#slide-kind").value] || SLIDE_KINDS[WBC_DIFFERENTIAL];
    const select = this.q("#slide-target");
    const keep = Number(select.value); // drawn again in another language: the choice stays
    select.replaceChildren(...kind.targets.map((n) => new Option(String(n), String(n), false, n === kind.defaultTarget)));
    select.value = String(kind.targets.includes(keep) ? keep : kind.defaultTarget);
    this.q("#slide-target-label").textContent = t(KIND_CELLS[this.q("#slide-kind").value] || KIND_CELLS[WBC_DIFFERENTIAL]);
  }

  showFinish() {
    const asked = this.slide && this.finishAsked === this.slide.id;
    const button = this.q("#slide-finish");
    button.textContent = asked ? t("slide.confirm_finish") : t("slide.finish");
    button.dataset.asked = String(Boolean(asked));
    this.q("#slide-finish-why").hidden = !asked;
  }

  /** `slide`: the chosen slide (slideView) or null; returns the table the CSV exports. */
  render(slides, slide, records, model) {
    this.slide = slide;
    // A new slide is offered in the kind the chosen model's cells count on (red cells found with
    // a malaria screen would be set apart on a differential, never counted).
    if (model && !this.kindPicked && this.q("#slide-kind").value !== slideKindFor(model)) {
      this.q("#slide-kind").value = slideKindFor(model);
      this.offerTargets();
    }
    const select = this.q("#slide-select");
    const sorted = slides.map(slideView).sort((a, b) => (b.started_at || "").localeCompare(a.started_at || ""));
    select.replaceChildren(
      new Option(t("slide.none_option"), ""),
      ...sorted.map((s) => {
        const malaria = s.kind === MALARIA ? ` · ${t("slide.malaria_tag")}` : "";
        const state = STATE_WORDS[s.state] ? t(STATE_WORDS[s.state]) : s.state;
        return new Option(`${s.sample_id}${malaria} · ${(s.started_at || "").slice(0, 10)} · ${state}`, s.id);
      }),
    );
    select.value = slide ? slide.id : "";
    const target = slide ? slide.target : 100;
    const kind = slide ? slide.kind : WBC_DIFFERENTIAL;
    const table = slideTable(records, target, model, kind);
    this.q("#slide-csv").disabled = !slide;
    this.q("#slide-pause").disabled = !slide || slide.state === "finished";
    this.q("#slide-finish").disabled = !slide || slide.state === "finished";
    if (!slide || slide.id !== this.finishAsked || slide.state === "finished") this.finishAsked = null;
    this.showFinish();
    this.q("#slide-pause").textContent = slide && slide.state === "paused" ? t("slide.resume") : t("slide.pause");
    this.q("#slide-state").textContent = slide ? stateText(slide) : "";
    this.q("#slide-meter").max = target;
    this.q("#slide-meter").value = Math.min(countedCells(slide, table.counts), target);
    this.q("#slide-meter").setAttribute("aria-label", kind === MALARIA ? t("slide.meter_red", { target }) : t("slide.meter_white", { target }));
    this.q("#slide-table caption").textContent = kind === MALARIA ? t("slide.caption_malaria") : t("slide.caption_differential");
    this.q("#slide-progress").textContent = slide ? progressText(slide, table.counts) : t("slide.start_or_choose");
    const flags = slide ? flagTexts(table.counts, kind, model) : [];
    this.q("#slide-flags").replaceChildren(...flags.map((f) => Object.assign(document.createElement("li"), { textContent: f })));
    this.q("#slide-table tbody").replaceChildren(
      ...table.rows.map((row) => {
        const tr = document.createElement("tr");
        tr.dataset.label = row.label;
        for (const value of [row.name, row.count, row.percent === null || row.percent === undefined ? "" : row.percent.toFixed(table.digits || 1), row.note]) {
          const td = document.createElement("td");
          td.textContent = value;
          tr.append(td);
        }
        return tr;
      }),
    );
    const awaiting = awaitingReview(records);
    this.q("#slide-awaiting").hidden = !slide || !awaiting.count;
    this.q("#slide-awaiting").textContent = t("slide.awaiting_review", awaiting);
    this.renderAwaiting(slide && kind === MALARIA ? table.counts.unconfirmed_ids : [], records, model);
    return table;
  }

  /** A malaria slide's unrecognised cells: not counted until a person gives each a class; the
   * first REVIEW_SHOWN of them with their crops, then how many more (in History). */
  renderAwaiting(ids, records, model) {
    const byId = new Map(records.map((r) => [r.id, r]));
    const cells = ids.map((id) => byId.get(id)).filter(Boolean);
    const more = cells.length - REVIEW_SHOWN;
    this.q("#slide-review").hidden = !cells.length;
    this.q("#slide-review-title").textContent = t("slide.review_title", { count: cells.length });
    for (const url of this.thumbnailUrls || []) URL.revokeObjectURL(url);
    this.thumbnailUrls = [];
    const rows = cells.slice(0, REVIEW_SHOWN).map((r) => {
      const li = document.createElement("li");
      li.dataset.id = r.id;
      if (r.thumbnail instanceof Blob) {
        const img = Object.assign(document.createElement("img"), { alt: "", width: 48, height: 48 });
        img.src = URL.createObjectURL(r.thumbnail);
        this.thumbnailUrls.push(img.src);
        li.append(img);
      }
      const when = r.captured_at ? new Date(r.captured_at).toLocaleTimeString(language()) : "";
      li.append(t("slide.review_row", { name: nameOf(r.label, model), when }));
      return li;
    });
    if (more > 0) rows.push(Object.assign(document.createElement("li"), { className: "slide-review-more", textContent: t("slide.review_more", { count: more }) }));
    this.q("#slide-review-list").replaceChildren(...rows);
  }
}

export function stateText(slide) {
  const failed = slide.syncState === "failed" ? ` ${t("slide.not_synced", { error: slide.syncError })}` : "";
  return lifeText(slide) + failed;
}

function lifeText(slide) {
  const when = (iso) => (iso ? new Date(iso).toLocaleString(language()) : "");
  const who = [slide.patient && t("slide.patient_is", { patient: slide.patient }), slide.specimen && t("slide.specimen_is", { specimen: slide.specimen })];
  const about = who.some(Boolean) ? ` (${who.filter(Boolean).join(", ")})` : "";
  if (slide.state === "finished") {
    const said = { about, when: when(slide.finished_at), by: slide.finished_by };
    return slide.finished_by ? t("slide.finished_by", said) : t("slide.finished_on", said);
  }
  if (slide.state === "paused") {
    return slide.pausedWhy ? t("slide.paused_by_app", { why: pausedWhyText(slide), about }) : t("slide.paused", { about });
  }
  const reopened = slide.reopened_by ? ` ${t("slide.reopened", { by: slide.reopened_by, when: when(slide.reopened_at) })}` : "";
  return `${t("slide.open", { about })}${reopened}`;
}
