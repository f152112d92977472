// Red-cell field mode in words and colours: what each red cell was called, and the line that
// sums a field up. A cell cut by the photo's edge is shown but never counted (its outline is
// cut); one the model did not recognise waits for a person, as in the differential rule.
import { t } from "../i18n.js";

export const CALL_COLOURS = {
  parasitized: "#c2185b",
  uninfected: "#1b7f3b",
  unrecognised: "#b26a00",
  other: "#455a64",
  edge: "#757575",
};

/** "edge", "unrecognised", or the counted label (a person's, else the model's). */
export function callOf(cell) {
  if (cell.edge) return "edge";
  if (cell.corrected_label) return cell.corrected_label;
  return cell.status === "unfamiliar" ? "unrecognised" : cell.label;
}

export function colourOf(cell) {
  return CALL_COLOURS[callOf(cell)] || CALL_COLOURS.other;
}

/** "N red cells: P parasitized, U uninfected, K not recognised (review), R counted but unsure
 * (review), E cut by the edge (not counted)"; cells a person marked as something else are said
 * apart. */
export function redCellSummary(cells) {
  const count = (call) => cells.filter((c) => callOf(c) === call).length;
  const known = ["parasitized", "uninfected", "unrecognised", "edge"];
  const other = cells.filter((c) => !known.includes(callOf(c))).length;
  // Counted under the model's label, though below its confident threshold: a reviewer sees them.
  const unsure = cells.filter((c) => !c.edge && !c.corrected_label && c.status === "review").length;
  const parts = [
    t("red.parasitized", { count: count("parasitized") }),
    t("red.uninfected", { count: count("uninfected") }),
    t("red.unrecognised", { count: count("unrecognised") }),
    ...(unsure ? [t("red.unsure", { count: unsure })] : []),
    ...(other ? [t("red.otherwise", { count: other })] : []),
    t("red.edge", { count: count("edge") }),
  ];
  return t("red.summary", { count: cells.length, parts: parts.join(", ") });
}

/** Cells a person should look at first: parasitized and not recognised (and anything a person
 * marked otherwise); the uninfected and the edge cells come after, folded away. */
export function listsFirst(cell) {
  const call = callOf(cell);
  return call !== "uninfected" && call !== "edge";
}
