// The message line under the top bar: errors say what happened and what to do; infos fade.
// An info shown over a standing error gives the line back to that error when it fades, so a
// passing "models ready" cannot hide "log in again" for good.
export class Notice {
  constructor(root) {
    this.root = root;
    this.text = root.querySelector("#notice-text");
    root.querySelector("#notice-close").addEventListener("click", () => this.hide());
    this.timer = null;
    this.displaced = null; // the error an info is covering: {message, tag}
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
    if (this.displaced && this.displaced.tag === tag) this.displaced = null;
    if (!this.root.hidden && this.tag === tag) this.hide();
  }

  show(message, kind, ms, tag = null) {
    clearTimeout(this.timer);
    if (kind === "error") this.displaced = null;
    else if (!this.root.hidden && this.root.dataset.kind === "error") {
      this.displaced = { message: this.text.textContent, tag: this.tag };
    }
    this.tag = tag;
    this.text.textContent = message;
    this.root.dataset.kind = kind;
    this.root.setAttribute("role", kind === "error" ? "alert" : "status");
    this.root.hidden = false;
    if (ms) this.timer = setTimeout(() => this.fade(), ms);
  }

  fade() {
    const error = this.displaced;
    if (error) this.show(error.message, "error", 0, error.tag);
    else this.root.hidden = true;
  }

  /** Closed by the person (or cleared): nothing comes back. */
  hide() {
    this.displaced = null;
    this.root.hidden = true;
  }
}
