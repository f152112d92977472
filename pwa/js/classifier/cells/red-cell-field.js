// Red-cell field mode: every red cell of a thin-smear photo, each with its own pixels. The
// JavaScript twin of classifier/cells/red_cell_field.py, line for line (read it for why each
// step is there): integers, or single correctly rounded float operations in Python's order, so
// both find the very same cells (tests/pwa/test_red_cell_field_pwa.py): change both or neither.
import { checked, darknessAndCut, whiteBalanced } from "./finder.js";
import { blockMean, boxMean, fillSmallHoles, labelComponents, lowerMedianWhere, otsuThreshold, rgbaWords } from "./image-ops.js";
import { BLACK, SCALE } from "./params.js";

export const COARSE_SIDE = 400;
export const TARGET_DIAMETER = 32;
export const MAX_WORK_PIXELS = 1000000;
export const EDT_TO_DIAMETER = 2 / (1 - 1 / Math.sqrt(2));
export const CLUMP_SCORE = 0.5;

export const RED_DEFAULT_PARAMS = Object.freeze({
  minCellContrast: 40,
  minBackground: 40,
  localRadius: 0.5,
  holeArea: 0.5,
  minArea: 0.4,
  singleMaxArea: 1.25,
  centreDepth: 0.25,
  spacing: 0.65,
  clumpReach: 0.7,
  discRadius: 0.55,
  minDarkness: 0.3,
});

// image: ImageData-like {data, width, height} (RGBA or RGB). Returns {diameter (photo px, to
// 1/1000) | null, factor, cells: [{box, score, edge, clump, mask: {data, width, height}}] sorted
// by box, cellsMask: {data, width, height} | null}, masks at working scale (box / factor), as
// find_red_cells. FinderError for an image that cannot be searched.
export function findRedCells(image, params = RED_DEFAULT_PARAMS) {
  const { width, height, channels } = checked(image);
  let factor = Math.max(1, Math.floor((Math.max(height, width) + COARSE_SIDE / 2) / COARSE_SIDE));
  const coarse = blockMean(image.data, width, height, channels, factor);
  let found = null;
  const measured = measuredDiameter(coarse, params);
  if (measured !== null) {
    const finer = finerFactor(height, width, measured * factor);
    const work = finer === factor ? coarse : blockMean(image.data, width, height, channels, finer);
    found = search(work, (measured * factor) / finer, params);
    factor = finer;
  }
  if (found === null) return { diameter: null, factor, cells: [], cellsMask: null };
  const { cells, diameter, cellsMask } = found;
  for (const cell of cells) {
    const [x0, y0, x1, y1] = cell.workBox;
    delete cell.workBox;
    cell.box = [x0 * factor, y0 * factor, Math.min(width, x1 * factor), Math.min(height, y1 * factor)];
  }
  cells.sort((a, b) => {
    for (let k = 0; k < 4; k++) if (a.box[k] !== b.box[k]) return a.box[k] - b.box[k];
    return 0;
  });
  return { diameter: Math.floor(diameter * factor * 1000 + 0.5) / 1000, factor, cells, cellsMask };
}

// A red cell marked by hand (a box within the photo): the search's cell pixels inside the box,
// the whole box when it saw none there (marked_cell).
export function markedCell(found, box) {
  const { factor, cellsMask } = found;
  const [x0, y0, x1, y1] = box;
  const wx0 = Math.floor(x0 / factor);
  const wy0 = Math.floor(y0 / factor);
  const wx1 = Math.max(wx0 + 1, Math.ceil(x1 / factor));
  const wy1 = Math.max(wy0 + 1, Math.ceil(y1 / factor));
  const w = wx1 - wx0;
  const h = wy1 - wy0;
  const data = new Uint8Array(w * h);
  let any = false;
  if (cellsMask !== null) {
    for (let y = wy0; y < Math.min(wy1, cellsMask.height); y++) {
      for (let x = wx0; x < Math.min(wx1, cellsMask.width); x++) {
        if (cellsMask.data[y * cellsMask.width + x]) {
          data[(y - wy0) * w + x - wx0] = 1;
          any = true;
        }
      }
    }
  }
  if (!any) data.fill(1);
  return { box: [...box], score: null, edge: false, clump: false, mask: { data, width: w, height: h } };
}

