"""Why this call, on the phone: in Chromium the worker's class-activation map ("cam") of a
release that declares one equals classifier.classify's on real images (the same label, each
value within 2 of 255), for a close-up and for every cell of a field, white- and red-cell; an
older card gives no map. The app's "Show why" draws the map over the cell's own image with the
dashboard's very overlay pixels (why_overlay.py), and is not offered without a map."""

import base64
import json

import numpy as np
import pytest

from backend.dashboard.why_overlay import overlay_rgba
from bench import pwa_driver as pwa
from bench.inputs import MODELS_ROOT, dataset_images
from classifier.classify import Classifier, decide, load_image
from tests.conftest import malaria_field_photos
from tests.pwa.conftest import require_releases
from training.annotations import bccd_photos

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# requests: [[model index, base64 image, "single" | "field"]]; the answers without their JPEGs.
WORKER = """async ([models, requests]) => {
    const { InferenceClient } = await import('/js/classifier/inference-client.js');
    const client = new InferenceClient();
    await client.init();
    const loaded = [];
    for (const [source, card] of models) {
        const bytes = source.startsWith('/') ? await (await fetch(source)).arrayBuffer()
            : Uint8Array.from(atob(source), (c) => c.charCodeAt(0)).buffer;
        const model = { name: card.name, version: card.version, card };
        await client.load(model, bytes);
        loaded.push(model);
    }
    const plain = ({ cellImage, ...rest }) => rest;
    const out = [];
    for (const [index, b64, kind] of requests) {
        const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
        const model = loaded[index];
        out.push(kind === 'single' ? plain(await client.classify(model, blob, null))
            : { cells: (await client.classifyField(model, blob)).cells.map(plain) });
    }
    return out;
}"""


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One Chromium page of the app (not logged in) on a server publishing the newest white-cell
    and malaria releases, and Classifier on each."""
    from playwright.sync_api import sync_playwright

    releases = require_releases("wbc-differential", "malaria-screen")
    tmp = tmp_path_factory.mktemp("cam")
    server = pwa.serve(tmp / "server", releases).start()
    with sync_playwright() as p:
        context = pwa.launch(p, tmp / "profile")
        page = context.new_page()
        pwa.open_app(page, server.url)
        listed = page.evaluate("fetch('/api/models').then(r => r.json())")["models"]
        urls = {m["name"]: m["url"] for m in listed}
        models = {
            name: (urls[name], json.loads((folder / "model.json").read_text()), Classifier(folder))
            for name, folder in releases.items()
        }
        yield page, models
        context.close()
    server.stop()


def assert_same_map(got: dict, want: dict, where) -> None:
    assert got["label"] == want["label"], where
    assert set(got["cam"]) == {"label", "rows", "cols", "values"}, where
    assert got["cam"]["label"] == want["cam"]["label"] == want["label"], where
    assert (got["cam"]["rows"], got["cam"]["cols"]) == (want["cam"]["rows"], want["cam"]["cols"])
    gap = np.abs(np.subtract(got["cam"]["values"], want["cam"]["values"])).max()
    assert gap <= 2, (where, gap)
    assert all(type(v) is int and 0 <= v <= 255 for v in got["cam"]["values"]), where


def test_the_worker_map_is_the_python_map_for_close_ups_and_field_cells(app):
    page, models = app
    wbc, malaria = models["wbc-differential"], models["malaria-screen"]
    for _, card, _ in (wbc, malaria):
        assert card.get("class_activation"), f"{card['name']} {card['version']} declares no map"
    close_ups = dataset_images("pbc", 1, classes=["eosinophil", "lymphocyte", "neutrophil"])
    nih = dataset_images("malaria", 1)
    field, red_field = bccd_photos("held-out")[0], malaria_field_photos()[0]
    requests = [[0, b64(image), "single"] for image in close_ups]
    requests += [[1, b64(image), "single"] for image in nih]
    requests += [[0, b64(field), "field"], [1, b64(red_field), "field"]]
    cards = [[wbc[0], wbc[1]], [malaria[0], malaria[1]]]
    got = page.evaluate(WORKER, [cards, requests])
    for image, answer in zip(close_ups, got, strict=False):
        assert_same_map(answer, wbc[2].classify(str(image)), image)
    for image, answer in zip(nih, got[len(close_ups) :], strict=False):
        assert_same_map(answer, malaria[2].classify(str(image)), image)
    for photo, classifier, answer in ((field, wbc[2], got[-2]), (red_field, malaria[2], got[-1])):
        want = classifier.classify_field(str(photo))["cells"]
        assert len(answer["cells"]) == len(want) > 0, photo
        for g, w in zip(answer["cells"], want, strict=True):
            assert_same_map(g, w, photo)


def test_an_older_card_gives_no_map(app):
    page, _ = app
    old = MODELS_ROOT / "wbc-differential" / "2.1.0"
    card = json.loads((old / "model.json").read_text())
    assert "class_activation" not in card
    image = dataset_images("pbc", 1, classes=["neutrophil"])[0]
    (answer,) = page.evaluate(
        WORKER, [[[b64(old / "model.tflite"), card]], [[0, b64(image), "single"]]]
    )
    assert answer["label"] == Classifier(old).classify(str(image))["label"]
    assert "cam" not in answer


def split_by_view_check(classifier: Classifier) -> tuple[list, list]:
    """The first 12 close-ups per class: those the view check turns from `confident` to
    `review`, and the others."""
    turned_down, kept = [], []
    for image in dataset_images("pbc", 12):
        p, f, _, views = classifier.model.run_views(load_image(image, classifier.size))
        without = decide(p, f, classifier.labels, classifier.decision)[2]
        with_views = decide(p, f, classifier.labels, classifier.decision, views)[2]
        (turned_down if (without, with_views) == ("confident", "review") else kept).append(image)
    assert turned_down, "no close-up among the first 12 per class that the view check turns down"
    return turned_down, kept


def test_the_worker_applies_the_view_check_as_python_does(app):
    """wbc-differential 2.3.0 on: the worker reads the turned image's probabilities (`views`)
    and gives the statuses of classifier.classify, including close-ups the check turns from
    `confident` to `review`."""
    page, models = app
    url, card, classifier = models["wbc-differential"]
    assert card.get("view_check"), f"{card['version']} declares no view check"
    turned_down, kept = split_by_view_check(classifier)
    images = turned_down[:4] + kept[:4]
    got = page.evaluate(WORKER, [[[url, card]], [[0, b64(i), "single"] for i in images]])
    for image, answer in zip(images, got, strict=True):
        want = classifier.classify(str(image))
        call = [answer[k] for k in ("label", "status", "status_reason")]
        assert call == [want[k] for k in ("label", "status", "status_reason")], image
    first = got[: len(turned_down[:4])]
    assert [a["status_reason"] for a in first] == ["view_check"] * len(first)


# The overlay's pixels in the app: why-overlay.js's overlayRGBA, as base64.
OVERLAY = """async ([cam, width, height]) => {
    const { overlayRGBA } = await import('/js/ui/why-overlay.js');
    const out = overlayRGBA(cam, width, height);
    let text = '';
    for (let i = 0; i < out.length; i += 8192) {
        text += String.fromCharCode(...out.subarray(i, i + 8192));
    }
    return btoa(text);
}"""

CAM = {"label": "neutrophil", "rows": 6, "cols": 6, "values": [i * 97 % 256 for i in range(35)]}
CAM["values"].append(255)


@pytest.mark.parametrize("size", [(256, 256), (203, 256), (6, 6), (1, 1)])
def test_the_app_draws_the_dashboards_overlay_pixels(app, size):
    width, height = size
    got = base64.b64decode(app[0].evaluate(OVERLAY, [CAM, width, height]))
    want = overlay_rgba(CAM, width, height)
    assert np.array_equal(np.frombuffer(got, np.uint8).reshape(want.shape), want)


# A result shown on the card (and a field whose first cell is selected): the cell image, the
# map or none; returns what a person sees of "Show why" before and after tapping it.
SHOW = """async ([b64, cam, status, where]) => {
    const app = window.hematovision;
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const image = new Blob([bytes], { type: 'image/jpeg' });
    const probabilities = { neutrophil: 0.95, lymphocyte: 0.05 };
    const call = { label: 'neutrophil', confidence: 0.95, status, probabilities, cam };
    const root = document.querySelector(where === 'card' ? '#result-why' : '#field-why');
    const before = root.dataset.drawn;
    if (where === 'card') {
        app.result.show({ id: crypto.randomUUID(), ...call, cell_image: image, thumbnail: image,
                          model_name: 'wbc-differential', model_version: '2.2.0',
                          syncState: 'pending' }, null);
    } else {
        const cell = { box: [4, 4, 60, 60], score: 1, ...call, cellImage: image };
        await app.field.show(image, { width: 64, height: 64, cells: [cell] },
                             ['neutrophil', 'lymphocyte'], null);
        app.field.selected = 0;
        app.field.render();
    }
    const offered = !root.hidden;
    if (!offered) return { offered };
    const toggle = root.querySelector('.why-toggle');
    const figure = root.querySelector('.why-figure');
    const closed = [toggle.textContent, figure.hidden];
    toggle.click();
    while (root.dataset.drawn === before) await new Promise((r) => setTimeout(r, 20));
    const canvas = root.querySelector('.why-canvas');
    return { offered, closed, open: [toggle.textContent, figure.hidden],
             legend: root.querySelector('.why-legend').textContent,
             note: root.querySelector('.why-note').textContent,
             size: [canvas.width, canvas.height],
             shownWidth: canvas.getBoundingClientRect().width,
             pageWidth: document.documentElement.scrollWidth };
}"""


@pytest.mark.parametrize("where", ["card", "field"])
def test_show_why_draws_over_the_cell_and_is_not_offered_without_a_map(app, where):
    page = app[0]
    jpeg = b64(dataset_images("pbc", 1, classes=["neutrophil"])[0])
    shown = page.evaluate(SHOW, [jpeg, CAM, "confident", where])
    assert shown["closed"] == ["Show why", True] and shown["open"] == ["Hide why", False]
    assert shown["legend"] == "Where the model saw evidence for Neutrophil"
    assert "not proof" in shown["note"]
    assert shown["size"] == [360, 363]  # the cell image's own size: the map covers all of it
    assert 0 < shown["shownWidth"] <= 256 and shown["pageWidth"] <= 360  # fits a 360 px phone
    for cam, status in ((None, "confident"), (CAM, "unfamiliar")):
        assert page.evaluate(SHOW, [jpeg, cam, status, where]) == {"offered": False}
