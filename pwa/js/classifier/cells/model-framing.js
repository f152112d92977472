// Framing as a declared property of a released model, exactly as classifier/cells/model_framing.py
// (read it for why). model.json "input": {"framing": ...} names one of two methods:
// - {"method": "wbc-canonical", "fill": 0.6}: the white cell nearest the centre, its box
//   spanning `fill` of the frame; no white cell -> "unfamiliar", no label.
// - {"method": "rbc-scaled", "span": 3.5}: a frame `span` red-cell diameters (D) wide, centred
//   on the white cell nearest the centre, else the platelet nearest it, else the photo's centre
//   (then "unfamiliar", label kept for the person who must look); no D measurable -> "unfamiliar", no label.
// Without the key the model gets the resized whole image (the 1.0.0 releases); such a model may
// declare "field_framing" for the cells of a field photo (fieldFramingOf), where a third method
// is allowed: {"method": "rbc-segmented"}, a red-cell model whose field mode classifies every red
// cell cut out on black in its own box (red-cell-field.js), with "colour" {cell_mean, cell_std}
// its cell colours first moved to the training crops' (field-colour.js).
import { NO_CELL } from "../decision-rule.js";
import { colourOf } from "./field-colour.js";
import { survey } from "./finder.js";
import { CELL_FILL, centralCell, frameCell, frameSquare, scaledWindow } from "./framing.js";

export const WBC_CANONICAL = "wbc-canonical";
export const RBC_SCALED = "rbc-scaled";
export const RBC_SEGMENTED = "rbc-segmented";
export const METHODS = [WBC_CANONICAL, RBC_SCALED];
export const FIELD_METHODS = [...METHODS, RBC_SEGMENTED];
export const SPAN_RANGE = [1.5, 10.0];
export const NO_WHITE_CELL = "no white cell found in the photo";
export const NO_CELLS = "no cells found in the photo";
export const CENTRED = "no white cell or platelet found: framed at the photo's centre";

const isNumber = (value) => typeof value === "number";

// The model's framing ({method, fill} or {method, span}), or null; throws if malformed, with
// framing_of's messages.
export function framingOf(card) {
  return parsed(card, "framing");
}

// How cells found in a field photo (or marked by hand) are framed for this model
// (field_framing_of): by its framing when it is framed; for a whole-image model by its
// input.field_framing when declared; else null (the box spanning CELL_FILL).
export function fieldFramingOf(card) {
  const framing = framingOf(card);
  const field = parsed(card, "field_framing");
  if (framing !== null && field !== null) {
    throw new Error("input.field_framing is for whole-image models; this one is framed");
  }
  return framing || field;
}

function parsed(card, key) {
  const framing = card && card.input ? card.input[key] : undefined;
  if (framing === undefined || framing === null) return null;
  const allowed = key === "field_framing" ? FIELD_METHODS : METHODS;
  if (typeof framing !== "object" || !allowed.includes(framing.method)) {
    const methods = `[${allowed.map((m) => `'${m}'`).join(", ")}]`;
    throw new Error(`input.${key}.method must be one of ${methods}, got ${JSON.stringify(framing)}`);
  }
  if (framing.method === RBC_SEGMENTED) {
    const colour = colourOf(framing);
    return colour ? { method: RBC_SEGMENTED, colour } : { method: RBC_SEGMENTED };
  }
  if (framing.method === WBC_CANONICAL) {
    const { fill } = framing;
    if (!isNumber(fill) || !(fill > 0 && fill <= 1)) {
      throw new Error(`input.${key}.fill must be a number in (0, 1], got ${JSON.stringify(fill)}`);
    }
    return { method: WBC_CANONICAL, fill };
  }
  const { span } = framing;
  if (!isNumber(span) || !(span >= SPAN_RANGE[0] && span <= SPAN_RANGE[1])) {
    throw new Error(`input.${key}.span must be a number in [1.5, 10.0], got ${JSON.stringify(span)}`);
  }
  return { method: RBC_SCALED, span };
}

// One photo -> what a framed model is fed: {frame: RGBA {data, width, height} | null, box: the
// framed cell's box | null, reason: why there is no frame, or why it is centred | null}.
export function framePhotoFor(image, framing, size) {
  const { cells, diameter } = survey(image);
  const wbc = centralCell(cells, image.width, image.height, "wbc");
  if (framing.method === WBC_CANONICAL) {
    if (wbc === null) return { frame: null, box: null, reason: NO_WHITE_CELL };
    return { frame: frameCell(image, wbc.box, size, framing.fill), box: wbc.box, reason: null };
  }
  if (diameter === null) return { frame: null, box: null, reason: NO_CELLS };
  const cell = wbc || centralCell(cells, image.width, image.height, "platelet");
  const box = cell === null ? null : cell.box;
  const square = scaledWindow(box, image.width, image.height, diameter, framing.span);
  return { frame: frameSquare(image, ...square, size), box, reason: box === null ? CENTRED : null };
}

// Every white cell of a field photo and its frame: [{cell, frame}], the finder's order.
export function frameFieldCells(image, framing, size) {
  const { cells, diameter } = survey(image);
  return cells
    .filter((c) => c.type === "wbc")
    .map((cell) => ({ cell, frame: frameBox(image, cell.box, framing, diameter, size) }));
}

// A box the technician marked by hand on a field photo, framed as frameFieldCells frames a
// found one; an rbc-scaled frame takes D from the same photo's survey.
export function frameMarkedCell(image, box, framing, size) {
  if (framing === null || framing.method !== RBC_SCALED) return frameBox(image, box, framing, null, size);
  const { diameter } = survey(image);
  if (diameter === null) {
    const error = new Error("No red cells could be measured in this photo, so a marked cell cannot be framed for this model.");
    throw Object.assign(error, { key: "field.no_red_measured" }); // the page shows the catalogue's words
  }
  return frameBox(image, box, framing, diameter, size);
}

// The frame of one cell's box for a model (model_framing.py's frame_box): `span` D wide when it
// is framed "rbc-scaled", else its box spanning the model's fill (CELL_FILL when unframed).
function frameBox(image, box, framing, diameter, size) {
  if (framing !== null && framing.method === RBC_SCALED) {
    return frameSquare(image, ...scaledWindow(box, image.width, image.height, diameter, framing.span), size);
  }
  return frameCell(image, box, size, framing === null ? CELL_FILL : framing.fill);
}

// What a framed model answers for a photo without a cell to frame: no guess.
export function noCellResult(reason = NO_WHITE_CELL) {
  return { label: null, confidence: null, status: "unfamiliar", status_reason: NO_CELL, probabilities: {}, reason };
}

// A frame centred on the photo (no cell found) is "unfamiliar": a person must look.
export function markCentred(result) {
  return { ...result, status: "unfamiliar", status_reason: NO_CELL, reason: CENTRED };
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
