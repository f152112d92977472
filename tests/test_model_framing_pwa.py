"""The PWA's worker frames exactly like backend.classify when the model declares framing: in
Chromium, on real images, the same label and status and confidence within 0.01; no white cell
-> unfamiliar with no label in both; field photos: the same cells with the same labels."""

import base64
import json

import pytest

from backend.cells.annotations import bccd_photos
from backend.classify import Classifier
from tests import pwa_support as pwa
from tests.framing_support import framed_release

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WORKER = """async ([modelUrl, meta, images, field]) => {
    const { InferenceClient } = await import('/js/inference-client.js');
    const client = new InferenceClient();
    await client.init();
    const bytes = await (await fetch(modelUrl)).arrayBuffer();
    const model = { name: meta.name, version: meta.version, meta };
    await client.load(model, bytes);
    const out = [];
    for (const b64 of images) {
        const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
        out.push(await (field ? client.classifyField(model, blob)
                              : client.classify(model, blob, null)));
    }
    return out;
}"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    pwa.ensure_pwa_built()
    tmp = tmp_path_factory.mktemp("framing")
    folder = framed_release(tmp)
    server = pwa.LiveServer(tmp / "server", {"wbc-differential": folder}).start()
    with sync_playwright() as p:
        context = pwa.launch(p, tmp / "profile")
        page = context.new_page()
        page.goto(server.url + "/manifest.json")
        models = page.evaluate("fetch('/api/models').then(r => r.json())")["models"]
        meta = json.loads((folder / "model.json").read_text())
        yield page, models[0]["url"], meta, Classifier(folder)
        context.close()
    server.stop()


def in_browser(browser, images, field=False):
    page, url, meta, _ = browser
    encoded = [base64.b64encode(image.read_bytes()).decode() for image in images]
    return page.evaluate(WORKER, [url, meta, encoded, field])


def assert_same(got, want, where):
    assert got["label"] == want["label"], where
    assert got["status"] == want["status"], where
    if want["label"] is None:
        assert got["confidence"] is None and got["probabilities"] == {}, where
        return
    assert got["confidence"] == pytest.approx(want["confidence"], abs=0.01), where


def test_single_cell_images_are_framed_alike(browser):
    classifier = browser[3]
    images = pwa.dataset_images("pbc", per_class=2) + pwa.dataset_images("malaria", per_class=2)
    results = in_browser(browser, images)
    no_cell = 0
    for image, got in zip(images, results, strict=True):
        want = classifier.classify(str(image))
        assert_same(got, want, image)
        if want["label"] is None:
            no_cell += 1
        else:
            assert max(abs(a - b) for a, b in zip(got["box"], want["box"], strict=True)) <= 2
    assert no_cell >= 4  # the malaria red-cell crops: no white cell, no guess, in both


def test_field_photos_give_the_same_cells_and_labels(browser):
    classifier = browser[3]
    photos = bccd_photos("held-out")[:4]
    for photo, got in zip(photos, in_browser(browser, photos, field=True), strict=True):
        want = classifier.classify_field(str(photo))
        assert (got["width"], got["height"]) == (want["width"], want["height"])
        assert len(got["cells"]) == len(want["cells"]), photo
        for g, w in zip(got["cells"], want["cells"], strict=True):
            assert max(abs(a - b) for a, b in zip(g["box"], w["box"], strict=True)) <= 2
            assert_same(g, w, photo)
