"""Red-cell field mode in Chromium: red-cell-field.js finds exactly the red cells Python finds
on the 10 bbbc041 fields (boxes, edge, clump, score, masks, D); the worker classifies every red
cell as classifier.classify does; a photo without red cells, a white-cell close-up, a 6000x4000
photo and a tiny one give a clear answer; in the app the red cells are drawn by call, summed up,
and saved (edge cells never) on the current slide."""

import base64
import hashlib
import json
import time

import numpy as np
import pytest
from PIL import Image

from bench import pwa_driver as pwa
from bench.inputs import dataset_images
from classifier.cells.red_cell_field import find_red_cells, segmented_crop
from classifier.classify import Classifier, load_photo
from tests.conftest import big_field, malaria_field_photos, red_cell_release
from tests.pwa.conftest import cells_added

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The photo decoded in the page as the worker decodes it: `image` (RGBA ImageData) from `b64`.
DECODE = """
    const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
    const bitmap = await createImageBitmap(blob,
        { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0);
    const image = context.getImageData(0, 0, bitmap.width, bitmap.height);
"""
# The browser decodes the photo itself, as the app's worker does, and finds its red cells;
# masks come back as the sha256 of np.packbits of the mask, and its shape.
FIND = (
    """async ([b64]) => {
    const { findRedCells } = await import('/js/classifier/cells/red-cell-field.js');"""
    + DECODE
    + """    const started = performance.now();
    const found = findRedCells(image);
    const ms = performance.now() - started;
    const hash = async (mask) => {
        const bytes = new Uint8Array(Math.ceil(mask.data.length / 8));
        mask.data.forEach((v, i) => { if (v) bytes[i >> 3] |= 0x80 >> (i & 7); });
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        const hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
        return `${hex} ${mask.height}x${mask.width}`;
    };
    const cells = [];
    for (const { box, score, edge, clump, mask } of found.cells) {
        cells.push({ box, score, edge, clump, mask: await hash(mask) });
    }
    const cellsMask = found.cellsMask && await hash(found.cellsMask);
    return { diameter: found.diameter, factor: found.factor, cells, cellsMask, ms,
             width: image.width, height: image.height };
}"""
)

# requests: [[base64 image, "field" | a hand-marked box]], one worker for them all; each
# cell's JPEG is checked here and left out of the answer.
WORKER = """async ([modelUrl, card, requests]) => {
    const { InferenceClient } = await import('/js/classifier/inference-client.js');
    const client = new InferenceClient();
    await client.init();
    const bytes = await (await fetch(modelUrl)).arrayBuffer();
    const model = { name: card.name, version: card.version, card };
    await client.load(model, bytes);
    const plain = (cell) => {
        const { cellImage, ...rest } = cell;
        return { ...rest, jpeg: cellImage instanceof Blob && cellImage.type === 'image/jpeg'
                 && cellImage.size > 0 };
    };
    const out = [];
    for (const [b64, kind] of requests) {
        const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
        try {
            if (kind === 'field') {
                const { cellImages, ...result } = await client.classifyField(model, blob);
                const images = await cellImages;  // made after the answer, one per cell
                const cells = result.cells.map((c, k) => plain({ ...c, cellImage: images[k] }));
                out.push({ ...result, cells });
            } else {
                out.push(plain(await client.classifyBox(model, blob, kind)));
            }
        } catch (error) {
            out.push({ error: String(error.message || error) });
        }
    }
    return out;
}"""


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def mask_hash(mask: np.ndarray) -> str:
    digest = hashlib.sha256(np.packbits(mask).tobytes()).hexdigest()
    return f"{digest} {mask.shape[0]}x{mask.shape[1]}"


# ---- (a) the finder: the very same cells as Python ----


@pytest.fixture(scope="module")
def found_in_browser(app_origin_page):
    return {photo: app_origin_page.evaluate(FIND, [b64(photo)]) for photo in malaria_field_photos()}


@pytest.mark.parametrize("index", range(10))
def test_browser_finds_the_very_same_red_cells_as_python(found_in_browser, index):
    photo = malaria_field_photos()[index]
    got = found_in_browser[photo]
    want = find_red_cells(load_photo(str(photo)))
    assert (got["diameter"], got["factor"]) == (want["diameter"], want["factor"]), photo.name
    assert len(got["cells"]) == len(want["cells"]) >= 40, photo.name
    for g, w in zip(got["cells"], want["cells"], strict=True):
        assert g == {
            "box": w["box"],
            "score": w["score"],
            "edge": w["edge"],
            "clump": w["clump"],
            "mask": mask_hash(w["mask"]),
        }, photo.name
    assert got["cellsMask"] == mask_hash(want["cells_mask"])


# ---- (b), (c) the worker against classifier.classify, and photos that are not fields ----