// The cell as the NIH training crops show one (segmented_crop): its own box of the photo, every
// pixel that is not the cell's black; a split cell as its own side of the split (its mask) in
// that side's box. RGBA {data, width, height}, alpha 255.
export function segmentedCrop(image, cell, factor) {
  const { data, width } = image;
  const channels = data.length / (image.width * image.height);
  const { box, mask } = cell.clump ? ownSide(cell, factor, image.width, image.height) : cell;
  const [x0, y0, x1, y1] = box;
  const w = x1 - x0;
  const h = y1 - y0;
  const out = new Uint8ClampedArray(w * h * 4);
  const cols = new Int32Array(w);
  for (let x = 0; x < w; x++) cols[x] = Math.floor((x0 + x) / factor) - Math.floor(x0 / factor);
  const words = channels === 4 ? rgbaWords(data) : null;
  if (words !== null) {
    // RGBA in, RGBA out: a pixel is one 32-bit word, its alpha set to 255 (the same bytes).
    const outWords = new Uint32Array(out.buffer);
    for (let y = 0; y < h; y++) {
      const row = (Math.floor((y0 + y) / factor) - Math.floor(y0 / factor)) * mask.width;
      const from = (y0 + y) * width + x0;
      for (let x = 0, o = y * w; x < w; x++, o++) {
        outWords[o] = mask.data[row + cols[x]] ? words[from + x] | OPAQUE : OPAQUE;
      }
    }
    return { data: out, width: w, height: h };
  }
  for (let y = 0; y < h; y++) {
    const row = (Math.floor((y0 + y) / factor) - Math.floor(y0 / factor)) * mask.width;
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      out[o + 3] = 255;
      if (!mask.data[row + cols[x]]) continue;
      const s = ((y0 + y) * width + x0 + x) * channels;
      out[o] = data[s];
      out[o + 1] = data[s + 1];
      out[o + 2] = data[s + 2];
    }
  }
  return { data: out, width: w, height: h };
}

// Alpha 255 in an RGBA pixel read as a 32-bit word (rgbaWords).
const OPAQUE = 0xff000000;

// A split cell's mask pixels and their own box, photo pixels (_own_side).
function ownSide(cell, factor, width, height) {
  const { mask } = cell;
  let left = mask.width;
  let top = mask.height;
  let right = 0;
  let bottom = 0;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (!mask.data[y * mask.width + x]) continue;
      if (x < left) left = x;
      if (y < top) top = y;
      if (x + 1 > right) right = x + 1;
      if (y + 1 > bottom) bottom = y + 1;
    }
  }
  const trimmed = { data: new Uint8Array((right - left) * (bottom - top)), width: right - left, height: bottom - top };
  for (let y = top; y < bottom; y++) {
    trimmed.data.set(mask.data.subarray(y * mask.width + left, y * mask.width + right), (y - top) * trimmed.width);
  }
  const [x0, y0] = cell.box;
  return {
    box: [x0 + left * factor, y0 + top * factor, Math.min(width, x0 + right * factor), Math.min(height, y0 + bottom * factor)],
    mask: trimmed,
  };
}

function finerFactor(height, width, photoDiameter) {
  let least = 1;
  while (Math.floor(height / least) * Math.floor(width / least) > MAX_WORK_PIXELS) least += 1;
  return Math.max(least, Math.floor(photoDiameter / TARGET_DIAMETER));
}

// D in working pixels from one global cut, at the coarse scale, or null (_measured_diameter).
// {darkness, cut} of the working image (step 2), or null when there is nothing to find in it
// (_darkness).
function darknessOf(work, params) {
  const planes = whiteBalanced(work, params);
  if (planes === null) return null;
  const { darkness, cut } = darknessAndCut(planes, work.width * work.height, params.minCellContrast);
  return cut < params.minCellContrast ? null : { darkness, cut };
}

