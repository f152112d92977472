// The controller: wires the components to storage (IndexedDB), the inference worker, the model
// store, the outbox and the service worker. Every result is saved before it is shown as saved;
// nothing here ever deletes a result.
import { AccountPanel } from "./ui/account-panel.js";
import { ApiError, OfflineError, getAuth, login, logout } from "./data/api.js";
import { CapturePanel } from "./ui/capture-panel.js";
import { CropEditor } from "./ui/crop-editor.js";
import { countsCsv, downloadText, predictionsCsv } from "./data/csv.js";
import * as db from "./data/db.js";
import { FieldView } from "./ui/field-view.js";
import { HistoryPanel } from "./ui/history-panel.js";
import { InferenceClient } from "./classifier/inference-client.js";
import { ModelPicker, modelTitle } from "./ui/model-picker.js";
import { ModelStore, NoModelError } from "./data/model-store.js";
import { Notice } from "./ui/notice.js";
import { newRecord, replayOutbox, retryRecord } from "./data/outbox.js";
import { ResultCard } from "./ui/result-card.js";
import { SlidePanel } from "./ui/slide-panel.js";
import { SyncBadge } from "./ui/sync-badge.js";
import { Tabs } from "./ui/tabs.js";
import { UpdateBanner } from "./ui/update-banner.js";

const $ = (id) => document.getElementById(id);

class App {
  constructor() {
    this.notice = new Notice($("notice"));
    this.store = new ModelStore();
    this.inference = new InferenceClient();
    this.queue = [];
    this.syncing = null;
    this.state = { auth: null, models: {}, currentModel: null, slides: [], currentSlide: null, records: [] };
  }

  guard(fn) {
    return async (...args) => {
      try {
        return await fn.apply(this, args);
      } catch (error) {
        this.notice.error(error.message || String(error));
        return undefined;
      }
    };
  }

  async start() {
    this.buildComponents();
    this.updates = new UpdateBanner($("update-banner"));
    this.registration = await this.updates.register().catch((e) => {
      this.notice.error(`Offline mode could not be set up: ${e.message}`);
      return null;
    });
    // Ask the browser not to evict this origin's storage (results wait here for a network).
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
    this.deviceId = await db.getSetting("deviceId");
    if (!this.deviceId) {
      this.deviceId = crypto.randomUUID();
      await db.setSetting("deviceId", this.deviceId);
    }
    await this.reloadState();
    this.listen();
    document.body.dataset.ready = "starting";
    await this.guard(this.prepareModel)();
    document.body.dataset.ready = "true";
    this.afterConnect();
  }

  buildComponents() {
    this.tabs = new Tabs(document.querySelector(".tabs"), (view) => this.onView(view));
    this.badge = new SyncBadge($("sync-badge"), () => this.tabs.select("view-history"));
    this.picker = new ModelPicker($("model-select"), $("model-info"), this.guard(this.chooseModel));
    this.capture = new CapturePanel($("capture"), {
      onImages: this.guard(this.takeImages),
      onError: (m) => this.notice.error(m),
    });
    this.editor = new CropEditor($("editor"));
    this.result = new ResultCard($("result"), { onCorrect: this.guard(this.correct) });
    this.slidePanel = new SlidePanel($("view-slide"), {
      onCreate: this.guard(this.createSlide),
      onSelect: this.guard(this.selectSlide),
      onExport: this.guard(this.exportSlide),
    });
    this.history = new HistoryPanel($("view-history"), {
      onSyncNow: this.guard(() => this.sync({ verbose: true })),
      onExport: this.guard(this.exportHistory),
      onRetry: this.guard(async (id) => {
        await retryRecord(id);
        await this.sync({ verbose: true });
      }),
    });
    this.account = new AccountPanel($("view-account"), {
      onLogin: this.guard(this.login),
      onLogout: this.guard(this.logout),
      onUpdateModels: this.guard(() => this.updateModels({ verbose: true })),
    });
    this.field = new FieldView($("field"), {
      onCorrect: this.guard(this.correctFieldCell),
      onAdd: this.guard(this.addFieldCell),
      onSave: this.guard(this.saveField),
      onClose: () => this.field.hide(),
    });
    $("classify-btn").addEventListener("click", this.guard(this.classify));
    $("field-btn").addEventListener("click", this.guard(this.findAllCells));
    $("reset-btn").addEventListener("click", this.guard(this.next));
  }

