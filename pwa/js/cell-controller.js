// Single-cell mode: images taken or picked (a batch is shown one at a time), a crop square
// centred on one cell, classified by the worker, saved on the phone before it is shown as saved,
// and corrected by the person. The controller (app.js) wires the buttons here.
import { LARGE_PIXELS, checkImageSize } from "./classifier/image-header.js";
import * as db from "./data/db.js";
import { newRecord } from "./data/outbox.js";

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
    $("queue-info").textContent = app.queue.length ? `${app.queue.length} more image(s) after this one.` : "";
    $("reset-btn").textContent = app.queue.length ? "Next image" : "New image";
    try {
      const size = await checkImageSize(file); // before any decoding: a huge one would hang the phone
      if (size && size.width * size.height > LARGE_PIXELS) {
        const mpx = Math.round((size.width * size.height) / 1e6);
        app.notice.info(`A large image (${mpx} megapixels): reading and classifying it takes a few seconds.`);
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
    return app.withModel("classify-btn", "Take or pick an image first.", async (model) => {
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
        $("result-saved").textContent = `NOT saved on this phone: ${error.message}`;
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
    app.notice.error(`Unfamiliar: ${out.reason}. Nothing was saved — centre a cell in the photo, or use “Find all cells”.`);
    document.body.dataset.lastNoCell = String(Date.now());
  }

  async correct(record, label) {
    const app = this.app;
    const next = await app.saveCorrection(record.id, label);
    app.result.record = next;
    app.result.show(next, app.model());
  }
}
