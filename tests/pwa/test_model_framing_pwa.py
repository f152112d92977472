"""The PWA's worker frames exactly like classifier.classify when the model declares framing: in
Chromium, on real images, the same label and status and confidence within 0.01; no white cell
-> unfamiliar with no label in both; field photos: the same cells with the same labels. Both
methods: "wbc-canonical" and "rbc-scaled" (centred frames, blank photos, hand-marked cells)."""

import base64
import json

import numpy as np
import pytest
from PIL import Image

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from classifier.cells.finder import survey
from classifier.cells.framing import central_cell, frame_square
from classifier.cells.model_framing import frame_photo_for
from classifier.classify import Classifier, load_photo
from tests.conftest import base_release, framed_release
from training.annotations import bccd_photos

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCALED = {"method": "rbc-scaled", "span": 3.5}

# requests: [[base64 image, "single" | "field" | a hand-marked box]], one worker for them all.
WORKER = """async ([modelUrl, card, requests]) => {
    const { InferenceClient } = await import('/js/classifier/inference-client.js');
    const client = new InferenceClient();
    await client.init();
    const bytes = await (await fetch(modelUrl)).arrayBuffer();
    const model = { name: card.name, version: card.version, card };
    await client.load(model, bytes);
    const out = [];
    for (const [b64, kind] of requests) {
        const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
        if (kind === "field") {
            // each cell's JPEG comes after the answer: one per cell, checked, not returned
            const { cellImages, ...result } = await client.classifyField(model, blob);
            const images = await cellImages;
            const jpegs = images.filter((b) => b.type === "image/jpeg").length;
            if (jpegs !== result.cells.length)
                throw new Error(`${jpegs} cell JPEGs for ${result.cells.length} cells`);
            out.push(result);
        } else {
            out.push(await (kind === "single" ? client.classify(model, blob, null)
                            : client.classifyBox(model, blob, kind)));
        }
    }
    return out;
}"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    pwa.ensure_pwa_built()
    tmp = tmp_path_factory.mktemp("framing")
    folder = framed_release(tmp)
    scaled = framed_release(tmp / "scaled", SCALED)
    server = pwa.serve(tmp / "server", {"wbc-differential": folder}).start()
    with sync_playwright() as p:
        context = pwa.launch(p, tmp / "profile")
        page = context.new_page()
        page.goto(server.url + "/manifest.json")
        models = page.evaluate("fetch('/api/models').then(r => r.json())")["models"]
        card = json.loads((folder / "model.json").read_text())
        yield page, models[0]["url"], card, Classifier(folder), Classifier(scaled), scaled, context
        context.close()
    server.stop()


def in_browser(browser, images, field=False, framing=None, kinds=None, card=None):
    """The worker's answers; `framing` replaces the release's input.framing, `card` its whole
    model.json (the same .tflite)."""
    page, url = browser[:2]
    card = card or browser[2]
    if framing is not None:
        card = {**card, "input": {**card["input"], "framing": framing}}
    kinds = kinds or ["field" if field else "single"] * len(images)
    requests = [
        [base64.b64encode(image.read_bytes()).decode(), kind]
        for image, kind in zip(images, kinds, strict=True)
    ]
    return page.evaluate(WORKER, [url, card, requests])


def near(a, b):
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= 2


def assert_same(got, want, where):
    assert got["label"] == want["label"], where
    assert got["status"] == want["status"], where
    assert got["status_reason"] == want["status_reason"], where
    if want["label"] is None:
        assert got["confidence"] is None and got["probabilities"] == {}, where
        return
    assert got["confidence"] == pytest.approx(want["confidence"], abs=0.01), where


def test_single_cell_images_are_framed_alike(browser):
    classifier = browser[3]
    images = dataset_images("pbc", per_class=2) + dataset_images("malaria", per_class=2)
    results = in_browser(browser, images)
    no_cell = 0
    for image, got in zip(images, results, strict=True):
        want = classifier.classify(str(image))
        assert_same(got, want, image)
        if want["label"] is None:
            no_cell += 1
        else:
            assert near(got["box"], want["box"])
    assert no_cell >= 4  # the malaria red-cell crops: no white cell, no guess, in both


def test_field_photos_give_the_same_cells_and_labels(browser):
    classifier = browser[3]
    photos = bccd_photos("held-out")[:4]
    for photo, got in zip(photos, in_browser(browser, photos, field=True), strict=True):
        want = classifier.classify_field(str(photo))
        assert (got["width"], got["height"]) == (want["width"], want["height"])
        assert len(got["cells"]) == len(want["cells"]), photo
        for g, w in zip(got["cells"], want["cells"], strict=True):
            assert near(g["box"], w["box"])
            assert_same(g, w, photo)


# ---- "rbc-scaled": span red-cell diameters (D of the same photo) around the central cell ----


def centred_but_confident(classifier) -> list:
    """pbc close-ups whose cell the finder misses (framed at the centre) and that the model,
    uncapped, would call confident: there the cap to "unfamiliar" shows."""
    found = []
    # The finder misses few pbc cells (4 of the first 40 platelet crops), so look at many.
    for image in dataset_images("pbc", per_class=40, classes=["platelet"]):
        framed = frame_photo_for(load_photo(str(image)), SCALED, classifier.size)
        if framed["frame"] is not None and framed["box"] is None:
            if classifier.classify_array(framed["frame"])["status"] == "confident":
                found.append(image)
    assert found, "no centred frame the model would call confident"
    return found


def test_scaled_single_images_centred_and_blank_photos_agree(browser, tmp_path):
    classifier = browser[4]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 230, np.uint8)).save(blank)
    malaria = dataset_images("malaria", per_class=2, classes=["uninfected"])
    capped = centred_but_confident(classifier)
    images = dataset_images("pbc", per_class=1) + malaria + capped + [blank]
    results = in_browser(browser, images, framing=SCALED)
    centred = 0
    for image, got in zip(images, results, strict=True):
        want = classifier.classify(str(image))
        assert_same(got, want, image)
        assert got.get("reason") == want.get("reason"), image
        if want["label"] is None:
            assert image == blank and got["reason"] == "no cells found in the photo"
        elif want["box"] is None:  # nothing stained found: framed at the photo's centre
            assert got["box"] is None and "centre" in got["reason"], image
            assert got["status"] == "unfamiliar", image
            centred += 1
        else:
            assert near(got["box"], want["box"]), image
    assert centred >= 2 + len(capped)  # the malaria red-cell crops and the capped ones, in both


def test_scaled_field_photos_and_a_marked_cell_agree(browser):
    classifier = browser[4]
    photos = bccd_photos("held-out")[:2]
    rgb = load_photo(str(photos[0]))
    cells, diameter = survey(rgb)
    x0, y0, x1, y1 = central_cell(cells, rgb.shape, "rbc")["box"]
    marked = [x0 - 3, y0 + 2, x1 + 5, y1 + 1]  # a red cell marked by hand, a little off
    got = in_browser(browser, [*photos, photos[0]], framing=SCALED, kinds=["field"] * 2 + [marked])
    for photo, field in zip(photos, got[:2], strict=True):
        want = classifier.classify_field(str(photo))
        assert len(field["cells"]) == len(want["cells"]), photo
        for g, w in zip(field["cells"], want["cells"], strict=True):
            assert near(g["box"], w["box"]), photo
            assert_same(g, w, photo)
    centre = ((marked[0] + marked[2]) / 2, (marked[1] + marked[3]) / 2)
    frame = frame_square(rgb, *centre, 3.5 * diameter, classifier.size)
    want = classifier.classify_array(frame, classifier.field_decision)  # a marked field cell
    assert got[2]["box"] == marked
    assert_same(got[2], want, "marked cell")


def test_the_app_shows_why_a_frame_is_centred_and_saves_nothing_for_a_blank_photo(
    browser, tmp_path
):
    classifier, scaled, context = browser[4:7]
    photo = centred_but_confident(classifier)[0]
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 230, np.uint8)).save(blank)
    server = pwa.serve(tmp_path / "server", {"wbc-differential": scaled}).start()
    try:
        page = pwa.logged_in_page(context, server)  # another origin: its own storage
        record = pwa.classify_files(page, [photo])[0]
        assert record["status"] == "unfamiliar"
        assert page.is_visible("#result-reason")
        assert "framed at the photo's centre" in page.inner_text("#result-reason")
        page.click("#reset-btn")
        page.set_input_files("#file-input", [str(blank)])
        page.wait_for_function("() => !document.querySelector('#classify-btn').disabled")
        page.click("#classify-btn")
        notice = pwa.wait_for_notice(page, "no cells found in the photo")
        assert notice.startswith("Unfamiliar") and "Nothing was saved" in notice
        assert [r["id"] for r in pwa.all_records(page)] == [record["id"]]
        page.close()
    finally:
        server.stop()


# ---- a whole-image model's field framing (input.field_framing): its field cells, span D wide ----


def test_a_whole_image_models_field_cells_and_a_marked_cell_agree(browser):
    release = base_release()
    classifier = Classifier(release)
    span = classifier.field_framing["span"]
    card = json.loads((release / "model.json").read_text())
    photos = bccd_photos("held-out")[2:4]
    rgb = load_photo(str(photos[0]))
    cells, diameter = survey(rgb)
    marked = [c["box"] for c in cells if c["type"] == "wbc"][0]
    got = in_browser(browser, [*photos, photos[0]], kinds=["field"] * 2 + [marked], card=card)
    for photo, field in zip(photos, got[:2], strict=True):
        want = classifier.classify_field(str(photo))
        assert len(field["cells"]) == len(want["cells"]) > 0, photo
        for g, w in zip(field["cells"], want["cells"], strict=True):
            assert near(g["box"], w["box"]), photo
            assert_same(g, w, photo)
    centre = ((marked[0] + marked[2]) / 2, (marked[1] + marked[3]) / 2)
    frame = frame_square(rgb, *centre, span * diameter, classifier.size)
    want = classifier.classify_array(frame, classifier.field_decision)  # a marked field cell
    assert_same(got[2], want, "marked cell")
