// The controller: wires the components (ui/) to storage (data/: IndexedDB, the model store, the
// outbox), the inference worker (classifier/) and the service worker. The two ways to classify
// live beside it, single-cell mode (cell-controller.js) and field mode (field-controller.js), and
// so does sending the outbox (sync-controller.js). Every result is saved before it is shown as
// saved; nothing here ever deletes a result.
import { CellController } from "./cell-controller.js";
import { InferenceClient } from "./classifier/inference-client.js";
import { OfflineError, getAuth, login, logout } from "./data/api.js";
import { countsCsv, downloadText, predictionsCsv } from "./data/csv.js";
import * as db from "./data/db.js";
import { ModelStore, NoModelError } from "./data/model-store.js";
import { CANNOT_SYNC, fetchSyncSettings, retryRecord } from "./data/outbox.js";
import { STALE_REASON, activeSlide, changeState, newSlide, slideView, staleSlides } from "./data/slides.js";
import { FieldController } from "./field-controller.js";
import { language, msgKey, onLanguageChange, setLanguage, startLanguage, t } from "./i18n.js";
import { SyncController } from "./sync-controller.js";
import { AccountPanel } from "./ui/account-panel.js";
import { CapturePanel } from "./ui/capture-panel.js";
import { CropEditor } from "./ui/crop-editor.js";
import { FieldView } from "./ui/field-view.js";
import { HistoryPanel } from "./ui/history-panel.js";
import { ModelPicker, modelTitle } from "./ui/model-picker.js";
import { Notice } from "./ui/notice.js";
import { ResultCard } from "./ui/result-card.js";
import { SlideBar } from "./ui/slide-bar.js";
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
    this.current = null; // the image (Blob) on screen, for both modes
    this.cellMode = new CellController(this);
    this.fieldMode = new FieldController(this);
    this.outbox = new SyncController(this);
    this.state = {
      auth: null,
      models: {},
      currentModel: null,
      slides: [],
      currentSlide: null,
      records: [],
      pendingOther: 0, // corrections and slide changes not sent yet
      refused: [], // correction events the server refused (shown under their record in History)
      syncSettings: null,
    };
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
    await this.startLanguage();
    this.buildComponents();
    this.updates = new UpdateBanner($("update-banner"));
    this.registration = await this.updates.register().catch((e) => {
      this.notice.error(t("app.offline_setup_failed", { error: e.message }));
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
    await this.pauseStaleSlides();
    this.listen();
    document.body.dataset.ready = "starting";
    await this.guard(this.prepareModel)();
    document.body.dataset.ready = "true";
    this.afterConnect();
  }

  /** The saved language, else the browser's best, else English; a catalogue that cannot be
   * loaded leaves the app in English rather than stopping it. The choice is mirrored into
   * IndexedDB, where the service worker (Background Sync) reads it. */
  async startLanguage() {
    try {
      await setLanguage(startLanguage(), { save: false });
    } catch (error) {
      console.error(error);
    }
    db.setSetting("language", language()).catch(() => {});
    onLanguageChange((lang) => {
      db.setSetting("language", lang).catch(() => {});
      this.redraw();
    });
  }

  /** Everything drawn by code, again in the active language (the page's own text is
   * translated by i18n.js). */
  redraw() {
    this.render();
    this.slidePanel.offerTargets();
    this.cellMode.redraw();
    if (this.result.record && !$("result").hidden) this.result.show(this.result.record, this.model(), this.result.reason);
    if (!$("field").hidden && this.field.bitmap) {
      this.field.renderLegend();
      this.field.render();
    }
  }

  buildComponents() {
    this.tabs = new Tabs(document.querySelector(".tabs"), (view) => this.onView(view));
    this.badge = new SyncBadge($("sync-badge"), () => this.tabs.select("view-history"));
    this.picker = new ModelPicker($("model-select"), $("model-info"), this.guard(this.chooseModel));
    this.capture = new CapturePanel($("capture"), {
      onImages: this.guard((files) => this.cellMode.takeImages(files)),
      onError: (m) => this.notice.error(m),
    });
    this.editor = new CropEditor($("editor"));
    this.slideBar = new SlideBar($("slide-bar"), () => this.tabs.select("view-slide"));
    this.result = new ResultCard($("result"), {
      onCorrect: this.guard((record, label) => this.cellMode.correct(record, label)),
    });
    this.slidePanel = new SlidePanel($("view-slide"), {
      onCreate: this.guard(this.createSlide),
      onSelect: this.guard(this.selectSlide),
      onState: this.guard(this.setSlideState),
      onExport: this.guard(this.exportSlide),
    });
    this.history = new HistoryPanel($("view-history"), {
      onSyncNow: this.guard(() => this.outbox.sync({ verbose: true })),
      onExport: this.guard(this.exportHistory),
      onRetry: this.guard(async (id) => {
        await retryRecord(id);
        await this.outbox.sync({ verbose: true });
      }),
    });
    this.account = new AccountPanel($("view-account"), {
      onLogin: this.guard(this.login),
      onLogout: this.guard(this.logout),
      onUpdateModels: this.guard(() => this.updateModels({ verbose: true })),
      // A catalogue that cannot be read leaves the app as it was, the menu included.
      onLanguage: this.guard((lang) => setLanguage(lang).finally(() => this.render())),
    });
    this.field = new FieldView($("field"), {
      onCorrect: this.guard((cell) => this.fieldMode.correctFieldCell(cell)),
      onAdd: this.guard((box) => this.fieldMode.addFieldCell(box)),
      onSave: this.guard(() => this.fieldMode.saveField()),
      onClose: () => this.field.hide(),
    });
    $("classify-btn").addEventListener("click", this.guard(() => this.cellMode.classify()));
    $("field-btn").addEventListener("click", this.guard(() => this.fieldMode.findAllCells()));
    $("reset-btn").addEventListener("click", this.guard(() => this.cellMode.next()));
  }

  listen() {
    window.addEventListener("online", () => this.afterConnect());
    window.addEventListener("offline", () => this.render());
    // navigator.onLine can say "online" on a network without the server: retry now and then.
    setInterval(() => {
      const pending = this.state.pendingOther || this.state.records.some((r) => r.syncState === "pending");
      if (pending && navigator.onLine && document.visibilityState === "visible" && this.state.auth) {
        this.outbox.sync();
      }
    }, 60_000);
    if (navigator.serviceWorker) {
      navigator.serviceWorker.addEventListener("message", async (event) => {
        if (!event.data) return;
        if (event.data.type === "synced") {
          this.notice.clear("sync");
          await this.reloadState();
        }
        if (event.data.type === "sync-failed") this.notice.error(t("sync.failed_kept", { error: event.data.message }), "sync");
      });
    }
  }

  async reloadState() {
    const [auth, models, currentModel, slides, currentSlide, records, corrections, refused, syncSettings] = await Promise.all([
      getAuth(),
      this.store.installed(),
      db.getSetting("currentModel"),
      db.getAll("slides"),
      db.getSetting("currentSlide"),
      db.getAll("predictions"),
      db.getAllByIndex("corrections", "syncState", "pending"),
      db.getAllByIndex("corrections", "syncState", "failed"),
      db.getSetting("syncSettings"),
    ]);
    // Corrections and slide changes wait in the outbox too: "All synced" means all of it.
    const pendingOther = corrections.length + slides.filter((s) => s.syncState === "pending").length;
    Object.assign(this.state, { auth, models, currentModel, slides, currentSlide, records, pendingOther, refused, syncSettings });
    this.render();
  }

  model() {
    const { models, currentModel } = this.state;
    return models[currentModel] || models[Object.keys(models).sort()[0]] || null;
  }

  /** The slide new results join (the chosen one while it is open), or null. */
  activeSlide() {
    return activeSlide(this.state.slides, this.state.currentSlide);
  }

  /** Why a new result joins no slide, in words. */
  noSlideReason() {
    const chosen = slideView(this.state.slides.find((s) => s.id === this.state.currentSlide));
    if (!chosen) return t("slide.no_slide_chosen");
    const state = { open: msgKey("slide.is_open"), paused: msgKey("slide.is_paused"), finished: msgKey("slide.is_finished") };
    return t(state[chosen.state], { sample: chosen.sample_id });
  }

  /** Can this login send results? A viewer can classify on the phone but never sync. */
  canSync() {
    const { auth, syncSettings } = this.state;
    if (!auth || !auth.refresh) return true; // not known yet: told at login
    if (syncSettings && syncSettings.username === auth.user.username && syncSettings.can_sync === false) return false;
    return auth.user.role !== "viewer";
  }

  render() {
    const { auth, models, slides, currentSlide, records } = this.state;
    const model = this.model();
    this.picker.render(models, model && model.name);
    this.account.render({ auth, models, deviceId: this.deviceId, canSync: this.canSync(), language: language() });
    const chosen = slideView(slides.find((s) => s.id === currentSlide));
    const slideRecords = chosen ? records.filter((r) => r.slide_id === chosen.id) : [];
    this.slidePanel.render(slides, chosen, slideRecords, model);
    this.slideBar.render(chosen, slideRecords, this.canSync() ? null : t(CANNOT_SYNC));
    this.history.render(records, model, this.state.refused);
    this.badge.render({
      pending: records.filter((r) => r.syncState === "pending").length + this.state.pendingOther,
      failed: records.filter((r) => r.syncState === "failed").length + this.state.refused.length,
      online: navigator.onLine,
      syncing: Boolean(this.outbox.syncing),
      loggedIn: Boolean(auth && auth.refresh),
      canSync: this.canSync(),
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

  /** Runs `work(model)` with the chosen model loaded into the worker and `buttonId` disabled
   * meanwhile; refuses at once without a model or without a photo (`noPhoto` says what to do). */
  async withModel(buttonId, noPhoto, work) {
    const model = this.model();
    if (!model) throw new NoModelError();
    if (!this.current) throw new Error(noPhoto);
    $(buttonId).disabled = true;
    try {
      if (!this.inference.isLoaded(model)) await this.prepareModel();
      return await work(model);
    } finally {
      $(buttonId).disabled = false;
    }
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
    if (this.state.auth && this.state.auth.refresh && this.canSync()) await this.guard(() => this.outbox.sync())();
    else this.render();
  }

  async login(username, password) {
    this.state.auth = await login(username, password);
    await this.learnSyncSettings();
    this.notice.info(t("account.logged_in_downloading", { user: username }));
    this.render();
    await this.updateModels({ verbose: true });
    // Said now, before the first result, not after a failed sync.
    if (!this.canSync()) this.notice.error(t("account.logged_in_viewer", { user: username, why: t(CANNOT_SYNC) }));
    else await this.outbox.sync();
  }

  /** GET /api/sync/settings (can this login sync? are cell images wanted?), kept for offline. */
  async learnSyncSettings() {
    try {
      this.state.syncSettings = await fetchSyncSettings();
    } catch {
      // an older server or no network: the role from the login answer decides (canSync)
    }
  }

  async logout() {
    await logout();
    this.state.auth = null;
    this.render();
    this.notice.info(t("account.logged_out"));
  }

  async updateModels({ verbose = false } = {}) {
    const updated = await this.store.update();
    await this.reloadState();
    await this.prepareModel();
    document.body.dataset.models = Object.keys(this.state.models).length;
    if (updated.length) {
      const names = updated.map((u) => `${modelTitle(u.name)} ${u.version}`).join(", ");
      this.notice.info(t("models.ready", { names }));
    } else if (verbose) {
      this.notice.info(t("models.up_to_date"));
    }
  }

  async createSlide(fields) {
    const slide = newSlide(fields, this.deviceId);
    await db.put("slides", slide);
    await this.selectSlide(slide.id);
    this.notice.info(t("slide.started", { sample: slide.sample_id }));
    this.outbox.requestSync();
  }

  async setSlideState(state) {
    const slide = this.state.slides.find((s) => s.id === this.state.currentSlide);
    if (!slide) throw new Error(t("slide.choose_first"));
    const auth = this.state.auth;
    const next = await changeState(slide, state, auth && auth.user ? auth.user.username : null);
    await this.reloadState();
    const words = { paused: msgKey("slide.now_paused"), open: msgKey("slide.now_open"), finished: msgKey("slide.now_finished") };
    this.notice.info(t(words[state], { sample: next.sample_id }));
    this.outbox.requestSync();
  }

  /** At start: a slide left open with no activity for more than 8 hours is paused, so that a
   * new day's images never join yesterday's patient by accident. */
  async pauseStaleSlides() {
    const stale = staleSlides(this.state.slides, this.state.records);
    if (!stale.length) return;
    // The reason is kept as a key: it is shown in the language of the moment.
    for (const slide of stale) await changeState(slide, "paused", null, STALE_REASON);
    await this.reloadState();
    const names = stale.map((s) => `“${s.sample_id}”`).join(", ");
    this.notice.error(t("slide.stale_paused", { count: stale.length, names }));
  }

  /** The technician's label for a record: kept on the record (for this phone's count) and sent
   * as its own correction event (the record itself is never changed on the server). */
  async saveCorrection(id, label) {
    const current = await db.get("predictions", id);
    const previous = current.corrected_label || current.label;
    const next = { ...current, corrected_label: label || null, corrected_at: new Date().toISOString() };
    await db.putMany([
      ["predictions", next],
      ["corrections", db.correctionEvent(id, label, previous, next.corrected_at)],
    ]);
    const i = this.state.records.findIndex((r) => r.id === id);
    if (i >= 0) this.state.records[i] = next;
    this.state.pendingOther += 1;
    this.render();
    this.outbox.requestSync();
    return next;
  }

  async selectSlide(id) {
    await db.setSetting("currentSlide", id);
    await this.reloadState();
  }

  async exportSlide() {
    const { slides, currentSlide, records } = this.state;
    const slide = slides.find((s) => s.id === currentSlide);
    if (!slide) throw new Error(t("slide.choose_first"));
    const model = this.model();
    const view = slideView(slide);
    const own = records.filter((r) => r.slide_id === slide.id);
    const counts = this.slidePanel.render(slides, view, own, model);
    const safe = view.sample_id.replace(/[^\w.-]+/g, "_");
    const bySlide = Object.fromEntries(slides.map((s) => [s.id, slideView(s)]));
    downloadText(`slide-${safe}-counts.csv`, countsCsv(view.sample_id, counts));
    downloadText(`slide-${safe}-cells.csv`, predictionsCsv(own, bySlide));
  }

  async exportHistory(records) {
    const bySlide = Object.fromEntries(this.state.slides.map((s) => [s.id, slideView(s)]));
    downloadText(`hematovision-history-${new Date().toISOString().slice(0, 10)}.csv`, predictionsCsv(records, bySlide));
  }
}

const app = new App();
window.hematovision = app; // for the browser tests and the console
app.db = db;
app.start().catch((error) => app.notice.error(t("app.start_failed", { error: error.message })));
