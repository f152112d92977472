// Field mode: every white cell of a whole photo (every red cell, for a red-cell model) found and
// classified by the worker, boxed in the field view, corrected, added by hand where the finder missed one, and counted on the current
// slide, each cell once (a photo saved twice is matched by its hash and the cells' places). The
// controller (app.js) wires the field view's buttons here; what a cell is saved as is
// data/outbox.js's newRecord.
import { correctionEvent, putMany } from "./data/db.js";
import { newRecord } from "./data/outbox.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

export class FieldController {
  constructor(app) {
    this.app = app;
    this.fieldPhoto = null;
  }

  /** Field mode: every white cell of the whole photo, boxed and labelled; cells of this photo
   * already counted on the current slide are marked as such (matched by photo hash and box). */
  async findAllCells() {
    const app = this.app;
    return app.withModel("field-btn", t("image.take_photo_first"), async (model) => {
      const out = await app.inference.classifyField(model, app.current);
      this.fieldPhoto = { blob: app.current, sha256: await sha256Hex(app.current), model };
      app.result.hide();
      await app.field.show(app.current, out, model.labels, model);
      this.matchCounted();
      app.field.render();
      $("field").scrollIntoView({ block: "nearest" });
      document.body.dataset.fieldMs = String(out.totalMs);
      document.body.dataset.fieldReady = String(Date.now());
      // The cells' JPEGs (what the doctor will see) follow the calls; saving waits for them. If
      // they cannot be made the technician hears it now, not at Save, and Save refuses.
      this.imagesFailed = null;
      this.cellImages = out.cellImages.then(
        (images) => {
          app.field.attachImages(out, images);
          document.body.dataset.fieldImages = String(Date.now());
        },
        (error) => {
          if (out !== app.field.result) return; // an earlier photo's: this one is not concerned
          this.imagesFailed = t("field.images_failed", { error: error.message });
          app.notice.error(this.imagesFailed);
          document.body.dataset.fieldImages = "failed";
        },
      );
    });
  }

  /** Links each shown cell to a saved record of the same photo, slide and place (the best IoU,
   * at least 0.5). */
  matchCounted() {
    const app = this.app;
    const slide = app.activeSlide();
    const slideId = slide ? slide.id : null;
    const saved = app.state.records.filter(
      (r) => r.photo_sha256 === this.fieldPhoto.sha256 && (r.slide_id || null) === slideId && r.box,
    );
    for (const cell of app.field.cells) {
      if (cell.recordId || cell.edge) continue;
      // The best match, not the first: red cells of a clump lie close enough to pass 0.5.
      let twin = null;
      let best = 0.5;
      for (const r of saved) {
        const overlap = iou(r.box, cell.box);
        if (overlap >= best && (twin === null || overlap > best) && !app.field.cells.some((c) => c.recordId === r.id)) {
          twin = r;
          best = overlap;
        }
      }
      if (twin) {
        cell.recordId = twin.id;
        cell.corrected_label = cell.corrected_label || twin.corrected_label;
      }
    }
  }

  async addFieldCell(box) {
    const app = this.app;
    const { model, blob } = this.fieldPhoto;
    app.field.addCell(await app.inference.classifyBox(model, blob, box));
  }

  async correctFieldCell(cell) {
    const app = this.app;
    if (!cell.recordId) return; // not saved yet: the correction is saved with the cell
    await app.saveCorrection(cell.recordId, cell.corrected_label);
  }

  /** Adds every cell of the photo to the current slide's count, each once: cells already saved
   * from this photo (same hash, same place) are not counted again, and a red cell cut by the
   * photo's edge never (the next photo of the slide may show it whole). */
  async saveField() {
    const app = this.app;
    await this.cellImages; // a cell is never saved without the image the model saw
    if (this.imagesFailed) throw new Error(this.imagesFailed);
    const { model, sha256 } = this.fieldPhoto;
    const slide = app.activeSlide();
    this.matchCounted();
    let added = 0;
    let already = 0;
    let edge = 0;
    for (const cell of app.field.cells) {
      if (cell.edge) {
        edge += 1;
        continue;
      }
      if (cell.recordId) {
        already += 1;
        continue;
      }
      const record = newRecord(model, cell, {
        deviceId: app.deviceId,
        slideId: slide && slide.id,
        correctedLabel: cell.corrected_label,
        thumbnail: await app.field.thumbnail(cell.box),
        cellImage: cell.cellImage || null,
        extra: { box: cell.box, photo_sha256: sha256, added_by_hand: cell.added },
      });
      // The correction travels as its own event, never inside the record.
      const entries = [["predictions", record]];
      if (cell.corrected_label) entries.push(["corrections", correctionEvent(record.id, cell.corrected_label, cell.label)]);
      await putMany(entries);
      app.state.records.push(record);
      cell.recordId = record.id;
      added += 1;
    }
    const where = slide ? t("field.to_slide", { sample: slide.sample_id }) : t("field.to_history", { why: app.noSlideReason() });
    const again = already ? ` ${t("field.already", { count: already })}` : "";
    const cut = edge ? ` ${t("field.edge_not_counted", { count: edge })}` : "";
    app.notice.info(`${t("field.added", { count: added, where })}${again}${cut}`);
    app.field.render();
    app.render();
    document.body.dataset.fieldSaved = String(Date.now());
    app.outbox.requestSync();
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
