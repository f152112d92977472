"""Helpers for the PWA's browser tests. Driving the app (launch, log in, classify) lives in
bench/pwa_driver.py and the server in bench/live_server.py: the benchmarks use them too."""

from pathlib import Path

import pytest

from bench.inputs import MODELS_ROOT, released_models
from bench.pwa_driver import ensure_pwa_built


def cells_added(n: int) -> str:
    """The notice's words for n cells added to a slide (English plural forms)."""
    return f"{n} cell added" if n == 1 else f"{n} cells added"


def require_releases(*names: str) -> dict[str, Path]:
    """{name: folder} of the named releases, with the app built; a missing one fails the test
    (it never skips: the browser tests are the PWA's proof)."""
    found = released_models()
    missing = set(names) - set(found)
    if missing:
        pytest.fail(f"no released {sorted(missing)} model under {MODELS_ROOT}")
    ensure_pwa_built()
    return {name: found[name] for name in names}


@pytest.fixture(scope="module")
def app_origin_page(tmp_path_factory):
    """A Chromium page on the app's origin with no app running: for importing the app's modules
    (the JS twins of classifier/) and comparing them with Python."""
    from playwright.sync_api import sync_playwright

    from bench import pwa_driver as pwa

    ensure_pwa_built()
    server = pwa.serve(tmp_path_factory.mktemp("origin"), {}).start()
    with sync_playwright() as p:
        context = pwa.launch(p, tmp_path_factory.mktemp("profile") / "p")
        page = context.new_page()
        page.goto(server.url + "/manifest.json")
        yield page
        context.close()
    server.stop()
