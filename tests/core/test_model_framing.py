"""Framing as a property of the model: classifier.classify frames a photo when (and only when) the
model's model.json declares it. "wbc-canonical": a photo without a white cell is `unfamiliar`
with no label. "rbc-scaled": the frame is a fixed number of red-cell diameters wide."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from bench.inputs import dataset_images
from classifier.cells.finder import survey
from classifier.cells.framing import central_cell, central_white_cell, frame_cell, frame_square
from classifier.cells.model_framing import frame_photo_for
from classifier.classify import Classifier, ModelFolderError, UnreadableImageError, load_photo
from tests.conftest import FRAMING, base_release, framed_release
from training.annotations import bccd_photos, read_voc_boxes


@pytest.fixture(scope="module")
def framed(tmp_path_factory):
    return Classifier(framed_release(tmp_path_factory.mktemp("framed")))


def test_a_framed_model_classifies_the_framed_central_white_cell(framed):
    image = dataset_images("pbc", per_class=1)[4]  # a lymphocyte
    rgb = load_photo(str(image))
    cell = central_white_cell(rgb)
    got = framed.classify(str(image))
    assert got["box"] == cell["box"]
    want = framed.classify_array(frame_cell(rgb, cell["box"], framed.size, FRAMING["fill"]))
    assert {k: got[k] for k in want} == want
    # and this is not what the same model says about the resized whole image
    whole = Classifier(base_release()).classify(str(image))
    assert got["probabilities"] != whole["probabilities"]


def test_a_photo_without_a_white_cell_is_unfamiliar_with_no_label(framed):
    crops = dataset_images("malaria", per_class=2)  # red-cell crops: no white cell
    for crop in crops:
        got = framed.classify(str(crop))
        assert got["status"] == "unfamiliar" and got["label"] is None, crop
        assert got["probabilities"] == {} and "no white cell" in got["reason"]


def test_an_unframed_model_is_fed_the_whole_image_as_before():
    classifier = Classifier(base_release())
    assert classifier.framing is None
    image = dataset_images("malaria", per_class=1)[0]
    got = classifier.classify(str(image))
    assert got["label"] is not None and "box" not in got


@pytest.mark.parametrize(
    "framing",
    [{"method": "centre-crop", "fill": 0.6}, {"method": "wbc-canonical", "fill": 0}, "yes"],
)
def test_a_malformed_framing_is_refused_when_the_model_is_loaded(tmp_path, framing):
    with pytest.raises(ModelFolderError, match="input.framing"):
        Classifier(framed_release(tmp_path, framing))


def test_a_tiny_image_gives_a_clear_error(framed, tmp_path):
    path = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    with pytest.raises(UnreadableImageError, match="too small"):
        framed.classify(str(path))


def test_field_mode_classifies_every_annotated_white_cell(framed):
    photo = bccd_photos("held-out")[0]
    result = framed.classify_field(str(photo))
    annotated = [b["box"] for b in read_voc_boxes(photo) if b["type"] == "wbc"]
    assert (result["width"], result["height"]) == Image.open(photo).size
    assert len(result["cells"]) >= len(annotated) >= 1
    for cell in result["cells"]:
        assert cell["label"] in framed.labels
        assert cell["status"] in {"confident", "review", "unfamiliar"}


def test_the_command_line_prints_framed_and_field_results(framed, tmp_path, capsys):
    from classifier.classify import main

    folder = framed_release(tmp_path)
    photo, crop = bccd_photos("held-out")[0], dataset_images("malaria", per_class=1)[0]
    assert main([str(folder), str(crop)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["status"] == "unfamiliar" and line["label"] is None
    assert line["status_reason"] == "no_cell"
    assert main([str(folder), "--field", str(photo)]) == 0
    assert json.loads(capsys.readouterr().out)["cells"]


# ---- "rbc-scaled": a frame SPAN red-cell diameters wide (classifier.cells.model_framing) ----

SCALED = {"method": "rbc-scaled", "span": 3.5}


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    return Classifier(framed_release(tmp_path_factory.mktemp("scaled"), SCALED))


def test_a_scaled_model_frames_span_red_cells_around_the_central_white_cell(scaled):
    image = dataset_images("pbc", per_class=1)[4]  # a lymphocyte
    rgb = load_photo(str(image))
    cells, diameter = survey(rgb)
    cell = central_cell(cells, rgb.shape, "wbc")
    got = scaled.classify(str(image))
    assert got["box"] == cell["box"] and "reason" not in got
    x0, y0, x1, y1 = cell["box"]
    side = 3.5 * diameter
    want = scaled.classify_array(frame_square(rgb, (x0 + x1) / 2, (y0 + y1) / 2, side, scaled.size))
    assert {k: got[k] for k in want} == want


def test_the_frame_keeps_a_cells_size_relative_to_the_red_cells():
    # the same photo at two magnifications gives the same frame (a fill frame would too, but
    # here it is the red cells, not the white cell, that set the scale)
    image = dataset_images("pbc", per_class=1)[6]  # a neutrophil
    rgb = load_photo(str(image))
    big = np.asarray(Image.fromarray(rgb).resize((rgb.shape[1] * 2, rgb.shape[0] * 2)))
    small, large = (frame_photo_for(x, SCALED, 64) for x in (rgb, big))
    assert abs(survey(big)[1] / survey(rgb)[1] - 2) < 0.2
    difference = np.abs(small["frame"].astype(int) - large["frame"].astype(int))
    assert difference.mean() < 12


def test_a_platelet_is_framed_small_when_there_is_no_white_cell():
    for image in dataset_images("pbc", per_class=30, classes=["platelet"]):
        rgb = load_photo(str(image))
        cells, diameter = survey(rgb)
        if not any(c["type"] == "wbc" for c in cells) and any(
            c["type"] == "platelet" for c in cells
        ):
            break
    else:
        pytest.fail("no pbc platelet image with a platelet and no white cell found")
    framed = frame_photo_for(rgb, SCALED, 64)
    platelet = central_cell(cells, rgb.shape, "platelet")
    assert framed["box"] == platelet["box"]
    x0, _, x1, _ = platelet["box"]
    assert (x1 - x0) / (3.5 * diameter) < 0.2  # a speck in the frame, not a white-cell-sized blob


def test_with_no_cell_found_the_photo_centre_is_framed_and_unfamiliar(scaled, tmp_path):
    # red cells only: measurable, nothing stained -> framed at the centre, "unfamiliar"
    crop = dataset_images("malaria", per_class=1, classes=["uninfected"])[0]
    got = scaled.classify(str(crop))
    assert got["box"] is None and "centre" in got["reason"]
    assert got["label"] in scaled.labels and got["status"] == "unfamiliar"
    assert got["status_reason"] == "no_cell"  # not the familiarity rule: nothing to centre on
    # nothing measurable: no label
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 230, np.uint8)).save(blank)
    got = scaled.classify(str(blank))
    assert got["label"] is None and got["status"] == "unfamiliar" and got["probabilities"] == {}
    assert got["status_reason"] == "no_cell"


def test_scaled_field_mode_frames_every_white_cell_at_the_photos_scale(scaled):
    photo = bccd_photos("held-out")[0]
    rgb = load_photo(str(photo))
    cells, diameter = survey(rgb)
    result = scaled.classify_field(str(photo))
    white = [c for c in cells if c["type"] == "wbc"]
    assert [c["box"] for c in result["cells"]] == [c["box"] for c in white]
    x0, y0, x1, y1 = white[0]["box"]
    frame = frame_square(rgb, (x0 + x1) / 2, (y0 + y1) / 2, 3.5 * diameter, scaled.size)
    want = scaled.classify_array(frame, scaled.field_decision)  # field cells: the field rule
    assert {k: result["cells"][0][k] for k in want} == want


@pytest.mark.parametrize("span", [0, 1.0, 11, "3.5", True, None])
def test_a_scaled_framing_with_a_bad_span_is_refused(tmp_path, span):
    with pytest.raises(ModelFolderError, match="input.framing.span"):
        Classifier(framed_release(tmp_path, {"method": "rbc-scaled", "span": span}))


def test_field_cells_are_judged_by_the_cards_field_thresholds(tmp_path):
    """decision.field (chosen on field-mode frames) applies to field cells only; without it the
    close-up's thresholds do, as before."""
    source, folder = base_release(), tmp_path / "wbc-differential" / "strict"
    folder.mkdir(parents=True)
    shutil.copyfile(source / "model.tflite", folder / "model.tflite")
    card = json.loads((source / "model.json").read_text())
    base = Classifier(source)
    fields = ((str(p), base.classify_field(str(p))["cells"]) for p in bccd_photos("held-out"))
    photo, before = next((p, cells) for p, cells in fields if any(
        c["status"] == "confident" for c in cells))  # fmt: skip
    card["decision"]["field"] = {"confident_at_or_above": 1.01}  # nothing is that sure
    (folder / "model.json").write_text(json.dumps(card))
    strict = Classifier(folder)
    after = strict.classify_field(photo)["cells"]
    assert [c["probabilities"] for c in after] == [c["probabilities"] for c in before]
    assert all(c["status"] != "confident" for c in after)
    image = str(dataset_images("pbc", per_class=1)[4])
    assert strict.classify(image)["status"] == base.classify(image)["status"] == "confident"
