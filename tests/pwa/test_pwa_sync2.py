"""Sync contract 2 from the phone (docs/notes/sync-contract-2.md): the doctor sees what the phone
saw. The sync request carries the crop the model saw (a JPEG of at most 256 px a side, the same
bytes on every re-send), the technician's correction as its own event (also after the record was
synced: an event, never a second record), and the slide with its sample id; an IndexedDB of the
app's first version (v1) keeps every record and slide when the app upgrades it to v2."""

import base64
import io

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
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def wait_until(page, condition, seconds: float = 30) -> None:
    """Lets the page run (and its requests be recorded) until `condition()` holds."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("timed out")


def correct(page, label: str) -> None:
    page.click("#tab-classify")
    page.select_option("#result-correct", label)
    page.wait_for_function(
        "([l]) => window.hematovision.result.record.corrected_label === l", arg=[label]
    )


def test_the_payload_carries_the_crop_the_correction_event_and_the_slide(
    playwright, server, tmp_path
):
    from PIL import Image

    context, page = pwa.open_logged_in(playwright, server, tmp_path / "profile")
    try:
        bodies = server.sync_bodies
        pwa.start_slide(page, "PATIENT-0042 / smear A", target="200")
        page.context.set_offline(True)
        (made,) = pwa.classify_files(page, dataset_images("pbc", 1)[:1])
        labels = page.evaluate("window.hematovision.model().labels")
        first = next(label for label in labels if label != made["label"])
        correct(page, first)
        page.context.set_offline(False)
        page.click("#tab-history")
        page.click("#sync-now")
        page.wait_for_function(
            "() => window.hematovision.state.records.every(r => r.syncState === 'synced')",
            timeout=30_000,
        )
        body = next(b for b in bodies if b["predictions"])
        assert body["contract"] == 2
        (sent,) = body["predictions"]
        assert sent["id"] == made["id"]
        assert "corrected_label" not in sent  # the correction is never part of the record
        jpeg = base64.b64decode(sent["image"])
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG" and max(image.size) <= 256
        (event,) = body["corrections"]
        assert event["prediction_id"] == made["id"] and event["label"] == first
        assert event["previous_label"] == made["label"]
        (slide,) = [s for b in bodies for s in b.get("slides", [])]  # sent once, when started
        assert slide["sample_id"] == "PATIENT-0042 / smear A"
        assert slide["target"] == 200 and slide["state"] == "open"
        assert made["slide_id"] == slide["id"]
        stored = server.predictions([made["id"]])
        assert len(stored) == 1 and stored[0]["label"] == made["label"]
        assert stored[0]["correction"]["label"] == first and stored[0]["correction"]["by"] == "tech"
        assert stored[0]["slide_id"] == slide["id"]
        page.wait_for_function(ALL_SYNCED, timeout=30_000)  # the event and the slide too
        events = page.evaluate("window.hematovision.db.getAll('corrections')")
        assert [e["syncState"] for e in events] == ["synced"]

        # The same bytes on every send: the JPEG was made once, with the result.
        again = page.evaluate(
            """async (id) => {
                const r = await window.hematovision.db.get('predictions', id);
                const bytes = new Uint8Array(await r.cell_image.arrayBuffer());
                let s = ''; for (const b of bytes) s += String.fromCharCode(b);
                return btoa(s);
            }""",
            made["id"],
        )
        assert again == sent["image"]

        # A correction after the record was synced travels as an event, not as a new record.
        second = next(label for label in labels if label not in (made["label"], first))
        sent_before = len(bodies)
        correct(page, second)  # sent at once (the phone is online)
        wait_until(page, lambda: any(b.get("corrections") for b in bodies[sent_before:]))
        later = [b for b in bodies[sent_before:] if b.get("corrections")]
        assert later, "the correction was not sent"
        assert all(b["predictions"] == [] for b in later)
        assert later[-1]["corrections"][-1]["label"] == second
        assert later[-1]["corrections"][-1]["previous_label"] == first
        page.wait_for_function(ALL_SYNCED, timeout=30_000)
        (stored,) = server.predictions()  # still one record, now with the later correction
        assert stored["label"] == made["label"] and stored["correction"]["label"] == second
    finally:
        context.close()


V1_DATA = """async ([records, slides]) => {
    const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open('hematovision', 1);
        request.onupgradeneeded = () => {
            const d = request.result;
            const p = d.createObjectStore('predictions', { keyPath: 'id' });
            p.createIndex('syncState', 'syncState');
            p.createIndex('capturedAt', 'captured_at');
            p.createIndex('slideId', 'slide_id');
            d.createObjectStore('slides', { keyPath: 'id' });
            d.createObjectStore('kv', { keyPath: 'key' });
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
    const tx = db.transaction(['predictions', 'slides', 'kv'], 'readwrite');
    records.forEach((r) => tx.objectStore('predictions').put(r));
    slides.forEach((s) => tx.objectStore('slides').put(s));
    tx.objectStore('kv').put({ key: 'currentSlide', value: slides[0].id });
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
}"""


def v1_record(i: int, slide_id: str, sync_state: str, corrected=None) -> dict:
    return {
        "id": f"00000000-0000-4000-8000-00000000000{i}",
        "model_name": "wbc-differential",
        "model_version": "2.1.0",
        "label": "lymphocyte",
        "confidence": 0.91,
        "status": "confident",
        "probabilities": {"lymphocyte": 0.91, "monocyte": 0.09},
        "captured_at": f"2026-11-30T10:0{i}:00.000Z",
        "device_id": "00000000-0000-4000-8000-0000000000dd",
        "slide_id": slide_id,
        "note": None,
        "corrected_label": corrected,
        "syncState": sync_state,
        "syncError": None,
    }


def test_a_v1_database_keeps_every_record_and_slide_after_the_upgrade(playwright, server, tmp_path):
    context = pwa.launch(playwright, tmp_path / "profile")
    try:
        page = context.new_page()
        page.goto(server.url + "/manifest.json")  # the app's origin, without the app
        slide = {
            "id": "00000000-0000-4000-8000-0000000000aa",
            "sampleId": "OLD-7",
            "createdAt": "2026-11-30T09:00:00.000Z",
        }
        records = [
            v1_record(1, slide["id"], "synced", corrected="monocyte"),  # synced under contract 1
            v1_record(2, slide["id"], "pending"),
            v1_record(3, None, "failed"),
        ]
        page.evaluate(V1_DATA, [records, [slide]])
        bodies = server.sync_bodies
        pwa.open_app(page, server.url)
        assert page.evaluate("window.hematovision.db.openDb().then(d => d.version)") == 2
        kept = {r["id"]: r for r in pwa.all_records(page)}
        assert set(kept) == {r["id"] for r in records}
        for r in records:
            assert kept[r["id"]]["label"] == r["label"]
            assert kept[r["id"]]["syncState"] == r["syncState"]
            assert kept[r["id"]]["corrected_label"] == r["corrected_label"]
        (old,) = page.evaluate("window.hematovision.db.getAll('slides')")
        assert old["sampleId"] == old["sample_id"] == "OLD-7"
        # The v1 correction waits to be sent as an event; the v1 record itself is never re-sent.
        (event,) = page.evaluate("window.hematovision.db.getAll('corrections')")
        assert event["prediction_id"] == records[0]["id"] and event["label"] == "monocyte"
        page.click("#tab-slide")
        assert "OLD-7" in page.inner_text("#slide-select")
        # Last activity long ago: the old open slide is paused at start, and the app says so.
        page.wait_for_function(
            "() => document.querySelector('#slide-bar-text').textContent.includes('8 hours')"
        )
        assert "paused" in page.inner_text("#slide-bar-text")

        pwa.log_in(page)
        page.wait_for_function(
            "([id]) => window.hematovision.state.records.find(r => r.id === id)"
            ".syncState !== 'pending'",
            arg=[records[1]["id"]],
            timeout=30_000,
        )
        sent = [p["id"] for b in bodies for p in b["predictions"]]
        assert records[0]["id"] not in sent and records[1]["id"] in sent
        assert [s["sample_id"] for b in bodies for s in b.get("slides", [])][:1] == ["OLD-7"]
        page.wait_for_function(
            "() => window.hematovision.state.slides.every(s => s.syncState === 'synced')",
            timeout=30_000,
        )
        (on_server,) = server_slides(server)
        assert on_server["sample_id"] == "OLD-7" and on_server["state"] == "paused"
    finally:
        context.close()


def server_slides(server) -> list[dict]:
    import sqlalchemy as sa

    from backend import db
    from backend.models import Slide

    with server.app.app_context():
        return [s.to_dict() for s in db.session.scalars(sa.select(Slide))]


def review_on_server(server, record_id: str, label: str, reviewer: str = "admin") -> None:
    """A doctor's review, saved as the dashboard's review form saves it."""
    import sqlalchemy as sa
    from flask_login import login_user

    from backend import db
    from backend.dashboard.review import save_review
    from backend.models import Prediction, User

    with server.app.test_request_context():
        user = db.session.scalar(sa.select(User).where(User.username == reviewer))
        login_user(user)
        prediction = db.session.scalar(sa.select(Prediction).where(Prediction.id == record_id))
        save_review(prediction, label, None)
        db.session.commit()


def reopen_on_server(server, slide_id: str, reviewer: str = "admin") -> None:
    import sqlalchemy as sa

    from backend import db
    from backend.models import Slide, User
    from backend.sync.slides import reopen_slide

    with server.app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == reviewer))
        reopen_slide(db.session.scalar(sa.select(Slide).where(Slide.id == slide_id)), user)
        db.session.commit()


def test_a_review_and_a_reopened_slide_come_back_to_the_phone(playwright, server, tmp_path):
    context, page = pwa.open_logged_in(playwright, server, tmp_path / "profile")
    try:
        pwa.start_slide(page, "S-REVIEW-1")
        (made,) = pwa.classify_files(page, dataset_images("pbc", 1, classes=["monocyte"])[:1])
        pwa.finish_slide(page)
        page.wait_for_function(
            "() => window.hematovision.state.slides.every("
            "s => s.state === 'finished' && s.syncState === 'synced')",
            timeout=30_000,
        )
        slide_id = made["slide_id"]
        assert server.predictions([made["id"]])

        review_on_server(server, made["id"], "lymphocyte")
        reopen_on_server(server, slide_id)
        pwa.sync_now(page)

        item = page.locator(f"#history-list li[data-id='{made['id']}']")
        assert "Reviewed by admin: Lymphocyte" in item.inner_text()
        page.click("#tab-classify")
        assert "Reviewed by admin: Lymphocyte" in page.inner_text("#result-people")
        page.click("#tab-slide")
        assert "Re-opened by admin" in page.inner_text("#slide-state")
        assert page.evaluate("window.hematovision.activeSlide().id") == slide_id
        # The reviewer's label counts on the slide (one lymphocyte).
        row = page.locator("#slide-table tbody tr[data-label='lymphocyte'] td").nth(1)
        assert row.inner_text() == "1"
        pwa.screenshot(page, "phone-360x640-reviewed")
        assert page.evaluate("window.hematovision.db.getSetting('reviewsSince')") >= 1
    finally:
        context.close()
