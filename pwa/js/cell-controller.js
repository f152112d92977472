// Single-cell mode: images taken or picked (a batch is shown one at a time), a crop square
// centred on one cell, classified by the worker, saved on the phone before it is shown as saved,
// and corrected by the person. The controller (app.js) wires the buttons here.
import { LARGE_PIXELS, checkImageSize } from "./classifier/image-header.js";
import * as db from "./data/db.js";
import { newRecord } from "./data/outbox.js";
import { t } from "./i18n.js";
import { reasonText } from "./ui/result-card.js";

const $ = (id) => document.getElementById(id);

export class CellController {
  constructor(app) {
    this.app = app;
  }

  async takeImages(files) {
    const app = this.app;
    app.queue = files;
    app.result.hide();
    await this.showNext();
  }

  async showNext() {
    const app = this.app;
    const file = app.queue.shift();
    if (!file) return;
    app.current = file;
    $("editor").hidden = false;
    this.redraw();
    try {
      const size = await checkImageSize(file); // before any decoding: a huge one would hang the phone
      if (size && size.width * size.height > LARGE_PIXELS) {
        const mpx = Math.round((size.width * size.height) / 1e6);
        app.notice.info(t("image.large", { mpx }));
      }
      await app.editor.show(file, { square: Boolean(file.fromCamera) });
    } catch (error) {
      // An unreadable file is skipped; the next one of the batch (if any) is one tap away.
      app.current = null;
      app.editor.clear();
      $("editor").hidden = !app.queue.length;
      app.render();
      throw error;
    }
    app.render();
    $("classify-btn").focus();
  }

  /** The queue's line and the next button, in the active language. */
  redraw() {
    const left = this.app.queue.length;
    $("queue-info").textContent = left ? t("image.more_after", { count: left }) : "";
    $("reset-btn").textContent = left ? t("classify.next_image") : t("classify.new_image");
  }

  async next() {
    const app = this.app;
    app.result.hide();
    app.field.hide();
    if (app.queue.length) return this.showNext();
    app.editor.clear();
    app.current = null;
    $("editor").hidden = true;
    app.render();
    $("camera-start").focus();
  }

  async classify() {
    const app = this.app;
    return app.withModel("classify-btn", t("image.take_first"), async (model) => {
      const out = await app.inference.classify(model, app.current, app.editor.crop());
      if (out.label === null) return this.noCell(out);
      const slide = app.activeSlide();
      const record = newRecord(model, out, {
        deviceId: app.deviceId,
        slideId: slide && slide.id,
        correctedLabel: null,
        thumbnail: await app.editor.thumbnail(),
        cellImage: out.cellImage || null,
        extra: { crop: out.crop },
      });
      app.result.show(record, model, out.reason || null);
      $("result").scrollIntoView({ block: "nearest" });
      try {
        await db.put("predictions", record);
      } catch (error) {
        $("result-saved").textContent = t("result.not_saved", { error: error.message });
        throw error;
      }
      app.state.records.push(record);
      app.result.showSync(record);
      document.body.dataset.lastResult = record.id;
      app.render();
      app.outbox.requestSync();
    });
  }

  /** A model trained on framed cells found nothing to frame (no white cell, or no cells at all):
   * no guess, nothing to count or save. */
  noCell(out) {
    const app = this.app;
    app.result.hide();
    app.notice.error(t("result.no_cell", { reason: reasonText(out.reason) }));
    document.body.dataset.lastNoCell = String(Date.now());
  }

  async correct(record, label) {
    const app = this.app;
    const next = await app.saveCorrection(record.id, label);
    app.result.record = next;
    app.result.show(next, app.model());
  }
}
