// Canonical framing: the JavaScript twin of classifier/cells/framing.py (frame_cell,
// scaled_window, frame_square, central_cell), step for step, so that training and the phone see
// the same crop of the same cell. Read framing.py for why.
import { FinderError, checked } from "./finder.js";
import { blockMean } from "./image-ops.js";

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

// Of found `cells`, the one of type `kind` (of any type: null) nearest the photo's centre, or
// null; of equally near ones the first in list order, as Python's min().
export function centralCell(cells, width, height, kind) {
  let best = null;
  let bestOff = Infinity;
  for (const cell of cells) {
    if (kind !== null && cell.type !== kind) continue;
    const [x0, y0, x1, y1] = cell.box;
    const off = (x0 + x1 - width) ** 2 + (y0 + y1 - height) ** 2;
    if (off < bestOff) {
      best = cell;
      bestOff = off;
    }
  }
  return best;
}
