// The bottom tab bar (thumb reach on a phone); arrow keys move between tabs.
export class Tabs {
  constructor(nav, onChange) {
    this.buttons = [...nav.querySelectorAll("[role=tab]")];
    this.onChange = onChange;
    for (const button of this.buttons) button.addEventListener("click", () => this.select(button.dataset.view));
    nav.addEventListener("keydown", (event) => {
      const i = this.buttons.indexOf(document.activeElement);
      if (i < 0 || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
      const next = this.buttons[(i + (event.key === "ArrowRight" ? 1 : this.buttons.length - 1)) % this.buttons.length];
      next.focus();
      this.select(next.dataset.view);
    });
  }

  select(viewId) {
    for (const button of this.buttons) {
      const on = button.dataset.view === viewId;
      button.setAttribute("aria-selected", String(on));
      document.getElementById(button.dataset.view).hidden = !on;
    }
    this.onChange(viewId);
  }
}