  listen() {
    window.addEventListener("online", () => this.afterConnect());
    window.addEventListener("offline", () => this.render());
    // navigator.onLine can say "online" on a network without the server: retry now and then.
    setInterval(() => {
      const pending = this.state.records.some((r) => r.syncState === "pending");
      if (pending && navigator.onLine && document.visibilityState === "visible" && this.state.auth) {
        this.sync();
      }
    }, 60_000);
    if (navigator.serviceWorker) {
      navigator.serviceWorker.addEventListener("message", async (event) => {
        if (!event.data) return;
        if (event.data.type === "synced") await this.reloadState();
        if (event.data.type === "sync-failed") this.notice.error(`Sync failed: ${event.data.message} Your results are kept on this phone.`);
      });
    }
  }

  async reloadState() {
    const [auth, models, currentModel, slides, currentSlide, records] = await Promise.all([
      getAuth(),
      this.store.installed(),
      db.getSetting("currentModel"),
      db.getAll("slides"),
      db.getSetting("currentSlide"),
      db.getAll("predictions"),
    ]);
    Object.assign(this.state, { auth, models, currentModel, slides, currentSlide, records });
    this.render();
  }

  model() {
    const { models, currentModel } = this.state;
    return models[currentModel] || models[Object.keys(models).sort()[0]] || null;
  }

  render() {
    const { auth, models, slides, currentSlide, records } = this.state;
    const model = this.model();
    this.picker.render(models, model && model.name);
    this.account.render({ auth, models, deviceId: this.deviceId });
    const slideRecords = currentSlide ? records.filter((r) => r.slide_id === currentSlide) : [];
    const labels = model ? model.labels : [];
    this.slidePanel.render(slides, currentSlide, slideRecords, labels);
    this.history.render(records);
    this.badge.render({
      pending: records.filter((r) => r.syncState === "pending").length,
      failed: records.filter((r) => r.syncState === "failed").length,
      online: navigator.onLine,
      syncing: Boolean(this.syncing),
      loggedIn: Boolean(auth && auth.refresh),
    });
    $("classify-btn").disabled = !model || !this.editor.bitmap;
    $("field-btn").disabled = !model || !this.editor.bitmap;
  }

  onView() {
    this.render();
  }

  async prepareModel() {
    await this.inference.init();
    await this.inference.keepOnly(Object.values(this.state.models));
    const model = this.model();
    if (!model) return;
    if (!this.inference.isLoaded(model)) await this.inference.load(model, await this.store.bytes(model));
  }

  async chooseModel(name) {
    await db.setSetting("currentModel", name);
    this.state.currentModel = name;
    this.render();
    await this.prepareModel();
  }

  async afterConnect() {
    if (!navigator.onLine) return this.render();
    try {
      await this.updateModels();
    } catch (error) {
      // At start without a server the app simply works offline; other failures are told.
      if (!(error instanceof OfflineError)) this.notice.error(error.message);
    }
    if (this.state.auth && this.state.auth.refresh) await this.guard(this.sync)();
    else this.render();
  }

  async login(username, password) {
    this.state.auth = await login(username, password);
    this.notice.info(`Logged in as ${username}. Downloading models…`);
    this.render();
    await this.updateModels({ verbose: true });
    await this.sync();
  }

  async logout() {
    await logout();
    this.state.auth = null;
    this.render();
    this.notice.info("Logged out. Results stay on this phone and sync after the next login.");
  }

  async updateModels({ verbose = false } = {}) {
    const updated = await this.store.update();
    await this.reloadState();
    await this.prepareModel();
    document.body.dataset.models = Object.keys(this.state.models).length;
    if (updated.length) {
      const names = updated.map((u) => `${modelTitle(u.name)} ${u.version}`).join(", ");
      this.notice.info(`Models ready for offline use: ${names}.`);
    } else if (verbose) {
      this.notice.info("The models on this phone are up to date.");
    }
  }

  async takeImages(files) {
    this.queue = files;
    this.result.hide();
    await this.showNext();
  }

  async showNext() {
    const file = this.queue.shift();
    if (!file) return;
    this.current = file;
    $("editor").hidden = false;
    $("queue-info").textContent = this.queue.length ? `${this.queue.length} more image(s) after this one.` : "";
    $("reset-btn").textContent = this.queue.length ? "Next image" : "New image";
    try {
      await this.editor.show(file, { square: Boolean(file.fromCamera) });
    } catch (error) {
      // An unreadable file is skipped; the next one of the batch (if any) is one tap away.
      this.current = null;
      this.editor.clear();
      $("editor").hidden = !this.queue.length;
      this.render();
      throw error;
    }
    this.render();
    $("classify-btn").focus();
  }

