// Cell finder for the PWA: the JavaScript twin of classifier/cells/finder.py; its steps live
// beside it as in Python (image-ops.js, red-cells.js, stained-cells.js, params.js; framing.js
// frames what it finds).
//
// Plain ES modules with no dependencies; they run in a page and in a Web Worker. Every
// step mirrors the Python code line for line, on integers where Python uses integers, so
// both return the same boxes (tests/pwa/test_cell_finder_parity.py holds them together): change
// both or neither. Read classifier/cells/finder.py for why each step is there.
import {
  blockMean,
  fillSmallHoles,
  histogramPercentile,
  labelComponents,
  lowerMedianWhere,
  otsuThreshold,
} from "./image-ops.js";
import { BLACK, DEFAULT_PARAMS, SCALE } from "./params.js";
import { redCellDiameter, redCells } from "./red-cells.js";
import { nucleusMask, platelets, whiteCells } from "./stained-cells.js";

export { SCALE };
export const WORK_SIDE = 320;
export const MAX_PIXELS = 60000000;
// Cells must cover at least 1/MIN_COVER of the lit photo (finder.py's MIN_COVER).
export const MIN_COVER = 10;
export const MIN_DIAMETER = 24.0;
export const TARGET_DIAMETER = 32.0;
export const MAX_WORK_PIXELS = 1000000;

export class FinderError extends Error {
  constructor(message) {
    super(message);
    this.name = 'FinderError';
  }
}

const TYPE_ORDER = { wbc: 0, platelet: 1, rbc: 2 };

export function workingFactor(height, width) {
  return Math.max(1, Math.floor((Math.max(height, width) + WORK_SIDE / 2) / WORK_SIDE));
}

// image: an ImageData or any {data, width, height} with RGBA (4) or RGB (3) bytes per pixel.
// Returns [{box: [x0, y0, x1, y1], type: 'wbc'|'platelet'|'rbc', score}] in photo pixels
// (x1, y1 exclusive), white cells first; [] when no cells can be found. Scores as in
// finder.py: white cell = nucleus area / red-cell area (capped at 1), platelet = area / 2% of
// a red cell's, red cell = 1 alone or CLUMP_SCORE when split out of a clump.
export function findCells(image, params = DEFAULT_PARAMS) {
  return survey(image, params).cells;
}

// findCells' cells and D, the photo's median red-cell diameter in photo pixels (null when
// nothing could be measured, and then there are no cells), as finder.py's survey: the scale
// that models framed "rbc-scaled" are fed at (scaledWindow).
export function survey(image, params = DEFAULT_PARAMS) {
  const { width, height, channels } = checked(image);
  let factor = workingFactor(height, width);
  let result = search(blockMean(image.data, width, height, channels, factor), params);
  const finer = finerFactor(height, width, factor, result.diameter);
  if (finer < factor) {
    factor = finer;
    result = search(blockMean(image.data, width, height, channels, factor), params);
  }
  return { cells: toPhoto(result.found, factor, width, height), diameter: photoDiameter(result.diameter, factor) };
}

// Rounded to 1/1000 px exactly as finder.py's _photo_diameter, so both give the same number.
function photoDiameter(diameter, factor) {
  return diameter === null ? null : Math.floor(diameter * factor * 1000 + 0.5) / 1000;
}

// A smaller shrink factor when red cells came out too small to judge (finder.py's _finer_factor).
function finerFactor(height, width, factor, diameter) {
  if (diameter === null || diameter >= MIN_DIAMETER || factor === 1) return factor;
  let least = 1;
  while (Math.floor(height / least) * Math.floor(width / least) > MAX_WORK_PIXELS) least += 1;
  return Math.max(least, Math.floor((factor * diameter) / TARGET_DIAMETER));
}

