// Chooses the model (white-cell differential, malaria screen, or any released model: labels
// come from its model.json, so a new model with new classes needs no app change).
import { nameOf } from "./result-card.js";

export const MODEL_TITLES = {
  "wbc-differential": "White-cell differential",
  "malaria-screen": "Malaria screen",
};

export function modelTitle(name) {
  return MODEL_TITLES[name] || name;
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
      this.select.replaceChildren(new Option("No model downloaded yet", ""));
      this.select.disabled = true;
      this.info.textContent = "Connect and log in once (Account) to download the models; after that everything works offline.";
      return;
    }
    this.select.disabled = false;
    this.select.replaceChildren(
      ...names.map((n) => new Option(`${modelTitle(n)} · ${models[n].version}`, n)),
    );
    this.select.value = currentName && models[currentName] ? currentName : names[0];
    const m = models[this.select.value];
    this.info.textContent = `${m.labels.length} classes: ${m.labels.map((l) => nameOf(l, m)).join(", ")}`;
  }
}
