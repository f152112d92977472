// One result: the class, its calibrated confidence, the status in words, the top 3 as bars, the
// image beside it, the model, and the technician's correction (kept beside the model's label).
import { topK } from "../classifier/decision-rule.js";

export const STATUS_TEXT = {
  confident: "Confident.",
  review: "Review: have a specialist confirm this cell.",
  unfamiliar: "Unfamiliar: this does not look like the images the model knows. Check focus, light and stain, or have a specialist look.",
};

const SYNC_TEXT = {
  pending: "Saved on this phone · waiting to sync",
  synced: "Saved and synced",
  failed: "Saved on this phone · sync failed",
};

export function percent(p) {
  return `${(p * 100).toFixed(1)}%`;
}

export class ResultCard {
  constructor(root, { onCorrect }) {
    this.root = root;
    this.q = (sel) => root.querySelector(sel);
    this.record = null;
    this.imageUrl = null;
    this.q("#result-correct").addEventListener("change", (e) => {
      if (this.record) onCorrect(this.record, e.target.value || null);
    });
  }

  /** `reason`: why the model was fed what it was (a frame centred on the photo), or null. */
  show(record, labels, reason = null) {
    this.record = record;
    if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
    this.imageUrl = record.thumbnail ? URL.createObjectURL(record.thumbnail) : "";
    this.q("#result-image").src = this.imageUrl;
    this.q("#result-label").textContent = record.label;
    this.q("#result-confidence").textContent = `Confidence ${percent(record.confidence)}`;
    const status = this.q("#result-status");
    status.dataset.status = record.status;
    status.textContent = STATUS_TEXT[record.status];
    const why = this.q("#result-reason");
    why.textContent = reason ? `Note: ${reason}.` : "";
    why.hidden = !reason;
    const probabilities = labels.map((l) => record.probabilities[l] ?? 0);
    this.q("#result-top").replaceChildren(
      ...topK(probabilities, labels, 3).map(({ label, p }) => {
        const li = document.createElement("li");
        li.innerHTML = '<span class="name"></span><span class="bar"><span></span></span><span class="p"></span>';
        li.querySelector(".name").textContent = label;
        li.querySelector(".bar span").style.width = `${Math.round(p * 100)}%`;
        li.querySelector(".p").textContent = percent(p);
        li.setAttribute("aria-label", `${label} ${percent(p)}`);
        return li;
      }),
    );
    this.q("#result-model").textContent = `Model: ${record.model_name} ${record.model_version}`;
    const select = this.q("#result-correct");
    const none = new Option("(as the model says)", "");
    select.replaceChildren(none, ...labels.map((l) => new Option(l, l)));
    select.value = record.corrected_label || "";
    this.showSync(record);
    this.root.hidden = false;
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
  }
}
