"""Framing as a property of the model: backend.classify frames a photo when (and only when) the
model's model.json declares it; a photo without a white cell is `unfamiliar` with no label."""

import json

import numpy as np
import pytest
from PIL import Image

from backend.cells.annotations import bccd_photos, read_voc_boxes
from backend.cells.framing import central_white_cell, frame_cell
from backend.classify import Classifier, ModelFolderError, UnreadableImageError, load_photo
from tests import pwa_support as pwa
from tests.framing_support import FRAMING, base_release, framed_release


@pytest.fixture(scope="module")
def framed(tmp_path_factory):
    return Classifier(framed_release(tmp_path_factory.mktemp("framed")))


def test_a_framed_model_classifies_the_framed_central_white_cell(framed):
    image = pwa.dataset_images("pbc", per_class=1)[4]  # a lymphocyte
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
    crops = pwa.dataset_images("malaria", per_class=2)  # red-cell crops: no white cell
    for crop in crops:
        got = framed.classify(str(crop))
        assert got["status"] == "unfamiliar" and got["label"] is None, crop
        assert got["probabilities"] == {} and "no white cell" in got["reason"]


def test_an_unframed_model_is_fed_the_whole_image_as_before():
    classifier = Classifier(base_release())
    assert classifier.framing is None
    image = pwa.dataset_images("malaria", per_class=1)[0]
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
    from backend.classify import main

    folder = framed_release(tmp_path)
    photo, crop = bccd_photos("held-out")[0], pwa.dataset_images("malaria", per_class=1)[0]
    assert main([str(folder), str(crop)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["status"] == "unfamiliar" and line["label"] is None
    assert main([str(folder), "--field", str(photo)]) == 0
    assert json.loads(capsys.readouterr().out)["cells"]