function measuredDiameter(work, params) {
  const dark = darknessOf(work, params);
  if (dark === null) return null;
  const { width, height } = work;
  const n = width * height;
  const { darkness } = dark;
  let { cut } = dark;
  let cells = cellPixels(darkness, cut, width, height);
  if (2 * count(cells) > n) {
    // The cut fell inside the haze of out-of-focus cells: sought again among the pixels above it.
    const hist = new Float64Array(SCALE);
    for (let i = 0; i < n; i++) hist[darkness[i]] += 1;
    hist.fill(0, BLACK);
    hist.fill(0, 0, cut + 1);
    cut = otsuThreshold(hist);
    cells = cellPixels(darkness, cut, width, height);
  }
  const total = count(cells);
  if (total === n || total === 0) return null;
  const diameter = EDT_TO_DIAMETER * Math.sqrt(lowerMedianWhere(squaredDistance(cells, width, height), cells));
  return diameter > 0 ? diameter : null;
}

// (_search) roughDiameter: D from the coarse look, in working pixels.
function search(work, roughDiameter, params) {
  const dark = darknessOf(work, params);
  if (dark === null) return null;
  const { width, height } = work;
  const n = width * height;
  const { darkness, cut } = dark;
  // Darker than the cut and than its own neighbourhood: touching cells part along the seam.
  const radius = Math.max(1, Math.floor(params.localRadius * roughDiameter + 0.5));
  const local = boxMean(darkness, width, height, radius);
  const raw = new Uint8Array(n);
  for (let i = 0; i < n; i++) raw[i] = darkness[i] > cut && darkness[i] < BLACK && darkness[i] > local[i] ? 1 : 0;
  const most = Math.floor((params.holeArea * Math.PI * roughDiameter * roughDiameter) / 4);
  const cells = fillSmallHoles(raw, width, height, most);
  const total = count(cells);
  if (total === n || total === 0) return null;
  const depth2 = squaredDistance(cells, width, height);
  const diameter = EDT_TO_DIAMETER * Math.sqrt(lowerMedianWhere(depth2, cells));
  if (diameter <= 0) return null;
  const found = cellsOf(cells, depth2, width, height, diameter, params);
  return {
    cells: clear(found, darkness, cells, width, cut, params),
    diameter,
    cellsMask: { data: cells, width, height },
  };
}

// Cells at least minDarkness of the way from the cut to the median cell pixel's darkness
// (_clear): fainter ones are out-of-focus cells and haze.
function clear(cells, darkness, cellsMask, width, cut, params) {
  const median = lowerMedianWhere(darkness, cellsMask);
  const least = cut + params.minDarkness * (median - cut);
  return cells.filter((cell) => {
    const [x0, y0] = cell.workBox;
    const { mask } = cell;
    let total = 0;
    let pixels = 0;
    for (let y = 0; y < mask.height; y++) {
      for (let x = 0; x < mask.width; x++) {
        if (!mask.data[y * mask.width + x]) continue;
        total += darkness[(y0 + y) * width + x0 + x];
        pixels += 1;
      }
    }
    return total >= least * pixels;
  });
}

function cellPixels(darkness, cut, width, height) {
  const raw = new Uint8Array(darkness.length);
  for (let i = 0; i < darkness.length; i++) raw[i] = darkness[i] > cut && darkness[i] < BLACK ? 1 : 0;
  return fillSmallHoles(raw, width, height, Math.floor(darkness.length / 64));
}

function count(mask) {
  let total = 0;
  for (let i = 0; i < mask.length; i++) total += mask[i];
  return total;
}

