// Cell finder for the PWA: the JavaScript twin of classifier/cells/ (finder.py, image_ops.py,
// red_cells.py, stained_cells.py, params.py and framing.py).
//
// One plain ES module with no dependencies; it runs in a page and in a Web Worker. Every
// step mirrors the Python code line for line, on integers where Python uses integers, so
// both return the same boxes (tests/test_cell_finder_parity.py holds them together): change
// both or neither. Read classifier/cells/finder.py for why each step is there.

export const WORK_SIDE = 320;
export const SCALE = 1024; // white-balanced channels: 1024 = background level
export const MAX_PIXELS = 60000000;
export const DEPTH_TO_DIAMETER = 6.0;
export const CLUMP_SCORE = 0.5;
export const MIN_DIAMETER = 24.0;
export const TARGET_DIAMETER = 32.0;
export const MAX_WORK_PIXELS = 1000000;

export const DEFAULT_PARAMS = Object.freeze({
  minBackground: 40,
  minCellContrast: 40,
  nucleusMargin: 1.0,
  groupRadius: 0.15,
  wbcMinArea: 0.3,
  wbcEdgeMinArea: 0.3,
  rbcMinArea: 0.4,
  rbcMaxArea: 1.6,
  rbcCentreDepth: 0.25,
  rbcSpacing: 0.7,
  plateletMargin: 1.0,
  plateletMinArea: 0.004,
  plateletMaxArea: 0.1,
  plateletMaxSide: 0.45,
  plateletGrow: 0.05,
  plateletMinSide: 0.37,
  plateletMaxCover: 0.7,
  wbcGrow: 0.1,
  cytoplasmMargin: 0.3,
  cytoplasmDarkness: 0.7,
  cytoplasmReach: 0.3,
});

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
  const [red, green, blue] = planes;
  const n = work.width * work.height;
  const darkness = new Int32Array(n);
  const stain = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const d = Math.floor((3 * SCALE - red[i] - green[i] - blue[i]) / 3);
    darkness[i] = d < 0 ? 0 : d > SCALE - 1 ? SCALE - 1 : d;
    stain[i] = blue[i] - red[i];
  }
  const cut = cellCut(darkness, stain);
  if (cut < params.minCellContrast) return none;
  const raw = new Uint8Array(n);
  for (let i = 0; i < n; i++) raw[i] = darkness[i] > cut ? 1 : 0;
  const cellsMask = fillSmallHoles(raw, work.width, work.height, Math.floor(n / 64));
  const measured = redCellDiameter(cellsMask, work.width, work.height);
  if (measured === null) return none;
  const { diameter, depth } = measured;
  const { found, base, dark } = whiteCells(stain, darkness, cellsMask, work, diameter, cut, params);
  const whiteBoxes = found.map((c) => c.box);
  found.push(...platelets(stain, cellsMask, work, base, dark, diameter, whiteBoxes, params));
  found.push(...redCells(cellsMask, work, depth, diameter, whiteBoxes, params));
  return { found, diameter };
}

function checked(image) {
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
    throw new FinderError(`image of ${width}x${height} pixels is larger than ${MAX_PIXELS} pixels`);
  }
  if (Math.min(width, height) < 16) {
    throw new FinderError(`image of ${width}x${height} pixels is too small`);
  }
  return { width, height, channels };
}

export function blockMean(data, width, height, channels, factor) {
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const planes = [new Int32Array(w * h), new Int32Array(w * h), new Int32Array(w * h)];
  const area = factor * factor;
  const rowSums = new Float64Array(w * 3);
  for (let y = 0; y < h; y++) {
    rowSums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      let p = ((y * factor + dy) * width) * channels;
      for (let x = 0; x < w; x++) {
        let r = 0;
        let g = 0;
        let b = 0;
        for (let dx = 0; dx < factor; dx++) {
          r += data[p];
          g += data[p + 1];
          b += data[p + 2];
          p += channels;
        }
        rowSums[3 * x] += r;
        rowSums[3 * x + 1] += g;
        rowSums[3 * x + 2] += b;
      }
    }
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      planes[0][i] = Math.floor(rowSums[3 * x] / area);
      planes[1][i] = Math.floor(rowSums[3 * x + 1] / area);
      planes[2][i] = Math.floor(rowSums[3 * x + 2] / area);
    }
  }
  return { planes, width: w, height: h };
}

export function histogramPercentile(hist, fraction) {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  const target = fraction * total;
  let cumulative = 0;
  for (let i = 0; i < hist.length; i++) {
    cumulative += hist[i];
    if (cumulative >= target) return i;
  }
  return hist.length - 1;
}

