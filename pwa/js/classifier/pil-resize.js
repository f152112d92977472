// Pillow's resize (Image.resize with BILINEAR/BICUBIC/BOX, the antialiased "resample with
// support" path of libImaging/Resample.c, 8-bit fixed point), ported exactly so that the phone
// feeds the model the very pixels classifier.classify feeds it (load_image in
// classifier/classify.py, its Python twin): same label, same confidence.

const PRECISION_BITS = 32 - 8 - 2;

const FILTERS = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0) },
  bilinear: {
    support: 1.0,
    f: (x) => {
      const a = Math.abs(x);
      return a < 1.0 ? 1.0 - a : 0.0;
    },
  },
  bicubic: {
    support: 2.0,
    f: (x) => {
      const a = -0.5;
      const v = Math.abs(x);
      if (v < 1.0) return ((a + 2.0) * v - (a + 3.0)) * v * v + 1;
      if (v < 2.0) return (((v - 5) * v + 8) * v - 4) * a;
      return 0.0;
    },
  },
};

function precomputeCoeffs(inSize, outSize, filter) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1.0);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1.0 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      weights[x] = filter.f((x + xmin - center + 0.5) * ss);
      ww += weights[x];
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0.0 ? weights[x] / ww : weights[x];
      // C's (int) cast truncates toward zero after the +-0.5 rounding offset.
      kk[xx * ksize + x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, kk, bounds };
}

const ONE = 1 << PRECISION_BITS;

// Pillow's clip8 is `v >> PRECISION_BITS` stored into a Uint8ClampedArray: the sums stay within
// +-2^31 (so the shift is exact), and the store clamps below 0 to 0 and from 256 to 255 as
// clip8 does (v >= 2^30 shifts to 256 or more, v <= 0 to 0 or less), without its branches.

// Coefficients depend only on the sizes and the filter: a field's 100+ cells share a few sizes
// (every one ends at the model's input size), so each set is worked out once.
const coeffCache = new Map();
const COEFF_CACHE_MAX = 256;

function coeffsFor(inSize, outSize, method) {
  const key = `${method} ${inSize} ${outSize}`;
  let coeffs = coeffCache.get(key);
  if (coeffs === undefined) {
    if (coeffCache.size >= COEFF_CACHE_MAX) coeffCache.clear();
    coeffs = precomputeCoeffs(inSize, outSize, FILTERS[method]);
    coeffCache.set(key, coeffs);
  }
  return coeffs;
}

// One horizontal pass: every row, each output column from its input span. src has `channels`
// bytes a pixel (3: packed RGB, 4: RGBA, alpha skipped); out: packed RGB, a Uint8ClampedArray.
function horizontalPass(src, channels, srcW, rows, outW, { ksize, kk, bounds }, out) {
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const row = y * srcW * channels;
    for (let x = 0; x < outW; x++) {
      const n = bounds[x * 2 + 1];
      const k0 = x * ksize;
      let p = row + bounds[x * 2] * channels;
      let r = ONE / 2;
      let g = ONE / 2;
      let b = ONE / 2;
      for (let k = 0; k < n; k++, p += channels) {
        const w = kk[k0 + k];
        r += src[p] * w;
        g += src[p + 1] * w;
        b += src[p + 2] * w;
      }
      out[o++] = r >> PRECISION_BITS;
      out[o++] = g >> PRECISION_BITS;
      out[o++] = b >> PRECISION_BITS;
    }
  }
  return out;
}

