// Registers the service worker and offers "Update available — reload" when a new app version
// has installed and waits; tapping Reload activates it and reloads once.
export class UpdateBanner {
  constructor(root) {
    this.root = root;
    this.waiting = null;
    root.querySelector("#update-reload").addEventListener("click", () => this.apply());
  }

  async register() {
    if (!("serviceWorker" in navigator)) return null;
    const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    if (registration.waiting && navigator.serviceWorker.controller) this.offer(registration.waiting);
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      worker.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) this.offer(worker);
      });
    });
    let reloading = false;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (this.waiting && !reloading) {
        reloading = true;
        location.reload();
      }
    });
    return registration;
  }

  offer(worker) {
    this.waiting = worker;
    this.root.hidden = false;
  }

  apply() {
    if (this.waiting) this.waiting.postMessage({ type: "skip-waiting" });
  }
}