export function otsuThreshold(hist) {
  let total = 0;
  let weightedTotal = 0;
  for (let i = 0; i < hist.length; i++) {
    total += hist[i];
    weightedTotal += i * hist[i];
  }
  let bestBin = 0;
  let bestScore = -1.0;
  let below = 0;
  let weightedBelow = 0;
  for (let i = 0; i < hist.length; i++) {
    below += hist[i];
    weightedBelow += i * hist[i];
    const above = total - below;
    if (below === 0 || above === 0) continue;
    const gap = weightedBelow / below - (weightedTotal - weightedBelow) / above;
    const score = below * above * (gap * gap);
    if (score > bestScore) {
      bestBin = i;
      bestScore = score;
    }
  }
  return bestBin;
}

// Otsu's cut on darkness; sought again below it when what lies above is bluer than the
// background (a dark white cell among pale red cells), as in finder.py's _cell_cut.
function cellCut(darkness, stain) {
  const hist = new Float64Array(SCALE);
  for (let i = 0; i < darkness.length; i++) hist[darkness[i]] += 1;
  let cut = otsuThreshold(hist);
  const above = [];
  for (let i = 0; i < darkness.length; i++) if (darkness[i] > cut) above.push(stain[i]);
  if (above.length > 0 && lowerMedian(above) > 0) cut = otsuThreshold(hist.subarray(0, cut + 1));
  return cut;
}

function whiteBalanced(work, params) {
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

// Binary dilation by a (2r+1)-pixel square, outside the image empty: a running count of set
// pixels along rows, then along columns.
export function dilateSquare(mask, width, height, radius) {
  if (radius <= 0) return mask.slice();
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(radius, width); x++) count += mask[o + x];
    for (let x = 0; x < width; x++) {
      if (x + radius < width) count += mask[o + x + radius];
      if (x - radius - 1 >= 0) count -= mask[o + x - radius - 1];
      rows[o + x] = count > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(radius, height); y++) count += rows[y * width + x];
    for (let y = 0; y < height; y++) {
      if (y + radius < height) count += rows[(y + radius) * width + x];
      if (y - radius - 1 >= 0) count -= rows[(y - radius - 1) * width + x];
      out[y * width + x] = count > 0 ? 1 : 0;
    }
  }
  return out;
}

// Labels the pixels where mask[i] === value; 8- or 4-connected. Returns {labels, count}.
// (Label numbers may differ from scipy's; only which pixels share a label matters.)
export function labelComponents(mask, width, height, eightConnected = true, value = 1) {
  const labels = new Int32Array(mask.length);
  const stack = new Int32Array(mask.length);
  let count = 0;
  let top = 0;
  const take = (q) => {
    if (mask[q] === value && labels[q] === 0) {
      labels[q] = count;
      stack[top++] = q;
    }
  };
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] !== value || labels[start] !== 0) continue;
    count += 1;
    take(start);
    while (top > 0) {
      const p = stack[--top];
      const px = p % width;
      const left = px > 0;
      const right = px < width - 1;
      const up = p >= width;
      const down = p < mask.length - width;
      if (left) take(p - 1);
      if (right) take(p + 1);
      if (up) take(p - width);
      if (down) take(p + width);
      if (!eightConnected) continue;
      if (up && left) take(p - width - 1);
      if (up && right) take(p - width + 1);
      if (down && left) take(p + width - 1);
      if (down && right) take(p + width + 1);
    }
  }
  return { labels, count };
}

export function fillSmallHoles(mask, width, height, maxArea) {
  const { labels, count } = labelComponents(mask, width, height, false, 0);
  const out = mask.slice();
  if (count === 0) return out;
  const areas = new Int32Array(count + 1);
  for (let i = 0; i < labels.length; i++) areas[labels[i]] += 1;
  const fillable = new Uint8Array(count + 1);
  for (let k = 1; k <= count; k++) fillable[k] = areas[k] <= maxArea ? 1 : 0;
  for (let x = 0; x < width; x++) {
    fillable[labels[x]] = 0;
    fillable[labels[(height - 1) * width + x]] = 0;
  }
  for (let y = 0; y < height; y++) {
    fillable[labels[y * width]] = 0;
    fillable[labels[y * width + width - 1]] = 0;
  }
  for (let i = 0; i < labels.length; i++) if (fillable[labels[i]]) out[i] = 1;
  return out;
}

