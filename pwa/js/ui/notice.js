// The message line under the top bar: errors say what happened and what to do; infos fade.
export class Notice {
  constructor(root) {
    this.root = root;
    this.text = root.querySelector("#notice-text");
    root.querySelector("#notice-close").addEventListener("click", () => this.hide());
    this.timer = null;
  }

  error(message) {
    this.show(message, "error", 0);
  }

  info(message, ms = 5000) {
    this.show(message, "info", ms);
  }

  show(message, kind, ms) {
    clearTimeout(this.timer);
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
