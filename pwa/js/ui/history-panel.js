// Every saved result, newest first, with filters and its sync state (pending / synced /
// failed and why; a correction the server refused shows under its record); a failed record or
// correction can be queued again.
import { language, t } from "../i18n.js";
import { headline, nameOf, percent, personText, statusWithReason, syncWord } from "./result-card.js";

/** The label a person gave (reviewer, else technician), else the model's. */
const labelOf = (r) => r.reviewed_label || r.corrected_label || r.label;

const SHOWN = 200;

export class HistoryPanel {
  constructor(root, { onSyncNow, onExport, onRetry }) {
    this.q = (sel) => root.querySelector(sel);
    this.filters = ["label", "status", "sync", "model"].map((f) => this.q(`#filter-${f}`));
    for (const f of this.filters) f.addEventListener("change", () => this.render(this.records));
    this.q("#sync-now").addEventListener("click", onSyncNow);
    this.q("#history-csv").addEventListener("click", () => onExport(this.filtered()));
    this.onRetry = onRetry;
    this.records = [];
    this.urls = [];
  }

  filtered() {
    const [label, status, sync, model] = this.filters.map((f) => f.value);
    return this.records.filter(
      (r) =>
        (!label || labelOf(r) === label) &&
        (!status || r.status === status) &&
        (!sync || r.syncState === sync) &&
        (!model || r.model_name === model),
    );
  }

  fillOptions(select, values, name = (v) => v) {
    const keep = select.value;
    select.replaceChildren(new Option(t("history.all"), ""), ...[...values].sort().map((v) => new Option(name(v), v)));
    select.value = values.has(keep) ? keep : "";
  }

  /** `refused`: correction events the server refused; each shows under its record. */
  render(records, model = null, refused = []) {
    this.model = model;
    this.refused = new Map(refused.map((e) => [e.prediction_id, e]));
    this.records = [...records].sort((a, b) => b.captured_at.localeCompare(a.captured_at));
    this.fillOptions(this.filters[0], new Set(this.records.map(labelOf)), (l) => nameOf(l, model));
    this.fillOptions(this.filters[3], new Set(this.records.map((r) => r.model_name)));
    const shown = this.filtered();
    const newest = shown.length > SHOWN ? ` ${t("history.newest_shown", { count: SHOWN })}` : "";
    this.q("#history-count").textContent = `${t("history.count", { shown: shown.length, count: this.records.length })}${newest}`;
    this.urls.forEach((u) => URL.revokeObjectURL(u));
    this.urls = [];
    this.q("#history-list").replaceChildren(...shown.slice(0, SHOWN).map((r) => this.item(r)));
  }

  item(r) {
    const li = document.createElement("li");
    li.dataset.id = r.id;
    const img = document.createElement("img");
    img.alt = "";
    if (r.thumbnail) {
      img.src = URL.createObjectURL(r.thumbnail);
      this.urls.push(img.src);
    }
    const what = document.createElement("div");
    what.className = "what";
    const title = document.createElement("strong");
    const people = personText(r, this.model);
    title.textContent = headline(r, this.model);
    const detail = document.createElement("div");
    detail.className = "muted small";
    const confidence = r.status === "unfamiliar" ? "" : `${percent(r.confidence)} · `;
    detail.textContent = `${confidence}${statusWithReason(r)} · ${r.model_name} ${r.model_version} · ${new Date(r.captured_at).toLocaleString(language())}`;
    what.append(title);
    if (people) {
      const said = document.createElement("div");
      said.className = "people small";
      said.textContent = people;
      what.append(said);
    }
    what.append(detail);
    const refusedCorrection = this.refused.get(r.id);
    if (refusedCorrection) {
      const why = document.createElement("div");
      why.className = "small refused-correction";
      const to = refusedCorrection.label ? nameOf(refusedCorrection.label, this.model) : t("history.model_class");
      why.textContent = t("history.correction_refused", { to, why: refusedCorrection.syncError || t("history.refused") });
      what.append(why);
    }
    const failed = r.syncState === "failed" && r.syncError;
    if (failed) {
      const why = document.createElement("div");
      why.className = "small";
      why.textContent = r.syncError;
      what.append(why);
    }
    // A conflict stays one (the server keeps the first record); a rejected record or correction
    // may pass later, e.g. once the phone's clock is right again.
    if ((failed && !r.syncConflict) || refusedCorrection) {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "btn btn-small btn-secondary";
      retry.textContent = t("history.retry");
      retry.addEventListener("click", () => this.onRetry(r.id));
      what.append(retry);
    }
    const state = document.createElement("span");
    state.className = "sync-state";
    state.dataset.state = r.syncState;
    state.textContent = syncWord(r.syncState);
    li.append(img, what, state);
    return li;
  }
}
