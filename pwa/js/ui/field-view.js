// Field mode: the photo with every found white cell boxed and labelled. Tap a box to select it
// (then correct its label in the list), "Add missed cell" then tap the photo to mark one the
// finder missed, "Add all to slide" to count them. field-controller.js does the work. A red-cell
// model's result (cell_type "rbc": every red cell of a thin smear, often 100+) is drawn by call
// (red-cell-summary.js), edge cells dashed and not counted, and listed with the cells to look
// at first and the rest folded away. A selected cell the model made a map for offers "Show why"
// under the photo: the map over that cell's own image (its frame: what the model was given).
import { t } from "../i18n.js";
import { correctionOptions, headline, nameOf, statusWithReason } from "./result-card.js";
import { WhyOverlay } from "./why-overlay.js";
import { CALL_COLOURS, colourOf, listsFirst, redCellSummary } from "./red-cell-summary.js";

const COLOURS = { confident: "#1b7f3b", review: "#b26a00", unfamiliar: "#b00020" };
const MAX_SIDE = 1280; // canvas pixels: enough to read the labels, light on a phone

export class FieldView {
  constructor(root, { onCorrect, onAdd, onSave, onClose }) {
    this.root = root;
    this.q = (sel) => root.querySelector(sel);
    this.canvas = this.q("#field-canvas");
    this.cells = [];
    this.selected = -1;
    this.adding = false;
    this.onCorrect = onCorrect;
    this.why = new WhyOverlay(this.q("#field-why"));
    this.canvas.addEventListener("click", (e) => this.tap(e));
    this.q("#field-add").addEventListener("click", () => this.setAdding(!this.adding));
    this.q("#field-save").addEventListener("click", () => onSave());
    this.q("#field-close").addEventListener("click", () => onClose());
    this.onAdd = onAdd;
  }

  async show(blob, result, labels, model = null) {
    this.model = model;
    if (this.bitmap) this.bitmap.close();
    this.bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
    this.width = result.width;
    this.height = result.height;
    this.labels = labels;
    this.redCells = result.cell_type === "rbc";
    // A model that matches each photo's colours to its training images' could not here.
    this.colourUnmatched = Boolean(result.colour && !result.colour.standardised);
    this.openFolds = new Set();
    this.result = result;
    this.cells = result.cells.map((c) => ({ ...c, corrected_label: null, added: false }));
    this.selected = -1;
    this.setAdding(false);
    this.scale = Math.min(1, MAX_SIDE / Math.max(this.width, this.height));
    this.canvas.width = Math.round(this.width * this.scale);
    this.canvas.height = Math.round(this.height * this.scale);
    this.root.hidden = false;
    this.renderLegend();
    this.render();
  }

  hide() {
    this.root.hidden = true;
    this.result = null;
    this.cells = [];
    this.why.clear();
    if (this.bitmap) this.bitmap.close();
    this.bitmap = null;
  }

  setAdding(on) {
    this.adding = on;
    this.q("#field-add").setAttribute("aria-pressed", String(on));
    this.q("#field-add").textContent = on ? t("field.tap_missed") : t("field.add");
  }

  /** The JPEGs of the found cells of `result`, which come after its calls; ignored when another
   * photo is shown by then. */
  attachImages(result, images) {
    if (result !== this.result) return;
    images.forEach((image, k) => (this.cells[k].cellImage = image));
    this.renderWhy();
  }

  addCell(cell) {
    this.cells.push({ ...cell, corrected_label: null, added: true });
    this.selected = this.cells.length - 1;
    this.render();
  }

  /** A 160 px JPEG of a cell with some of its surroundings, for History and the CSV. */
  async thumbnail(box, size = 160) {
    const [x0, y0, x1, y1] = box;
    const side = Math.max(x1 - x0, y1 - y0) / 0.6;
    const canvas = new OffscreenCanvas(size, size);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(this.bitmap, (x0 + x1 - side) / 2, (y0 + y1 - side) / 2, side, side, 0, 0, size, size);
    return canvas.convertToBlob({ type: "image/jpeg", quality: 0.8 });
  }

  /** The short label drawn on the photo: a person's, else the model's; "?" when not recognised. */
  labelOf(cell) {
    if (cell.corrected_label) return nameOf(cell.corrected_label, this.model);
    return cell.status === "unfamiliar" ? "?" : nameOf(cell.label, this.model);
  }