function search(work, params) {
  const none = { found: [], diameter: null };
  const planes = whiteBalanced(work, params);
  if (planes === null) return none;
  const { width, height } = work;
  const n = width * height;
  const { darkness, blueness, cut } = darknessAndCut(planes, n, params.minCellContrast);
  if (cut < params.minCellContrast) return none;
  const raw = new Uint8Array(n);
  let lit = 0;
  for (let i = 0; i < n; i++) {
    raw[i] = darkness[i] > cut && darkness[i] < BLACK ? 1 : 0;
    if (darkness[i] < BLACK) lit += 1;
  }
  const cellsMask = fillSmallHoles(raw, width, height, Math.floor(n / 64));
  let cellCount = 0;
  for (let i = 0; i < n; i++) cellCount += cellsMask[i];
  if (cellCount * MIN_COVER < lit) return none;
  const absorbed = absorbedPlanes(planes);
  let reference = palerHalf(darkness, cellsMask);
  let stain = stainOf(absorbed, reference);
  const redPart = redPartOf(cellsMask, nucleusMask(stain, darkness, reference, params).nucleus, work);
  if (redPart !== null) {
    reference = redPart;
    stain = stainOf(absorbed, reference);
  }
  const measured = redCellDiameter(cellsMask, width, height);
  if (measured === null) return none;
  const { diameter, depth } = measured;
  const found = whiteCells(stain, darkness, reference, work, diameter, cut, params);
  const whiteBoxes = found.map((c) => c.box);
  found.push(...platelets(blueness, darkness, cellsMask, work, diameter, whiteBoxes, params));
  found.push(...redCells(cellsMask, work, depth, diameter, whiteBoxes, params));
  return { found, diameter };
}

// Cell pixels outside the blobs that hold a nucleus, or null when too few are left (finder.py's
// _red_part).
function redPartOf(cellsMask, nucleus, work) {
  const { labels, count } = labelComponents(cellsMask, work.width, work.height, true, 1);
  const areas = new Float64Array(count + 1);
  const held = new Float64Array(count + 1);
  for (let i = 0; i < labels.length; i++) {
    areas[labels[i]] += 1;
    if (nucleus[i]) held[labels[i]] += 1;
  }
  const red = new Uint8Array(labels.length);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label > 0 && held[label] * 10 < areas[label]) {
      red[i] = 1;
      total += 1;
    }
  }
  return total * 100 < labels.length ? null : red;
}

// The paler half of the cell pixels (finder.py's _paler_half).
function palerHalf(darkness, cellsMask) {
  const middle = lowerMedianWhere(darkness, cellsMask);
  const out = new Uint8Array(darkness.length);
  for (let i = 0; i < darkness.length; i++) out[i] = cellsMask[i] && darkness[i] <= middle ? 1 : 0;
  return out;
}

// How far each pixel's absorption strays from the reference pixels' median absorption
// direction (finder.py's _stain): integers below 2**53, so floor(a / b) is exact here.
function stainOf(absorbed, reference) {
  const n = reference.length;
  const [a0, a1, a2] = absorbed;
  const [r0, r1, r2] = absorbed.map((a) => lowerMedianWhere(a, reference));
  const norm = r0 * r0 + r1 * r1 + r2 * r2;
  const out = new Int32Array(n);
  if (norm === 0) return out;
  for (let i = 0; i < n; i++) {
    const along = a0[i] * r0 + a1[i] * r1 + a2[i] * r2;
    out[i] =
      Math.abs(a0[i] - Math.floor((along * r0) / norm)) +
      Math.abs(a1[i] - Math.floor((along * r1) / norm)) +
      Math.abs(a2[i] - Math.floor((along * r2) / norm));
  }
  return out;
}

// Each white-balanced plane as light absorbed, clipped to 0..SCALE (finder.py's _stain).
function absorbedPlanes(planes) {
  return planes.map((plane) => {
    const a = new Int32Array(plane.length);
    for (let i = 0; i < plane.length; i++) {
      const v = SCALE - plane[i];
      a[i] = v < 0 ? 0 : v > SCALE ? SCALE : v;
    }
    return a;
  });
}

