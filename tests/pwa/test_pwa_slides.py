"""Slides with a life cycle on the phone, in Chromium: a slide needs its sample id; the Classify
screen always says where a result goes (the active slide and its white cells / target); results
never join a paused or finished slide; a finished slide is read-only and says who finished it
when; junk (a blank photo, random noise, a huge image) never enters a slide's count; the result
card is honest about an unrecognised cell and fits a 360 px phone."""

import struct
import zlib

import numpy as np
import pytest

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def models():
    return require_releases("wbc-differential")


@pytest.fixture
def page(models, tmp_path):
    from playwright.sync_api import sync_playwright

    server = pwa.serve(tmp_path / "server", models).start()
    try:
        with sync_playwright() as p:
            context, page = pwa.open_logged_in(p, server, tmp_path / "profile")
            yield page
            context.close()
    finally:
        server.stop()


def slide_bar(page) -> str:
    return page.inner_text("#slide-bar-text")


def slide_state(page, state: str) -> None:
    if state == "finished":
        return pwa.finish_slide(page)
    page.click("#tab-slide")
    page.click("#slide-pause")
    page.wait_for_function(
        "([s]) => window.hematovision.state.slides.find("
        "x => x.id === window.hematovision.state.currentSlide).state === s",
        arg=[state],
    )


def counted(page) -> int:
    return page.evaluate(
        "window.hematovision.state.records.filter("
        "r => r.slide_id === window.hematovision.state.currentSlide).length"
    )