// Taxicab distance to the nearest pixel outside the mask (the image edge is not outside).
export function cityBlockDistance(mask, width, height) {
  const far = width + height + 1;
  const dist = new Int32Array(mask.length);
  for (let i = 0; i < mask.length; i++) dist[i] = mask[i] ? far : 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (dist[i] === 0) continue;
      if (y > 0 && dist[i - width] + 1 < dist[i]) dist[i] = dist[i - width] + 1;
      if (x > 0 && dist[i - 1] + 1 < dist[i]) dist[i] = dist[i - 1] + 1;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (dist[i] === 0) continue;
      if (y < height - 1 && dist[i + width] + 1 < dist[i]) dist[i] = dist[i + width] + 1;
      if (x < width - 1 && dist[i + 1] + 1 < dist[i]) dist[i] = dist[i + 1] + 1;
    }
  }
  return dist;
}

// Components of `mask` (8-connected) with area, box and pixel indices of their `members`.
export function components(mask, width, height, members = mask) {
  const { labels, count } = labelComponents(mask, width, height, true, 1);
  const found = [];
  const byLabel = new Array(count + 1).fill(null);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    if (k === 0 || !members[i]) continue;
    const x = i % width;
    const y = (i - x) / width;
    let c = byLabel[k];
    if (c === null) {
      c = { area: 0, box: [x, y, x + 1, y + 1], pixels: [] };
      byLabel[k] = c;
      found.push(c);
    }
    c.area += 1;
    c.pixels.push(i);
    if (x < c.box[0]) c.box[0] = x;
    if (y < c.box[1]) c.box[1] = y;
    if (x + 1 > c.box[2]) c.box[2] = x + 1;
    if (y + 1 > c.box[3]) c.box[3] = y + 1;
  }
  return found;
}

function lowerMedian(values) {
  const sorted = (values instanceof Int32Array ? values.slice() : Int32Array.from(values)).sort();
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function redCellDiameter(cellsMask, width, height) {
  let inside = 0;
  for (let i = 0; i < cellsMask.length; i++) inside += cellsMask[i];
  if (inside === 0 || inside === cellsMask.length) return null;
  const depth = cityBlockDistance(cellsMask, width, height);
  const values = new Int32Array(inside);
  let j = 0;
  for (let i = 0; i < cellsMask.length; i++) if (cellsMask[i]) values[j++] = depth[i];
  return { diameter: DEPTH_TO_DIAMETER * lowerMedian(values), depth };
}

function insideAny(boxes, cx, cy) {
  return boxes.some((b) => b[0] <= cx && cx <= b[2] && b[1] <= cy && cy <= b[3]);
}

function redCells(cellsMask, work, depth, diameter, whiteBoxes, params) {
  const { width, height } = work;
  const area = (Math.PI * diameter * diameter) / 4.0;
  const half = diameter / 2.0;
  const found = [];
  for (const blob of components(cellsMask, width, height)) {
    if (blob.area < params.rbcMinArea * area) continue;
    let centres;
    let boxes;
    let score;
    if (blob.area <= params.rbcMaxArea * area) {
      centres = [[(blob.box[0] + blob.box[2]) / 2.0, (blob.box[1] + blob.box[3]) / 2.0]];
      boxes = [blob.box];
      score = 1.0;
    } else {
      centres = clumpCentres(blob, depth, width, diameter, params);
      score = CLUMP_SCORE;
      const [bx0, by0, bx1, by1] = blob.box;
      boxes = centres.map(([x, y]) => [
        Math.max(bx0, x - half),
        Math.max(by0, y - half),
        Math.min(bx1, x + 1 + half),
        Math.min(by1, y + 1 + half),
      ]);
    }
    for (let k = 0; k < centres.length; k++) {
      if (!insideAny(whiteBoxes, centres[k][0], centres[k][1])) {
        found.push({ box: boxes[k], type: 'rbc', score });
      }
    }
  }
  return found;
}

// Greedy, as finder.py's _clump_centres: deepest pixels first (ties: raster order), none
// closer than the spacing to a centre already taken.
function clumpCentres(blob, depth, width, diameter, params) {
  const lowest = params.rbcCentreDepth * diameter;
  const order = blob.pixels
    .filter((i) => depth[i] >= lowest)
    .sort((a, b) => depth[b] - depth[a] || a - b);
  const reach = params.rbcSpacing * diameter;
  const spacing = reach * reach;
  const centres = [];
  for (const i of order) {
    const x = i % width;
    const y = (i - x) / width;
    let free = true;
    for (const [cx, cy] of centres) {
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < spacing) {
        free = false;
        break;
      }
    }
    if (free) centres.push([x, y]);
  }
  return centres;
}