@pytest.fixture(scope="module")
def red(tmp_path_factory, app_origin_page):
    """The worker's answers, Classifier's on the same photos, and the times of each on the
    first field (find + classify every red cell). One Chromium for the module: a page of
    app_origin_page's on this server's origin."""
    tmp = tmp_path_factory.mktemp("red")
    folder = red_cell_release()
    classifier = Classifier(folder)
    fields = malaria_field_photos()[:3]
    blank = tmp / "blank.png"
    Image.fromarray(np.full((1200, 1600, 3), 235, np.uint8)).save(blank)
    tiny = tmp / "tiny.png"
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(tiny)
    pbc = dataset_images("pbc", per_class=1, classes=["neutrophil"])[0]
    big = big_field(tmp)
    want = {}
    started = time.perf_counter()
    want[fields[0]] = classifier.classify_field(str(fields[0]))
    python_ms = 1000 * (time.perf_counter() - started)
    for photo in [*fields[1:], blank, pbc, big]:
        want[photo] = classifier.classify_field(str(photo))
    inner = next(c for c in want[fields[0]]["cells"] if min(c["box"][:2]) >= 10 and not c["edge"])
    marked = [inner["box"][0] - 4, inner["box"][1] + 3, inner["box"][2] + 6, inner["box"][3]]
    want["marked"] = classifier._classify_red_cells(load_photo(str(fields[0])), [marked])
    server = pwa.serve(tmp / "server", {"malaria-screen": folder}).start()
    photos = [*fields, blank, pbc, big, tiny, fields[0]]
    kinds = ["field"] * 7 + [marked]
    try:
        page = app_origin_page.context.new_page()
        page.goto(server.url + "/manifest.json")
        url = page.evaluate("fetch('/api/models').then(r => r.json())")["models"][0]["url"]
        card = json.loads((folder / "model.json").read_text())
        requests = [[b64(photo), kind] for photo, kind in zip(photos, kinds, strict=True)]
        answers = page.evaluate(WORKER, [url, card, requests])
        page.close()
    finally:
        server.stop()
    got = dict(zip([*photos[:-1], "marked"], answers, strict=True))
    first = got[fields[0]]
    model_ms = sum(c["inferenceMs"] for c in first["cells"])
    print(
        f"\n1600x1200 field, {len(first['cells'])} red cells: browser {first['totalMs']:.0f} ms "
        f"(find {first['findMs']:.0f}, classify {first['classifyMs']:.0f}, of it the model "
        f"{model_ms:.0f}) vs Python {python_ms:.0f} ms"
    )
    return {"got": got, "want": want, "fields": fields, "blank": blank, "pbc": pbc, "big": big}


def assert_same_cells(got, want, where):
    assert (got["width"], got["height"]) == (want["width"], want["height"]), where
    assert got["cell_type"] == "rbc" and got["diameter"] == want["diameter"], where
    assert len(got["cells"]) == len(want["cells"]), where
    for g, w in zip(got["cells"], want["cells"], strict=True):
        assert_same_cell(g, w, where)
    # field colour standardisation (a release that declares it): the same judgement of the photo
    assert ("colour" in got) == ("colour" in want), where
    if "colour" in want:
        g, w = got["colour"], want["colour"]
        assert (g["standardised"], g["cells"]) == (w["standardised"], w["cells"]), where
        for key in ("mean", "std"):
            assert g[key] == pytest.approx(w[key], abs=0.011), (where, key)


def assert_same_cell(g, w, where):
    for key in ("box", "score", "edge", "clump", "label", "status"):
        assert g[key] == w[key], (where, key, g, w)
    for name, p in w["probabilities"].items():
        assert g["probabilities"][name] == pytest.approx(p, abs=2e-3), (where, name)
    assert g["jpeg"], where


def test_the_worker_classifies_every_red_cell_as_python(red):
    for photo in red["fields"]:
        got, want = red["got"][photo], red["want"][photo]
        assert_same_cells(got, want, photo.name)
        assert {c["label"] for c in got["cells"]} <= {"parasitized", "uninfected"}
        assert got["totalMs"] >= got["findMs"] > 0


def test_a_hand_marked_red_cell_is_classified_as_python(red):
    got, (want,) = red["got"]["marked"], red["want"]["marked"]["cells"]
    assert_same_cell(got, want, "marked")
    assert got["score"] is None and got["edge"] is False


