"""Why a call is `review`, on the phone and on the dashboard: a close-up that wbc-differential
2.3.0's view check turns down (tests/pwa/test_pwa_cam.py finds them) says so on the result
card, in History and, once synced, on the doctor's result page, instead of reading as a call the
model was unsure of."""

import pytest

from bench import pwa_driver as pwa
from classifier.classify import Classifier
from tests.pwa.conftest import require_releases
from tests.pwa.test_phone_to_dashboard import sign_in
from tests.pwa.test_pwa_cam import split_by_view_check

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TURNED = "the call did not hold when the image was turned a quarter turn"


def test_a_close_up_the_view_check_turns_down_says_why_on_the_phone_and_the_dashboard(tmp_path):
    """Through the app as a technician uses it: the card, History and, once synced, the
    doctor's result page say why the call is `review`, not that the model was unsure."""
    from playwright.sync_api import sync_playwright

    releases = require_releases("wbc-differential")
    (image, *_), _ = split_by_view_check(Classifier(releases["wbc-differential"]))
    server = pwa.serve(tmp_path / "server", releases).start()
    try:
        with sync_playwright() as p:
            context, page = pwa.open_logged_in(p, server, tmp_path / "phone")
            (record,) = pwa.classify_files(page, [image])
            assert (record["status"], record["status_reason"]) == ("review", "view_check")
            card = page.text_content("#result-status")
            assert card == f"Review: {TURNED}. Have a specialist confirm this cell."
            pwa.screenshot(page, "phone-360x640-view-check-review")
            page.click("#tab-history")
            item = page.text_content(f"#history-list li[data-id='{record['id']}']")
            assert f"review: {TURNED}" in item
            pwa.sync_now(page)
            doctor = context.new_page()
            sign_in(doctor, server.url)
            doctor.goto(f"{server.url}/dashboard/results/{record['id']}")
            said = doctor.text_content(".result-card")
            assert f"Review: {TURNED}." in said and "not sure" not in said
            pwa.screenshot(doctor, "dashboard-360x640-view-check-review")
            context.close()
    finally:
        server.stop()
