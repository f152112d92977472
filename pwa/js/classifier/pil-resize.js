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
const MAX = 2 ** (PRECISION_BITS + 8);

// Pillow's clip8: the sums stay below 2^31, so the shift is exact.
function clip8(v) {
  return v >= MAX ? 255 : v <= 0 ? 0 : v >> PRECISION_BITS;
}

// One horizontal pass over packed RGB: every row, each output column from its input span.
function horizontalPass(src, srcW, rows, outW, { ksize, kk, bounds }) {
  const out = new Uint8ClampedArray(outW * rows * 3);
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const row = y * srcW * 3;
    for (let x = 0; x < outW; x++) {
      const n = bounds[x * 2 + 1];
      const k0 = x * ksize;
      let p = row + bounds[x * 2] * 3;
      let r = ONE / 2;
      let g = ONE / 2;
      let b = ONE / 2;
      for (let k = 0; k < n; k++, p += 3) {
        const w = kk[k0 + k];
        r += src[p] * w;
        g += src[p + 1] * w;
        b += src[p + 2] * w;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return out;
}

// One vertical pass over packed RGB of width w: each output row from its input row span.
function verticalPass(src, w, outH, { ksize, kk, bounds }) {
  const out = new Uint8ClampedArray(w * outH * 3);
  const stride = w * 3;
  let o = 0;
  for (let y = 0; y < outH; y++) {
    const n = bounds[y * 2 + 1];
    const k0 = y * ksize;
    const first = bounds[y * 2] * stride;
    for (let x = 0; x < stride; x += 3) {
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
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return out;
}

/**
 * Resize packed RGB uint8 pixels (width*height*3) like PIL's Image.resize((outW, outH), method).
 * @returns {Uint8ClampedArray} packed RGB of outW*outH*3
 */
export function pilResize(rgb, width, height, outW, outH, method = "bilinear") {
  const filter = FILTERS[method];
  if (!filter) throw new Error(`unsupported resize method "${method}"`);
  const horizontal = (pixels, rows) =>
    horizontalPass(pixels, width, rows, outW, precomputeCoeffs(width, outW, filter));
  const vertical = (pixels, w) => verticalPass(pixels, w, outH, precomputeCoeffs(height, outH, filter));
  // Pillow 13 runs the vertical pass first when the height shrinks by more than twice what the
  // width shrinks (fitted exactly on 150 random size pairs against Pillow 13.0.0); the order
  // changes the rounding of the 8-bit intermediate image.
  const verticalFirst = height > outH && height - outH > 2 * (width - outW);
  let pixels = rgb;
  if (verticalFirst) {
    pixels = vertical(pixels, width);
    if (outW !== width) pixels = horizontal(pixels, outH);
  } else {
    if (outW !== width) pixels = horizontal(pixels, height);
    if (outH !== height) pixels = vertical(pixels, outW === width ? width : outW);
  }
  return pixels;
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
