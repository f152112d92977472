"""The app's screens in a real Chromium: clear errors that lose nothing (no model yet, not an
image, camera denied, storage full), slides with the running differential count, a corrected
label kept beside the model's, CSV export, history filters, labels on every control, and the
screenshots at 360x640 and 1280x800 for a person to look at."""

import csv
import io

import pytest

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WHITE_CELLS = {"neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil", "ig"}


@pytest.fixture(scope="module")
def wbc():
    return require_releases("wbc-differential")["wbc-differential"]


@pytest.fixture
def browser_context(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = pwa.launch(p, tmp_path / "profile")
        yield context
        context.close()


def test_without_a_model_the_app_says_what_to_do(browser_context, tmp_path):
    server = pwa.serve(tmp_path, {}).start()  # nothing published yet
    try:
        page = browser_context.new_page()
        pwa.open_app(page, server.url)
        assert page.is_disabled("#model-select")
        assert "log in once" in page.inner_text("#model-info")
        page.set_input_files("#file-input", str(dataset_images("pbc", 1)[0]))
        assert page.is_disabled("#classify-btn")
        pwa.screenshot(page, "phone-360x640-no-model")
    finally:
        server.stop()


def test_bad_input_gets_a_clear_message_and_loses_nothing(wbc, browser_context, tmp_path):
    server = pwa.serve(tmp_path, {"wbc-differential": wbc}).start()
    try:
        page = pwa.logged_in_page(browser_context, server)
        (kept,) = pwa.classify_files(page, dataset_images("pbc", 1)[:1])

        page.set_input_files(
            "#file-input", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"}]
        )
        assert "not an image" in pwa.wait_for_notice(page, "not an image")
        jpeg = dataset_images("pbc", 1)[1].read_bytes()
        broken = {"name": "cut.jpg", "mimeType": "image/jpeg", "buffer": jpeg[:200]}
        page.set_input_files("#file-input", files=[broken])
        assert "JPEG, PNG or WebP" in pwa.wait_for_notice(page, "not an image the app can read")
        page.click("#camera-start")  # this browser has no camera at all
        assert "Pick images" in pwa.wait_for_notice(page, "No camera was found")

        # Storage full: the browser's own QuotaExceededError on the next save.
        page.evaluate(
            """() => {
                IDBObjectStore.prototype.put = function () {
                    throw new DOMException('quota', 'QuotaExceededError');
                };
            }"""
        )
        page.set_input_files("#file-input", str(dataset_images("pbc", 1)[2]))
        page.click("#classify-btn")
        assert "delete old history" in pwa.wait_for_notice(page, "storage")
        assert "NOT saved" in page.inner_text("#result-saved")
        page.reload()
        page.wait_for_function("() => document.body.dataset.ready === 'true'")
        assert [r["id"] for r in pwa.all_records(page)] == [kept["id"]]
    finally:
        server.stop()


def test_camera_denied_then_allowed_captures_and_classifies(tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.conftest import base_release

    # The synthetic camera shows a test pattern, not cells: a model fed whole images labels
    # it (a framed one would find nothing to frame), which is what this capture test needs.
    server = pwa.serve(tmp_path, {"wbc-differential": base_release()}).start()
    try:
        with sync_playwright() as p:
            # Chromium's synthetic camera (a moving test pattern): the capture path, not a cell.
            fake_camera = ["--use-fake-device-for-media-stream"]
            context = pwa.launch(p, tmp_path / "profile", extra_args=fake_camera)
            page = context.new_page()
            pwa.open_app(page, server.url)
            pwa.log_in(page)
            pwa.wait_for_models(page, 1)
            page.click("#tab-classify")
            page.click("#camera-start")  # permission not granted: denied
            assert "Pick images" in pwa.wait_for_notice(page, "Camera access was denied")
            pwa.screenshot(page, "phone-360x640-camera-denied")

            context.grant_permissions(["camera"])
            page.click("#camera-start")
            page.wait_for_function("() => document.querySelector('#camera-video').videoWidth > 0")
            pwa.screenshot(page, "phone-360x640-camera-live")
            page.click("#camera-shoot")
            page.wait_for_selector("#editor:not([hidden])")
            assert page.is_hidden("#camera")
            page.click("#classify-btn")
            page.wait_for_function("() => document.body.dataset.lastResult")
            (saved,) = pwa.all_records(page)
            assert saved["label"] in page.evaluate("window.hematovision.model().labels")
            # A camera frame is classified from its largest centred square.
            crop = saved["crop"]
            assert crop["w"] == crop["h"] > 0
            context.close()
    finally:
        server.stop()


def read_download(page, click) -> list[dict]:
    with page.expect_download() as info:
        page.click(click)
    text = open(info.value.path(), encoding="utf-8").read()
    return list(csv.DictReader(io.StringIO(text)))


def test_slide_counts_corrections_history_and_csv(wbc, browser_context, tmp_path):
    server = pwa.serve(tmp_path, {"wbc-differential": wbc}).start()
    try:
        page = pwa.logged_in_page(browser_context, server)
        page.click("#tab-slide")
        page.fill("#slide-sample", "PATIENT-0042")
        page.click("#slide-form button[type=submit]")
        images = dataset_images("pbc", 1)[:3]
        made = pwa.classify_files(page, images)
        assert {r["slide_id"] for r in made} != {None}

        labels = page.evaluate("window.hematovision.model().labels")
        new_label = next(label for label in labels if label != made[-1]["label"])
        page.select_option("#result-correct", new_label)
        page.wait_for_function(
            "([l]) => window.hematovision.result.record.corrected_label === l", arg=[new_label]
        )

        page.click("#tab-slide")
        rows = {
            tr.get_attribute("data-label"): tr.query_selector_all("td")[1].inner_text()
            for tr in page.query_selector_all("#slide-table tbody tr")
        }
        expected = {}
        for r in made[:-1]:
            label = r["label"] if r["status"] != "unfamiliar" else "unconfirmed"
            expected[label] = expected.get(label, 0) + 1
        expected[new_label] = expected.get(new_label, 0) + 1
        assert {k: int(v) for k, v in rows.items() if v != "0"} == expected
        white = sum(n for label, n in expected.items() if label in WHITE_CELLS)
        assert f"{white} of 100 white cells" in page.inner_text("#slide-progress")
        pwa.screenshot(page, "phone-360x640-slide")
        page.set_viewport_size(pwa.DESKTOP)
        pwa.screenshot(page, "desktop-1280x800-slide")
        page.set_viewport_size(pwa.PHONE)

        with page.expect_download() as counts_info, page.expect_download() as _cells:
            page.click("#slide-csv")
        counts = list(csv.DictReader(open(counts_info.value.path(), encoding="utf-8")))
        assert counts[-1]["class"] == "total" and counts[-1]["count"] == str(white)

        page.click("#tab-history")
        page.wait_for_function("() => window.hematovision.state.records.every(r => r.syncState)")
        rows = read_download(page, "#history-csv")
        assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in made)
        corrected = [r for r in rows if r["corrected_label"]]
        assert [(r["label"], r["corrected_label"]) for r in corrected] == [
            (made[-1]["label"], new_label)
        ]
        assert {r["sample_id"] for r in rows} == {"PATIENT-0042"}
        page.select_option("#filter-label", new_label)
        assert (
            page.locator("#history-list li").count()
            == sum(1 for r in made[:-1] if r["label"] == new_label) + 1
        )
        page.select_option("#filter-label", "")
        pwa.screenshot(page, "phone-360x640-history")
        page.set_viewport_size(pwa.DESKTOP)
        pwa.screenshot(page, "desktop-1280x800-history")
        page.click("#tab-classify")
        pwa.screenshot(page, "desktop-1280x800-classify")
        page.set_viewport_size({"width": 1024, "height": 768})  # a tablet in landscape
        pwa.screenshot(page, "tablet-1024x768-classify")

        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, button')]
                .filter(e => e.type !== 'file')
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                             && !e.textContent.trim())
                .map(e => e.id || e.outerHTML)"""
        )
        assert unlabelled == []
    finally:
        server.stop()