  async next() {
    this.result.hide();
    this.field.hide();
    if (this.queue.length) return this.showNext();
    this.editor.clear();
    this.current = null;
    $("editor").hidden = true;
    this.render();
    $("camera-start").focus();
  }

  async classify() {
    const model = this.model();
    if (!model) throw new NoModelError();
    if (!this.current) throw new Error("Take or pick an image first.");
    $("classify-btn").disabled = true;
    try {
      if (!this.inference.isLoaded(model)) await this.prepareModel();
      const out = await this.inference.classify(model, this.current, this.editor.crop());
      if (out.label === null) return this.noCell(out);
      const record = newRecord(model, out, {
        deviceId: this.deviceId,
        slideId: this.state.currentSlide,
        correctedLabel: null,
        thumbnail: await this.editor.thumbnail(),
        extra: { crop: out.crop },
      });
      this.result.show(record, model.labels, out.reason || null);
      $("result").scrollIntoView({ block: "nearest" });
      try {
        await db.put("predictions", record);
      } catch (error) {
        $("result-saved").textContent = `NOT saved on this phone: ${error.message}`;
        throw error;
      }
      this.state.records.push(record);
      this.result.showSync(record);
      document.body.dataset.lastResult = record.id;
      this.render();
      this.requestSync();
    } finally {
      $("classify-btn").disabled = false;
    }
  }

  /** Field mode: every white cell of the whole photo, boxed and labelled; cells of this photo
   * already counted on the current slide are marked as such (matched by photo hash and box). */
  async findAllCells() {
    const model = this.model();
    if (!model) throw new NoModelError();
    if (!this.current) throw new Error("Take or pick a photo first.");
    $("field-btn").disabled = true;
    try {
      if (!this.inference.isLoaded(model)) await this.prepareModel();
      const out = await this.inference.classifyField(model, this.current);
      this.fieldPhoto = { blob: this.current, sha256: await sha256Hex(this.current), model };
      this.result.hide();
      await this.field.show(this.current, out, model.labels);
      this.matchCounted();
      this.field.render();
      $("field").scrollIntoView({ block: "nearest" });
      document.body.dataset.fieldMs = String(out.totalMs);
      document.body.dataset.fieldReady = String(Date.now());
    } finally {
      $("field-btn").disabled = false;
    }
  }

  /** Links each shown cell to a saved record of the same photo, slide and place (IoU >= 0.5). */
  matchCounted() {
    const slideId = this.state.currentSlide || null;
    const saved = this.state.records.filter(
      (r) => r.photo_sha256 === this.fieldPhoto.sha256 && (r.slide_id || null) === slideId && r.box,
    );
    for (const cell of this.field.cells) {
      if (cell.recordId) continue;
      const twin = saved.find((r) => iou(r.box, cell.box) >= 0.5 && !this.field.cells.some((c) => c.recordId === r.id));
      if (twin) {
        cell.recordId = twin.id;
        cell.corrected_label = cell.corrected_label || twin.corrected_label;
      }
    }
  }

  async addFieldCell(box) {
    const { model, blob } = this.fieldPhoto;
    this.field.addCell(await this.inference.classifyBox(model, blob, box));
  }

  async correctFieldCell(cell) {
    if (!cell.recordId) return; // not saved yet: the correction is saved with the cell
    const next = await db.update("predictions", cell.recordId, (r) => ({ ...r, corrected_label: cell.corrected_label }));
    const i = this.state.records.findIndex((r) => r.id === next.id);
    if (i >= 0) this.state.records[i] = next;
    this.render();
  }

  /** Adds every cell of the photo to the current slide's count, each once: cells already saved
   * from this photo (same hash, same place) are not counted again. */
  async saveField() {
    const { model, sha256 } = this.fieldPhoto;
    this.matchCounted();
    let added = 0;
    let already = 0;
    for (const cell of this.field.cells) {
      if (cell.recordId) {
        already += 1;
        continue;
      }
      const record = newRecord(model, cell, {
        deviceId: this.deviceId,
        slideId: this.state.currentSlide,
        correctedLabel: cell.corrected_label,
        thumbnail: await this.field.thumbnail(cell.box),
        extra: { box: cell.box, photo_sha256: sha256, added_by_hand: cell.added },
      });
      await db.put("predictions", record);
      this.state.records.push(record);
      cell.recordId = record.id;
      added += 1;
    }
    const slide = this.state.slides.find((s) => s.id === this.state.currentSlide);
    const where = slide ? `slide “${slide.sampleId}”` : "history (no slide chosen)";
    const again = already ? ` ${already} were already counted from this photo.` : "";
    this.notice.info(`${added} cell(s) added to ${where}.${again}`);
    this.field.render();
    this.render();
    document.body.dataset.fieldSaved = String(Date.now());
    this.requestSync();
  }

