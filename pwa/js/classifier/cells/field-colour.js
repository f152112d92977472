// Field colour standardisation for red-cell field mode (input.field_framing.colour): the
// JavaScript twin of classifier/cells/field_colour.py, line for line (read it for why): each
// colour channel of the photo moved, by one linear map for the whole photo, from the mean and
// spread of its counted red cells' pixels to the training crops'. Integer sums and single
// correctly rounded float operations in Python's order, so both build the very same table
// (tests/pwa/test_red_cell_field_pwa.py): change both or neither.

import { rgbaWords } from "./image-ops.js";

export const MIN_CELLS = 8;

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

// The declared training statistics {cell_mean, cell_std} of an rbc-segmented field framing, or
// null; throws if malformed, with colour_of's messages.
export function colourOf(fieldFraming) {
  const colour = fieldFraming.colour;
  if (colour === undefined || colour === null) return null;
  if (typeof colour !== "object" || Array.isArray(colour)) {
    throw new Error(`input.field_framing.colour must be an object, got ${JSON.stringify(colour)}`);
  }
  for (const key of ["cell_mean", "cell_std"]) {
    const values = colour[key];
    const ok =
      Array.isArray(values) &&
      values.length === 3 &&
      values.every((v) => isNumber(v) && v >= 0 && v <= 255 && (key !== "cell_std" || v > 0));
    if (!ok) {
      const range = key === "cell_std" ? "(0, 255]" : "[0, 255]";
      throw new Error(`input.field_framing.colour.${key} must be three numbers in ${range}, got ${JSON.stringify(values)}`);
    }
  }
  return { cell_mean: [...colour.cell_mean], cell_std: [...colour.cell_std] };
}

// {cells, pixels, mean, std} over the cell pixels (not black) of cut-out cells ({data, width,
// height}, RGBA, alpha ignored).
export function cellStatistics(crops) {
  let count = 0;
  let sumR = 0;
  let sumG = 0;
  let sumB = 0;
  let squareR = 0;
  let squareG = 0;
  let squareB = 0;
  for (const { data } of crops) {
    const words = rgbaWords(data);
    for (let i = 0, o = 0; o < data.length; i++, o += 4) {
      let r;
      let g;
      let b;
      if (words !== null) {
        const v = words[i];
        r = v & 0xff;
        g = (v >>> 8) & 0xff;
        b = (v >>> 16) & 0xff;
      } else {
        r = data[o];
        g = data[o + 1];
        b = data[o + 2];
      }
      if (r === 0 && g === 0 && b === 0) continue;
      count += 1;
      sumR += r;
      sumG += g;
      sumB += b;
      squareR += r * r;
      squareG += g * g;
      squareB += b * b;
    }
  }
  if (count === 0) return { cells: crops.length, pixels: 0, mean: null, std: null };
  const mean = [sumR, sumG, sumB].map((s) => s / count);
  const std = [squareR, squareG, squareB].map((q, c) => Math.sqrt(Math.max(0, q / count - mean[c] * mean[c])));
  return { cells: crops.length, pixels: count, mean, std };
}

// Three 256-entry tables (value -> standardised value), or null when the photo's cells are too
// few or without spread to say what its colours are.
export function colourTable(statistics, colour) {
  if (statistics.cells < MIN_CELLS || statistics.pixels === 0) return null;
  if (!statistics.std.every((s) => s > 0)) return null;
  return [0, 1, 2].map((c) => {
    const gain = colour.cell_std[c] / statistics.std[c];
    const shift = colour.cell_mean[c] - statistics.mean[c] * gain;
    const table = new Uint8Array(256);
    for (let v = 0; v < 256; v++) table[v] = Math.min(255, Math.max(0, Math.floor(v * gain + shift + 0.5)));
    return table;
  });
}

// The cut-out cell (RGBA) with its cell pixels through the tables, in place; its black
// background stays black.
export function standardise(crop, tables) {
  if (tables === null) return crop;
  const { data } = crop;
  const words = rgbaWords(data);
  if (words !== null) {
    // A pixel a 32-bit word: red the low byte, alpha (kept) the high one.
    const [red, green, blue] = tables;
    for (let i = 0; i < words.length; i++) {
      const v = words[i];
      if ((v & 0xffffff) === 0) continue;
      words[i] = (v & 0xff000000) | (blue[(v >>> 16) & 0xff] << 16) | (green[(v >>> 8) & 0xff] << 8) | red[v & 0xff];
    }
    return crop;
  }
  for (let o = 0; o < data.length; o += 4) {
    if (data[o] === 0 && data[o + 1] === 0 && data[o + 2] === 0) continue;
    data[o] = tables[0][data[o]];
    data[o + 1] = tables[1][data[o + 1]];
    data[o + 2] = tables[2][data[o + 2]];
  }
  return crop;
}

// [tables or null, what the result reports] (field_colour): statistics of the counted cells'
// crops (all cells' when fewer than MIN_CELLS are counted).
export function fieldColour(crops, edge, colour) {
  const counted = crops.filter((_, k) => !edge[k]);
  const statistics = cellStatistics(counted.length >= MIN_CELLS ? counted : crops);
  const tables = colourTable(statistics, colour);
  const rounded = (values) => (values === null ? null : values.map(round2));
  return [
    tables,
    { standardised: tables !== null, cells: statistics.cells, mean: rounded(statistics.mean), std: rounded(statistics.std) },
  ];
}

// Python's round(v, 2) for the report (a display figure: parity is checked to 0.01).
const round2 = (v) => Math.round(v * 100) / 100;
