// Log in / out (JWT from the backend), the models on this phone, and this device's id.
import { modelTitle } from "./model-picker.js";

export class AccountPanel {
  constructor(root, { onLogin, onLogout, onUpdateModels }) {
    this.q = (sel) => root.querySelector(sel);
    this.q("#login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      onLogin(this.q("#login-user").value.trim(), this.q("#login-password").value);
    });
    this.q("#logout-btn").addEventListener("click", onLogout);
    this.q("#models-update").addEventListener("click", onUpdateModels);
  }

  render({ auth, models, deviceId, canSync = true }) {
    const loggedIn = Boolean(auth && auth.refresh);
    this.q("#login-form").hidden = loggedIn;
    this.q("#account-info").hidden = !loggedIn;
    if (loggedIn) {
      const sync = canSync ? "" : " This account can classify on this phone but cannot sync: results stay here.";
      this.q("#account-user").textContent = `Logged in as ${auth.user.username} (${auth.user.role}).${sync}`;
      this.q("#login-password").value = "";
    } else if (auth && auth.expired) {
      this.q("#login-user").value = auth.user ? auth.user.username : "";
    }
    const names = Object.keys(models).sort();
    this.q("#model-list").replaceChildren(
      ...(names.length
        ? names.map((n) => {
            const li = document.createElement("li");
            const m = models[n];
            li.textContent = `${modelTitle(n)} ${m.version} (${(m.size / 1e6).toFixed(2)} MB, ${m.labels.length} classes)`;
            return li;
          })
        : [Object.assign(document.createElement("li"), { textContent: "None yet." })]),
    );
    this.q("#device-info").textContent = `Device id: ${deviceId}`;
  }
}
