"""App updates: a new app version installs in the background, the page offers "Update
available — reload", and after the reload the new version runs, the old shell cache is gone
and the models (their own cache) are still there, offline."""

import pytest

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]


SINGLE_THREAD = "/vendor/wasm/litert_wasm_internal.js"
THREADED = "/vendor/wasm/litert_wasm_threaded_internal.js"
KEEP_SINGLE_THREAD_BUILD = f"""async () => {{
    const name = (await caches.keys()).find((key) => key.startsWith('hv-runtime-'));
    await (await caches.open(name)).add('{SINGLE_THREAD}');
}}"""


def cache_names(page) -> list[str]:
    return sorted(page.evaluate("caches.keys()"))


def test_new_app_version_is_offered_then_replaces_the_old_shell(tmp_path):
    from playwright.sync_api import sync_playwright

    server = pwa.serve(tmp_path, require_releases("wbc-differential")).start()
    try:
        with sync_playwright() as p:
            context, page = pwa.open_logged_in(p, server, tmp_path / "profile")
            pwa.wait_until_offline_ready(page)
            before = cache_names(page)
            old_shell = next(n for n in before if n.startswith("hv-shell-"))
            assert "hv-models" in before and any(n.startswith("hv-runtime-") for n in before)
            assert page.is_hidden("#update-banner")
            # as an app kept it before it was cross-origin isolated: the single-thread build
            page.evaluate(KEEP_SINGLE_THREAD_BUILD)
            assert SINGLE_THREAD in pwa.runtime_cached(page)

            server.next_app_version = "nextversion1"
            page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
            page.wait_for_selector("#update-banner:not([hidden])", timeout=30_000)
            assert "Update available" in page.inner_text("#update-banner")
            pwa.screenshot(page, "phone-360x640-update-available")
            with page.expect_navigation():
                page.click("#update-reload")
            page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
            after = cache_names(page)
            assert "hv-shell-nextversion1" in after and old_shell not in after
            assert "hv-models" in after
            assert page.is_hidden("#update-banner")
            # the new version keeps only the build it runs (threaded) in the runtime cache
            assert pwa.runtime_cached(page) == [THREADED, THREADED.replace(".js", ".wasm")]

            server.stop()
            context.set_offline(True)
            page.reload()
            page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
            (result,) = pwa.classify_files(page, dataset_images("pbc", 1)[:1])
            assert result["model_name"] == "wbc-differential"
            context.close()
    finally:
        server.stop()