def test_photos_that_are_not_fields_give_a_clear_answer(red):
    got, want = red["got"], red["want"]
    blank = got[red["blank"]]
    assert blank["cells"] == [] and blank["diameter"] is None and blank["cell_type"] == "rbc"
    # a white-cell close-up: whatever is found is classified, as in Python
    assert_same_cells(got[red["pbc"]], want[red["pbc"]], "pbc")
    # 6000x4000: the browser decodes the JPEG itself, so cells may differ by a pixel here or
    # there, not in number by more than a few
    big, big_want = got[red["big"]], want[red["big"]]
    assert (big["width"], big["height"]) == (6000, 4000)
    assert big["diameter"] == pytest.approx(big_want["diameter"], rel=0.02)
    assert len(big["cells"]) == pytest.approx(len(big_want["cells"]), abs=3)
    tiny = next(v for k, v in got.items() if getattr(k, "name", "") == "tiny.png")
    assert tiny == {"error": "image of 4x4 pixels is too small"}


# ---- the app: red cells drawn by call, summed up, saved on the slide (edge cells never) ----

CELLS = """() => window.hematovision.field.cells.map(
    ({box, label, status, edge, recordId}) =>
    ({box, label, status, edge, recordId: recordId || null}))"""


def find_all_cells(page, photo) -> list[dict]:
    return pwa.find_all_cells(page, photo, CELLS, timeout=60_000)


def summary_of(cells) -> str:
    counted = [c for c in cells if not c["edge"]]
    calls = [None if c["status"] == "unfamiliar" else c["label"] for c in counted]
    unsure = sum(c["status"] == "review" for c in counted)  # counted, but a reviewer sees them
    return (
        f"{len(cells)} red cells: {calls.count('parasitized')} parasitized, "
        f"{calls.count('uninfected')} uninfected, {calls.count(None)} not recognised (review), "
        + (f"{unsure} counted but unsure (review), " if unsure else "")
        + f"{len(cells) - len(counted)} cut by the edge (not counted)"
    )


def test_the_app_draws_sums_up_and_saves_the_red_cells(tmp_path, app_origin_page):
    folder = red_cell_release()
    photo = malaria_field_photos()[0]
    want = Classifier(folder).classify_field(str(photo))
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((600, 800, 3), 235, np.uint8)).save(blank)
    server = pwa.serve(tmp_path / "server", {"malaria-screen": folder}).start()
    try:
        page = pwa.logged_in_page(app_origin_page.context, server)  # its own origin, storage
        refused = []  # the legend's colours are set through the CSSOM, which CSP allows
        page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m))
        pwa.choose_model(page, "malaria-screen")
        # a new slide is offered as a malaria slide, where a malaria screen's cells count
        page.click("#tab-slide")
        assert page.input_value("#slide-kind") == "malaria"
        assert page.input_value("#slide-target") == "1000"
        pwa.start_slide(page, "M-field-1")
        cells = find_all_cells(page, photo)
        assert [c["box"] for c in cells] == [c["box"] for c in want["cells"]]
        assert [c["status"] for c in cells] == [c["status"] for c in want["cells"]]
        summary = page.inner_text("#field-summary")
        assert summary.startswith(summary_of(want["cells"])), summary
        # the cells to look at are rows; the uninfected and the edge cells are folded away
        edge = sum(c["edge"] for c in cells)
        first = [
            c
            for c in cells
            if not c["edge"] and (c["status"] == "unfamiliar" or c["label"] == "parasitized")
        ]
        assert page.locator("#field-list > li:not(.field-fold)").count() == len(first)
        assert page.locator("#field-list details[open]").count() == 0
        folded = page.inner_text("#field-list").split("\n")
        assert f"{edge} cut by the edge (not counted)" in folded
        pwa.screenshot(page, "phone-360x640-red-cell-field")

        notice = save_all(page)
        assert f"{cells_added(len(cells) - edge)} to slide" in notice, notice
        assert f"{edge} cut by the edge not counted" in notice
        saved = [r for r in pwa.all_records(page) if r.get("photo_sha256")]
        assert len(saved) == len(cells) - edge
        assert {tuple(r["box"]) for r in saved} == {tuple(c["box"]) for c in cells if not c["edge"]}
        assert page.evaluate(SAVED_JPEGS) == len(saved)  # each with the JPEG the model saw

        # the same photo again: every counted cell shown as counted, nothing added twice
        again = find_all_cells(page, photo)
        assert all(bool(c["recordId"]) != c["edge"] for c in again)
        assert cells_added(0) in save_all(page)
        assert len([r for r in pwa.all_records(page) if r.get("photo_sha256")]) == len(saved)

        # Saved in the very moment the calls are shown, on a new slide: the worker makes the
        # cells' JPEGs after its answer, and Save waits for them, so none is saved without one.
        pwa.start_slide(page, "M-field-2")
        page.set_input_files("#file-input", [str(photo)])
        page.wait_for_function("() => !document.querySelector('#field-btn').disabled")
        page.evaluate(FIND_THEN_SAVE_AT_ONCE)
        assert page.evaluate(SAVED_JPEGS) == 2 * len(saved)

        # a corner of a field: too few red cells to judge its colours, and the phone says so
        few = tmp_path / "few.png"
        Image.open(photo).crop((0, 0, 260, 200)).save(few)
        corner = Classifier(folder).classify_field(str(few))
        assert corner["colour"]["standardised"] is False and corner["cells"], corner["colour"]
        find_all_cells(page, few)
        assert "Too few red cells to match this photo's colours" in page.inner_text(
            "#field-summary"
        )

        find_all_cells(page, blank)
        assert page.inner_text("#field-summary").startswith("No red cells were found")
        assert not refused, [m.text for m in refused]
        page.close()
    finally:
        server.stop()


