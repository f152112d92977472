"""A release adapted to one lab whose familiarity gained the lab's component
(training.site_release, `Familiarity(site=True)`) runs in the app as it runs in Python: the
phone's calls on that lab's cells (tecom's crops at twice the magnification, never among the
confirmed ones) are backend.classify's, label, confidence, status and probabilities, and they
are familiar where 2.8.0 called them `unfamiliar`."""

import pytest

from bench import pwa_driver as pwa
from classifier.classify import Classifier
from tests.conftest import SITE_SOURCE, unconfirmed_magnified_cells
from tests.pwa.test_pwa_offline import assert_same

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_phone_calls_the_lab_s_cells_as_python_does(magnified_tecom_release, tmp_path):
    from playwright.sync_api import sync_playwright

    cells = unconfirmed_magnified_cells(tmp_path / "cells", per_label=1)
    expected = [Classifier(magnified_tecom_release).classify(str(c)) for c in cells]
    before = [Classifier(SITE_SOURCE).classify(str(c))["status"] for c in cells]
    assert before.count("unfamiliar") >= 3
    assert [e["status"] for e in expected].count("unfamiliar") == 0
    pwa.ensure_pwa_built()
    server = pwa.serve(tmp_path / "server", {"wbc-differential": magnified_tecom_release}).start()
    try:
        with sync_playwright() as p:
            context, page = pwa.open_logged_in(p, server, tmp_path / "phone")
            results = pwa.classify_files(page, cells)
            assert_same(results, expected, cells)
            assert {r["model_version"] for r in results} == {"2.8.0-tecom-100x"}
            context.close()
    finally:
        server.stop()
