// The (label, confidence, status, reason) rule of classifier.classify.decide
// (classifier/classify.py) and model.json "decision", mirrored line for line: unfamiliar
// (reason "unfamiliar") if familiarity < unfamiliar_below; else review ("below_threshold") if
// the top probability is under confident_at_or_above; else review ("view_check") if, with
// `views` (model.json view_check: one probability array per view of the same image, turned),
// the same class's probability in some view is under it; else confident (reason null).

export const STATUSES = ["confident", "review", "unfamiliar"];
// Why a call is not confident, as classifier.classify.STATUS_REASONS: a stable enum that
// records carry to the server. "no_cell": the framing found no cell to centre on.
export const BELOW_THRESHOLD = "below_threshold";
export const VIEW_CHECK = "view_check";
export const UNFAMILIAR = "unfamiliar";
export const NO_CELL = "no_cell";
export const STATUS_REASONS = [BELOW_THRESHOLD, VIEW_CHECK, UNFAMILIAR, NO_CELL];

export function decide(probabilities, familiarity, labels, decision, views = null) {
  let top = 0;
  for (let i = 1; i < probabilities.length; i++) {
    if (probabilities[i] > probabilities[top]) top = i; // first maximum, like np.argmax
  }
  const confidence = probabilities[top];
  const threshold = decision.confident_at_or_above;
  let status = "review";
  let reason = null;
  if (familiarity < decision.unfamiliar_below) [status, reason] = ["unfamiliar", UNFAMILIAR];
  else if (!(confidence >= threshold)) reason = BELOW_THRESHOLD; // not `<`: a NaN is never confident
  else if (views && !views.every((v) => v[top] >= threshold)) reason = VIEW_CHECK;
  else status = "confident";
  return { label: labels[top], confidence, status, reason };
}

/**
 * The rule for cells found (or marked) in a field photo, as classifier.classify.field_decision:
 * decision.field's thresholds where the card has them, else the close-up's.
 */
export function fieldDecision(decision) {
  return { ...decision, ...(decision.field || {}) };
}

/** Python's round(x, 4) for display/storage (half-even differences are below 1e-4). */
export function round4(x) {
  return Math.round(x * 1e4) / 1e4;
}

/** Labels sorted by probability, highest first: [{label, p}]. */
export function topK(probabilities, labels, k = 3) {
  return labels
    .map((label, i) => ({ label, p: probabilities[i] }))
    .sort((a, b) => b.p - a.p)
    .slice(0, k);
}
