"""The PWA's message catalogues (pwa/locales/*.json) against the code that uses them, no browser:
every key the app uses (t("…"), msgKey("…"), a worker error's key, data-i18n* attributes) is in
all four catalogues, never empty; a plural entry has every category Intl.PluralRules of its
language uses (CLDR, as Chromium and Node 20 answer: tests/pwa/test_pwa_i18n.py checks that
table in the browser); a translation has the English placeholders; the class names are those
of classifier/class_names.json."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PWA = REPO / "pwa"
LOCALES = PWA / "locales"
LANGUAGES = ("en", "fr", "es", "pt")
# new Intl.PluralRules(lang).resolvedOptions().pluralCategories in Chromium 156 / Node 20 (ICU
# 78, CLDR 48): French, Spanish and Portuguese have "many" (a million and more, compact forms).
PLURAL_CATEGORIES = {
    "en": {"one", "other"},
    "fr": {"one", "many", "other"},
    "es": {"one", "many", "other"},
    "pt": {"one", "many", "other"},
}
USES = [
    re.compile(r'(?<![\w.])t\(\s*"([^"]+)"'),
    re.compile(r'msgKey\(\s*"([^"]+)"'),
    re.compile(r'\bkey: "([a-z_]+\.[a-z0-9_]+)"'),  # a worker error's key (shown by the page)
]
ATTRIBUTE = re.compile(r'data-i18n(?:-[a-z-]+)?="([^"]+)"')
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(lang: str) -> dict:
    return json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def used_keys() -> dict[str, str]:
    """{key: where it is used}: the app's modules and index.html (not vendor/ or node_modules/)."""
    found = {}
    for path in sorted((PWA / "js").rglob("*.js")) + [PWA / "sw.js"]:
        text = path.read_text(encoding="utf-8")
        for pattern in USES:
            for key in pattern.findall(text):
                found.setdefault(key, str(path.relative_to(REPO)))
    for key in ATTRIBUTE.findall((PWA / "index.html").read_text(encoding="utf-8")):
        found.setdefault(key, "pwa/index.html")
    return found


def forms(entry) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


def placeholders(entry) -> set[str]:
    return {name for text in forms(entry) for name in PLACEHOLDER.findall(text)}


def test_the_scan_finds_the_keys_of_every_kind_of_use():
    keys = used_keys()
    # One of each: t() in a module, msgKey() in a table, a worker error's key, an attribute.
    for key in ("sync.synced_n", "sync.cannot_sync", "field.no_red_measured", "crop.preview"):
        assert key in keys, key
    assert len(keys) > 200


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_the_app_uses_is_in_the_catalogue_and_not_empty(lang):
    messages = catalogue(lang)
    missing = {k: where for k, where in used_keys().items() if k not in messages}
    assert not missing, f"{lang}.json misses {missing}"
    empty = [k for k, entry in messages.items() if not all(f.strip() for f in forms(entry))]
    assert not empty, f"{lang}.json has empty entries {empty}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogues_have_the_same_keys_as_english(lang):
    assert set(catalogue(lang)) == set(catalogue("en"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_entries_have_exactly_the_categories_of_the_language(lang):
    english = catalogue("en")
    for key, entry in catalogue(lang).items():
        assert isinstance(entry, dict) == isinstance(english[key], dict), f"{lang}: {key} plural?"
        if isinstance(entry, dict):
            assert set(entry) == PLURAL_CATEGORIES[lang], f"{lang}: {key} has {sorted(entry)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_english_placeholders(lang):
    english = catalogue("en")
    for key, entry in catalogue(lang).items():
        assert placeholders(entry) == placeholders(english[key]), f"{lang}: {key}"
        for text in forms(entry):  # each form names only placeholders the English has
            assert set(PLACEHOLDER.findall(text)) <= placeholders(english[key]), (lang, key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_class_names_are_those_of_classifier_class_names_json(lang):
    names = json.loads((REPO / "classifier" / "class_names.json").read_text(encoding="utf-8"))
    messages = catalogue(lang)
    in_catalogue = {k[len("class.") :]: v for k, v in messages.items() if k.startswith("class.")}
    assert in_catalogue == names[lang]


def test_there_is_one_catalogue_per_language():
    assert sorted(p.stem for p in LOCALES.glob("*.json")) == sorted(LANGUAGES)