function platelets(stain, cellsMask, work, base, dark, diameter, whiteBoxes, params) {
  const { width, height } = work;
  const rbcArea = (Math.PI * diameter * diameter) / 4.0;
  const grow = params.plateletGrow * diameter;
  const threshold = base + params.plateletMargin * dark;
  const mask = new Uint8Array(stain.length);
  for (let i = 0; i < stain.length; i++) mask[i] = stain[i] > threshold ? 1 : 0;
  const found = [];
  for (const obj of components(mask, width, height)) {
    const [x0, y0, x1, y1] = obj.box;
    const ratio = obj.area / rbcArea;
    if (!(params.plateletMinArea <= ratio && ratio <= params.plateletMaxArea)) continue;
    if (Math.max(x1 - x0, y1 - y0) > params.plateletMaxSide * diameter) continue;
    const cx = (x0 + x1) / 2.0;
    const cy = (y0 + y1) / 2.0;
    if (insideAny(whiteBoxes, cx, cy)) continue;
    const halfW = Math.max((x1 - x0) / 2.0 + grow, (params.plateletMinSide * diameter) / 2.0);
    const halfH = Math.max((y1 - y0) / 2.0 + grow, (params.plateletMinSide * diameter) / 2.0);
    const box = [cx - halfW, cy - halfH, cx + halfW, cy + halfH];
    const bx0 = Math.max(0, Math.floor(box[0]));
    const by0 = Math.max(0, Math.floor(box[1]));
    const bx1 = Math.min(width, Math.ceil(box[2]));
    const by1 = Math.min(height, Math.ceil(box[3]));
    let covered = 0;
    for (let y = by0; y < by1; y++) {
      for (let x = bx0; x < bx1; x++) covered += cellsMask[y * width + x];
    }
    if (covered / ((bx1 - bx0) * (by1 - by0)) > params.plateletMaxCover) continue;
    found.push({ box, type: 'platelet', score: Math.min(1.0, ratio / 0.02) });
  }
  return found;
}

function roundHalfUp(value) {
  return Math.floor(value + 0.5);
}

function whiteCells(stain, darkness, cellsMask, work, diameter, cut, params) {
  const { width, height } = work;
  const n = width * height;
  let inside = 0;
  for (let i = 0; i < n; i++) inside += cellsMask[i];
  const cellStain = new Int32Array(inside);
  const cellDark = new Int32Array(inside);
  for (let i = 0, j = 0; i < n; i++) {
    if (cellsMask[i]) {
      cellStain[j] = stain[i];
      cellDark[j++] = darkness[i];
    }
  }
  const base = lowerMedian(cellStain);
  const dark = lowerMedian(cellDark);
  const threshold = base + params.nucleusMargin * dark;
  const nucleus = new Uint8Array(n);
  const cytoplasm = new Uint8Array(n);
  const cytoStain = base + params.cytoplasmMargin * dark;
  const cytoDark = params.cytoplasmDarkness * cut;
  for (let i = 0; i < n; i++) {
    nucleus[i] = stain[i] > threshold ? 1 : 0;
    cytoplasm[i] = nucleus[i] || (stain[i] > cytoStain && darkness[i] > cytoDark) ? 1 : 0;
  }
  const cytoLabels = labelComponents(cytoplasm, width, height, true, 1).labels;
  const radius = roundHalfUp(params.groupRadius * diameter);
  const rbcArea = (Math.PI * diameter * diameter) / 4.0;
  const found = [];
  const grouped = dilateSquare(nucleus, width, height, radius);
  for (const obj of components(grouped, width, height, nucleus)) {
    const [x0, y0, x1, y1] = obj.box;
    const ratio = obj.area / rbcArea;
    const onEdge = x0 === 0 || y0 === 0 || x1 === width || y1 === height;
    if (ratio >= (onEdge ? params.wbcEdgeMinArea : params.wbcMinArea)) {
      const grow = params.wbcGrow * diameter;
      const reach = roundHalfUp(params.cytoplasmReach * diameter);
      const grown = [x0 - grow, y0 - grow, x1 + grow, y1 + grow];
      const box = union(grown, cellExtent(cytoLabels, work, obj, reach));
      found.push({ box, type: 'wbc', score: Math.min(1.0, ratio) });
    }
  }
  return { found, base, dark };
}

