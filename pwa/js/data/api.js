// The backend's JSON API with JWT: tokens live in IndexedDB (the service worker syncs too), an
// expired access token is refreshed once with the refresh token, errors carry the server's
// message ({"error": {"code", "message"}}), in the app's language: every request says it
// (Accept-Language). Works in the page and in the service worker.
import { language, t } from "../i18n.js";
import { getSetting, setSetting } from "./db.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** The network is down or the server does not answer: retry later, nothing is lost. */
export class OfflineError extends Error {
  constructor() {
    super(t("api.offline"));
    this.name = "OfflineError";
  }
}

async function parseError(response) {
  let code = `http_${response.status}`;
  let message = t("api.status", { status: response.status });
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (body && body.msg) {
      message = body.msg;
    }
  } catch {
    // not JSON: keep the generic message
  }
  return new ApiError(response.status, code, message);
}

export async function getAuth() {
  return getSetting("auth", null);
}

/** The server words its messages (a refused record's reason, a login error) in the app's
 * language, not the browser's. */
export const languageHeaders = () => ({ "Accept-Language": language() });

async function send(path, { method = "GET", body, token, headers = {} } = {}) {
  const init = { method, headers: { ...languageHeaders(), ...headers }, cache: "no-store" };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw new OfflineError();
  }
}

export async function login(username, password) {
  const response = await send("/api/auth/login", { method: "POST", body: { username, password } });
  if (response.status === 401) throw new ApiError(401, "bad_credentials", t("api.bad_credentials"));
  if (!response.ok) throw await parseError(response);
  const data = await response.json();
  const auth = { access: data.access_token, refresh: data.refresh_token, user: data.user };
  await setSetting("auth", auth);
  return auth;
}

export async function logout() {
  const auth = await getAuth();
  await setSetting("auth", null);
  if (!auth) return;
  // Revoke both tokens; being offline must not keep the user logged in on this phone.
  for (const token of [auth.access, auth.refresh]) {
    try {
      await send("/api/auth/logout", { method: "POST", token });
    } catch {
      // offline: the tokens are forgotten here and expire on their own
    }
  }
}

async function refreshAccess(auth) {
  const response = await send("/api/auth/refresh", { method: "POST", token: auth.refresh });
  if (!response.ok) {
    // The server rotates refresh tokens: the page and the service worker may both have tried
    // the same one, and the other may have stored the new one meanwhile.
    const now = await getAuth();
    if (now && now.refresh && now.refresh !== auth.refresh && !now.expired) return now;
    await setSetting("auth", { ...auth, access: null, refresh: null, expired: true });
    throw new ApiError(401, "login_expired", t("api.login_expired"));
  }
  const data = await response.json();
  // The used refresh token is spent; a server from before rotation sends none, keep the old.
  const next = { ...auth, access: data.access_token, refresh: data.refresh_token || auth.refresh };
  await setSetting("auth", next);
  return next;
}

/** An authenticated request; refreshes the access token once on 401. Returns the Response. */
export async function authFetch(path, options = {}) {
  let auth = await getAuth();
  if (auth && auth.expired) throw new ApiError(401, "login_expired", t("api.login_expired"));
  if (!auth || !auth.refresh) throw new ApiError(401, "not_logged_in", t("api.not_logged_in"));
  let response = await send(path, { ...options, token: auth.access });
  if (response.status === 401) {
    auth = await refreshAccess(auth);
    response = await send(path, { ...options, token: auth.access });
  }
  return response;
}

export async function authJson(path, options = {}) {
  const response = await authFetch(path, options);
  if (!response.ok) throw await parseError(response);
  return response.json();
}

export { parseError };
