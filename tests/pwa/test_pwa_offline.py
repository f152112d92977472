"""Install and offline: the app is loaded and logged in once, caches itself, then classifies
real test images with the network cut (context offline AND the server stopped), giving the same
label and confidence (within 0.01) as classifier.classify on the same files."""

import pytest

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def models():
    return require_releases("wbc-differential", "malaria-screen")


@pytest.fixture
def server(models, tmp_path):
    server = pwa.serve(tmp_path, models).start()
    yield server
    server.stop()


def reference(folder, images):
    from classifier.classify import Classifier

    classifier = Classifier(folder)
    return [classifier.classify(str(image)) for image in images]


def assert_same(results, expected, images):
    for got, want, image in zip(results, expected, images, strict=True):
        assert got["label"] == want["label"], image
        assert got["confidence"] == pytest.approx(want["confidence"], abs=0.01), image
        assert got["status"] == want["status"], image
        for label, p in want["probabilities"].items():
            assert got["probabilities"][label] == pytest.approx(p, abs=0.01), (image, label)


def test_installs_then_classifies_offline_like_backend_classify(models, server, tmp_path):
    from playwright.sync_api import sync_playwright

    wbc = dataset_images("pbc", per_class=2)
    malaria = dataset_images("malaria", per_class=3)
    with sync_playwright() as p:
        context = pwa.launch(p, tmp_path / "profile")
        page = context.new_page()
        pwa.open_app(page, server.url)
        manifest = page.evaluate("fetch('/manifest.json').then(r => r.json())")
        assert manifest["display"] == "standalone" and manifest["start_url"]
        pwa.screenshot(page, "phone-360x640-first-visit")
        pwa.log_in(page)
        pwa.wait_for_models(page, len(models))
        pwa.wait_until_offline_ready(page)
        # Cross-origin isolated (the shell's COOP/COEP headers): the worker runs the model on
        # threads, and the service worker has cached that very build, so it runs offline too.
        assert page.evaluate("() => crossOriginIsolated")
        assert pwa.runtime_cached(page) == [
            "/vendor/wasm/litert_wasm_threaded_internal.js",
            "/vendor/wasm/litert_wasm_threaded_internal.wasm",
        ]

        server.stop()
        context.set_offline(True)
        page.goto(server.url + manifest["start_url"])  # how the installed app opens
        page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)

        pwa.choose_model(page, "wbc-differential")
        results = pwa.classify_files(page, wbc)
        assert_same(results, reference(models["wbc-differential"], wbc), wbc)
        assert {r["syncState"] for r in results} == {"pending"}
        assert "pending" in page.inner_text("#sync-badge")
        pwa.screenshot(page, "phone-360x640-offline-result")

        pwa.choose_model(page, "malaria-screen")
        results = pwa.classify_files(page, malaria)
        assert_same(results, reference(models["malaria-screen"], malaria), malaria)

        page.click("#tab-history")
        pwa.screenshot(page, "phone-360x640-history-offline")
        page.set_viewport_size(pwa.DESKTOP)
        page.click("#tab-classify")
        pwa.screenshot(page, "desktop-1280x800-offline-result")
        context.close()
