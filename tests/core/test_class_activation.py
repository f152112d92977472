"""The why-this-call map (issue 17): wbc-differential 2.2.0 and malaria-screen 1.2.0 are 2.1.0's
and 1.1.0's networks with a third output `cam`. On real images they call exactly what their
sources call, their results carry the map the contract defines (single image and every field
cell), an older release gives no map, and a card that declares a malformed map is refused."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from bench.inputs import MODELS_ROOT, dataset_images
from classifier.classify import Classifier, cam_values, load_image
from classifier.model_card import ModelCardError, parse_model_card
from tests.conftest import malaria_field_photos, refused_before_any_work
from training.annotations import bccd_photos
from training.cam_release import main as cam_release_main

PAIRS = {  # new release -> its source, and the dataset of its real test images
    "wbc-differential/2.2.0": ("wbc-differential/2.1.0", "pbc", 1),
    "malaria-screen/1.2.0": ("malaria-screen/1.1.0", "malaria", 4),
}
# The new files' probabilities differ from their sources' by at most 1.5e-5 (the card's
# class_activation.checked): the 4th decimal of a result can round the other way, no more.
ROUNDING = 1e-4


@pytest.fixture(scope="module")
def classifiers():
    return {
        version: Classifier(MODELS_ROOT / version)
        for pair in PAIRS.items()
        for version in (pair[0], pair[1][0])
    }


def assert_map_of(result: dict, card: dict) -> None:
    cam, ca = result["cam"], card["class_activation"]
    assert cam["label"] == result["label"]
    assert (cam["rows"], cam["cols"]) == (ca["rows"], ca["cols"])
    values = cam["values"]
    assert len(values) == ca["rows"] * ca["cols"]
    assert all(type(v) is int and 0 <= v <= 255 for v in values)
    assert max(values) in (0, 255)


@pytest.mark.parametrize("new", PAIRS)
def test_the_new_release_calls_what_its_source_calls_and_adds_the_map(classifiers, new):
    source, dataset, per_class = PAIRS[new]
    cam_model, old_model = classifiers[new], classifiers[source]
    for image in dataset_images(dataset, per_class=per_class):
        result, old = cam_model.classify(image), old_model.classify(image)
        assert "cam" not in old, "a release without class_activation gives no map"
        assert {k: result[k] for k in ("label", "status")} == {
            k: old[k] for k in ("label", "status")
        }
        assert result["confidence"] == pytest.approx(old["confidence"], abs=ROUNDING)
        assert result["probabilities"] == pytest.approx(old["probabilities"], abs=ROUNDING)
        assert_map_of(result, cam_model.card)


@pytest.mark.parametrize("new", PAIRS)
def test_the_map_is_the_raw_output_of_the_called_class_scaled_by_hand(classifiers, new):
    classifier = classifiers[new]
    image = dataset_images(PAIRS[new][1], per_class=1)[-1]
    raw = classifier.model.run(load_image(image, classifier.size))[2]
    assert raw.shape == tuple(classifier.card["class_activation"][k] for k in ("rows", "cols")) + (
        len(classifier.labels),
    )
    result = classifier.classify(image)
    k = classifier.labels.index(result["label"])
    m = [float(x) for x in raw[:, :, k].ravel()]  # row-major: index = i * cols + j
    top = max(max(m), 0.0)
    assert top > 0, "a confident call has positive evidence somewhere"
    for index in (0, len(m) // 2, m.index(max(m))):
        by_hand = math.floor(255 * max(m[index], 0.0) / top + 0.5)
        assert result["cam"]["values"][index] == by_hand
    assert result["cam"]["values"][m.index(max(m))] == 255


def test_every_cell_of_a_field_gets_the_map_of_its_own_call(classifiers):
    white = classifiers["wbc-differential/2.2.0"].classify_field(bccd_photos("held-out")[0])
    red = classifiers["malaria-screen/1.2.0"].classify_field(malaria_field_photos()[0])
    assert white["cells"] and len(red["cells"]) > 20
    for field, version in ((white, "wbc-differential/2.2.0"), (red, "malaria-screen/1.2.0")):
        for cell in field["cells"]:
            assert_map_of(cell, classifiers[version].card)
    old = classifiers["malaria-screen/1.1.0"].classify_field(malaria_field_photos()[0])
    assert [c["label"] for c in old["cells"]] == [c["label"] for c in red["cells"]]
    assert not any("cam" in cell for cell in old["cells"])


def test_the_command_line_prints_the_map():
    image = dataset_images("pbc", per_class=1)[0]
    run = subprocess.run(
        [sys.executable, "-m", "backend.classify", str(MODELS_ROOT / "wbc-differential/2.2.0"),
         str(image)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = json.loads(run.stdout)
    assert line["cam"] == Classifier(MODELS_ROOT / "wbc-differential/2.2.0").classify(image)["cam"]


def test_the_display_rule_clips_scales_and_rounds_half_up():
    cam = np.zeros((1, 4, 2), np.float32)
    cam[0, :, 1] = [-3.0, 0.0, 1.0, 2.0]  # class 1: 255 * 1 / 2 = 127.5 rounds up to 128
    assert cam_values(cam, 1) == [0, 0, 128, 255]
    assert cam_values(-np.ones((2, 2, 1), np.float32), 0) == [0, 0, 0, 0]  # nothing positive


def _card(**class_activation):
    card = json.loads((MODELS_ROOT / "wbc-differential/2.2.0/model.json").read_text())
    card["class_activation"] = {**card["class_activation"], **class_activation}
    return json.dumps(card)


@pytest.mark.parametrize(
    "bad",
    [{"rows": 0}, {"cols": 65}, {"rows": "6"}, {"rows": 5}, {"output": "probabilities"},
     {"output": "nothing"}],
)  # fmt: skip
def test_a_card_declaring_a_map_its_outputs_do_not_have_is_refused(bad):
    with pytest.raises(ModelCardError, match="class_activation"):
        parse_model_card(_card(**bad))
    assert parse_model_card(_card())["class_activation"]["output"] == "cam"


@pytest.mark.parametrize(
    ("source", "out", "message"),
    [
        ("wbc-differential/2.2.0", "new", "already has a class-activation map"),
        ("wbc-differential/2.1.0", "existing", "is never overwritten"),
    ],
)
def test_the_release_step_refuses_before_any_work(tmp_path, capsys, source, out, message):
    args = ["--from", str(MODELS_ROOT / source)]
    assert message in refused_before_any_work(cam_release_main, tmp_path, capsys, out, args)