// One vertical pass over w pixels a row (`channels` bytes each): each output row from its input
// row span, into packed RGB (a Uint8ClampedArray).
function verticalPass(src, channels, w, outH, { ksize, kk, bounds }, out) {
  const stride = w * channels;
  let o = 0;
  for (let y = 0; y < outH; y++) {
    const n = bounds[y * 2 + 1];
    const k0 = y * ksize;
    const first = bounds[y * 2] * stride;
    for (let x = 0; x < stride; x += channels) {
      let p = first + x;
      let r = ONE / 2;
      let g = ONE / 2;
      let b = ONE / 2;
      for (let k = 0; k < n; k++, p += stride) {
        const wk = kk[k0 + k];
        r += src[p] * wk;
        g += src[p + 1] * wk;
        b += src[p + 2] * wk;
      }
      out[o++] = r >> PRECISION_BITS;
      out[o++] = g >> PRECISION_BITS;
      out[o++] = b >> PRECISION_BITS;
    }
  }
  return out;
}

/**
 * Resize packed RGB uint8 pixels (width*height*3) like PIL's Image.resize((outW, outH), method).
 * Options: channels 4 reads RGBA (alpha dropped, as PIL's convert("RGB")) without a packed copy
 * first; out: the typed array (outW*outH*3) the last pass writes, e.g. a model's Float32Array
 * input, so that no second copy converts it.
 * @returns {Uint8ClampedArray} packed RGB of outW*outH*3 (or `out`)
 */
export function pilResize(pixels, width, height, outW, outH, method = "bilinear", { channels = 3, out = null } = {}) {
  if (!FILTERS[method]) throw new Error(`unsupported resize method "${method}"`);
  // Pillow 13 runs the vertical pass first when the height shrinks by more than twice what the
  // width shrinks (fitted exactly on 150 random size pairs against Pillow 13.0.0); the order
  // changes the rounding of the 8-bit intermediate image.
  const verticalFirst = height > outH && height - outH > 2 * (width - outW);
  const horizontal = outW !== width;
  const vertical = outH !== height;
  if (!horizontal && !vertical) return copyRgb(pixels, channels, width * height, out);
  const xCoeffs = horizontal ? coeffsFor(width, outW, method) : null;
  const yCoeffs = vertical ? coeffsFor(height, outH, method) : null;
  let result;
  if (verticalFirst) {
    result = verticalPass(pixels, channels, width, outH, yCoeffs, new Uint8ClampedArray(width * outH * 3));
    if (horizontal) result = horizontalPass(result, 3, width, outH, outW, xCoeffs, new Uint8ClampedArray(outW * outH * 3));
  } else {
    if (horizontal) result = horizontalPass(pixels, channels, width, height, outW, xCoeffs, new Uint8ClampedArray(outW * height * 3));
    if (vertical) {
      result = horizontal
        ? verticalPass(result, 3, outW, outH, yCoeffs, new Uint8ClampedArray(outW * outH * 3))
        : verticalPass(pixels, channels, width, outH, yCoeffs, new Uint8ClampedArray(outW * outH * 3));
    }
  }
  if (out === null) return result;
  // The passes clamp by storing into Uint8ClampedArrays; a float32 model input takes the result
  // in one native copy.
  out.set(result);
  return out;
}

// No resampling to do: the pixels as packed RGB (the input itself when already packed and no
// target is given, as before).
function copyRgb(pixels, channels, count, out) {
  if (channels === 3 && out === null) return pixels;
  const target = out || new Uint8ClampedArray(count * 3);
  for (let i = 0, p = 0, o = 0; i < count; i++, p += channels) {
    target[o++] = pixels[p];
    target[o++] = pixels[p + 1];
    target[o++] = pixels[p + 2];
  }
  return target;
}

/** RGBA (canvas ImageData) -> packed RGB, dropping alpha as PIL's convert("RGB") does. */
export function rgbaToRgb(rgba, crop, fullWidth) {
  const out = new Uint8ClampedArray(crop.w * crop.h * 3);
  for (let y = 0; y < crop.h; y++) {
    for (let x = 0; x < crop.w; x++) {
      const s = ((crop.y + y) * fullWidth + crop.x + x) * 4;
      const o = (y * crop.w + x) * 3;
      out[o] = rgba[s];
      out[o + 1] = rgba[s + 1];
      out[o + 2] = rgba[s + 2];
    }
  }
  return out;
}
