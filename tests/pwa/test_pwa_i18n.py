"""The PWA speaks the phone's language: with a French browser it opens in French (no English
sentence of the English catalogue on any screen), the switch in Account turns it Spanish at once,
and Spanish stays after a reload, offline too; plurals follow the language's rules; the server is
asked in the app's language (Accept-Language); class names come from the model card's
`display_names_by_language`, else the catalogue. Real Chromium, the app served by the real app."""

import json
from pathlib import Path

import pytest
from PIL import Image

from bench import pwa_driver as pwa
from tests.pwa.test_pwa_i18n_catalogues import PLURAL_CATEGORIES, REPO, catalogue

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLASS_NAMES = json.loads((REPO / "classifier" / "class_names.json").read_text("utf-8"))
SCREENS = ("view-classify", "view-slide", "view-history", "view-account")


def english_sentences(other: dict) -> list[str]:
    """English catalogue texts that a screen in another language must never show: long enough
    to be a sentence, without placeholders, and translated differently."""
    out = []
    for key, text in catalogue("en").items():
        if isinstance(text, str) and "{" not in text and len(text) >= 12 and other[key] != text:
            out.append(text)
    return out


def shown_text(page, view: str) -> str:
    page.click(f"#tab-{view.removeprefix('view-')}")
    return page.inner_text("body")


def assert_speaks(page, lang: str) -> None:
    assert page.evaluate("document.documentElement.lang") == lang
    forbidden = english_sentences(catalogue(lang))
    for view in SCREENS:
        text = shown_text(page, view)
        said = [s for s in forbidden if s in text]
        assert not said, f"{lang} {view} shows English: {said}"
        # A 360 px phone: no screen is wider than the phone in this language.
        assert page.evaluate("document.documentElement.scrollWidth") <= pwa.PHONE["width"], view
    assert page.inner_text("#tab-account") == catalogue(lang)["tab.account"]


def fr_class_names_in_table(page) -> bool:
    rows = page.locator("#slide-table tbody tr td:first-child").all_inner_texts()
    return rows[:2] == [CLASS_NAMES["fr"]["neutrophil"], CLASS_NAMES["fr"]["lymphocyte"]]


def pick(page, images: list[Path]) -> str:
    page.click("#tab-classify")
    page.set_input_files("#file-input", [str(i) for i in images])
    page.wait_for_selector("#editor:not([hidden])")
    return page.inner_text("#queue-info")


@pytest.fixture
def photos(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"cell-{i}.png"
        Image.new("RGB", (64, 64), (200, 120 + i, 150)).save(path)
        paths.append(path)
    return paths


def test_french_phone_opens_in_french_then_spanish_is_kept_across_reloads_offline(tmp_path, photos):
    from playwright.sync_api import sync_playwright

    pwa.ensure_pwa_built()
    server = pwa.serve(tmp_path, {}).start()
    asked_in = []
    try:
        with sync_playwright() as p:
            context = pwa.launch(p, tmp_path / "profile", locale="fr-FR")
            page = context.new_page()
            page.on(
                "request",
                lambda r: (
                    asked_in.append(r.headers.get("accept-language")) if "/api/" in r.url else None
                ),
            )
            pwa.open_app(page, server.url)
            assert_speaks(page, "fr")
            # With a slide: its bar, state, progress and table (classes, notes) in French too.
            pwa.start_slide(page, "S-1")
            assert_speaks(page, "fr")
            assert fr_class_names_in_table(page)
            fr = catalogue("fr")
            # Plurals by the language's rules, in the UI: 1 image left, then 2.
            one = fr["image.more_after"]["one"].format(count=1)
            assert pick(page, photos[:2]) == one
            assert pick(page, photos) == fr["image.more_after"]["other"].format(count=2)
            categories = page.evaluate(
                "(langs) => Object.fromEntries(langs.map((l) => "
                "[l, new Intl.PluralRules(l).resolvedOptions().pluralCategories.sort()]))",
                list(PLURAL_CATEGORIES),
            )
            assert {k: set(v) for k, v in categories.items()} == PLURAL_CATEGORIES
            assert asked_in and set(asked_in) == {"fr"}

            # The switch: Spanish at once, on every screen, with nothing reloaded.
            page.click("#tab-account")
            page.select_option("#language-select", "es")
            page.wait_for_function("() => document.documentElement.lang === 'es'")
            assert_speaks(page, "es")
            es = catalogue("es")
            assert pick(page, photos[:2]) == es["image.more_after"]["one"].format(count=1)
            names = page.evaluate(
                """async () => {
                    const { displayName } = await import('/js/classifier/differential.js');
                    const { classNames, language } = await import('/js/i18n.js');
                    const card = {
                        display_names: { lymphocyte: 'Lymph (card)' },
                        display_names_by_language: { es: { neutrophil: 'Neutrófilo (ficha)' } },
                    };
                    return ['neutrophil', 'lymphocyte', 'ig', 'new_class'].map(
                        (l) => displayName(l, card, language(), classNames()));
                }"""
            )
            es_names = json.loads((REPO / "classifier" / "class_names.json").read_text("utf-8"))[
                "es"
            ]
            # The card's Spanish, else the catalogue (not the card's English), else the label.
            assert names == [
                "Neutrófilo (ficha)",
                es_names["lymphocyte"],
                es_names["ig"],
                "New class",
            ]

            pwa.wait_until_offline_ready(page)
            asked_in.clear()
            page.reload()
            page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
            assert_speaks(page, "es")
            assert asked_in and set(asked_in) == {"es"}

            context.set_offline(True)
            page.reload()
            page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
            assert_speaks(page, "es")
            pwa.screenshot(page, "phone-360x640-spanish-offline")
            context.close()
    finally:
        server.stop()
