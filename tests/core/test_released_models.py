"""Every released model folder is complete, self-consistent and classifies real images."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classifier.classify import STATUSES, Classifier, ModelFolderError, decide
from training.evaluate import synthetic_non_cell_images
from training.paths import datasets_root

MODELS = Path(__file__).resolve().parents[2] / "tflite_models"
RELEASES = sorted(card.parent for card in MODELS.glob("*/*/model.json"))
OTHER_DATASET = {"pbc": "malaria", "malaria": "pbc"}
REQUIRED = {"name", "version", "labels", "format", "input", "outputs", "decision", "client_rule",
            "calibration", "metrics", "dataset", "hparams", "training", "file"}  # fmt: skip


def test_both_models_are_released():
    assert {r.parent.name for r in RELEASES} >= {"wbc-differential", "malaria-screen"}


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: f"{r.parent.name}-{r.name}")
def test_model_card_is_valid_and_matches_the_file(release):
    card = json.loads((release / "model.json").read_text())
    assert REQUIRED <= set(card)
    assert (card["name"], card["version"]) == (release.parent.name, release.name)
    data = (release / "model.tflite").read_bytes()
    assert card["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert card["file"]["bytes"] == len(data)
    assert card["labels"] == sorted(card["labels"]) and len(card["labels"]) >= 2
    size = card["hparams"]["image_size"]
    batch = card.get("batch", {}).get("size", 1)  # several images per run from malaria 2.3.0
    assert card["input"]["shape"] == [batch, size, size, 3]
    assert card["input"]["dtype"] in ("uint8", "float32")
    cam = card.get("class_activation", {}).get("output")  # the map, from 2.2.0 and 1.2.0 on
    views = card.get("view_check", {}).get("output")  # the turned image's, from 2.3.0 on
    shapes = sorted(o["shape"] for o in card["outputs"] if o["name"] not in (cam, views))
    assert shapes == [[batch, 1], [batch, len(card["labels"])]]
    if cam:
        (entry,) = [output for output in card["outputs"] if output["name"] == cam]
        ca = card["class_activation"]
        assert entry["shape"] == [batch, ca["rows"], ca["cols"], len(card["labels"])]
        assert list(card["display_names"]) == card["labels"]
        assert {lang: list(names) for lang, names in card["display_names_by_language"].items()} \
            == {lang: card["labels"] for lang in ("fr", "es", "pt")}  # fmt: skip
    if views:
        (entry,) = [output for output in card["outputs"] if output["name"] == views]
        assert entry["shape"] == [batch, len(card["view_check"]["views"]), len(card["labels"])]
        assert cam, "a view check is derived from a release with the map"
    assert 0.5 <= card["decision"]["confident_at_or_above"] <= 1
    assert -1 <= card["decision"]["unfamiliar_below"] <= 1
    for name in ("report.md", "report.json", "confusion_matrix.png", "reliability.png"):
        assert (release / name).is_file(), name


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: f"{r.parent.name}-{r.name}")
def test_released_model_classifies_real_test_images(release):
    classifier = Classifier(release)
    test = datasets_root() / classifier.card["dataset"]["name"] / "test"
    right = total = unfamiliar = 0
    for label in classifier.labels:
        for path in sorted((test / label).iterdir())[:6]:
            result = classifier.classify(path)
            assert result["status"] in STATUSES
            right += result["label"] == label
            unfamiliar += result["status"] == "unfamiliar"
            total += 1
    assert right / total >= 0.85
    assert unfamiliar / total <= 0.1


@pytest.mark.parametrize("release", RELEASES, ids=lambda r: f"{r.parent.name}-{r.name}")
def test_images_unlike_the_training_data_come_out_unfamiliar(release):
    classifier = Classifier(release)
    # A different seed from the release report's check: these exact images were never seen.
    generated = synthetic_non_cell_images(60, classifier.size, seed=2024)
    statuses = [classifier.classify_array(image)["status"] for image in generated]
    assert statuses.count("unfamiliar") >= 0.9 * len(statuses)
    other = datasets_root() / OTHER_DATASET[classifier.card["dataset"]["name"]] / "test"
    paths = sorted(other.rglob("*.*"))[::10][:40]
    statuses = [classifier.classify(path)["status"] for path in paths]
    assert statuses.count("unfamiliar") >= 0.8 * len(statuses)


def test_status_rule_follows_the_thresholds():
    labels, decision = ["a", "b"], {"unfamiliar_below": 0.5, "confident_at_or_above": 0.9}
    confident = ("a", 0.95, "confident", None)
    assert decide(np.array([0.95, 0.05]), 0.8, labels, decision) == confident
    assert decide(np.array([0.3, 0.7]), 0.8, labels, decision)[2:] == ("review", "below_threshold")
    unfamiliar = ("b", 0.98, "unfamiliar", "unfamiliar")
    assert decide(np.array([0.02, 0.98]), 0.4, labels, decision) == unfamiliar


def test_classify_command_reports_a_bad_image_and_keeps_going(tmp_path):
    release = RELEASES[0]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff this is not a JPEG")
    good = next((datasets_root() / json.loads((release / "model.json").read_text())["dataset"]
                 ["name"] / "test").rglob("*.*"))  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "classifier.classify", str(release), str(broken), str(good)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["image"] == str(broken) and "cannot read image" in first["error"]
    assert second["image"] == str(good) and second["status"] in STATUSES


def test_classify_command_rejects_a_folder_that_is_not_a_release(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "classifier.classify", str(tmp_path), "x.jpg"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "model.json missing" in result.stderr
    with pytest.raises(ModelFolderError):
        Classifier(tmp_path)