  /** Photo pixel under a click or tap on the canvas. */
  photoPoint(event) {
    const rect = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) * this.canvas.width) / rect.width / this.scale;
    const y = ((event.clientY - rect.top) * this.canvas.height) / rect.height / this.scale;
    return [x, y];
  }

  tap(event) {
    const [x, y] = this.photoPoint(event);
    if (this.adding) {
      this.setAdding(false);
      this.onAdd(this.boxAround(x, y));
      return;
    }
    const index = this.cells.findIndex((c) => x >= c.box[0] && x < c.box[2] && y >= c.box[1] && y < c.box[3]);
    this.selected = index;
    this.render();
    const select = index >= 0 ? this.q(`#field-cell-${index} select`) : null;
    if (select) select.focus(); // an edge cell has no menu: it is not counted
  }

  /** A box for a hand-marked cell: as big as the found ones (median side), else 1/8 of the photo. */
  boxAround(x, y) {
    const sides = this.cells.map((c) => Math.max(c.box[2] - c.box[0], c.box[3] - c.box[1])).sort((a, b) => a - b);
    const side = sides.length ? sides[Math.floor(sides.length / 2)] : Math.min(this.width, this.height) / 8;
    const half = side / 2;
    return [x - half, y - half, x + half, y + half].map(Math.round);
  }

  render() {
    const ctx = this.canvas.getContext("2d");
    ctx.drawImage(this.bitmap, 0, 0, this.canvas.width, this.canvas.height);
    // Labels and lines sized in screen pixels: the canvas is shown at the page's width.
    const perScreenPx = this.canvas.width / (this.canvas.clientWidth || this.canvas.width);
    const font = Math.round(13 * perScreenPx);
    ctx.font = `600 ${font}px system-ui, sans-serif`;
    this.cells.forEach((cell, i) => {
      const [x0, y0, x1, y1] = cell.box.map((v) => v * this.scale);
      const colour = this.redCells ? colourOf(cell) : COLOURS[cell.status] || "#333";
      ctx.lineWidth = (i === this.selected ? 3 : 2) * perScreenPx;
      ctx.strokeStyle = i === this.selected ? "#1565c0" : colour;
      ctx.setLineDash(cell.edge ? [6 * perScreenPx, 4 * perScreenPx] : []);
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      ctx.setLineDash([]);
      // A field of red cells: only the cells to look at carry a label, or the photo drowns.
      const text = this.redCells ? this.redCellText(cell, i) : `${i + 1} ${this.labelOf(cell)}`;
      if (text === null) return;
      const pad = 3 * perScreenPx;
      const w = ctx.measureText(text).width + 2 * pad;
      const h = font + 2 * pad;
      const top = y0 - h >= 0 ? y0 - h : Math.min(y1, this.canvas.height - h);
      ctx.fillStyle = colour;
      ctx.fillRect(x0, top, w, h);
      ctx.fillStyle = "#fff";
      ctx.fillText(text, x0 + pad, top + font + pad / 2);
    });
    this.renderList();
    this.renderWhy();
  }

  /** "Show why" for the selected cell, when the model made a map of a call it puts forward. */
  renderWhy() {
    const cell = this.cells[this.selected];
    const cam = cell && cell.status !== "unfamiliar" ? cell.cam : null;
    if (cam) this.q(".why-cell").textContent = t("field.why_cell", { n: this.selected + 1, name: nameOf(cam.label, this.model) });
    this.why.show(cam, cell && cell.cellImage, cam ? nameOf(cam.label, this.model) : "").catch(() => this.why.clear());
  }

  /** The label on a red cell: the whole call when selected, else only the number of a cell to
   * look at ("?" when not recognised); the legend says what colours and dashes mean. */
  redCellText(cell, i) {
    if (i === this.selected) return cell.edge ? t("field.box_not_counted", { n: i + 1 }) : `${i + 1} ${this.labelOf(cell)}`;
    if (cell.edge || !listsFirst(cell)) return null;
    return cell.status === "unfamiliar" && !cell.corrected_label ? `${i + 1} ?` : `${i + 1}`;
  }

  renderLegend() {
    this.root.setAttribute("aria-label", this.redCells ? t("field.aria_red") : t("field.aria_white"));
    const legend = this.q("#field-legend");
    legend.hidden = !this.redCells;
    if (!this.redCells) return;
    const keys = [
      ["parasitized", `■ ${t("field.legend_parasitized")}`],
      ["uninfected", `■ ${t("field.legend_uninfected")}`],
      ["unrecognised", `■ ${t("field.legend_unrecognised")}`],
      ["edge", `┅ ${t("field.legend_edge")}`],
    ];
    legend.replaceChildren(
      ...keys.map(([key, text]) => {
        const span = document.createElement("span");
        span.style.color = CALL_COLOURS[key];
        span.textContent = text;
        return span;
      }),
    );
  }

  renderList() {
    if (this.redCells) {
      this.renderRedCellList();
      return;
    }
    this.q("#field-list").replaceChildren(...this.cells.map((cell, i) => this.row(cell, i)));
    const n = this.cells.length;
    const unrecognised = this.cells.filter((c) => c.status === "unfamiliar").length;
    const check = unrecognised ? ` ${t("field.unrecognised_check", { count: unrecognised })}` : "";
    this.q("#field-summary").textContent = n
      ? `${t("field.white_found", { count: n })} ${t("field.tap_to_select")}${check}`
      : t("field.no_white");
  }

  /** Red cells: parasitized and not recognised first, each with its correction; the uninfected
   * and the edge cells folded (a selected one is unfolded), so 100+ cells stay usable. */
  renderRedCellList() {
    const first = [];
    const uninfected = [];
    const edge = [];
    this.cells.forEach((cell, i) => (cell.edge ? edge : listsFirst(cell) ? first : uninfected).push(i));
    // A fold stays as the person left it when the view is drawn again.
    const fold = (key, indices, title) => {
      const li = document.createElement("li");
      li.className = "field-fold";
      const details = document.createElement("details");
      details.open = this.openFolds.has(key) || indices.includes(this.selected);
      details.addEventListener("toggle", () => (details.open ? this.openFolds.add(key) : this.openFolds.delete(key)));
      const summary = document.createElement("summary");
      summary.textContent = title;
      const inner = document.createElement("ol");
      inner.className = "field-list";
      inner.replaceChildren(...indices.map((i) => this.row(this.cells[i], i)));
      details.append(summary, inner);
      li.append(details);
      return li;
    };
    const rows = first.map((i) => this.row(this.cells[i], i));
    if (uninfected.length) rows.push(fold("uninfected", uninfected, t("field.fold_uninfected", { count: uninfected.length })));
    if (edge.length) rows.push(fold("edge", edge, t("field.fold_edge", { count: edge.length })));
    this.q("#field-list").replaceChildren(...rows);
    const unmatched = this.colourUnmatched && this.cells.length ? ` ${t("field.colour_unmatched")}` : "";
    this.q("#field-summary").textContent = this.cells.length
      ? `${redCellSummary(this.cells)}. ${t("field.tap_to_select")}${unmatched}`
      : t("field.no_red");
  }

  /** One cell's row: its call, status, and the menu to correct it (an edge cell: none). */
  row(cell, i) {
    const li = document.createElement("li");
    li.id = `field-cell-${i}`;
    li.className = i === this.selected ? "selected" : "";
    li.dataset.status = cell.status;
    const name = document.createElement("span");
    if (cell.edge) {
      li.dataset.edge = "true";
      name.textContent = `${i + 1}. ${t("field.row_edge")}`;
      li.append(name);
      return li;
    }
    const how = [cell.added && t("field.by_hand"), statusWithReason(cell), cell.recordId && t("field.counted")].filter(Boolean).join(" · ");
    const confidence = cell.status === "unfamiliar" ? "" : ` · ${(cell.confidence * 100).toFixed(1)}%`;
    name.textContent = `${i + 1}. ${headline(cell, this.model, { short: true })}${confidence} · ${how}`;
    const select = document.createElement("select");
    select.setAttribute("aria-label", t("field.correct_cell", { n: i + 1 }));
    const none = cell.status === "unfamiliar" ? t("result.not_marked") : t("result.as_model");
    select.replaceChildren(...correctionOptions(this.labels, this.model, none));
    select.value = cell.corrected_label || "";
    select.addEventListener("change", () => {
      cell.corrected_label = select.value || null;
      this.selected = i;
      this.render();
      this.onCorrect(cell);
    });
    li.append(name, select);
    return li;
  }
}
