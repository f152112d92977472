// The one differential-count rule of a slide: classifier/differential.py mirrored line for line
// (tests/pwa/test_pwa_differential.py feeds both the same cells and compares the answers).
// White-cell classes as % of the white cells counted toward the target (100 or 200),
// erythroblasts per 100 white cells, platelets seen outside the count; a cell counts under a
// person's label (reviewer, else technician), else the model's, except that an `unfamiliar`
// cell waits for a person. Artefact / other / classes outside the differential are apart.

export const WBC_RANGES = {
  neutrophil: [40, 80],
  lymphocyte: [20, 40],
  monocyte: [2, 10],
  eosinophil: [1, 6],
  basophil: [0, 2],
  ig: [0, 1],
};
export const PER_100_WBC_RANGES = { erythroblast: [0, 0] };
export const PLATELET = "platelet";
export const ARTEFACT = "artefact"; // "Not a cell / artefact": a person's choice, never the model's
export const OTHER = "other"; // "Other / cannot tell"
export const PERSON_ONLY_LABELS = [ARTEFACT, OTHER];
export const TARGETS = [100, 200];
export const MIN_WBC_FOR_PERCENT = 100;

export const DISPLAY_NAMES = {
  neutrophil: "Neutrophil",
  lymphocyte: "Lymphocyte",
  monocyte: "Monocyte",
  eosinophil: "Eosinophil",
  basophil: "Basophil",
  ig: "Immature granulocyte",
  erythroblast: "Erythroblast (nucleated red cell)",
  platelet: "Platelet",
  parasitized: "Parasitized red cell",
  uninfected: "Uninfected red cell",
  [ARTEFACT]: "Not a cell / artefact",
  [OTHER]: "Other / cannot tell",
};

/**
 * People's words for a label in `language`: the model card's `display_names_by_language`, else
 * (English) its `display_names`, else `classNames` (the app's catalogue of that language, the
 * words of classifier/class_names.json); a class none of them knows (a new model's) takes the
 * card's English words, else the English table above, else the label itself.
 */
export function displayName(label, card = null, language = "en", classNames = null) {
  const own = (card && card.display_names) || {};
  const byLanguage = (card && card.display_names_by_language && card.display_names_by_language[language]) || {};
  for (const names of [byLanguage, language === "en" ? own : {}, classNames || {}, own, DISPLAY_NAMES]) {
    if (Object.hasOwn(names, label)) return names[label];
  }
  return label.slice(0, 1).toUpperCase() + label.slice(1).replaceAll("_", " ");
}

/** The label a cell counts under, or null while an unrecognised cell waits for a person. */
export function countedLabel(cell) {
  const person = cell.reviewed_label || cell.corrected_label;
  if (person) return person;
  return cell.status === "unfamiliar" ? null : cell.label;
}

/** 100 * count / whole rounded half-up to one decimal, computed in integers. */
export function tenthsHalfUp(count, whole) {
  return Math.floor((2000 * count + whole) / (2 * whole)) / 10;
}

function row(label, count, wbc, ranges, basis) {
  const [low, high] = ranges[label];
  if (!wbc) return { label, count, percent: null, basis, low, high, flag: null };
  const flag = 100 * count > high * wbc ? "high" : 100 * count < low * wbc ? "low" : null;
  return { label, count, percent: tenthsHalfUp(count, wbc), basis, low, high, flag };
}

function flags(rows, wbc, unconfirmed) {
  const out = rows
    .filter((r) => r.flag)
    .map(
      (r) =>
        `${displayName(r.label)} ${r.percent.toFixed(1)} ${r.basis}: ` +
        `${r.flag === "high" ? "above" : "below"} the adult range ${r.low}-${r.high}`,
    );
  if (wbc > 0 && wbc < MIN_WBC_FOR_PERCENT) {
    out.push(`Only ${wbc} white cells counted (fewer than ${MIN_WBC_FOR_PERCENT}): the percentages are imprecise.`);
  }
  if (unconfirmed) {
    out.push(`${unconfirmed} unrecognised cell(s) are not counted until a person confirms a class.`);
  }
  return out;
}

/** cells: [{label, status, corrected_label, reviewed_label}]; the same JSON as Python's
 * Differential.to_dict(). */
export function differential(cells, { target = TARGETS[0] } = {}) {
  const labels = cells.map(countedLabel);
  const counts = new Map();
  for (const label of labels) if (label !== null) counts.set(label, (counts.get(label) || 0) + 1);
  const n = (label) => counts.get(label) || 0;
  const wbc = Object.keys(WBC_RANGES).reduce((sum, label) => sum + n(label), 0);
  const rows = wbc ? Object.keys(WBC_RANGES).map((l) => row(l, n(l), wbc, WBC_RANGES, "% of white cells")) : [];
  for (const label of Object.keys(PER_100_WBC_RANGES)) {
    if (wbc || n(label)) rows.push(row(label, n(label), wbc, PER_100_WBC_RANGES, "per 100 white cells"));
  }
  const unconfirmed = labels.filter((l) => l === null).length;
  const known = new Set([...Object.keys(WBC_RANGES), ...Object.keys(PER_100_WBC_RANGES), PLATELET, ...PERSON_ONLY_LABELS]);
  const otherClasses = Object.fromEntries([...counts].filter(([l]) => !known.has(l)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return {
    rows,
    white_cells: wbc,
    target,
    target_reached: wbc >= target,
    platelets: n(PLATELET),
    apart: { [ARTEFACT]: n(ARTEFACT), [OTHER]: n(OTHER), unconfirmed },
    other_classes: otherClasses,
    total: cells.length,
    flags: flags(rows, wbc, unconfirmed),
  };
}
