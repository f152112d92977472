// The line on the Classify screen that says where a new result goes: the active slide and its
// count (white cells counted / target; a malaria slide's red cells / target and parasitaemia),
// or why it joins no slide (none chosen, paused, finished); and, for a login that cannot sync
// (a viewer), that results stay on the phone.
import { MALARIA } from "../data/slides.js";
import { parasitaemiaText, slideTable } from "./slide-panel.js";

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
    let text = "No slide: results are saved in History only. Start a slide (Slide) to count them.";
    if (slide) {
      const count = slide.kind === MALARIA ? malariaCount(slide, records) : whiteCellCount(slide, records);
      state = slide.state;
      if (slide.state === "open") text = `Slide “${slide.sample_id}” · ${count}`;
      else {
        const why = slide.state === "paused" && slide.pausedWhy ? ` (${slide.pausedWhy})` : "";
        text = `Slide “${slide.sample_id}” is ${slide.state}${why} · ${count}: new results are NOT counted on it.`;
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
  const waiting = counts.apart.unconfirmed ? ` · ${counts.apart.unconfirmed} not recognised, not counted` : "";
  return `${counts.white_cells} / ${slide.target} white cells${waiting}`;
}

function malariaCount(slide, records) {
  const { counts } = slideTable(records, slide.target, null, MALARIA);
  const waiting = counts.unconfirmed ? ` · ${counts.unconfirmed} not recognised — review` : "";
  return `${counts.red_cells} / ${slide.target} red cells · parasitized ${counts.parasitized} · parasitaemia ${parasitaemiaText(counts)}${waiting}`;
}
