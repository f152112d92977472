// "Show why": a call's class-activation map (result.cam) drawn over the very image the model was
// given (the record's cell image: the crop resized whole, or the cell's frame), stretched over
// it, bilinear, as a semi-transparent colour ramp. The dashboard draws the same pixels
// (backend/dashboard/why_overlay.py, its Python twin): the same Pillow-exact resize of the map,
// the same ramp. Hidden when the result has no map (a model that makes none, an older record).
import { pilResize } from "../classifier/pil-resize.js";
import { t } from "../i18n.js";

// Value 0..255 -> colour by linear steps between these stops, and opacity up to ALPHA_MAX/255:
// where the model saw nothing the image shows through untouched.
export const RAMP = [
  [0, [43, 131, 186]],
  [85, [171, 221, 164]],
  [170, [253, 174, 97]],
  [255, [215, 25, 28]],
];
export const ALPHA_MAX = 160;

/** The 256 RGBA colours of the ramp, in integers (Python: the same formula with //). */
export function rampTable() {
  const table = new Uint8ClampedArray(256 * 4);
  for (let v = 0; v < 256; v++) {
    const i = Math.max(1, RAMP.findIndex(([at]) => at >= v));
    const [v0, c0] = RAMP[i - 1];
    const [v1, c1] = RAMP[i];
    for (let ch = 0; ch < 3; ch++) {
      table[v * 4 + ch] = c0[ch] + Math.floor((2 * (c1[ch] - c0[ch]) * (v - v0) + (v1 - v0)) / (2 * (v1 - v0)));
    }
    table[v * 4 + 3] = Math.floor((v * ALPHA_MAX + 127) / 255);
  }
  return table;
}

const TABLE = rampTable();

/** The overlay's RGBA pixels (width*height*4): the map resized like Pillow's BILINEAR, coloured. */
export function overlayRGBA(cam, width, height) {
  const packed = new Uint8ClampedArray(cam.values.length * 3);
  cam.values.forEach((v, i) => packed.fill(v, i * 3, i * 3 + 3));
  const resized = pilResize(packed, cam.cols, cam.rows, width, height, "bilinear");
  const out = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) out.set(TABLE.subarray(resized[i * 3] * 4, resized[i * 3] * 4 + 4), i * 4);
  return out;
}

const legendText = (name) => t("why.legend", { name });

/** One toggle + canvas + legend (markup in index.html: .why-toggle, .why-figure, .why-canvas,
 * .why-legend). `show(cam, image, name)` offers the toggle, closed; `clear()` hides it all. */
export class WhyOverlay {
  constructor(root) {
    this.root = root;
    this.q = (sel) => root.querySelector(sel);
    this.toggle = this.q(".why-toggle");
    this.figure = this.q(".why-figure");
    this.canvas = this.q(".why-canvas");
    this.shown = null;
    this.toggle.addEventListener("click", () => this.setOpen(this.figure.hidden));
  }

  /** `image`: the Blob the model was given (the record's cell image); `name`: the class in words. */
  async show(cam, image, name) {
    const key = cam && image ? `${cam.values.join(",")}|${image.size}|${name}` : null;
    if (key === null) return this.clear();
    if (this.shown === key && !this.root.hidden) return; // drawn again after a sync: keep it as it is
    this.shown = key;
    this.q(".why-legend").textContent = legendText(name);
    this.q(".why-note").textContent = t("why.note");
    this.canvas.setAttribute("aria-label", t("why.canvas_label", { legend: legendText(name) }));
    this.setOpen(false);
    this.root.hidden = false;
    await this.draw(cam, image, key);
  }

  async draw(cam, image, key) {
    const bitmap = await createImageBitmap(image);
    if (this.shown !== key) return bitmap.close(); // another cell was chosen meanwhile
    const { width, height } = bitmap;
    this.canvas.width = width;
    this.canvas.height = height;
    const ctx = this.canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    const layer = new OffscreenCanvas(width, height);
    layer.getContext("2d").putImageData(new ImageData(overlayRGBA(cam, width, height), width, height), 0, 0);
    ctx.drawImage(layer, 0, 0);
    this.root.dataset.drawn = String(Date.now());
  }

  setOpen(open) {
    this.figure.hidden = !open;
    this.toggle.textContent = t(open ? "why.hide" : "why.show");
    this.toggle.setAttribute("aria-expanded", String(open));
  }

  clear() {
    this.shown = null;
    this.root.hidden = true;
    this.setOpen(false);
  }
}