SAVED_JPEGS = """async () => (await window.hematovision.db.getAll('predictions')).filter(
    (r) => r.photo_sha256 && r.cell_image instanceof Blob && r.cell_image.type === 'image/jpeg'
        && r.cell_image.size > 0).length"""


FIND_THEN_SAVE_AT_ONCE = """async () => {
    const app = window.hematovision;
    await app.fieldMode.findAllCells();
    await app.fieldMode.saveField();
}"""


def save_all(page) -> str:
    before = page.evaluate("document.body.dataset.fieldSaved || ''")
    page.click("#field-save")
    page.wait_for_function(
        "([b]) => (document.body.dataset.fieldSaved || '') !== b", arg=[before], timeout=30_000
    )
    return page.inner_text("#notice-text")


def test_rbc_segmented_is_a_field_framing_only_in_the_browser_too(app_origin_page):
    from classifier.cells.model_framing import field_framing_of, framing_of

    card = {"input": {"field_framing": {"method": "rbc-segmented", "extra": 1}}}
    wrong = {"input": {"framing": {"method": "rbc-segmented"}}}
    got = app_origin_page.evaluate(
        """async ([card, wrong]) => {
            const { fieldFramingOf, framingOf } =
                await import('/js/classifier/cells/model-framing.js');
            let refused = null;
            try { framingOf(wrong); } catch (error) { refused = error.message; }
            return [fieldFramingOf(card), framingOf(card), refused];
        }""",
        [card, wrong],
    )
    assert (
        got[:2] == [field_framing_of(card), framing_of(card)] == [{"method": "rbc-segmented"}, None]
    )
    with pytest.raises(ValueError) as python:
        framing_of(wrong)
    assert got[2].split(", got")[0] == str(python.value).split(", got")[0]


# ---- field colour standardisation: the very same tables as Python ----

COLOUR_TABLES = (
    """async ([b64, colour]) => {
    const { findRedCells, segmentedCrop } = await import('/js/classifier/cells/red-cell-field.js');
    const { fieldColour } = await import('/js/classifier/cells/field-colour.js');"""
    + DECODE
    + """    const found = findRedCells(image);
    const crops = found.cells.map((cell) => segmentedCrop(image, cell, found.factor));
    const [tables, report] = fieldColour(crops, found.cells.map((c) => c.edge), colour);
    return { tables: tables && tables.map((t) => Array.from(t)), report };
}"""
)


@pytest.mark.parametrize("index", [0, 4, 9])
def test_the_browser_builds_the_very_same_colour_table(app_origin_page, index):
    from classifier.cells.field_colour import field_colour

    photo = malaria_field_photos()[index]
    colour = {"cell_mean": [191.18, 152.19, 160.54], "cell_std": [20.69, 19.73, 17.15]}
    got = app_origin_page.evaluate(COLOUR_TABLES, [b64(photo), colour])
    rgb = load_photo(str(photo))
    found = find_red_cells(rgb)
    crops = [segmented_crop(rgb, cell, found["factor"]) for cell in found["cells"]]
    table, report = field_colour(crops, [c["edge"] for c in found["cells"]], colour)
    assert got["tables"] == table.tolist(), photo.name
    assert got["report"]["cells"] == report["cells"] and got["report"]["standardised"]


@pytest.mark.parametrize(
    "colour",
    [
        "grey",
        {"cell_mean": [1, 2], "cell_std": [1, 1, 1]},
        {"cell_mean": [1, 2, 3], "cell_std": [0, 1, 1]},
    ],
)
def test_a_malformed_field_colour_is_refused_in_the_browser_too(app_origin_page, colour):
    from classifier.cells.model_framing import field_framing_of

    card = {"input": {"field_framing": {"method": "rbc-segmented", "colour": colour}}}
    refused = app_origin_page.evaluate(
        """async ([card]) => {
            const { fieldFramingOf } = await import('/js/classifier/cells/model-framing.js');
            try { fieldFramingOf(card); return null; } catch (error) { return error.message; }
        }""",
        [card],
    )
    with pytest.raises(ValueError) as python:
        field_framing_of(card)
    assert refused is not None
    assert refused.split(", got")[0] == str(python.value).split(", got")[0]
