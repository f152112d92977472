"""The outbox: results made offline reach the server exactly once when the network comes back,
also when the page is reloaded while a sync request is in flight (the server committed, the
phone never saw the answer); rejected syncs keep every record on the phone with the reason;
a record the server refuses never stops the records behind it."""

import pytest

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALL_SYNCED = "() => document.querySelector('#sync-badge').dataset.state === 'synced'"


@pytest.fixture(scope="module")
def models():
    return require_releases("wbc-differential")


@pytest.fixture
def server(models, tmp_path):
    server = pwa.serve(tmp_path, models).start()
    yield server
    server.stop()


@pytest.fixture
def page(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context, page = pwa.open_logged_in(p, server, tmp_path / "profile")
        pwa.wait_until_offline_ready(page)
        yield page
        context.close()


def go_offline(page, server):
    server.stop()
    page.context.set_offline(True)


def go_online(page, server):
    server.start()
    page.context.set_offline(False)


def test_offline_results_reach_the_server_exactly_once_even_after_a_reload_mid_sync(page, server):
    images = dataset_images("pbc", per_class=1)
    go_offline(page, server)
    first = pwa.classify_files(page, images[:3])
    assert [r["syncState"] for r in first] == ["pending"] * 3
    assert "pending" in page.inner_text("#sync-badge")

    go_online(page, server)  # the `online` event replays the outbox
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    stored = server.predictions([r["id"] for r in first])
    assert sorted(p["id"] for p in stored) == sorted(r["id"] for r in first)
    by_id = {p["id"]: p for p in stored}
    for r in first:
        assert by_id[r["id"]]["label"] == r["label"]
        assert by_id[r["id"]]["confidence"] == pytest.approx(r["confidence"])

    go_offline(page, server)
    second = pwa.classify_files(page, images[3:5])
    server.hold_sync_response = 3.0  # commit, then keep the answer back while the page reloads
    go_online(page, server)
    assert server.sync_held.wait(30)
    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
    page.wait_for_function(ALL_SYNCED, timeout=30_000)

    ids = [r["id"] for r in first + second]
    stored = server.predictions()
    assert sorted(p["id"] for p in stored) == sorted(ids)  # each once, none lost, none extra
    assert {r["syncState"] for r in pwa.all_records(page)} == {"synced"}
    pwa.screenshot(page, "phone-360x640-all-synced")


# Starts a sync and reads the badge in the same turn, while the sync runs.
BADGE_WHILE_SYNCING = """() => { window.hematovision.outbox.sync();
    return document.querySelector('#sync-badge').textContent; }"""


def test_the_badge_says_syncing_as_soon_as_a_sync_starts(page, server):
    """With the records it is sending counted; a sync with nothing to send (it still fetches
    the doctor's reviews) says "Syncing…", never "Syncing 0…"."""
    go_offline(page, server)
    pwa.classify_files(page, dataset_images("pbc", per_class=1)[:2])
    assert page.evaluate(BADGE_WHILE_SYNCING) == "Syncing 2…"
    go_online(page, server)
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    assert page.evaluate(BADGE_WHILE_SYNCING) == "Syncing…"
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    assert page.inner_text("#sync-badge") == "All synced"


def test_a_lost_sync_answer_is_retried_without_duplicates(page, server):
    image = dataset_images("pbc", per_class=1)[:1]
    server.lose_sync_response = True  # the server commits, the phone gets a 502
    # Every message shown, kept: a retry (Background Sync) may clear the error at once.
    page.evaluate(
        """() => {
            const notice = window.hematovision.notice, show = notice.show.bind(notice);
            window.shown = [];
            notice.show = (message, ...rest) => {
                window.shown.push(message);
                show(message, ...rest);
            };
        }"""
    )
    (made,) = pwa.classify_files(page, image)
    page.wait_for_function(
        "() => window.shown.some(m => m.startsWith('Sync failed'))", timeout=15_000
    )
    failed = page.evaluate("window.shown.find(m => m.startsWith('Sync failed'))")
    assert "kept on this phone" in failed

    page.click("#tab-history")
    page.click("#sync-now")  # (Background Sync may have retried already; either way:)
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    assert server.sync_requests >= 2
    assert [p["id"] for p in server.predictions()] == [made["id"]]
    # The error said "Sync failed"; after a good sync it is no longer true, so it is gone.
    page.wait_for_function("() => document.querySelector('#notice').hidden", timeout=10_000)


def test_a_viewer_is_told_before_classifying_that_results_will_not_sync(page, server):
    page.click("#tab-account")
    page.click("#logout-btn")
    pwa.log_in(page, "viewer")
    assert "viewer" in pwa.wait_for_notice(page, "cannot sync")
    page.click("#tab-classify")
    assert "cannot sync" in page.inner_text("#sync-warning")  # before any result
    before = server.sync_requests
    (made,) = pwa.classify_files(page, dataset_images("pbc", 1)[:1])
    assert made["syncState"] == "pending"
    page.click("#tab-history")
    page.click("#notice-close")
    page.click("#sync-now")
    assert "viewer" in pwa.wait_for_notice(page, "cannot sync")
    assert server.sync_requests == before and server.predictions() == []
    assert "no sync" in page.inner_text("#sync-badge")
    pwa.screenshot(page, "phone-360x640-viewer")


def test_a_record_the_server_rejects_is_kept_marked_failed_with_the_reason(page, server):
    images = dataset_images("pbc", per_class=1)[:2]
    go_offline(page, server)
    made = pwa.classify_files(page, images)
    # Another phone already synced the first id with other content: the server keeps its own.
    clash = {k: made[0][k] for k in ("id", "model_name", "model_version", "confidence")}
    clash.update(
        label="other",
        status="review",
        probabilities={"other": 1.0},
        captured_at=made[0]["captured_at"],
        device_id="another-phone",
    )
    assert server.push_as("tech2", [clash])[0]["status"] == "created"
    go_online(page, server)
    page.click("#tab-history")
    page.wait_for_function(
        "() => document.querySelector('#sync-badge').dataset.state === 'failed'", timeout=30_000
    )
    states = {r["id"]: r for r in pwa.all_records(page)}
    assert states[made[0]["id"]]["syncState"] == "failed"
    assert "another account" in states[made[0]["id"]]["syncError"]
    assert states[made[1]["id"]]["syncState"] == "synced"
    item = page.locator(f"#history-list li[data-id='{made[0]['id']}']")
    assert "another account" in item.inner_text()
    assert item.locator("button").count() == 0  # retrying a conflict cannot help
    pwa.screenshot(page, "phone-360x640-sync-rejected")


BADGE_SAYS = "(text) => document.querySelector('#sync-badge').textContent === text"


def test_records_the_server_refuses_are_set_aside_and_the_rest_keep_syncing(page, server):
    """Issue 14: the outbox sends oldest first and used to stop at the first batch that was not
    a 200, so one record could block everything a phone ever synced. Here one record is
    `invalid` (a date the server cannot hold), one makes the whole request fail with a 500 and
    one with a 413: each is set aside in History with the server's reason, the others sync."""
    go_offline(page, server)
    made = pwa.classify_files(page, dataset_images("pbc", per_class=1)[:5])
    ancient = dict(made[0], id="0d1b2c3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    ancient["captured_at"] = "0001-01-01T00:00:00+01:00"  # sorted first: the old server's 500
    page.evaluate(
        """async (record) => {
            const {thumbnail} = await window.hematovision.db.get('predictions', record.id_of);
            delete record.id_of;
            await window.hematovision.db.put('predictions', {...record, thumbnail});
        }""",
        {**ancient, "id_of": made[0]["id"], "cell_image": None},
    )
    fails_500, refused_413 = made[1]["id"], made[3]["id"]

    def refuse(body):
        ids = {r.get("id") for r in body.get("predictions", [])}
        return 500 if fails_500 in ids else 413 if refused_413 in ids else None

    server.refuse_sync = refuse
    go_online(page, server)
    page.click("#tab-history")
    page.wait_for_function(BADGE_SAYS, arg="3 failed", timeout=30_000)
    states = {r["id"]: r for r in pwa.all_records(page)}
    synced = [made[i]["id"] for i in (0, 2, 4)]
    assert [states[i]["syncState"] for i in synced] == ["synced"] * 3
    assert sorted(p["id"] for p in server.predictions()) == sorted(synced)
    failed = {i: states[i]["syncError"] for i in (ancient["id"], fails_500, refused_413)}
    assert {states[i]["syncState"] for i in failed} == {"failed"}
    assert "'captured_at' is out of range" in failed[ancient["id"]]
    assert "(500): Refused with 500" in failed[fails_500]
    assert "(413): Refused with 413" in failed[refused_413]
    assert "pending" not in {r["syncState"] for r in states.values()}
    for record_id, why in failed.items():
        item = page.locator(f"#history-list li[data-id='{record_id}']")
        assert why in item.inner_text() and item.locator("button", has_text="Retry").count() == 1
    pwa.screenshot(page, "phone-360x640-records-set-aside")

    server.refuse_sync = None  # the server is fixed: Retry sends the refused ones again
    page.locator(f"#history-list li[data-id='{fails_500}'] button").click()
    page.wait_for_function(BADGE_SAYS, arg="2 failed", timeout=30_000)
    assert fails_500 in {p["id"] for p in server.predictions()}
    assert pwa.record(page, fails_500)["syncState"] == "synced"


def test_a_correction_the_server_refuses_is_shown_under_its_record(page, server):
    """A correction event the server answers `invalid` (a class the model does not have) is
    set aside visibly, under its record in History, counted in the badge, and can be retried."""
    (made,) = pwa.classify_files(page, dataset_images("pbc", per_class=1)[:1])
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    page.evaluate(
        """async (id) => {
            const { correctionEvent, put } = window.hematovision.db;
            await put('corrections', correctionEvent(id, 'band_cell', null));
        }""",
        made["id"],
    )
    page.click("#tab-history")
    page.click("#sync-now")
    page.wait_for_function(BADGE_SAYS, arg="1 failed", timeout=30_000)
    item = page.locator(f"#history-list li[data-id='{made['id']}']")
    text = item.inner_text()
    assert "The server did not take your correction to Band cell" in text
    assert "'label'" in text and item.locator("button", has_text="Retry").count() == 1
    (event,) = page.evaluate("window.hematovision.db.getAll('corrections')")
    assert event["syncState"] == "failed"
    assert server.predictions([made["id"]])[0]["correction"] is None  # nothing half-applied

    # In French the server says why in French, and a correction of a record the server does
    # not have yet still waits: the phone knows it by the result's code, not by English words.
    page.click("#tab-account")
    page.select_option("#language-select", "fr")
    page.wait_for_function("() => document.documentElement.lang === 'fr'")
    waiting = page.evaluate(
        """async () => {
            const { correctionEvent, put } = window.hematovision.db;
            const event = correctionEvent(crypto.randomUUID(), 'monocyte', null);
            await put('corrections', event);
            return event.id;
        }"""
    )
    before = page.evaluate("document.body.dataset.syncDone || ''")
    page.click("#tab-history")
    item.locator("button").click()  # Retry: the refused correction and the waiting one are sent
    page.wait_for_function(
        "([b]) => (document.body.dataset.syncDone || '') !== b", arg=[before], timeout=30_000
    )
    events = {e["id"]: e for e in page.evaluate("window.hematovision.db.getAll('corrections')")}
    assert events[event["id"]]["syncState"] == "failed"
    assert "« label » 'band_cell' n'est ni une des classes" in events[event["id"]]["syncError"]
    assert "« label » 'band_cell'" in item.inner_text()
    assert events[waiting]["syncState"] == "pending"
    assert events[waiting]["syncError"].startswith("enregistrement inconnu")  # it was answered


def test_a_failing_server_keeps_every_record_pending(page, server):
    """A 5xx to every request is the server's trouble, not the records': the outbox splits a
    little, then stops, and sets nothing aside."""
    go_offline(page, server)
    made = pwa.classify_files(page, dataset_images("pbc", per_class=1)[:4])
    server.refuse_sync = lambda body: 503
    go_online(page, server)
    assert "kept on this phone" in pwa.wait_for_notice(page, "Sync failed")
    assert {r["syncState"] for r in pwa.all_records(page)} == {"pending"}
    assert server.predictions() == []
    # The first run halves down to one record, tries the next one alone, and stops.
    sizes = [len(body["predictions"]) for body in server.sync_bodies]
    assert sizes[:4] == [4, 2, 1, 1]
    server.refuse_sync = None
    page.click("#tab-history")
    page.click("#sync-now")
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    assert len(server.predictions()) == len(made)


def test_rejected_sync_keeps_results_and_says_why(page, server):
    images = dataset_images("pbc", per_class=1)[:2]
    # The login is ended on the server (as by a password change), whatever the phone is doing.
    server.end_sessions("tech")
    made = pwa.classify_files(page, images)
    assert "kept on this phone" in pwa.wait_for_notice(page, "Log in again")
    assert {r["syncState"] for r in pwa.all_records(page)} == {"pending"}
    assert server.predictions() == []
    pwa.screenshot(page, "phone-360x640-login-expired")

    pwa.log_in(page)
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    assert sorted(p["id"] for p in server.predictions()) == sorted(r["id"] for r in made)


def test_an_expired_access_token_is_refreshed_and_the_sync_goes_through(models, tmp_path):
    from datetime import timedelta

    from playwright.sync_api import sync_playwright

    server = pwa.serve(tmp_path, models, JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=2)).start()
    try:
        with sync_playwright() as p:
            context, page = pwa.open_logged_in(p, server, tmp_path / "profile")
            old = page.evaluate("window.hematovision.db.getSetting('auth')")
            page.wait_for_timeout(3000)  # the access token has expired
            images = dataset_images("pbc", 1)
            (made,) = pwa.classify_files(page, images[:1])
            page.wait_for_function(ALL_SYNCED, timeout=30_000)
            assert [p["id"] for p in server.predictions()] == [made["id"]]
            new = page.evaluate("window.hematovision.db.getSetting('auth')")
            assert new["access"] != old["access"]
            # the server rotated the refresh token: the phone keeps the new one, and the next
            # refresh (the first one is spent now) goes through with it
            assert new["refresh"] != old["refresh"]
            page.wait_for_timeout(3000)
            (again,) = pwa.classify_files(page, images[1:2])
            page.wait_for_function(ALL_SYNCED, timeout=30_000)
            assert again["id"] in [p["id"] for p in server.predictions()]
            context.close()
    finally:
        server.stop()
