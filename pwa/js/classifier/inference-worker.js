// The inference Web Worker (bundled with LiteRT.js into /vendor/inference-worker.js by build.mjs
// and started as a classic worker). The page asks {id, type, ...}; the worker answers
// {id, result} or {id, error}. It decodes the image, crops it, resizes it exactly like Pillow
// and runs the released .tflite model, so the UI never freezes. A model whose model.json
// declares input.framing is fed the frame that cells/model-framing.js gives instead (the rule of
// classifier/cells/model_framing.py); "classifyField" classifies every white cell of a field photo,
// each framed by the model's field framing (fieldFramingOf); for a red-cell model (field framing
// "rbc-segmented") it classifies every red cell instead, as Classifier._classify_red_cells.
// A model whose card declares "class_activation" also answers each call's map ("cam": why this
// call, class-activation.js), for a close-up and for every cell of a field.
import { Tensor, loadAndCompile, loadLiteRt, supportsFeature } from "@litertjs/core";
import { decide, fieldDecision, round4 } from "./decision-rule.js";
import { pilResize, rgbaToRgb } from "./pil-resize.js";
import { msgKey } from "../i18n.js";
import {
  cropRGBA,
  fieldFramingOf,
  frameFieldCells,
  frameMarkedCell,
  framePhotoFor,
  framingOf,
  markCentred,
  noCellResult,
  RBC_SEGMENTED,
} from "./cells/model-framing.js";
import { fieldColour, standardise } from "./cells/field-colour.js";
import { findRedCells, markedCell, segmentedCrop } from "./cells/red-cell-field.js";
import { dequantize, quantizeInput } from "./quantization.js";
import { activationOf, mapOf } from "./class-activation.js";

const WASM_DIR = new URL("wasm/", self.location.href).href;
const THREADED_GLUE = "litert_wasm_threaded_internal.js";
// A phone's big cores; more threads than that only wait on each other for a 96-224 px image.
const MAX_THREADS = 4;
const MAX_BATCH = 64; // classifier.model_card.MAX_BATCH
const models = new Map(); // key "name@version" -> {compiled, card, input, outputs}
let runtime = null;
let threads = 1; // threads each model run takes, set when the runtime starts

// Threads need SharedArrayBuffer, which exists only when the app is cross-origin isolated (the
// server's COOP/COEP headers), and LiteRT.js ships them only in its relaxed-SIMD build. The
// service worker precaches the threaded build under the same condition (sw.js runtimeFiles).
async function threadsAvailable() {
  return self.crossOriginIsolated === true && (await supportsFeature("relaxedSimd")) && (await supportsFeature("threads"));
}

// {singleThread: true} keeps the single-thread build even where threads could run (bench.field
// times both in one page).
function startRuntime({ singleThread = false } = {}) {
  if (!runtime) {
    const started = performance.now();
    runtime = (async () => {
      // The WASM glue looks for its .wasm beside the worker script unless told otherwise; its
      // thread pool starts workers on the glue itself, not on this bundle.
      self.Module = { locateFile: (file) => WASM_DIR + file };
      if (!singleThread && (await threadsAvailable())) {
        self.Module.mainScriptUrlOrBlob = WASM_DIR + THREADED_GLUE;
        await loadLiteRt(WASM_DIR, { threads: true });
        threads = Math.max(1, Math.min(MAX_THREADS, navigator.hardwareConcurrency || 1));
      } else {
        await loadLiteRt(WASM_DIR);
      }
      return { ms: performance.now() - started, threads };
    })();
  }
  return runtime;
}

