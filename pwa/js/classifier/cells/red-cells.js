// Red cells: the photo's median red-cell diameter D, and red-cell boxes. The JavaScript twin of
// classifier/cells/red_cells.py, line for line: change both or neither.
import { cityBlockDistance, components, insideAny, lowerMedian } from "./image-ops.js";

export const DEPTH_TO_DIAMETER = 6.0;
export const CLUMP_SCORE = 0.5;

export function redCellDiameter(cellsMask, width, height) {
  let inside = 0;
  for (let i = 0; i < cellsMask.length; i++) inside += cellsMask[i];
  if (inside === 0 || inside === cellsMask.length) return null;
  const depth = cityBlockDistance(cellsMask, width, height);
  const values = new Int32Array(inside);
  let j = 0;
  for (let i = 0; i < cellsMask.length; i++) if (cellsMask[i]) values[j++] = depth[i];
  return { diameter: DEPTH_TO_DIAMETER * lowerMedian(values), depth };
}

export function redCells(cellsMask, work, depth, diameter, whiteBoxes, params) {
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
