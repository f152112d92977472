// Sending the outbox: now when online, else by Background Sync (where the browser has it), the
// next `online` event or app start. What is told to the person lives here; what is sent, and
// the exactly-once bookkeeping, in data/outbox.js.
import { ApiError, OfflineError, getAuth } from "./data/api.js";
import { CANNOT_SYNC, replayOutbox } from "./data/outbox.js";
import { t } from "./i18n.js";

export class SyncController {
  constructor(app) {
    this.app = app;
    this.syncing = null;
  }

  /** Syncs now when online; otherwise (or when that fails) leaves it to Background Sync,
   * where the browser has it, and to the next `online` event or app start. */
  async requestSync() {
    const app = this.app;
    if (!app.canSync()) return;
    const ok = navigator.onLine && (await this.sync());
    if (!ok && app.registration && app.registration.sync) {
      await app.registration.sync.register("hv-outbox").catch(() => {});
    }
  }

  /** Replays the outbox once at a time. A record the server refuses is set aside (failed, with
   * why, in History) and the rest go on; offline, a lost login or a failing server keep every
   * record not yet sent pending. */
  async sync({ verbose = false } = {}) {
    const app = this.app;
    if (this.syncing) {
      // Something changed while a sync was reading the outbox: go once more after it.
      this.again = true;
      return this.syncing;
    }
    if (!app.canSync()) {
      if (verbose) app.notice.error(t(CANNOT_SYNC));
      return false;
    }
    this.syncing = (async () => {
      try {
        const summary = await replayOutbox();
        app.notice.clear("sync"); // an earlier sync error is no longer true
        if (verbose) app.notice.info(summary.synced ? t("sync.synced_n", { count: summary.synced }) : t("sync.nothing_new"));
        if (summary.failed) app.notice.error(t("sync.rejected_n", { count: summary.failed }), "sync");
        return true;
      } catch (error) {
        if (error instanceof OfflineError) {
          if (verbose) app.notice.error(error.message, "sync");
        } else if (error instanceof ApiError && error.status === 401) {
          app.state.auth = await getAuth();
          app.notice.error(t("sync.login_kept", { error: error.message }), "sync");
        } else {
          app.notice.error(t("sync.failed_later", { error: error.message }), "sync");
        }
        return false;
      } finally {
        this.syncing = null;
        if (this.again) {
          this.again = false;
          setTimeout(() => this.sync(), 0);
        }
        await app.reloadState();
        if (app.result.record) {
          const fresh = app.state.records.find((r) => r.id === app.result.record.id);
          if (fresh) app.result.show(fresh, app.model(), app.result.reason);
        }
        document.body.dataset.syncDone = String(Date.now());
      }
    })();
    app.render(); // now that this.syncing is set, the badge says "Syncing…"
    return this.syncing;
  }
}
