// Chooses the model (white-cell differential, malaria screen, or any released model: labels
// come from its model.json, so a new model with new classes needs no app change).
import { msgKey, t } from "../i18n.js";
import { nameOf } from "./result-card.js";

export const MODEL_TITLES = {
  "wbc-differential": msgKey("model.title_wbc"),
  "malaria-screen": msgKey("model.title_malaria"),
};

/** A released model's name in people's words (a model the app does not know: its name). */
export function modelTitle(name) {
  return MODEL_TITLES[name] ? t(MODEL_TITLES[name]) : name;
}

export class ModelPicker {
  constructor(select, info, onChange) {
    this.select = select;
    this.info = info;
    select.addEventListener("change", () => onChange(select.value));
  }

  render(models, currentName) {
    const names = Object.keys(models).sort();
    if (!names.length) {
      this.select.replaceChildren(new Option(t("model.none"), ""));
      this.select.disabled = true;
      this.info.textContent = t("model.connect_once");
      return;
    }
    this.select.disabled = false;
    this.select.replaceChildren(
      ...names.map((n) => new Option(`${modelTitle(n)} · ${models[n].version}`, n)),
    );
    this.select.value = currentName && models[currentName] ? currentName : names[0];
    const m = models[this.select.value];
    this.info.textContent = t("model.classes", { count: m.labels.length, names: m.labels.map((l) => nameOf(l, m)).join(", ") });
  }
}
