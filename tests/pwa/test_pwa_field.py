"""Field mode in the app, in Chromium: a bccd field photo gets a labelled box on every white cell
(the cells and labels classifier.classify finds), a tap selects a box and its label is corrected,
a missed cell is added by hand, all are added to the slide's count, and classifying the same
photo again counts nothing twice; the records sync to the server."""

import contextlib

import pytest

from bench import pwa_driver as pwa
from classifier.classify import Classifier
from tests.pwa.conftest import cells_added, require_releases
from training.annotations import bccd_photos, iou, read_voc_boxes

pytestmark = [pytest.mark.browser, pytest.mark.slow]
# A phrase of each reason's words on the phone (pwa/locales/en.json "status_reason.*")
REASON_WORDS = {
    None: "",
    "below_threshold": "is below what this model needs to be sure",
    "view_check": "did not hold when the image was turned a quarter turn",
    "unfamiliar": "does not look like the images the model knows",
}

CELLS = """() => window.hematovision.field.cells.map(
    ({box, label, confidence, status, status_reason, corrected_label, added, recordId}) =>
    ({box, label, confidence, status, status_reason, corrected_label, added,
      recordId: recordId || null}))"""


@pytest.fixture
def wbc():
    return require_releases("wbc-differential")["wbc-differential"]


def find_all_cells(page, photo) -> list[dict]:
    return pwa.find_all_cells(page, photo, CELLS, timeout=30_000)


def tap_photo(page, x, y, width) -> None:
    """Clicks the field canvas at photo pixel (x, y) of a photo `width` pixels wide."""
    rect = page.locator("#field-canvas").bounding_box()
    scale = rect["width"] / width
    page.mouse.click(rect["x"] + x * scale, rect["y"] + y * scale)


def save_all(page) -> str:
    before = page.evaluate("document.body.dataset.fieldSaved || ''")
    page.click("#field-save")
    page.wait_for_function(
        "([b]) => (document.body.dataset.fieldSaved || '') !== b", arg=[before], timeout=15_000
    )
    return page.inner_text("#notice-text")


@contextlib.contextmanager
def phone_on_a_slide(wbc, tmp_path, sample_id: str):
    """A server with the white-cell release and a phone logged in to it, the release chosen and
    a slide started: (server, page)."""
    from playwright.sync_api import sync_playwright

    server = pwa.serve(tmp_path / "server", {"wbc-differential": wbc}).start()
    try:
        with sync_playwright() as p:
            context, page = pwa.open_logged_in(p, server, tmp_path / "profile")
            pwa.choose_model(page, "wbc-differential")
            pwa.start_slide(page, sample_id)
            yield server, page
            context.close()
    finally:
        server.stop()


def test_field_photo_boxes_corrections_added_cell_and_no_double_count(wbc, tmp_path):
    photo = bccd_photos("held-out")[1]
    width = 640
    want = Classifier(wbc).classify_field(str(photo))
    assert want["width"] == width
    with phone_on_a_slide(wbc, tmp_path, "S-field-1") as (server, page):
        cells = find_all_cells(page, photo)
        # the same cells and labels as classifier.classify on the same photo
        assert len(cells) == len(want["cells"]) >= 1
        for got, ref in zip(cells, want["cells"], strict=True):
            assert max(abs(a - b) for a, b in zip(got["box"], ref["box"], strict=True)) <= 2
            assert got["label"] == ref["label"] and got["status"] == ref["status"]
            assert got["status_reason"] == ref["status_reason"]  # by the field threshold
            assert got["confidence"] == pytest.approx(ref["confidence"], abs=0.01)
        for box in [b["box"] for b in read_voc_boxes(photo) if b["type"] == "wbc"]:
            assert max(iou(box, c["box"]) for c in cells) >= 0.5
        assert page.locator("#field-list li").count() == len(cells)
        # each box is drawn on the photo in its status colour
        for cell in cells:
            assert drawn_colour(page, cell["box"], width) == STATUS_RGB[cell["status"]]
        pwa.screenshot(page, "phone-360x640-field")

        # tap the first box, correct its label
        x0, y0, x1, y1 = cells[0]["box"]
        tap_photo(page, (x0 + x1) / 2, (y0 + y1) / 2, width)
        page.wait_for_selector("#field-cell-0.selected")
        corrected = next(label for label in want_labels(wbc) if label != cells[0]["label"])
        page.select_option("#field-cell-0 select", corrected)

        # mark a missed cell by hand where no box is
        spot = empty_spot(cells, width, want["height"])
        page.click("#field-add")
        tap_photo(page, *spot, width)
        page.wait_for_function(f"() => window.hematovision.field.cells.length === {len(cells) + 1}")
        added = page.evaluate(CELLS)[-1]
        assert added["added"] and added["label"] in want_labels(wbc)
        bx0, by0, bx1, by1 = added["box"]
        assert bx0 < spot[0] < bx1 and by0 < spot[1] < by1  # around the tap
        # each row says why its cell is not confident (the marked spot holds no cell)
        assert added["status_reason"] is not None
        for i, cell in enumerate(page.evaluate(CELLS)):
            row = page.text_content(f"#field-cell-{i} span")
            assert REASON_WORDS[cell["status_reason"]] in row, row
        pwa.screenshot(page, "phone-360x640-field-corrected")

        assert cells_added(len(cells) + 1) in save_all(page)
        records = slide_records(page)
        assert len(records) == len(cells) + 1
        assert [r["corrected_label"] for r in records if r["corrected_label"]] == [corrected]
        assert sum(bool(r["added_by_hand"]) for r in records) == 1
        page.click("#tab-slide")
        white = sum(counted_label(r) in WHITE_CELLS for r in records)
        assert f"{white} of 100 white cells counted" in page.inner_text("#slide-progress")

        # the same photo classified again: shown as counted, adds nothing
        again = find_all_cells(page, photo)
        assert all(c["recordId"] for c in again)
        assert again[0]["corrected_label"] == corrected
        notice = save_all(page)
        already = f"{len(cells)} {'was' if len(cells) == 1 else 'were'} already counted"
        assert cells_added(0) in notice and already in notice
        assert len(slide_records(page)) == len(cells) + 1

        page.click("#tab-history")
        page.click("#sync-now")
        page.wait_for_function(
            """async () => (await window.hematovision.db.getAll('predictions'))
                .every((r) => r.syncState === 'synced')""",
            timeout=30_000,
        )
        stored = server.predictions()
        assert len(stored) == len(cells) + 1
        # The correction went as its own event: the record keeps the model's label.
        (fixed,) = [p for p in stored if p["correction"]]
        assert fixed["correction"]["label"] == corrected and fixed["label"] == cells[0]["label"]


