// The app's words in English, French, Spanish and Portuguese: one JSON catalogue per language
// (pwa/locales/, served by the app and precached by the service worker, so every language works
// offline). `t(key, params)` fills named placeholders ("{count}"); an entry that depends on a
// number is an object of CLDR plural categories chosen by Intl.PluralRules of the active
// language. The language is the one chosen on this device, else the best of the browser's
// languages, else English. Runs in the page and in the service worker (the outbox's messages).

export const LANGUAGES = ["en", "fr", "es", "pt"];
export const DEFAULT_LANGUAGE = "en";
export const LANGUAGE_NAMES = { en: "English", fr: "Français", es: "Español", pt: "Português" };
const STORAGE_KEY = "hv-language";

let active = DEFAULT_LANGUAGE;
let messages = {};
let english = {};
let plurals = new Intl.PluralRules(DEFAULT_LANGUAGE);
const listeners = new Set();

/** Marks a key held in a table (not passed to t() where it is written) for the catalogue test. */
export const msgKey = (key) => key;

/** The active language ("en", "fr", "es" or "pt"). */
export const language = () => active;

/** The best of `preferred` (e.g. navigator.languages: "fr-CA", "pt-BR") among LANGUAGES. */
export function bestLanguage(preferred = []) {
  for (const tag of preferred) {
    const base = String(tag || "").toLowerCase().split(/[-_]/)[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return DEFAULT_LANGUAGE;
}

/** The language chosen on this device, or null. */
export function savedLanguage() {
  try {
    const saved = self.localStorage && self.localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(saved) ? saved : null;
  } catch {
    return null; // storage refused (private mode): the browser's language decides
  }
}

const browserLanguages = () => (self.navigator && navigator.languages && navigator.languages.length ? navigator.languages : [self.navigator && navigator.language]);

/** The language to start in: the saved choice, else the browser's, else English. */
export const startLanguage = () => savedLanguage() || bestLanguage(browserLanguages());

/** `fetchText(url)` → the catalogue's Response (the page fetches through the service worker;
 * the service worker reads its own cache). */
async function loadCatalogue(lang, fetchCatalogue) {
  const response = await fetchCatalogue(`/locales/${lang}.json`);
  // Said in the language still active (its catalogue is loaded), English before any.
  if (!response || !response.ok) throw new Error(t("language.load_failed", { language: LANGUAGE_NAMES[lang] }));
  return response.json();
}

/**
 * Makes `lang` the active language: loads its catalogue (and English, the fallback of a missing
 * key), sets <html lang>, translates the page, remembers the choice when `save` and tells the
 * listeners. An unknown language falls back to English.
 */
export async function setLanguage(lang, { save = true, fetchCatalogue = (url) => fetch(url) } = {}) {
  const next = LANGUAGES.includes(lang) ? lang : DEFAULT_LANGUAGE;
  if (!Object.keys(english).length) english = await loadCatalogue(DEFAULT_LANGUAGE, fetchCatalogue);
  messages = next === DEFAULT_LANGUAGE ? english : await loadCatalogue(next, fetchCatalogue);
  active = next;
  plurals = new Intl.PluralRules(next);
  if (save) {
    try {
      self.localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not remembered (storage refused); the switch still works for this visit
    }
  }
  if (self.document) {
    document.documentElement.lang = next;
    translatePage(document);
  }
  for (const listener of listeners) listener(next);
  return next;
}

/** `listener(lang)` after every change of language (the controller redraws its screens). */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(params, name) ? String(params[name]) : whole));
}

/**
 * The message `key` in the active language with `params` filled in. A plural entry picks its
 * form by `params.count`; numbers are shown as the caller formatted them (the phone and the
 * dashboard print the same digits).
 */
export function t(key, params = {}) {
  let entry = Object.hasOwn(messages, key) ? messages[key] : english[key];
  if (entry === undefined) return key; // a missing key shows itself (tests/pwa/test_pwa_i18n_catalogues.py)
  if (typeof entry === "object") entry = entry[plurals.select(Number(params.count))] ?? entry.other;
  return fill(entry, params);
}

/** True when the active catalogue (or English) has `key`. */
export const hasKey = (key) => Object.hasOwn(messages, key) || Object.hasOwn(english, key);

const classNamesOf = { messages: null, table: {} }; // made again when the catalogue changes

/** The catalogue's class names ({label: name}) of the active language (every cell of a field
 * asks: made once per language). */
export function classNames() {
  if (classNamesOf.messages !== messages) {
    const table = {};
    for (const [key, value] of Object.entries(messages)) if (key.startsWith("class.")) table[key.slice(6)] = value;
    Object.assign(classNamesOf, { messages, table });
  }
  return classNamesOf.table;
}

/** Elements marked data-i18n get their text, data-i18n-aria-label / -title / -placeholder /
 * -alt their attribute, in the active language. */
export function translatePage(root) {
  // A key no catalogue has (none loaded) keeps the page's English.
  for (const el of root.querySelectorAll("[data-i18n]")) if (hasKey(el.dataset.i18n)) el.textContent = t(el.dataset.i18n);
  for (const attr of ["aria-label", "title", "placeholder", "alt", "content"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      const key = el.getAttribute(`data-i18n-${attr}`);
      if (hasKey(key)) el.setAttribute(attr, t(key));
    }
  }
}