def png(pixels: np.ndarray) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says width x height (the pixels are not there: never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pick(page, name: str, data: bytes, mime: str = "image/png") -> None:
    page.click("#tab-classify")
    page.set_input_files("#file-input", files=[{"name": name, "mimeType": mime, "buffer": data}])


def classify_current(page) -> dict | None:
    """Classifies the picked image; the saved record, or None when nothing was saved."""
    before = page.evaluate(
        "[document.body.dataset.lastResult || '', document.body.dataset.lastNoCell || '']"
    )
    page.wait_for_function(
        "() => !document.querySelector('#classify-btn').disabled", timeout=30_000
    )
    page.click("#classify-btn")
    page.wait_for_function(
        "([r, n]) => (document.body.dataset.lastResult || '') !== r || "
        "(document.body.dataset.lastNoCell || '') !== n",
        arg=before,
        timeout=30_000,
    )
    record_id = page.evaluate("document.body.dataset.lastResult || ''")
    return pwa.record(page, record_id) if record_id != before[0] else None


def test_slide_life_cycle_counts_only_on_an_open_slide(page):
    page.click("#tab-classify")
    assert "No slide" in slide_bar(page)
    page.click("#tab-slide")
    page.click("#slide-form button[type=submit]")  # no sample id: the form refuses
    assert page.evaluate("window.hematovision.state.slides.length") == 0

    pwa.start_slide(page, "PATIENT-0042", target="200")
    images = dataset_images("pbc", 1, classes=["lymphocyte", "neutrophil", "monocyte"])
    (first,) = pwa.classify_files(page, images[:1])
    assert first["slide_id"] is not None
    assert "PATIENT-0042" in slide_bar(page)
    white = 0 if first["status"] == "unfamiliar" else 1
    assert f"{white} / 200 white cells" in slide_bar(page)
    page.evaluate("window.scrollTo(0, 0)")
    pwa.screenshot(page, "phone-360x640-slide-bar")

    slide_state(page, "paused")
    (second,) = pwa.classify_files(page, images[1:2])
    assert second["slide_id"] is None  # a paused slide takes no result
    assert "paused" in slide_bar(page) and "NOT counted" in slide_bar(page)

    slide_state(page, "open")  # resume
    (third,) = pwa.classify_files(page, images[2:3])
    assert third["slide_id"] == first["slide_id"]

    page.click("#tab-slide")
    page.click("#slide-finish")  # the first tap only asks: finishing cannot be undone here
    assert "Tap again to finish" in page.inner_text("#slide-finish-why")
    assert page.evaluate("window.hematovision.activeSlide() !== null")  # still open
    slide_state(page, "finished")
    page.click("#tab-slide")
    assert page.is_disabled("#slide-pause") and page.is_disabled("#slide-finish")
    assert "Finished by tech" in page.inner_text("#slide-state")
    assert "read-only" in page.inner_text("#slide-state")
    (fourth,) = pwa.classify_files(page, images[:1])
    assert fourth["slide_id"] is None
    assert counted(page) == 2
    page.click("#tab-slide")
    table = page.locator("#slide-table").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= 360  # no sideways scrolling
    pwa.screenshot(page, "phone-360x640-slide-finished")


def test_a_slide_idle_for_more_than_8_hours_is_paused_at_start(page):
    pwa.start_slide(page, "YESTERDAY-1")
    page.evaluate(
        """async () => {
            const app = window.hematovision;
            const s = await app.db.get('slides', app.state.currentSlide);
            const old = new Date(Date.now() - 9 * 3600 * 1000).toISOString();
            await app.db.put('slides', { ...s, started_at: old, updated_at: old, createdAt: old });
        }"""
    )
    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
    assert "8 hours" in slide_bar(page) and "paused" in slide_bar(page)
    (made,) = pwa.classify_files(page, dataset_images("pbc", 1)[:1])
    assert made["slide_id"] is None


def test_junk_never_enters_the_count_and_the_card_is_honest(page):
    rng = np.random.default_rng(13)
    pwa.start_slide(page, "JUNK-1")
    blank = png(np.full((360, 360, 3), 235, np.uint8))
    noise = png(rng.integers(0, 256, (360, 360, 3), dtype=np.uint8))
    outcomes = {}
    for name, data in [("blank.png", blank), ("noise.png", noise)]:
        pick(page, name, data)
        outcomes[name] = classify_current(page)
        if outcomes[name] is not None and outcomes[name]["status"] == "unfamiliar":
            # The honest card: no class as a headline, no confidence; the guess behind a tap.
            headline = page.inner_text("#result-label")
            assert headline.startswith("Not recognised")
            assert outcomes[name]["label"] not in headline.lower()
            assert page.is_hidden("#result-confidence")
            assert not page.evaluate("document.querySelector('#result-guess').open")
            guess = page.locator("#result-guess")
            assert not guess.locator("#result-guess-text").is_visible()
            guess.locator("summary").click()  # one tap away
            assert "The model's guess" in guess.locator("#result-guess-text").inner_text()
            pwa.screenshot(page, "phone-360x640-unfamiliar")
        page.click("#reset-btn")
    assert all(r is None or r["status"] == "unfamiliar" for r in outcomes.values()), outcomes
    assert "0 / 100 white cells" in slide_bar(page)
    waiting = sum(1 for r in outcomes.values() if r is not None)
    assert (f"{waiting} not recognised, not counted" in slide_bar(page)) == bool(waiting)

    pick(page, "huge.png", png_header_claiming(20_000, 20_000))
    message = pwa.wait_for_notice(page, "megapixels")
    assert "20000 × 20000" in message and "40 megapixels" in message
    assert page.is_disabled("#classify-btn")
    assert "0 / 100 white cells" in slide_bar(page)

    # Large but under the limit: taken, with word that it takes a moment.
    pick(page, "large.png", png(np.full((4000, 5000, 3), 200, np.uint8)))
    assert "20 megapixels" in pwa.wait_for_notice(page, "large image")
    page.wait_for_function(
        "() => !document.querySelector('#classify-btn').disabled", timeout=30_000
    )

    # A person confirms the unrecognised cell as an artefact: counted apart, never as white.
    page.click("#tab-slide")
    rows = page.locator("#slide-table tbody tr[data-label='unconfirmed']")
    unconfirmed = sum(1 for r in outcomes.values() if r is not None)
    assert rows.count() == (1 if unconfirmed else 0)


def test_the_result_card_fits_a_360_px_phone(page):
    pwa.classify_files(page, dataset_images("pbc", 1)[:1])
    overflow = page.evaluate(
        """() => {
            const out = [];
            const width = document.documentElement.clientWidth;
            for (const e of document.querySelectorAll('#result, #result *')) {
                const r = e.getBoundingClientRect();
                const name = e.id || e.tagName;
                if (r.width && (r.right > width + 0.5 || r.left < -0.5)) out.push(name);
                const clipped = getComputedStyle(e).overflowX !== 'visible';
                if (e.scrollWidth > e.clientWidth + 1 && clipped) out.push('scroll:' + name);
            }
            return out;
        }"""
    )
    assert overflow == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    model = page.locator("#result-model")
    assert model.evaluate("e => e.scrollWidth <= e.clientWidth")
    # Each menu shows its whole text: the model's name and every correction choice.
    cut = page.evaluate(
        """() => {
            const ctx = document.createElement('canvas').getContext('2d');
            const cut = [];
            for (const s of document.querySelectorAll('#model-select, #result-correct')) {
                ctx.font = getComputedStyle(s).font;
                const room = s.clientWidth - 40;  // padding and the arrow
                for (const o of s.options) {
                    if (ctx.measureText(o.text).width > room) cut.push(o.text);
                }
            }
            return cut;
        }"""
    )
    assert cut == []
    box = page.locator("#result-correct").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    pwa.screenshot(page, "phone-360x640-result")


def encoded(fmt: str, size: tuple[int, int], **options) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    mode = "RGBA" if options.pop("alpha", False) else "RGB"
    Image.new(mode, size, (200, 120, 160)).save(out, format=fmt, **options)
    return out.getvalue()


def test_the_image_size_is_read_from_the_header_of_every_format(page):
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = "x" * 3000  # a big APP1 segment before the frame header
    samples = {
        "jpeg": encoded("JPEG", (301, 203)),
        "jpeg-exif-progressive": encoded("JPEG", (640, 481), exif=exif, progressive=True),
        "png": encoded("PNG", (17, 9)),
        "webp-lossy": encoded("WEBP", (333, 222)),
        "webp-lossless": encoded("WEBP", (129, 65), lossless=True),
        "webp-extended": encoded("WEBP", (77, 55), alpha=True, exif=exif),
        "gif": encoded("GIF", (31, 12)),
    }
    got = page.evaluate(
        """async (samples) => {
            const { imageSize } = await import('/js/classifier/image-header.js');
            const out = {};
            for (const [name, bytes] of Object.entries(samples)) {
                const size = await imageSize(new Blob([new Uint8Array(bytes)]));
                out[name] = size && [size.width, size.height];
            }
            return out;
        }""",
        {name: list(data) for name, data in samples.items()},
    )
    assert got == {
        "jpeg": [301, 203],
        "jpeg-exif-progressive": [640, 481],
        "png": [17, 9],
        "webp-lossy": [333, 222],
        "webp-lossless": [129, 65],
        "webp-extended": [77, 55],
        "gif": [31, 12],
    }
