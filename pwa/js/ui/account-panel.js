// Log in / out (JWT from the backend), the language of the app, the models on this phone, and
// this device's id.
import { msgKey, t } from "../i18n.js";
import { modelTitle } from "./model-picker.js";

export class AccountPanel {
  constructor(root, { onLogin, onLogout, onUpdateModels, onLanguage }) {
    this.q = (sel) => root.querySelector(sel);
    this.q("#login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      onLogin(this.q("#login-user").value.trim(), this.q("#login-password").value);
    });
    this.q("#logout-btn").addEventListener("click", onLogout);
    this.q("#models-update").addEventListener("click", onUpdateModels);
    this.q("#language-select").addEventListener("change", (event) => onLanguage(event.target.value));
  }

  render({ auth, models, deviceId, canSync = true, language = "en" }) {
    this.q("#language-select").value = language;
    const loggedIn = Boolean(auth && auth.refresh);
    this.q("#login-form").hidden = loggedIn;
    this.q("#account-info").hidden = !loggedIn;
    if (loggedIn) {
      const sync = canSync ? "" : ` ${t("account.viewer_note")}`;
      const role = { admin: msgKey("role.admin"), technician: msgKey("role.technician"), viewer: msgKey("role.viewer") }[auth.user.role];
      const said = { user: auth.user.username, role: role ? t(role) : auth.user.role };
      this.q("#account-user").textContent = `${t("account.logged_in_as", said)}${sync}`;
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
            li.textContent = t("account.model_line", { title: modelTitle(n), version: m.version, mb: (m.size / 1e6).toFixed(2), count: m.labels.length });
            return li;
          })
        : [Object.assign(document.createElement("li"), { textContent: t("account.no_models") })]),
    );
    this.q("#device-info").textContent = t("account.device_id", { id: deviceId });
  }
}
