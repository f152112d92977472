// Integer image operations shared by the cell finder: the JavaScript twin of
// classifier/cells/image_ops.py, line for line (lowerMedian and insideAny are the
// np.sort(...)[(n - 1) // 2] and any(b[0] <= cx <= b[2] ...) that the Python writes inline).
// They work on integers (or floats only through correctly rounded single operations) so that
// Python and the browser reach the same boxes: change both or neither.

// Whether this machine stores a Uint32 low byte first (every browser's does): RGBA pixels can
// then be read as one 32-bit word each, red in the low byte.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// RGBA bytes (a typed array) seen as one 32-bit word a pixel, red in the low byte, alpha in the
// high one; null where that view cannot be had (big-endian, or bytes not 4-aligned): callers
// then read bytes. One read or write a pixel instead of three or four.
export function rgbaWords(data) {
  if (!LITTLE_ENDIAN || !data.buffer || data.byteOffset % 4 !== 0 || data.length % 4 !== 0) return null;
  return new Uint32Array(data.buffer, data.byteOffset, data.length / 4);
}

export function blockMean(data, width, height, channels, factor) {
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  const planes = [new Int32Array(w * h), new Int32Array(w * h), new Int32Array(w * h)];
  const area = factor * factor;
  const rowSums = new Float64Array(w * 3);
  // RGBA: one 32-bit read a pixel instead of three byte reads (the same sums).
  const words = channels === 4 ? rgbaWords(data) : null;
  for (let y = 0; y < h; y++) {
    rowSums.fill(0);
    for (let dy = 0; dy < factor; dy++) {
      if (words !== null) addWordRow(words, (y * factor + dy) * width, w, factor, rowSums);
      else addByteRow(data, (y * factor + dy) * width * channels, channels, w, factor, rowSums);
    }
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      planes[0][i] = Math.floor(rowSums[3 * x] / area);
      planes[1][i] = Math.floor(rowSums[3 * x + 1] / area);
      planes[2][i] = Math.floor(rowSums[3 * x + 2] / area);
    }
  }
  return { planes, width: w, height: h };
}

// One photo row's pixels added to each block's sums: RGBA read as 32-bit words from pixel p.
function addWordRow(words, p, w, factor, rowSums) {
  for (let x = 0; x < w; x++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let dx = 0; dx < factor; dx++) {
      const v = words[p++];
      r += v & 0xff;
      g += (v >>> 8) & 0xff;
      b += (v >>> 16) & 0xff;
    }
    rowSums[3 * x] += r;
    rowSums[3 * x + 1] += g;
    rowSums[3 * x + 2] += b;
  }
}

// The same from bytes (RGB, or RGBA not aligned for words) from byte p.
function addByteRow(data, p, channels, w, factor, rowSums) {
  for (let x = 0; x < w; x++) {
    let r = 0;
    let g = 0;
    let b = 0;
    for (let dx = 0; dx < factor; dx++) {
      r += data[p];
      g += data[p + 1];
      b += data[p + 2];
      p += channels;
    }
    rowSums[3 * x] += r;
    rowSums[3 * x + 1] += g;
    rowSums[3 * x + 2] += b;
  }
}

export function histogramPercentile(hist, fraction) {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  const target = fraction * total;
  let cumulative = 0;
  for (let i = 0; i < hist.length; i++) {
    cumulative += hist[i];
    if (cumulative >= target) return i;
  }
  return hist.length - 1;
}

export function otsuThreshold(hist) {
  let total = 0;
  let weightedTotal = 0;
  for (let i = 0; i < hist.length; i++) {
    total += hist[i];
    weightedTotal += i * hist[i];
  }
  let bestBin = 0;
  let bestScore = -1.0;
  let below = 0;
  let weightedBelow = 0;
  for (let i = 0; i < hist.length; i++) {
    below += hist[i];
    weightedBelow += i * hist[i];
    const above = total - below;
    if (below === 0 || above === 0) continue;
    const gap = weightedBelow / below - (weightedTotal - weightedBelow) / above;
    const score = below * above * (gap * gap);
    if (score > bestScore) {
      bestBin = i;
      bestScore = score;
    }
  }
  return bestBin;
}

// Binary dilation by a (2r+1)-pixel square, outside the image empty: a running count of set
// pixels along rows, then along columns.
export function dilateSquare(mask, width, height, radius) {
  if (radius <= 0) return mask.slice();
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(radius, width); x++) count += mask[o + x];
    for (let x = 0; x < width; x++) {
      if (x + radius < width) count += mask[o + x + radius];
      if (x - radius - 1 >= 0) count -= mask[o + x - radius - 1];
      rows[o + x] = count > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(radius, height); y++) count += rows[y * width + x];
    for (let y = 0; y < height; y++) {
      if (y + radius < height) count += rows[(y + radius) * width + x];
      if (y - radius - 1 >= 0) count -= rows[(y - radius - 1) * width + x];
      out[y * width + x] = count > 0 ? 1 : 0;
    }
  }
  return out;
}

