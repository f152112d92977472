// The (label, confidence, status) rule of classifier.classify.decide (classifier/classify.py)
// and model.json "decision", mirrored line for line: unfamiliar if familiarity <
// unfamiliar_below; else confident if the top probability >= confident_at_or_above and, with
// `views` (model.json view_check: one probability array per view of the same image, turned),
// the same class's probability in every view is too; else review.

export const STATUSES = ["confident", "review", "unfamiliar"];

export function decide(probabilities, familiarity, labels, decision, views = null) {
  let top = 0;
  for (let i = 1; i < probabilities.length; i++) {
    if (probabilities[i] > probabilities[top]) top = i; // first maximum, like np.argmax
  }
  const confidence = probabilities[top];
  const threshold = decision.confident_at_or_above;
  let status;
  if (familiarity < decision.unfamiliar_below) status = "unfamiliar";
  else if (confidence >= threshold && (!views || views.every((v) => v[top] >= threshold))) status = "confident";
  else status = "review";
  return { label: labels[top], confidence, status };
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
