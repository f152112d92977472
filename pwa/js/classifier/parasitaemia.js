// The one parasitaemia rule of a malaria slide: classifier/parasitaemia.py mirrored line for line
// (tests/pwa/test_pwa_parasitaemia.py feeds both the same cells and compares the answers).
// Parasitized red cells per 100 red cells counted toward the target (500 to 5000), with the 95 %
// Wilson score interval; a cell counts under a person's label, else the model's, except that an
// `unfamiliar` cell waits for a person (listed by record id). Artefact / other / labels that are
// not red-cell classes are apart. Half-up to two decimals: the percentage from integers, the
// interval from the same float operations in the same order as Python (never toFixed).
import { ARTEFACT, OTHER, countedLabel } from "./differential.js";

export const PARASITIZED = "parasitized";
export const UNINFECTED = "uninfected";
export const RED_CELL_LABELS = [PARASITIZED, UNINFECTED];
export const TARGETS = [500, 1000, 2000, 5000];
export const DEFAULT_TARGET = 1000;
export const Z_95 = 1.96;

/** 100 * count / whole rounded half-up to two decimals, computed in integers. */
export function hundredthsHalfUp(count, whole) {
  return Math.floor((20000 * count + whole) / (2 * whole)) / 100;
}

/** A fraction as a percentage rounded half-up to two decimals (the same floats as Python). */
export function percentHalfUp(fraction) {
  return Math.floor(10000 * fraction + 0.5) / 100;
}

/** The 95 % Wilson score interval of positive / whole, in percent: [low, high]. */
export function wilsonInterval(positive, whole) {
  const z2 = Z_95 * Z_95;
  const p = positive / whole;
  const denominator = 1 + z2 / whole;
  const centre = (p + z2 / (2 * whole)) / denominator;
  const margin = (Z_95 / denominator) * Math.sqrt((p * (1 - p)) / whole + z2 / (4 * whole * whole));
  const low = Math.max(0.0, centre - margin);
  const high = Math.min(1.0, centre + margin);
  return [percentHalfUp(low), percentHalfUp(high)];
}

/** cells: [{id, label, status, corrected_label, reviewed_label}]; the same JSON as Python's
 * parasitaemia(). */
export function parasitaemia(cells, { target = DEFAULT_TARGET } = {}) {
  const labels = cells.map(countedLabel);
  const counts = new Map();
  for (const label of labels) if (label !== null) counts.set(label, (counts.get(label) || 0) + 1);
  const n = (label) => counts.get(label) || 0;
  const parasitized = n(PARASITIZED);
  const uninfected = n(UNINFECTED);
  const redCells = parasitized + uninfected;
  const waiting = cells.filter((c, i) => labels[i] === null).map((c) => (c.id === undefined ? null : c.id));
  const known = new Set([...RED_CELL_LABELS, ARTEFACT, OTHER]);
  const others = Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).filter(([l]) => !known.has(l)));
  return {
    red_cells: redCells,
    parasitized,
    uninfected,
    parasitaemia: redCells ? hundredthsHalfUp(parasitized, redCells) : null,
    ci95: redCells ? wilsonInterval(parasitized, redCells) : null,
    target,
    target_reached: redCells >= target,
    unconfirmed: waiting.length,
    unconfirmed_ids: waiting,
    apart: { [ARTEFACT]: n(ARTEFACT), [OTHER]: n(OTHER) },
    other_classes: others,
    total: cells.length,
    flags: flags(redCells, target, waiting.length),
  };
}

function flags(redCells, target, unconfirmed) {
  const out = [];
  if (redCells < target) out.push(`Only ${redCells} of ${target} red cells counted: the interval is wide.`);
  if (unconfirmed) out.push(`${unconfirmed} unrecognised cell(s) are not counted until a person confirms a class.`);
  return out;
}