// Exact squared Euclidean distance of each mask pixel to the nearest pixel outside the mask,
// in integers (Meijster, Roerdink and Hesselink's two passes), as scipy's distance_transform_edt
// squared: the image edge is not outside. The mask must have a pixel outside it.
export function squaredDistance(mask, width, height) {
  // A column without any outside pixel is "far": farther than any real distance.
  const far = width + height;
  // Each column's distance along it, scanned a row at a time (down, then up) so that memory is
  // read in order.
  const g = new Int32Array(mask.length);
  for (let x = 0; x < width; x++) g[x] = mask[x] ? far : 0;
  for (let i = width; i < mask.length; i++) g[i] = mask[i] ? Math.min(far, g[i - width] + 1) : 0;
  for (let i = mask.length - width - 1; i >= 0; i--) {
    if (g[i + width] + 1 < g[i]) g[i] = g[i + width] + 1;
  }
  // Float64: squared distances of a very long photo overflow 32 bits.
  const out = new Float64Array(mask.length);
  const s = new Int32Array(width);
  const t = new Int32Array(width);
  // The row's g squared, once: the same exact integers the scan compares.
  const gg = new Float64Array(width);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let x = 0; x < width; x++) gg[x] = g[o + x] * g[o + x];
    let q = 0;
    s[0] = 0;
    t[0] = 0;
    for (let u = 1; u < width; u++) {
      while (q >= 0) {
        const x = t[q];
        const i = s[q];
        if ((x - i) * (x - i) + gg[i] <= (x - u) * (x - u) + gg[u]) break;
        q -= 1;
      }
      if (q < 0) {
        q = 0;
        s[0] = u;
      } else {
        const i = s[q];
        const w = 1 + Math.floor((u * u - i * i + gg[u] - gg[i]) / (2 * (u - i)));
        if (w < width) {
          q += 1;
          s[q] = u;
          t[q] = w;
        }
      }
    }
    for (let u = width - 1; u >= 0; u--) {
      const i = s[q];
      out[o + u] = mask[o + u] ? (u - i) * (u - i) + gg[i] : 0;
      if (u === t[q]) q -= 1;
    }
  }
  return out;
}

function cellsOf(cellsMask, depth2, width, height, diameter, params) {
  // Areas are compared as area x 4 against the share of pi x D^2.
  const areaX4 = Math.PI * diameter * diameter;
  const found = [];
  for (const blob of blobs(cellsMask, width, height)) {
    if (blob.length * 4 < params.minArea * areaX4) continue;
    const parts =
      blob.length * 4 <= params.singleMaxArea * areaX4 ? [{ pixels: blob, own: null }] : split(blob, depth2, width, diameter, params);
    for (const { pixels: part, own } of parts) {
      if (part.length * 4 < params.minArea * areaX4) continue;
      let x0 = width;
      let y0 = height;
      let x1 = 0;
      let y1 = 0;
      for (const i of part) {
        const x = i % width;
        const y = (i - x) / width;
        if (x < x0) x0 = x;
        if (y < y0) y0 = y;
        if (x + 1 > x1) x1 = x + 1;
        if (y + 1 > y1) y1 = y + 1;
      }
      const mask = { data: new Uint8Array((x1 - x0) * (y1 - y0)), width: x1 - x0, height: y1 - y0 };
      for (let k = 0; k < part.length; k++) {
        if (own !== null && !own[k]) continue;
        const x = part[k] % width;
        mask.data[((part[k] - x) / width - y0) * mask.width + x - x0] = 1;
      }
      const clump = parts.length > 1;
      found.push({
        workBox: [x0, y0, x1, y1],
        score: clump ? CLUMP_SCORE : 1.0,
        edge: x0 === 0 || y0 === 0 || x1 === width || y1 === height,
        clump,
        mask,
      });
    }
  }
  return found;
}

