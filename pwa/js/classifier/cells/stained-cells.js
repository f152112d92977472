// Stained cells: white cells (nucleus grouped, joined with its cytoplasm) and platelets. The
// JavaScript twin of classifier/cells/stained_cells.py, line for line: change both or neither.
import { components, dilateSquare, insideAny, labelComponents, lowerMedianWhere } from "./image-ops.js";
import { BLACK, SCALE } from "./params.js";

// Nucleus pixels, and the reference (red-cell) pixels' median stain and darkness
// (stained_cells.py's nucleus_mask).
export function nucleusMask(stain, darkness, reference, params) {
  const base = lowerMedianWhere(stain, reference);
  const dark = lowerMedianWhere(darkness, reference);
  const absorbing = Math.min(params.nucleusDarkness * dark, params.nucleusAbsorbs * SCALE);
  const threshold = base + params.nucleusMargin * dark;
  const hueDark = params.hueDarkness * dark;
  const nucleus = new Uint8Array(stain.length);
  for (let i = 0; i < stain.length; i++) {
    const d = darkness[i];
    const hued = stain[i] > params.nucleusHue * d && d > hueDark;
    nucleus[i] = (stain[i] > threshold || d > absorbing || hued) && d < BLACK ? 1 : 0;
  }
  return { nucleus, base, dark };
}

// stain here is blue minus red after white balance, as in stained_cells.py's platelets.
export function platelets(stain, darkness, cellsMask, work, diameter, whiteBoxes, params) {
  const { width, height } = work;
  const base = lowerMedianWhere(stain, cellsMask);
  const dark = lowerMedianWhere(darkness, cellsMask);
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

export function whiteCells(stain, darkness, reference, work, diameter, cut, params) {
  const { width, height } = work;
  const n = width * height;
  const { nucleus, base, dark } = nucleusMask(stain, darkness, reference, params);
  const cytoplasm = new Uint8Array(n);
  const cytoStain = base + params.cytoplasmMargin * dark;
  const cytoDark = params.cytoplasmDarkness * cut;
  for (let i = 0; i < n; i++) {
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
  return found;
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