function sameShape(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function describeOutputs(compiled, card, batch) {
  const details = compiled.getOutputDetails();
  const probabilities = details.find((d) => sameShape([...d.shape], [batch, card.labels.length]));
  const familiarity = details.find((d) => sameShape([...d.shape], [batch, 1]));
  const activation = activationOf(card, batch);
  const viewCheck = viewCheckOf(card, batch);
  const views = viewCheck && details.find((d) => sameShape([...d.shape], viewCheck.shape));
  if (viewCheck && !views) throw new Error(`the model has no output [${viewCheck.shape}] for its declared view check`);
  const cam = activation && details.find((d) => sameShape([...d.shape], activation.shape));
  if (activation && !cam) throw new Error(`the model has no output [${activation.shape}] for its declared class-activation map`);
  if (!probabilities) {
    const shapes = details.map((d) => `[${[...d.shape]}]`).join(", ");
    throw new Error(`model outputs ${shapes} do not fit ${card.labels.length} labels`);
  }
  // model.json "outputs": [{name, position, shape, dtype, quantization: {scale, zero_point}}];
  // matched by shape, as classifier.classify tells the outputs apart.
  const quantOf = (detail) => {
    const entry = (card.outputs || []).find((o) => o.shape && sameShape(o.shape, [...detail.shape]));
    return entry ? entry.quantization : null;
  };
  return {
    probabilities: { index: details.indexOf(probabilities), quant: quantOf(probabilities) },
    familiarity: familiarity ? { index: details.indexOf(familiarity), quant: quantOf(familiarity) } : null,
    cam: cam ? { index: details.indexOf(cam), quant: activation.quantization, rows: activation.rows, cols: activation.cols } : null,
    views: views ? { index: details.indexOf(views), quant: viewCheck.quantization, count: viewCheck.shape[1] } : null,
  };
}

// model.json "view_check": {output, views: [...]} and its outputs entry [batch, views, labels],
// as classifier.model_card.view_check_output reads it; null for a card without one.
function viewCheckOf(card, batch) {
  const declared = card.view_check;
  if (!declared) return null;
  const entry = (card.outputs || []).find((o) => o.name === declared.output);
  const shape = [batch, (declared.views || []).length, card.labels.length];
  if (!entry || !entry.shape || !sameShape(entry.shape, shape)) {
    throw new Error(`model.json view_check names output ${JSON.stringify(declared.output)}, which outputs must list with shape [${shape}]`);
  }
  return { shape, quantization: entry.quantization };
}

async function load({ key, bytes, card }) {
  await startRuntime();
  if (models.has(key)) return { key, cached: true };
  const compiled = await loadAndCompile(new Uint8Array(bytes), { accelerator: "wasm", cpuOptions: { numThreads: threads } });
  const [input] = compiled.getInputDetails();
  const shape = [...input.shape];
  // A batch of N > 1 (classifier.model_card.input_batch): N cells of a field per run.
  if (shape.length !== 4 || !(shape[0] >= 1 && shape[0] <= MAX_BATCH) || shape[1] !== shape[2] || shape[3] !== 3) {
    compiled.delete();
    throw new Error(`model input [${shape}] is not a [batch, size, size, 3] image`);
  }
  const fieldFraming = fieldFramingOf(card);
  models.set(key, {
    compiled,
    card,
    batch: shape[0],
    size: shape[1],
    inputDtype: input.dtype,
    inputQuant: card.input && card.input.quantization,
    framing: framingOf(card),
    fieldFraming,
    redCells: (fieldFraming || {}).method === RBC_SEGMENTED,
    fieldDecision: fieldDecision(card.decision),
    outputs: describeOutputs(compiled, card, shape[0]),
  });
  return { key, size: shape[1], inputDtype: input.dtype };
}

async function decode(image) {
  let bitmap;
  try {
    // EXIF orientation applied, no colour management: what PIL's exif_transpose + convert do.
    bitmap = await createImageBitmap(image, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } catch {
    throw Object.assign(new Error("This file is not an image the app can read (use JPEG, PNG or WebP)."), { key: msgKey("image.unreadable") });
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  bitmap.close();
  return { data, width: canvas.width, height: canvas.height };
}

function clampCrop(crop, width, height) {
  if (!crop) return { x: 0, y: 0, w: width, h: height };
  const x = Math.max(0, Math.min(width - 1, Math.round(crop.x)));
  const y = Math.max(0, Math.min(height - 1, Math.round(crop.y)));
  const w = Math.max(1, Math.min(width - x, Math.round(crop.w)));
  const h = Math.max(1, Math.min(height - y, Math.round(crop.h)));
  return { x, y, w, h };
}

// Up to model.batch images as one input array of the whole batch (the rest black, as
// classifier.classify.TFLiteModel.run_many pads).
function pack(model, images) {
  const parts = images.map((rgb) => quantizeInput(rgb, model.inputDtype, model.inputQuant));
  if (model.batch === 1) return parts[0];
  const side = model.size * model.size * 3;
  const data = new parts[0].constructor(side * model.batch);
  parts.forEach((part, i) => data.set(part, i * side));
  return data;
}

// One run on a packed batch (`data`, its first `count` images real): one outputs object per
// real image.
async function runBatch(model, data, count) {
  const input = new Tensor(data, [model.batch, model.size, model.size, 3]);
  const started = performance.now();
  const outputs = await model.compiled.run([input]);
  const ms = performance.now() - started;
  input.delete();
  const values = outputs.map((t) => t.toTypedArray().slice());
  outputs.forEach((t) => t.delete());
  const { probabilities: p, familiarity: f, cam: c, views: v } = model.outputs;
  const every = (o) => (o ? dequantize(values[o.index], o.quant) : null);
  const [allP, allF, allC, allV] = [every(p), every(f), every(c), every(v)];
  const n = model.card.labels.length;
  const row = (all, i) => {
    const width = all.length / model.batch;
    return all.slice(i * width, (i + 1) * width);
  };
  return Array.from({ length: count }, (_, i) => ({
    probabilities: row(allP, i),
    // A model without a familiarity head is never "unfamiliar".
    familiarity: allF ? allF[i] : Infinity,
    activation: allC ? row(allC, i) : null,
    // One probability array per view of the image (the view check); null without one.
    views: allV ? Array.from({ length: v.count }, (_, k) => row(allV, i).slice(k * n, (k + 1) * n)) : null,
    ms: ms / count,
  }));
}

function loaded(key) {
  const model = models.get(key);
  if (!model) throw new Error(`model ${key} is not loaded`);
  return model;
}

// Model input -> outputs -> the rule, as classifier.classify.Classifier.classify_array;
// `decision` defaults to the close-up's (field cells pass model.fieldDecision).
async function classifyPixels(model, rgb, decision = model.card.decision) {
  return (await classifyMany(model, [rgb], decision))[0];
}

// classifyPixels of each image, model.batch images per run (Classifier.classify_arrays).
async function classifyMany(model, images, decision) {
  const results = [];
  for (let start = 0; start < images.length; start += model.batch) {
    const chunk = images.slice(start, start + model.batch);
    results.push(...(await classifyPacked(model, pack(model, chunk), chunk.length, decision)));
  }
  return results;
}

async function classifyPacked(model, data, count, decision) {
  return (await runBatch(model, data, count)).map((outputs) => resultOf(model, outputs, decision));
}

function resultOf(model, { probabilities, familiarity, activation, views, ms }, decision) {
  const { card } = model;
  const { label, confidence, status, reason } = decide(probabilities, familiarity, card.labels, decision, views);
  const named = {};
  card.labels.forEach((name, i) => (named[name] = round4(probabilities[i])));
  const result = {
    label,
    confidence: round4(confidence),
    status,
    status_reason: reason,
    probabilities: named,
    familiarity: Number.isFinite(familiarity) ? round4(familiarity) : null,
    inferenceMs: ms,
  };
  if (activation) {
    const { rows, cols } = model.outputs.cam;
    result.cam = { label, ...mapOf(activation, rows, cols, card.labels.length, card.labels.indexOf(label)) };
  }
  return result;
}

// The JPEG of what the model saw (at most CELL_SIDE px a side), made here where the pixels are:
// synced as the record's "image" so the doctor sees what the phone saw.
const CELL_SIDE = 256;
const CELL_QUALITY = 0.85;

// A cell that needs no shrinking (a red cell, about 100 px, 100+ a field) is drawn on this one
// canvas: convertToBlob copies the canvas as it is when called (the same JPEG bytes as a canvas
// of its own, checked in Chromium), so the next cell may be drawn at once, without a new
// canvas and context per cell.
let unscaled = null;

// The pixels of the latest field photo's cells, kept for their JPEGs: classifyField answers the
// calls first and the page asks for the images next (cellImages), so that the technician sees
// the calls without waiting for 100+ JPEGs. One photo at a time: a newer one replaces them.
let fieldFrames = null;
let fieldsSeen = 0;

function keepFrames(frames) {
  fieldsSeen += 1;
  fieldFrames = { field: fieldsSeen, frames };
  return fieldsSeen;
}

async function cellImages({ field }) {
  if (!fieldFrames || fieldFrames.field !== field) {
    throw Object.assign(new Error("The cells of that photo are no longer kept: find its cells again."), { key: msgKey("field.images_gone") });
  }
  const { frames } = fieldFrames;
  fieldFrames = null;
  return Promise.all(frames.map(cellJpeg));
}

async function cellJpeg(frame) {
  const pixels = new ImageData(new Uint8ClampedArray(frame.data), frame.width, frame.height);
  const scale = Math.min(1, CELL_SIDE / Math.max(frame.width, frame.height));
  if (scale === 1) {
    unscaled = unscaled || new OffscreenCanvas(1, 1);
    unscaled.width = frame.width;
    unscaled.height = frame.height;
    unscaled.getContext("2d").putImageData(pixels, 0, 0);
    return unscaled.convertToBlob({ type: "image/jpeg", quality: CELL_QUALITY });
  }
  const full = new OffscreenCanvas(frame.width, frame.height);
  full.getContext("2d").putImageData(pixels, 0, 0);
  const out = new OffscreenCanvas(Math.max(1, Math.round(frame.width * scale)), Math.max(1, Math.round(frame.height * scale)));
  const ctx = out.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(full, 0, 0, out.width, out.height);
  return out.convertToBlob({ type: "image/jpeg", quality: CELL_QUALITY });
}

function rgbOf(frame) {
  return rgbaToRgb(frame.data, { x: 0, y: 0, w: frame.width, h: frame.height }, frame.width);
}

async function classify({ key, image, crop }) {
  const model = loaded(key);
  const started = performance.now();
  const { data, width, height } = await decode(image);
  const box = clampCrop(crop, width, height);
  if (model.framing) {
    const framed = framePhotoFor(cropRGBA(data, width, box), model.framing, model.size);
    if (framed.frame === null) {
      return { ...noCellResult(framed.reason), familiarity: null, crop: box, totalMs: performance.now() - started };
    }
    const result = { ...(await classifyPixels(model, rgbOf(framed.frame))), cellImage: await cellJpeg(framed.frame) };
    const totalMs = performance.now() - started;
    // A centred frame has no box: the result says why, and is "unfamiliar".
    if (framed.box === null) return { ...markCentred(result), box: null, crop: box, totalMs };
    const [x0, y0, x1, y1] = framed.box;
    return { ...result, box: [x0 + box.x, y0 + box.y, x1 + box.x, y1 + box.y], crop: box, totalMs };
  }
  const rgb = pilResize(rgbaToRgb(data, box, width), box.w, box.h, model.size, model.size, "bilinear");
  const result = await classifyPixels(model, rgb);
  const cellImage = await cellJpeg(cropRGBA(data, width, box));
  return { ...result, cellImage, crop: box, totalMs: performance.now() - started };
}

// Every white cell of a field photo, as classifier.classify.Classifier.classify_field.
async function classifyField({ key, image }) {
  const model = loaded(key);
  const started = performance.now();
  const decoded = await decode(image);
  const decodedAt = performance.now();
  if (model.redCells) {
    const { result, crops } = await classifyRedCells(model, decoded, null, started, decodedAt);
    return { ...result, field: keepFrames(crops) };
  }
  const framed = frameFieldCells(decoded, model.fieldFraming, model.size);
  const foundAt = performance.now();
  const results = await classifyMany(model, framed.map(({ frame }) => rgbOf(frame)), model.fieldDecision);
  const cells = framed.map(({ cell }, i) => ({ box: cell.box, score: cell.score, ...results[i] }));
  const done = performance.now();
  return {
    width: decoded.width,
    height: decoded.height,
    cells,
    field: keepFrames(framed.map(({ frame }) => frame)),
    decodeMs: decodedAt - started,
    findMs: foundAt - decodedAt,
    classifyMs: done - foundAt,
    totalMs: done - started,
  };
}

// Red-cell field mode (Classifier._classify_red_cells): every red cell found, or each box marked
// by hand, cut out on black in its own box, its colours moved to the training crops' when the
// model declares it (field-colour.js), resized whole like a close-up and classified by the
// field rule. Cells cut by the photo's edge come back with edge: true, never to be counted.
// Returns {result, crops}: the cells' pixels as the model saw them, for their JPEGs.
async function classifyRedCells(model, decoded, boxes, started, decodedAt) {
  const found = findRedCells(decoded);
  const foundAt = performance.now();
  const chosen = boxes === null ? found.cells : boxes.map((box) => markedCell(found, box));
  const crops = chosen.map((cell) => segmentedCrop(decoded, cell, found.factor));
  let colour = null;
  if (model.fieldFraming.colour) {
    // The photo's colours are judged on every cell found, also when a few are marked.
    const every = boxes === null ? crops : found.cells.map((cell) => segmentedCrop(decoded, cell, found.factor));
    const [tables, report] = fieldColour(every, found.cells.map((cell) => cell.edge), model.fieldFraming.colour);
    crops.forEach((crop) => standardise(crop, tables));
    colour = report;
  }
  const cells = [];
  // Each cell straight from its RGBA cut-out into its place in the model's input array of a
  // whole batch, no packed or float copies between; one array for all the batches, as the input
  // Tensor copies it when made. (A model with another input type packs its batches instead.)
  const side = model.size * model.size * 3;
  const input = model.inputDtype === "float32" ? new Float32Array(side * model.batch) : null;
  for (let start = 0; start < chosen.length; start += model.batch) {
    const batch = chosen.slice(start, start + model.batch);
    const rgbs = batch.map((_, i) => {
      const crop = crops[start + i];
      const out = input && input.subarray(i * side, (i + 1) * side);
      return pilResize(crop.data, crop.width, crop.height, model.size, model.size, "bilinear", { channels: 4, out });
    });
    if (input) input.fill(0, batch.length * side); // the last batch's rest black again
    const results = input
      ? await classifyPacked(model, input, batch.length, model.fieldDecision)
      : await classifyMany(model, rgbs, model.fieldDecision);
    batch.forEach(({ box, score, edge, clump }, i) => cells.push({ box, score, edge, clump, ...results[i] }));
  }
  const done = performance.now();
  const result = {
    width: decoded.width,
    height: decoded.height,
    cell_type: "rbc",
    diameter: found.diameter,
    cells,
    decodeMs: decodedAt - started,
    findMs: foundAt - decodedAt,
    classifyMs: done - foundAt,
    totalMs: done - started,
    ...(colour ? { colour } : {}),
  };
  return { result, crops };
}

function unload({ key }) {
  const model = models.get(key);
  if (model) model.compiled.delete();
  models.delete(key);
  return { key };
}

// A cell the technician marked by hand on a field photo: framed and classified like a found one
// (an rbc-scaled model: span red-cell diameters of this photo around the marked box; a red-cell
// model: the cell pixels the search saw inside the box, cut out on black).
async function classifyBox({ key, image, box }) {
  const model = loaded(key);
  const decoded = await decode(image);
  const [x0, y0, x1, y1] = box.map(Math.round);
  const inside = [Math.max(0, x0), Math.max(0, y0), Math.min(decoded.width, x1), Math.min(decoded.height, y1)];
  if (!(inside[2] > inside[0] && inside[3] > inside[1])) {
    throw Object.assign(new Error("The marked cell lies outside the photo."), { key: msgKey("field.outside_photo") });
  }
  if (model.redCells) {
    const now = performance.now();
    const { result, crops } = await classifyRedCells(model, decoded, [inside], now, now);
    return { ...result.cells[0], cellImage: await cellJpeg(crops[0]) };
  }
  const frame = frameMarkedCell(decoded, inside, model.fieldFraming, model.size);
  const result = await classifyPixels(model, rgbOf(frame), model.fieldDecision);
  return { box: inside, score: null, ...result, cellImage: await cellJpeg(frame) };
}

const HANDLERS = { init: startRuntime, load, classify, classifyField, cellImages, classifyBox, unload };

self.onmessage = async (event) => {
  const { id, type } = event.data;
  try {
    const handler = HANDLERS[type];
    if (!handler) throw new Error(`unknown request "${type}"`);
    self.postMessage({ id, result: await handler(event.data) });
  } catch (error) {
    // `key`: the catalogue entry of a message meant for the person (the page has the catalogue).
    const key = (error && error.key) || null;
    self.postMessage({ id, error: String(error && error.message ? error.message : error), key, params: key ? error.params || {} : null });
  }
};
