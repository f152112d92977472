// The message line under the top bar: errors say what happened and what to do; infos fade.
export class Notice {
  constructor(root) {
    this.root = root;
    this.text = root.querySelector("#notice-text");
    root.querySelector("#notice-close").addEventListener("click", () => this.hide());
    this.timer = null;
  }

  /** `tag` names what the message is about (e.g. "sync"), so that it can be cleared once it
   * is no longer true (clear(tag)). */
  error(message, tag = null) {
    this.show(message, "error", 0, tag);
  }

  info(message, ms = 5000) {
    this.show(message, "info", ms);
  }

  clear(tag) {
    if (!this.root.hidden && this.tag === tag) this.hide();
  }

  show(message, kind, ms, tag = null) {
    clearTimeout(this.timer);
    this.tag = tag;
    this.text.textContent = message;
    this.root.dataset.kind = kind;
    this.root.setAttribute("role", kind === "error" ? "alert" : "status");
    this.root.hidden = false;
    if (ms) this.timer = setTimeout(() => this.hide(), ms);
  }

  hide() {
    this.root.hidden = true;
  }
}
