// Quantized tensors: LiteRT.js exposes no scale/zero point, so they come from model.json
// ("input".quantization, "outputs"[i].quantization), written by the training export from the
// interpreter's own details. Arithmetic is done in float32 like numpy's. The twin of
// classifier/classify.py's TFLiteModel._quantize and _dequantize.

function pair(q) {
  if (!q) return null;
  if (Array.isArray(q)) return { scale: q[0], zeroPoint: q[1] };
  return { scale: q.scale, zeroPoint: q.zero_point ?? q.zeroPoint ?? 0 };
}

/** np.round: round half to even. */
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** RGB uint8 pixels -> the input tensor's data, as classifier.classify's _quantize does. */
export function quantizeInput(rgb, dtype, quantization) {
  const q = pair(quantization);
  if (dtype === "float32") return rgb instanceof Float32Array ? rgb : Float32Array.from(rgb);
  if (!q || !q.scale || (q.scale === 1 && q.zeroPoint === 0)) return Uint8Array.from(rgb);
  const out = new Uint8Array(rgb.length);
  const scale = Math.fround(q.scale);
  for (let i = 0; i < rgb.length; i++) {
    const v = roundHalfEven(Math.fround(Math.fround(rgb[i] / scale) + q.zeroPoint));
    out[i] = Math.min(255, Math.max(0, v));
  }
  return out;
}

/** Output tensor data -> float probabilities, as classifier.classify's _dequantize does. */
export function dequantize(values, quantization) {
  const q = pair(quantization);
  const out = new Float32Array(values.length);
  const quantized = values instanceof Uint8Array || values instanceof Int8Array;
  for (let i = 0; i < values.length; i++) {
    out[i] = quantized && q && q.scale ? Math.fround((values[i] - q.zeroPoint) * Math.fround(q.scale)) : values[i];
  }
  return out;
}
