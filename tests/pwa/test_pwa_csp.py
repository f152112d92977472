"""The app under its Content-Security-Policy in a real Chromium: installed, logged in, a model
downloaded, cells classified in the worker (LiteRT.js WASM), the model's map of a call drawn
("Show why"), the history with its crops and a CSV export, all with no CSP violation (event or
console message, page or worker) and no uncaught error."""

import pytest

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LISTEN = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI}`);
});
"""


def test_the_app_runs_under_its_csp_without_a_violation(tmp_path):
    from playwright.sync_api import sync_playwright

    wbc = require_releases("wbc-differential")["wbc-differential"]
    server = pwa.serve(tmp_path, {"wbc-differential": wbc}).start()
    console_errors: list[str] = []
    uncaught: list[str] = []
    try:
        with sync_playwright() as p:
            context = pwa.launch(p, tmp_path / "profile")
            context.add_init_script(LISTEN)
            context.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
            context.on("weberror", lambda e: uncaught.append(str(e.error)))
            page = pwa.logged_in_page(context, server)
            policy = page.evaluate(
                "fetch('/').then((r) => r.headers.get('content-security-policy'))"
            )
            assert "'wasm-unsafe-eval'" in policy and "frame-ancestors 'none'" in policy
            pwa.wait_until_offline_ready(page)
            records = pwa.classify_files(page, dataset_images("pbc", 1)[:2])
            assert all(r["label"] for r in records)
            assert page.get_attribute("#result-image", "src").startswith("blob:")
            page.click("#result-why .why-toggle")
            page.wait_for_function(
                "() => !document.querySelector('#result-why .why-figure').hidden"
                " && !!document.querySelector('#result-why').dataset.drawn"
            )
            page.click("#tab-history")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#history-list img')].some((i) => i.complete "
                "&& i.naturalWidth > 0)",
                timeout=15_000,
            )
            with page.expect_download() as download:
                page.click("#history-csv")
            assert download.value.suggested_filename.endswith(".csv")
            violations = page.evaluate("window.__cspViolations")
            context.close()
    finally:
        server.stop()
    assert violations == []
    # LiteRT.js writes its INFO lines to stderr, which the console shows as errors
    csp = ("Content Security Policy", "Content-Security-Policy", "Refused to", "violates")
    assert [e for e in console_errors if any(word in e for word in csp)] == []
    assert uncaught == []
