// The class-activation map of a call ("why this call"), the twin of classifier.classify's: a
// model whose model.json declares "class_activation" has an output [batch, R, C, K]; the map shown
// is that of the model's label k, clipped at 0 and scaled to 0..255 by its maximum (all 0 when
// nothing is positive), rounded half up, row-major. It covers the whole square the model was
// given. A card without "class_activation" has no map: the app shows none.

function sameShape(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The card's declared map output ({name, rows, cols, shape, quantization}), or null. */
export function activationOf(card, batch = 1) {
  const declared = card && card.class_activation;
  if (!declared) return null;
  const entry = (card.outputs || []).find((o) => o.name === declared.output);
  const shape = [batch, declared.rows, declared.cols, card.labels.length];
  if (!entry || !entry.shape || !sameShape(entry.shape, shape)) {
    throw new Error(`model.json declares a class-activation output "${declared.output}" [${shape}] that its outputs do not list`);
  }
  return { name: entry.name, rows: declared.rows, cols: declared.cols, shape, quantization: entry.quantization || null };
}

/**
 * The map of class `k` out of one image's dequantized [R, C, K] output (`values`, row-major):
 * {rows, cols, values: R*C integers 0..255}.
 */
export function mapOf(values, rows, cols, classes, k) {
  const m = new Float64Array(rows * cols);
  let top = 0;
  for (let i = 0; i < rows * cols; i++) {
    m[i] = Math.max(values[i * classes + k], 0);
    if (m[i] > top) top = m[i];
  }
  // Math.floor(x + 0.5): round half up, as the contract says (Python: np.floor(x + 0.5)).
  const scaled = Array.from(m, (v) => (top > 0 ? Math.floor((255 * v) / top + 0.5) : 0));
  return { rows, cols, values: scaled };
}
