"""Model delivery to the phone: a new version published on the server reaches the app, is used
for the next result (offline too), and its predecessor leaves the model cache."""

from contextlib import contextmanager

import pytest

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def wbc():
    return require_releases("wbc-differential")["wbc-differential"]


def cached_model_urls(page) -> list[str]:
    return page.evaluate(
        "caches.open('hv-models').then(c => c.keys()).then(ks => ks.map(k => k.url).sort())"
    )


@contextmanager
def app_after_one_result(wbc, tmp_path):
    """The server with `wbc` published, the app open and logged in, one pbc cell classified:
    (server, context, page, image, the saved record)."""
    from playwright.sync_api import sync_playwright

    server = pwa.serve(tmp_path, {"wbc-differential": wbc}).start()
    image = dataset_images("pbc", per_class=1)[:1]
    try:
        with sync_playwright() as p:
            context, page = pwa.open_logged_in(p, server, tmp_path / "profile")
            (before,) = pwa.classify_files(page, image)
            yield server, context, page, image, before
            context.close()
    finally:
        server.stop()


def classify_offline_after_reload(server, context, page, image) -> dict:
    """The server gone, the phone offline, the app reloaded: the record of `image`."""
    server.stop()
    context.set_offline(True)
    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
    (after,) = pwa.classify_files(page, image)
    return after


def test_a_new_model_version_reaches_the_app_and_is_used(wbc, tmp_path):
    with app_after_one_result(wbc, tmp_path) as (server, context, page, image, before):
        first_version = before["model_version"]
        assert [u.split("/")[-2] for u in cached_model_urls(page)] == [first_version]

        new_version = first_version + "-r2"
        server.publish(wbc, {"version": new_version})
        page.click("#tab-account")
        page.click("#models-update")
        pwa.wait_for_notice(page, new_version)
        assert new_version in page.inner_text("#model-list")
        assert [u.split("/")[-2] for u in cached_model_urls(page)] == [new_version]

        # The browser evicted the model file: the next check downloads it again.
        page.evaluate(
            "caches.open('hv-models').then(c => c.keys()).then(ks => "
            "caches.open('hv-models').then(c => Promise.all(ks.map(k => c.delete(k)))))"
        )
        assert cached_model_urls(page) == []
        page.click("#notice-close")
        page.click("#models-update")
        pwa.wait_for_notice(page, "up to date")
        assert [u.split("/")[-2] for u in cached_model_urls(page)] == [new_version]

        after = classify_offline_after_reload(server, context, page, image)
        assert after["model_version"] == new_version
        assert after["label"] == before["label"]
        assert after["confidence"] == pytest.approx(before["confidence"], abs=1e-6)


def test_a_model_installed_by_the_previous_app_still_classifies_offline(wbc, tmp_path):
    """The app before this one stored each installed model's model.json under `meta`; after
    the update such a phone must classify with it offline, without downloading it again."""
    with app_after_one_result(wbc, tmp_path) as (server, context, page, image, before):
        renamed = page.evaluate(
            """async () => {
              const db = await import('/js/data/db.js');
              const models = await db.getSetting('models', {});
              for (const m of Object.values(models)) { m.meta = m.card; delete m.card; }
              await db.setSetting('models', models);
              return Object.values(models).map((m) => Object.keys(m).includes('meta'));
            }"""
        )
        assert renamed == [True]
        after = classify_offline_after_reload(server, context, page, image)
        assert (after["label"], after["status"]) == (before["label"], before["status"])
        assert after["confidence"] == pytest.approx(before["confidence"], abs=1e-6)
