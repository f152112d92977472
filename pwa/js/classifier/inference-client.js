// The page's side of the inference worker: one promise per request id.
import { hasKey, t } from "../i18n.js";

export class InferenceClient {
  constructor(url = "/vendor/inference-worker.js") {
    this.worker = new Worker(url);
    this.pending = new Map();
    this.nextId = 1;
    this.loaded = new Set();
    this.worker.onmessage = (event) => {
      const { id, result, error, key, params } = event.data;
      const waiting = this.pending.get(id);
      if (!waiting) return;
      this.pending.delete(id);
      // The worker's English where no catalogue is loaded (a page without the app).
      if (error) waiting.reject(new Error(key && hasKey(key) ? t(key, params || {}) : error));
      else waiting.resolve(result);
    };
    this.worker.onerror = (event) => {
      const error = new Error(t("inference.failed_start", { error: event.message || "?" }));
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
  }

  ask(message, transfer = []) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /** Starts the runtime: {ms, threads}. options.singleThread: no threads even where they can run. */
  init(options = {}) {
    return this.ask({ type: "init", ...options });
  }

  static keyOf(model) {
    return `${model.name}@${model.version}`;
  }

  async load(model, bytes) {
    const key = InferenceClient.keyOf(model);
    if (this.loaded.has(key)) return;
    // model.meta: what the app before this one stored for each installed model.
    await this.ask({ type: "load", key, bytes, card: model.card || model.meta }, [bytes]);
    this.loaded.add(key);
  }

  /** Frees the worker's copies of models that are no longer installed (e.g. replaced versions). */
  async keepOnly(models) {
    const keep = new Set(models.map((m) => InferenceClient.keyOf(m)));
    for (const key of [...this.loaded]) {
      if (!keep.has(key)) {
        await this.ask({ type: "unload", key });
        this.loaded.delete(key);
      }
    }
  }

  isLoaded(model) {
    return this.loaded.has(InferenceClient.keyOf(model));
  }

  classify(model, image, crop) {
    return this.ask({ type: "classify", key: InferenceClient.keyOf(model), image, crop });
  }

  /** Every cell of a field photo: {width, height, cells: [{box, label, ...}], ...Ms, cellImages}.
   * `cellImages` is a promise of each cell's JPEG (in the order of `cells`), which the worker
   * makes after answering: the calls come first. */
  async classifyField(model, image) {
    const out = await this.ask({ type: "classifyField", key: InferenceClient.keyOf(model), image });
    out.cellImages = this.ask({ type: "cellImages", field: out.field });
    return out;
  }

  /** One cell marked by hand on a field photo, box [x0, y0, x1, y1] in photo pixels. */
  classifyBox(model, image, box) {
    return this.ask({ type: "classifyBox", key: InferenceClient.keyOf(model), image, box });
  }
}