function cellExtent(labels, work, nucleus, reach) {
  const { width, height } = work;
  const [x0, y0, x1, y1] = nucleus.box;
  const wx0 = Math.max(0, x0 - reach);
  const wy0 = Math.max(0, y0 - reach);
  const wx1 = Math.min(width, x1 + reach);
  const wy1 = Math.min(height, y1 + reach);
  const own = new Set();
  for (const i of nucleus.pixels) if (labels[i] > 0) own.add(labels[i]);
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = wy0; y < wy1; y++) {
    for (let x = wx0; x < wx1; x++) {
      if (!own.has(labels[y * width + x])) continue;
      if (x < box[0]) box[0] = x;
      if (y < box[1]) box[1] = y;
      if (x + 1 > box[2]) box[2] = x + 1;
      if (y + 1 > box[3]) box[3] = y + 1;
    }
  }
  return box;
}

function union(a, b) {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
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

// ---- Canonical framing (classifier/cells/framing.py) ----

export const FRAME_SIZE = 224;
export const CELL_FILL = 0.6;

// A found cell's box -> {data: Uint8ClampedArray RGBA, width: size, height: size}: centred,
// the box's longer side spanning `fill` of the frame, edge pixels repeated beyond the photo.
export function frameCell(image, box, size = FRAME_SIZE, fill = CELL_FILL) {
  const [x0, y0, x1, y1] = box;
  if (!(x1 > x0 && y1 > y0)) throw new FinderError(`empty box ${JSON.stringify(box)}`);
  const side = Math.max(x1 - x0, y1 - y0) / fill;
  return frameSquare(image, (x0 + x1) / 2.0, (y0 + y1) / 2.0, side, size);
}

// Centre x, centre y and side of the "rbc-scaled" frame (framing.py's scaled_window): `span`
// red-cell diameters wide, centred on the box, or on the photo's centre when box is null.
export function scaledWindow(box, width, height, diameter, span) {
  const [x0, y0, x1, y1] = box === null ? [0, 0, width, height] : box;
  return [(x0 + x1) / 2.0, (y0 + y1) / 2.0, span * diameter];
}

// The size x size RGBA crop of the square of `side` photo pixels centred on (cx, cy), as
// framing.py's frame_square: block means for large reductions, then bilinear sampling at
// pixel centres, edge pixels repeated beyond the photo.
export function frameSquare(image, cx, cy, side, size) {
  const { width, height, channels } = checked(image);
  const factor = Math.max(1, Math.floor(side / size / 2));
  const source = blockMean(image.data, width, height, channels, factor);
  const step = side / factor / size;
  const left = (cx - side / 2.0) / factor;
  const top = (cy - side / 2.0) / factor;
  const sw = source.width;
  const sh = source.height;
  const out = new Uint8ClampedArray(size * size * 4);
  const clamp = (v, hi) => (v < 0.0 ? 0.0 : v > hi ? hi : v);
  for (let j = 0; j < size; j++) {
    const ys = clamp(top + (j + 0.5) * step - 0.5, sh - 1.0);
    const ya = Math.floor(ys);
    const yb = Math.min(ya + 1, sh - 1);
    const fy = ys - ya;
    for (let i = 0; i < size; i++) {
      const xs = clamp(left + (i + 0.5) * step - 0.5, sw - 1.0);
      const xa = Math.floor(xs);
      const xb = Math.min(xa + 1, sw - 1);
      const fx = xs - xa;
      for (let c = 0; c < 3; c++) {
        const p = source.planes[c];
        const t = p[ya * sw + xa] * (1.0 - fx) + p[ya * sw + xb] * fx;
        const b = p[yb * sw + xa] * (1.0 - fx) + p[yb * sw + xb] * fx;
        out[(j * size + i) * 4 + c] = Math.floor(t * (1.0 - fy) + b * fy + 0.5);
      }
      out[(j * size + i) * 4 + 3] = 255;
    }
  }
  return { data: out, width: size, height: size };
}

// Of found `cells`, the one of type `kind` nearest the photo's centre, or null; of equally
// near ones the first in list order, as Python's min().
export function centralCell(cells, width, height, kind) {
  let best = null;
  let bestOff = Infinity;
  for (const cell of cells) {
    if (cell.type !== kind) continue;
    const [x0, y0, x1, y1] = cell.box;
    const off = (x0 + x1 - width) ** 2 + (y0 + y1 - height) ** 2;
    if (off < bestOff) {
      best = cell;
      bestOff = off;
    }
  }
  return best;
}