// Each component's pixel indices in row-major order, by label (_blobs).
function blobs(cellsMask, width, height) {
  const { labels, count: total } = labelComponents(cellsMask, width, height, true, 1);
  const starts = new Int32Array(total + 2);
  for (let i = 0; i < labels.length; i++) starts[labels[i] + 1] += 1;
  for (let k = 1; k <= total + 1; k++) starts[k] += starts[k - 1];
  const members = new Int32Array(labels.length);
  const next = starts.slice();
  for (let i = 0; i < labels.length; i++) members[next[labels[i]]++] = i;
  const out = [];
  for (let k = 1; k <= total; k++) out.push(members.subarray(starts[k], starts[k + 1]));
  return out;
}

// The positions k of a blob's pixels, deepest first, ties in k order (pixels are row-major, so
// that is the stable sort by depth that _split does). Each pixel as one exact number, depth then
// k, so that a typed-array sort does it without a comparison function; a stable
// comparison sort where those numbers would pass 2^53 (a depth no field photo has).
function depthOrder(pixels, depth2) {
  const n = pixels.length;
  let deepest = 0;
  for (let k = 0; k < n; k++) if (depth2[pixels[k]] > deepest) deepest = depth2[pixels[k]];
  if ((deepest + 1) * n > Number.MAX_SAFE_INTEGER) {
    return Array.from({ length: n }, (_, k) => k).sort((a, b) => depth2[pixels[b]] - depth2[pixels[a]]);
  }
  const keys = new Float64Array(n);
  for (let k = 0; k < n; k++) keys[k] = (deepest - depth2[pixels[k]]) * n + k;
  keys.sort();
  const order = new Int32Array(n);
  for (let rank = 0; rank < n; rank++) order[rank] = keys[rank] % n;
  return order;
}

// A clump's pixels split among seeds at its deepest points, each pixel to the seed whose disc
// it lies deepest in (a power diagram), ties to the first seed, no farther than clumpReach x D
// from it; each seed's box takes in every pixel within discRadius x D of it as well (overlaps:
// both boxes) (_split). [{pixels (row-major), own: whether each is the seed's own side, or null
// for all}]. Seeds: depth descending, then row-major index ascending.
function split(pixels, depth2, width, diameter, params) {
  const n = pixels.length;
  const reach = params.centreDepth * diameter;
  const lowest = reach * reach;
  const apart = params.spacing * diameter;
  const spacing = apart * apart;
  const order = depthOrder(pixels, depth2);
  const seedX = [];
  const seedY = [];
  const seedR2 = [];
  for (let rank = 0; rank < n; rank++) {
    const k = order[rank];
    const value = depth2[pixels[k]];
    if (value < lowest) break;
    const x = pixels[k] % width;
    const y = (pixels[k] - x) / width;
    let clear = true;
    for (let j = 0; j < seedX.length; j++) {
      if ((x - seedX[j]) * (x - seedX[j]) + (y - seedY[j]) * (y - seedY[j]) < spacing) {
        clear = false;
        break;
      }
    }
    if (clear) {
      seedX.push(x);
      seedY.push(y);
      seedR2.push(value);
    }
  }
  if (seedX.length <= 1) return [{ pixels, own: null }];
  const far = params.clumpReach * diameter;
  const farthest = far * far;
  const own = params.discRadius * diameter;
  const ownSq = own * own;
  const parts = seedX.map(() => ({ pixels: [], own: [] }));
  const distance2 = new Array(seedX.length);
  for (let k = 0; k < n; k++) {
    const x = pixels[k] % width;
    const y = (pixels[k] - x) / width;
    let nearest = 0;
    let best = Infinity;
    for (let j = 0; j < seedX.length; j++) {
      const dx = x - seedX[j];
      const dy = y - seedY[j];
      distance2[j] = dx * dx + dy * dy;
      const power = distance2[j] - seedR2[j];
      if (power < best) {
        best = power;
        nearest = j;
      }
    }
    const near = distance2[nearest] <= farthest;
    for (let j = 0; j < seedX.length; j++) {
      const mine = j === nearest && near;
      if (mine || distance2[j] <= ownSq) {
        parts[j].pixels.push(pixels[k]);
        parts[j].own.push(mine);
      }
    }
  }
  return parts;
}
