// The overall sync state in the top bar: offline / n pending / n failed / all synced.
export class SyncBadge {
  constructor(button, onClick) {
    this.button = button;
    button.addEventListener("click", onClick);
  }

  render({ pending, failed, online, syncing, loggedIn, canSync = true }) {
    let state = "synced";
    let text = "All synced";
    if (!canSync) [state, text] = ["idle", pending ? `${pending} on phone · viewer, no sync` : "Viewer · no sync"];
    else if (syncing) [state, text] = ["pending", `Syncing ${pending}…`];
    else if (failed) [state, text] = ["failed", `${failed} failed`];
    else if (pending && !online) [state, text] = ["pending", `Offline · ${pending} pending`];
    else if (pending && !loggedIn) [state, text] = ["pending", `${pending} pending · log in`];
    else if (pending) [state, text] = ["pending", `${pending} pending`];
    else if (!online) [state, text] = ["idle", "Offline"];
    this.button.dataset.state = state;
    this.button.textContent = text;
    this.button.setAttribute("aria-label", `Sync state: ${text}. Open history.`);
  }
}
