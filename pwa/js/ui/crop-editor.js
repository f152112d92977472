// The preview with a crop square the user moves (drag, arrow keys) and zooms (slider, wheel,
// pinch, + and -) to centre one cell. At zoom 1 the crop of a picked file is the whole image:
// exactly what classifier.classify sees for the same file; a camera frame (wide, the cell in the
// middle of the eyepiece) starts at its largest centred square. The crop is in image pixels.
import { t } from "../i18n.js";

const MAX_ZOOM = 6;

export class CropEditor {
  constructor(root) {
    this.canvas = root.querySelector("#crop-canvas");
    this.zoomInput = root.querySelector("#crop-zoom");
    this.ctx = this.canvas.getContext("2d");
    this.bitmap = null;
    this.zoom = 1;
    this.center = { x: 0, y: 0 };
    this.pointers = new Map();
    this.zoomInput.addEventListener("input", () => this.setZoom(Number(this.zoomInput.value)));
    this.bindPointer();
    this.bindKeys();
  }

  async show(blob, { square = false } = {}) {
    this.square = square;
    if (this.bitmap) this.bitmap.close();
    this.bitmap = null;
    try {
      this.bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
    } catch {
      throw new Error(t("image.unreadable"));
    }
    const scale = Math.min(1, 1024 / Math.max(this.bitmap.width, this.bitmap.height));
    this.canvas.width = Math.round(this.bitmap.width * scale);
    this.canvas.height = Math.round(this.bitmap.height * scale);
    this.scale = scale;
    this.center = { x: this.bitmap.width / 2, y: this.bitmap.height / 2 };
    this.setZoom(1);
  }

  /** The crop in image pixels, or null for the whole image. */
  crop() {
    if (!this.bitmap || (this.zoom <= 1 && !this.square)) return null;
    const side = Math.min(this.bitmap.width, this.bitmap.height) / this.zoom;
    return {
      x: Math.round(this.center.x - side / 2),
      y: Math.round(this.center.y - side / 2),
      w: Math.round(side),
      h: Math.round(side),
    };
  }

  setZoom(zoom) {
    this.zoom = Math.min(MAX_ZOOM, Math.max(1, zoom));
    this.zoomInput.value = String(this.zoom);
    this.moveTo(this.center.x, this.center.y);
  }

  moveTo(x, y) {
    if (!this.bitmap) return;
    const { width, height } = this.bitmap;
    const side = Math.min(width, height) / this.zoom;
    const whole = this.zoom <= 1 && !this.square;
    const halfW = whole ? width / 2 : side / 2;
    const halfH = whole ? height / 2 : side / 2;
    this.center = {
      x: Math.min(width - halfW, Math.max(halfW, x)),
      y: Math.min(height - halfH, Math.max(halfH, y)),
    };
    this.draw();
  }

  draw() {
    const { ctx, canvas, bitmap, scale } = this;
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const c = this.crop() || { x: 0, y: 0, w: bitmap.width, h: bitmap.height };
    ctx.fillStyle = "rgba(0,0,0,0.5)";
    ctx.beginPath();
    ctx.rect(0, 0, canvas.width, canvas.height);
    ctx.rect(c.x * scale, c.y * scale, c.w * scale, c.h * scale);
    ctx.fill("evenodd");
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#ffd200";
    ctx.strokeRect(c.x * scale + 1.5, c.y * scale + 1.5, c.w * scale - 3, c.h * scale - 3);
  }

  toImage(event) {
    const rect = this.canvas.getBoundingClientRect();
    const k = this.canvas.width / rect.width / this.scale;
    return { x: (event.clientX - rect.left) * k, y: (event.clientY - rect.top) * k };
  }

  bindPointer() {
    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => {
      c.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, this.toImage(e));
    });
    c.addEventListener("pointermove", (e) => {
      if (!this.pointers.has(e.pointerId) || !this.bitmap) return;
      const before = this.pointers.get(e.pointerId);
      const now = this.toImage(e);
      if (this.pointers.size === 2) {
        const other = [...this.pointers.entries()].find(([id]) => id !== e.pointerId)[1];
        const d0 = Math.hypot(before.x - other.x, before.y - other.y);
        const d1 = Math.hypot(now.x - other.x, now.y - other.y);
        if (d0 > 0) this.setZoom(this.zoom * (d1 / d0));
      } else {
        this.moveTo(this.center.x + now.x - before.x, this.center.y + now.y - before.y);
      }
      this.pointers.set(e.pointerId, now);
    });
    const end = (e) => this.pointers.delete(e.pointerId);
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        this.setZoom(this.zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
      },
      { passive: false },
    );
  }

  bindKeys() {
    this.canvas.addEventListener("keydown", (e) => {
      if (!this.bitmap) return;
      const step = Math.min(this.bitmap.width, this.bitmap.height) * 0.05;
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (moves[e.key]) this.moveTo(this.center.x + moves[e.key][0], this.center.y + moves[e.key][1]);
      else if (e.key === "+" || e.key === "=") this.setZoom(this.zoom * 1.2);
      else if (e.key === "-") this.setZoom(this.zoom / 1.2);
      else return;
      e.preventDefault();
    });
  }

  /** A small JPEG of what is classified, for the result and the history list. */
  async thumbnail(size = 160) {
    const c = this.crop() || { x: 0, y: 0, w: this.bitmap.width, h: this.bitmap.height };
    const canvas = new OffscreenCanvas(size, size);
    canvas.getContext("2d").drawImage(this.bitmap, c.x, c.y, c.w, c.h, 0, 0, size, size);
    return canvas.convertToBlob({ type: "image/jpeg", quality: 0.8 });
  }

  clear() {
    if (this.bitmap) this.bitmap.close();
    this.bitmap = null;
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}
