"""One real, tiny training run (the shared `tiny_lolo_release`): load -> train -> calibrate ->
export -> classifier.classify."""

import json
import subprocess
import sys

import numpy as np
import pytest

from classifier.classify import STATUSES, Classifier
from tests.training.conftest import PBC, TINY_RUN_PER_CLASS, real_images
from training.export import parity, sha256_of

pytestmark = pytest.mark.slow

LABELS = sorted(p.name for p in (PBC / "train").iterdir())


@pytest.fixture(scope="module")
def release(tiny_lolo_release):
    return tiny_lolo_release


def test_release_folder_is_complete_and_consistent(release):
    names = {p.name for p in release.iterdir()}
    assert {"model.tflite", "model.json", "model.keras", "report.md", "report.json",
            "confusion_matrix.png", "reliability.png"} <= names  # fmt: skip
    card = json.loads((release / "model.json").read_text())
    assert card["name"] == "tiny" and card["version"] == "0.1.0"
    assert card["labels"] == LABELS
    assert card["file"]["sha256"] == sha256_of(release / "model.tflite")
    assert card["input"]["shape"] == [1, 48, 48, 3]
    assert card["format"] in ("int8", "float16")
    assert card["calibration"]["temperature"] > 0
    assert 0 < card["decision"]["confident_at_or_above"] <= 1
    # pbc gives each class its TINY_RUN_PER_CLASS images; the other labs add to five of them
    counts, labs = card["dataset"]["counts"], card["dataset"]["labs"]
    assert labs["train"]["pbc"] == TINY_RUN_PER_CLASS * len(LABELS)
    assert sum(counts["train"].values()) == sum(labs["train"].values())
    assert all(counts["train"][label] >= TINY_RUN_PER_CLASS for label in LABELS)
    assert counts["test"] == {label: TINY_RUN_PER_CLASS for label in LABELS}  # pbc's only


def test_classify_command_returns_the_exported_labels(release):
    images = [real_images(PBC, "test", label, 1)[0] for label in ("ig", "platelet")]
    result = subprocess.run(
        [sys.executable, "-m", "classifier.classify", str(release), *map(str, images)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(image) for image in images]
    for line in lines:
        assert line["label"] in LABELS
        assert line["status"] in STATUSES
        assert list(line["probabilities"]) == LABELS
        assert abs(sum(line["probabilities"].values()) - 1) < 0.02
        assert line["confidence"] == max(line["probabilities"].values())


def test_report_measures_both_files_against_keras(release):
    report = json.loads((release / "report.json").read_text())
    for fmt in ("int8", "float16"):
        measured = report["formats"][fmt]["parity_with_keras_test"]
        assert 0 <= measured["argmax_agreement"] <= 1
        assert 0 <= measured["max_probability_difference"] <= 1
    # float16 is the same network within rounding: its probabilities stay close to Keras.
    assert (
        report["formats"]["float16"]["parity_with_keras_test"]["max_probability_difference"] < 0.02
    )
    assert report["test"]["images"] == TINY_RUN_PER_CLASS * len(LABELS)


def test_shipped_file_matches_the_keras_model(release):
    import keras

    import training.model  # noqa: F401  (custom layers)

    classifier = Classifier(release)
    keras_model = keras.models.load_model(release / "model.keras")
    images = np.stack([classifier_input for classifier_input in _test_images(classifier.size)])
    keras_probabilities = keras_model.predict(images.astype(np.float32), verbose=0)[0]
    tflite_probabilities = np.stack([classifier.model.predict(image)[0] for image in images])
    measured = parity(keras_probabilities, tflite_probabilities)
    assert measured["max_probability_difference"] < 0.1
    assert np.abs(keras_probabilities.sum(1) - 1).max() < 1e-3


def _test_images(size):
    from classifier.classify import load_image

    for label in LABELS:
        for path in real_images(PBC, "test", label, 2):
            yield load_image(path, size)
