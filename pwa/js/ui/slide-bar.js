// The line on the Classify screen that says where a new result goes: the active slide and its
// count (white cells counted / target; a malaria slide's red cells / target and parasitaemia),
// or why it joins no slide (none chosen, paused, finished); and, for a login that cannot sync
// (a viewer), that results stay on the phone.
import { MALARIA } from "../data/slides.js";
import { msgKey, t } from "../i18n.js";
import { parasitaemiaText, pausedWhyText, slideTable } from "./slide-panel.js";

const NOT_OPEN = { paused: msgKey("bar.paused"), finished: msgKey("bar.finished") };

export class SlideBar {
  constructor(root, onOpen) {
    this.root = root;
    this.text = root.querySelector("#slide-bar-text");
    this.warning = root.querySelector("#sync-warning");
    root.querySelector("#slide-bar-open").addEventListener("click", onOpen);
  }

  /** `slide`: the chosen slide (slideView) or null; `records`: its results. */
  render(slide, records, cannotSync = null) {
    let state = "none";
    let text = t("bar.none");
    if (slide) {
      const count = slide.kind === MALARIA ? malariaCount(slide, records) : whiteCellCount(slide, records);
      state = slide.state;
      if (slide.state === "open") text = t("bar.open", { sample: slide.sample_id, count });
      else {
        const why = slide.state === "paused" && slide.pausedWhy ? ` (${pausedWhyText(slide)})` : "";
        text = t(NOT_OPEN[slide.state] || NOT_OPEN.paused, { sample: slide.sample_id, why, count });
      }
    }
    this.root.dataset.state = state;
    this.text.textContent = text;
    this.warning.textContent = cannotSync || "";
    this.warning.hidden = !cannotSync;
  }
}

function whiteCellCount(slide, records) {
  const { counts } = slideTable(records, slide.target, null);
  const waiting = counts.apart.unconfirmed ? ` · ${t("bar.white_waiting", { count: counts.apart.unconfirmed })}` : "";
  return `${t("bar.white", { count: counts.white_cells, target: slide.target })}${waiting}`;
}

function malariaCount(slide, records) {
  const { counts } = slideTable(records, slide.target, null, MALARIA);
  const waiting = counts.unconfirmed ? ` · ${t("bar.red_waiting", { count: counts.unconfirmed })}` : "";
  const said = { count: counts.red_cells, target: slide.target, parasitized: counts.parasitized, parasitaemia: parasitaemiaText(counts) };
  return `${t("bar.red", said)}${waiting}`;
}