def test_cells_whose_images_cannot_be_made_are_told_at_once_and_never_saved(wbc, tmp_path):
    """The worker refuses the cells' JPEGs (asked for a photo it no longer keeps): the technician
    is told as soon as the calls are shown, "Add all to slide" refuses with the same words, the
    cells saved before are kept, and finding the cells again saves them with their images."""
    first, second = bccd_photos("held-out")[:2]
    with phone_on_a_slide(wbc, tmp_path, "S-field-2") as (server, page):
        saved = len(find_all_cells(page, first))
        assert cells_added(saved) in save_all(page)
        kept = {r["id"] for r in slide_records(page)}

        # The page asks the real worker for the images of a photo it does not keep.
        page.evaluate(
            """() => { const client = window.hematovision.inference;
                client.realAsk = client.ask;
                client.ask = (message, transfer) => client.realAsk(
                  message.type === 'cellImages' ? { ...message, field: -1 } : message,
                  transfer); }"""
        )
        assert len(find_all_cells(page, second)) >= 1
        page.wait_for_function("() => document.body.dataset.fieldImages === 'failed'")
        told = page.inner_text("#notice-text")
        assert told.startswith("The cells' images could not be made (The cells of that photo")
        page.evaluate("document.querySelector('#notice-text').textContent = ''")
        page.click("#field-save")
        page.wait_for_function("() => document.querySelector('#notice-text').textContent")
        assert page.inner_text("#notice-text") == told
        assert {r["id"] for r in pwa.all_records(page)} == kept

        page.evaluate("() => { const c = window.hematovision.inference; c.ask = c.realAsk; }")
        again = len(find_all_cells(page, second))
        assert cells_added(again) in save_all(page)
        records = {r["id"] for r in slide_records(page)}
        assert len(records) == saved + again and kept < records
        assert page.evaluate(
            """async () => (await window.hematovision.db.getAll('predictions'))
                .every((r) => r.cell_image && r.cell_image.size > 0)"""
        )


WHITE_CELLS = {"neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil", "ig"}


def counted_label(record: dict) -> str | None:
    """The one differential rule: a person's label, else the model's unless unfamiliar."""
    if record.get("corrected_label"):
        return record["corrected_label"]
    return None if record["status"] == "unfamiliar" else record["label"]


STATUS_RGB = {"confident": [27, 127, 59], "review": [178, 106, 0], "unfamiliar": [176, 0, 32]}


def drawn_colour(page, box, width) -> list[int]:
    """The canvas pixel on the middle of a box's bottom edge (under no label)."""
    return page.evaluate(
        """([box, width]) => {
            const canvas = document.querySelector('#field-canvas');
            const s = canvas.width / width;
            const x = Math.round((box[0] + box[2]) / 2 * s), y = Math.round(box[3] * s);
            return [...canvas.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)];
        }""",
        [box, width],
    )


def want_labels(folder) -> list[str]:
    import json

    return json.loads((folder / "model.json").read_text())["labels"]


def empty_spot(cells, width, height) -> tuple[int, int]:
    """A point at least 80 px away from every found cell's box."""
    for y in range(60, height - 60, 20):
        for x in range(60, width - 60, 20):
            if all(
                x < c["box"][0] - 80
                or x > c["box"][2] + 80
                or y < c["box"][1] - 80
                or y > c["box"][3] + 80
                for c in cells
            ):
                return x, y
    raise AssertionError("no empty spot on the photo")


def slide_records(page) -> list[dict]:
    slide = page.evaluate("window.hematovision.state.currentSlide")
    return [r for r in pwa.all_records(page) if r.get("slide_id") == slide]
