// Framing as a declared property of a released model, exactly as backend/cells/model_framing.py:
// model.json "input": {"framing": {"method": "wbc-canonical", "fill": 0.6}} -> the worker feeds
// the model the canonical frame of the white cell nearest the centre (no white cell ->
// "unfamiliar", no label); without the key the model gets the resized whole image (1.0.0).
import { CELL_FILL } from "./cell-finder.js";

export const METHOD = "wbc-canonical";
export const NO_WHITE_CELL = "no white cell found in the photo";

export function framingOf(meta) {
  const framing = meta && meta.input ? meta.input.framing : undefined;
  if (framing === undefined || framing === null) return null;
  if (typeof framing !== "object" || framing.method !== METHOD) {
    throw new Error(`input.framing.method must be '${METHOD}', got ${JSON.stringify(framing)}`);
  }
  const { fill } = framing;
  if (typeof fill !== "number" || !(fill > 0 && fill <= 1)) {
    throw new Error(`input.framing.fill must be a number in (0, 1], got ${JSON.stringify(fill)}`);
  }
  return { method: METHOD, fill };
}

// The fill used for every cell of a field photo: the model's, else the canonical one.
export function fieldFill(meta) {
  const framing = framingOf(meta);
  return framing === null ? CELL_FILL : framing.fill;
}

export function noWhiteCellResult() {
  return { label: null, confidence: null, status: "unfamiliar", probabilities: {}, reason: NO_WHITE_CELL };
}

// The RGBA pixels of a crop {x, y, w, h} of a decoded image, as {data, width, height}.
export function cropRGBA(data, width, crop) {
  if (crop.x === 0 && crop.y === 0 && crop.w === width && data.length === width * crop.h * 4) {
    return { data, width, height: crop.h };
  }
  const out = new Uint8ClampedArray(crop.w * crop.h * 4);
  for (let y = 0; y < crop.h; y++) {
    const start = ((crop.y + y) * width + crop.x) * 4;
    out.set(data.subarray(start, start + crop.w * 4), y * crop.w * 4);
  }
  return { data: out, width: crop.w, height: crop.h };
}