// Labels the pixels where mask[i] === value; 8- or 4-connected. Returns {labels, count}.
// (Label numbers may differ from scipy's; only which pixels share a label matters.)
export function labelComponents(mask, width, height, eightConnected = true, value = 1) {
  const n = mask.length;
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  let count = 0;
  for (let start = 0; start < n; start++) {
    if (mask[start] !== value || labels[start] !== 0) continue;
    count += 1;
    labels[start] = count;
    let top = 0;
    stack[top++] = start;
    // Each neighbour of the same value not labelled yet is labelled and stacked, written out in
    // place: through a helper closure this took about twice as long.
    while (top > 0) {
      const p = stack[--top];
      const px = p % width;
      const left = px > 0;
      const right = px < width - 1;
      const up = p >= width;
      const down = p < n - width;
      let q;
      if (left) { q = p - 1; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
      if (right) { q = p + 1; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
      if (up) { q = p - width; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
      if (down) { q = p + width; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
      if (!eightConnected) continue;
      if (up && left) { q = p - width - 1; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
      if (up && right) { q = p - width + 1; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
      if (down && left) { q = p + width - 1; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
      if (down && right) { q = p + width + 1; if (mask[q] === value && labels[q] === 0) { labels[q] = count; stack[top++] = q; } }
    }
  }
  return { labels, count };
}

export function fillSmallHoles(mask, width, height, maxArea) {
  const { labels, count } = labelComponents(mask, width, height, false, 0);
  const out = mask.slice();
  if (count === 0) return out;
  const areas = new Int32Array(count + 1);
  for (let i = 0; i < labels.length; i++) areas[labels[i]] += 1;
  const fillable = new Uint8Array(count + 1);
  for (let k = 1; k <= count; k++) fillable[k] = areas[k] <= maxArea ? 1 : 0;
  for (let x = 0; x < width; x++) {
    fillable[labels[x]] = 0;
    fillable[labels[(height - 1) * width + x]] = 0;
  }
  for (let y = 0; y < height; y++) {
    fillable[labels[y * width]] = 0;
    fillable[labels[y * width + width - 1]] = 0;
  }
  for (let i = 0; i < labels.length; i++) if (fillable[labels[i]]) out[i] = 1;
  return out;
}

// Taxicab distance to the nearest pixel outside the mask (the image edge is not outside).
export function cityBlockDistance(mask, width, height) {
  const far = width + height + 1;
  const dist = new Int32Array(mask.length);
  for (let i = 0; i < mask.length; i++) dist[i] = mask[i] ? far : 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (dist[i] === 0) continue;
      if (y > 0 && dist[i - width] + 1 < dist[i]) dist[i] = dist[i - width] + 1;
      if (x > 0 && dist[i - 1] + 1 < dist[i]) dist[i] = dist[i - 1] + 1;
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (dist[i] === 0) continue;
      if (y < height - 1 && dist[i + width] + 1 < dist[i]) dist[i] = dist[i + width] + 1;
      if (x < width - 1 && dist[i + 1] + 1 < dist[i]) dist[i] = dist[i + 1] + 1;
    }
  }
  return dist;
}

// Components of `mask` (8-connected) with area, box and pixel indices of their `members`.
export function components(mask, width, height, members = mask) {
  const { labels, count } = labelComponents(mask, width, height, true, 1);
  const found = [];
  const byLabel = new Array(count + 1).fill(null);
  for (let i = 0; i < labels.length; i++) {
    const k = labels[i];
    if (k === 0 || !members[i]) continue;
    const x = i % width;
    const y = (i - x) / width;
    let c = byLabel[k];
    if (c === null) {
      c = { area: 0, box: [x, y, x + 1, y + 1], pixels: [] };
      byLabel[k] = c;
      found.push(c);
    }
    c.area += 1;
    c.pixels.push(i);
    if (x < c.box[0]) c.box[0] = x;
    if (y < c.box[1]) c.box[1] = y;
    if (x + 1 > c.box[2]) c.box[2] = x + 1;
    if (y + 1 > c.box[3]) c.box[3] = y + 1;
  }
  return found;
}

export function lowerMedian(values) {
  const sorted = (values instanceof Int32Array ? values.slice() : Int32Array.from(values)).sort();
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

// lowerMedian of the values where mask is set, by counting (the values span a small range:
// darkness, stain): the same element, without copying and sorting ~77k values per call.
export function lowerMedianWhere(values, mask) {
  let low = Infinity;
  let high = -Infinity;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (!mask[i]) continue;
    const v = values[i];
    if (v < low) low = v;
    if (v > high) high = v;
    n += 1;
  }
  if (n === 0) return undefined;
  const counts = new Int32Array(high - low + 1);
  for (let i = 0; i < values.length; i++) if (mask[i]) counts[values[i] - low] += 1;
  const rank = Math.floor((n - 1) / 2);
  let seen = 0;
  for (let i = 0; ; i++) {
    seen += counts[i];
    if (seen > rank) return low + i;
  }
}

export function insideAny(boxes, cx, cy) {
  return boxes.some((b) => b[0] <= cx && cx <= b[2] && b[1] <= cy && cy <= b[3]);
}

// Floor of the mean of each pixel's (2r+1)-pixel square, the square clipped to the image,
// through a summed-area table (box_mean). Float64 sums stay exact integers below 2^53.
export function boxMean(values, width, height, radius) {
  const stride = width + 1;
  const table = new Float64Array((height + 1) * stride);
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += values[y * width + x];
      table[(y + 1) * stride + x + 1] = table[y * stride + x + 1] + row;
    }
  }
  const out = new Int32Array(width * height);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(y - radius, 0);
    const y1 = Math.min(y + radius + 1, height);
    for (let x = 0; x < width; x++) {
      const x0 = Math.max(x - radius, 0);
      const x1 = Math.min(x + radius + 1, width);
      const sum = table[y1 * stride + x1] - table[y0 * stride + x1] - table[y1 * stride + x0] + table[y0 * stride + x0];
      out[y * width + x] = Math.floor(sum / ((y1 - y0) * (x1 - x0)));
    }
  }
  return out;
}