  /** A model trained on framed cells found nothing to frame (no white cell, or no cells at all):
   * no guess, nothing to count or save. */
  noCell(out) {
    this.result.hide();
    this.notice.error(`Unfamiliar: ${out.reason}. Nothing was saved — centre a cell in the photo, or use “Find all cells”.`);
    document.body.dataset.lastNoCell = String(Date.now());
  }

  async correct(record, label) {
    const next = await db.update("predictions", record.id, (r) => ({ ...r, corrected_label: label }));
    const i = this.state.records.findIndex((r) => r.id === record.id);
    if (i >= 0) this.state.records[i] = next;
    this.result.record = next;
    this.render();
  }

  /** Syncs now when online; otherwise (or when that fails) leaves it to Background Sync,
   * where the browser has it, and to the next `online` event or app start. */
  async requestSync() {
    const ok = navigator.onLine && (await this.sync());
    if (!ok && this.registration && this.registration.sync) {
      await this.registration.sync.register("hv-outbox").catch(() => {});
    }
  }

  /** Replays the outbox once at a time; failures keep every record pending. */
  async sync({ verbose = false } = {}) {
    if (this.syncing) return this.syncing;
    this.syncing = (async () => {
      this.render();
      try {
        const summary = await replayOutbox();
        if (verbose) this.notice.info(`Synced ${summary.synced} result(s).`);
        if (summary.failed) this.notice.error(`${summary.failed} result(s) were rejected by the server — see History for why.`);
        return true;
      } catch (error) {
        if (error instanceof OfflineError) {
          if (verbose) this.notice.error(error.message);
        } else if (error instanceof ApiError && error.status === 401) {
          this.state.auth = await getAuth();
          this.notice.error(`${error.message} Your results are kept on this phone.`);
        } else {
          this.notice.error(`Sync failed: ${error.message} Your results are kept on this phone and sent later.`);
        }
        return false;
      } finally {
        this.syncing = null;
        await this.reloadState();
        if (this.result.record) {
          const fresh = this.state.records.find((r) => r.id === this.result.record.id);
          if (fresh) this.result.showSync(fresh);
        }
        document.body.dataset.syncDone = String(Date.now());
      }
    })();
    return this.syncing;
  }

  async createSlide(sampleId) {
    const slide = { id: crypto.randomUUID(), sampleId, createdAt: new Date().toISOString() };
    await db.put("slides", slide);
    await this.selectSlide(slide.id);
    this.notice.info(`Slide “${sampleId}” started: new results are counted on it.`);
  }

  async selectSlide(id) {
    await db.setSetting("currentSlide", id);
    await this.reloadState();
  }

  async exportSlide() {
    const { slides, currentSlide, records } = this.state;
    const slide = slides.find((s) => s.id === currentSlide);
    if (!slide) throw new Error("Choose a slide first.");
    const model = this.model();
    const own = records.filter((r) => r.slide_id === slide.id);
    const { rows, total } = this.slidePanel.render(slides, currentSlide, own, model ? model.labels : []);
    const safe = slide.sampleId.replace(/[^\w.-]+/g, "_");
    const bySlide = Object.fromEntries(slides.map((s) => [s.id, s]));
    downloadText(`slide-${safe}-counts.csv`, countsCsv(slide.sampleId, rows, total));
    downloadText(`slide-${safe}-cells.csv`, predictionsCsv(own, bySlide));
  }

  async exportHistory(records) {
    const bySlide = Object.fromEntries(this.state.slides.map((s) => [s.id, s]));
    downloadText(`hematovision-history-${new Date().toISOString().slice(0, 10)}.csv`, predictionsCsv(records, bySlide));
  }
}

export function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const app = new App();
window.hematovision = app; // for the browser tests and the console
app.db = db;
app.start().catch((error) => app.notice.error(`The app could not start: ${error.message}`));