export function checked(image) {
  const { data, width, height } = image || {};
  if (!data || !Number.isInteger(width) || !Number.isInteger(height)) {
    throw new FinderError('expected an ImageData-like {data, width, height}');
  }
  const channels = data.length / (width * height);
  if (channels !== 3 && channels !== 4) {
    throw new FinderError(
      `expected 3 or 4 bytes per pixel, got ${data.length} bytes for ${width}x${height}`,
    );
  }
  if (width * height > MAX_PIXELS) {
    const error = new FinderError(`image of ${width}x${height} pixels is larger than ${MAX_PIXELS} pixels`);
    // `key`, `params`: the page tells the person in its language (this English is Python's).
    throw Object.assign(error, { key: "image.too_many_pixels", params: { width, height, max: MAX_PIXELS } });
  }
  if (Math.min(width, height) < 16) {
    throw Object.assign(new FinderError(`image of ${width}x${height} pixels is too small`), {
      key: "image.too_small",
      params: { width, height },
    });
  }
  return { width, height, channels };
}

// Otsu's cut on darkness, black pixels left out; sought again below it when what lies above
// is bluer than the background (a dark white cell among pale red cells) and that cut is not
// too faint, as in finder.py's _cell_cut. Exported for red-cell-field.js, as Python shares it.
export function cellCut(darkness, blueness, minContrast) {
  const hist = new Float64Array(SCALE);
  for (let i = 0; i < darkness.length; i++) hist[darkness[i]] += 1;
  hist.fill(0, BLACK);
  const cut = otsuThreshold(hist);
  // The pixels above the cut as a mask, their median blueness by counting (lowerMedianWhere):
  // the same element as sorting a copy of their values.
  const above = new Uint8Array(darkness.length);
  let anyAbove = false;
  for (let i = 0; i < darkness.length; i++) {
    if (darkness[i] > cut && darkness[i] < BLACK) {
      above[i] = 1;
      anyAbove = true;
    }
  }
  if (anyAbove && lowerMedianWhere(blueness, above) > 0) {
    const lower = otsuThreshold(hist.subarray(0, cut + 1));
    if (lower >= minContrast) return lower;
  }
  return cut;
}

// How much light each white-balanced pixel absorbs, blue minus red, and the darkness above which
// a pixel is a cell (finder.py's _darkness_and_cut). Exported for red-cell-field.js.
export function darknessAndCut(planes, n, minContrast) {
  const [red, green, blue] = planes;
  const darkness = new Int32Array(n);
  const blueness = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const d = Math.floor((3 * SCALE - red[i] - green[i] - blue[i]) / 3);
    darkness[i] = d < 0 ? 0 : d > SCALE - 1 ? SCALE - 1 : d;
    blueness[i] = blue[i] - red[i];
  }
  return { darkness, blueness, cut: cellCut(darkness, blueness, minContrast) };
}

// White balance by each channel's background level (finder.py's _white_balanced); null when
// the photo is too dark to judge. Exported for red-cell-field.js.
export function whiteBalanced(work, params) {
  const out = [];
  for (let c = 0; c < 3; c++) {
    const values = work.planes[c];
    const hist = new Float64Array(256);
    for (let i = 0; i < values.length; i++) hist[values[i]] += 1;
    const background = histogramPercentile(hist, 0.99);
    if (background < params.minBackground) return null;
    const lut = new Int32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = Math.floor((v * SCALE) / background);
    const plane = new Int32Array(values.length);
    for (let i = 0; i < values.length; i++) plane[i] = lut[values[i]];
    out.push(plane);
  }
  return out;
}

function roundScore(score) {
  return Math.round(score * 1000) / 1000;
}

function toPhoto(found, factor, width, height) {
  const out = found.map((cell) => {
    const [x0, y0, x1, y1] = cell.box;
    return {
      box: [
        Math.max(0, Math.floor(x0 * factor)),
        Math.max(0, Math.floor(y0 * factor)),
        Math.min(width, Math.ceil(x1 * factor)),
        Math.min(height, Math.ceil(y1 * factor)),
      ],
      type: cell.type,
      score: roundScore(cell.score),
    };
  });
  out.sort((a, b) => {
    if (a.type !== b.type) return TYPE_ORDER[a.type] - TYPE_ORDER[b.type];
    for (let k = 0; k < 4; k++) if (a.box[k] !== b.box[k]) return a.box[k] - b.box[k];
    return 0;
  });
  return out;
}
