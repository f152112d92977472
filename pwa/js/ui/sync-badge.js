// The overall sync state in the top bar: offline / n pending / n failed / all synced.
import { t } from "../i18n.js";

export class SyncBadge {
  constructor(button, onClick) {
    this.button = button;
    button.addEventListener("click", onClick);
  }

  render({ pending, failed, online, syncing, loggedIn, canSync = true }) {
    let state = "synced";
    let text = t("badge.all_synced");
    if (!canSync) [state, text] = ["idle", pending ? t("badge.viewer_on_phone", { count: pending }) : t("badge.viewer")];
    else if (syncing) [state, text] = ["pending", pending ? t("badge.syncing", { count: pending }) : t("badge.syncing_none")];
    else if (failed) [state, text] = ["failed", t("badge.failed", { count: failed })];
    else if (pending && !online) [state, text] = ["pending", t("badge.offline_pending", { count: pending })];
    else if (pending && !loggedIn) [state, text] = ["pending", t("badge.pending_login", { count: pending })];
    else if (pending) [state, text] = ["pending", t("badge.pending", { count: pending })];
    else if (!online) [state, text] = ["idle", t("badge.offline")];
    this.button.dataset.state = state;
    this.button.textContent = text;
    this.button.setAttribute("aria-label", t("badge.aria", { state: text }));
  }
}
