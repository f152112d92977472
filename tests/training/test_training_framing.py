"""Training through the framing (--framing wbc-canonical): every training image is the frame the
classifier will see (classifier.classify.frame_photo), images without a white cell are left out
and counted, and the release declares its framing so that every client frames alike."""

import json

import numpy as np
import pytest

from classifier.classify import Classifier, frame_photo
from tests.training.conftest import MALARIA, PBC, copy_images, real_images
from training.dataset import NO_WHITE_CELL, load_split, scan
from training.train import main as train_main

FRAMING = {"method": "wbc-canonical", "fill": 0.6}


def test_framed_split_holds_the_frames_clients_compute_and_counts_cells_not_found(tmp_path):
    root = tmp_path / "data"
    for split in ("train", "val", "test"):
        copy_images(real_images(PBC, split, "lymphocyte", 2), root / split / "lymphocyte")
        # red-cell crops filed as a class: no white cell to frame in them
        copy_images(real_images(MALARIA, split, "uninfected", 2), root / split / "uninfected")
    index = scan(root)
    x, y, skipped = load_split(index, "test", 64, tmp_path / "cache", FRAMING)
    lymphocytes = [s.path for s in index.splits["test"] if index.labels[s.label] == "lymphocyte"]
    assert len(x) == 2 and set(y) == {index.labels.index("lymphocyte")}
    for got, path in zip(x, lymphocytes, strict=True):
        np.testing.assert_array_equal(got, frame_photo(path, FRAMING, 64)["frame"])
    assert len(skipped) == 2 and all(m.startswith(NO_WHITE_CELL) for m in skipped)
    whole, _, _ = load_split(index, "test", 64, tmp_path / "cache")  # a separate cache entry
    assert len(whole) == 4


def test_a_bad_framing_option_stops_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "m" / "0.1.0"
    args = ["--data", str(PBC), "--out", str(out), "--framing", "centre-crop"]
    assert train_main(args) == 2
    assert "input.framing" in capsys.readouterr().err and not out.exists()


@pytest.mark.slow
def test_a_framed_training_run_releases_a_model_that_declares_its_framing(tmp_path):
    out = tmp_path / "models" / "tiny" / "0.1.0"
    args = ["--data", str(PBC), "--out", str(out), "--max-per-class", "4", "--image-size", "48",
            "--head-epochs", "1", "--fine-tune-epochs", "1", "--representative-images", "16",
            "--cache-dir", str(tmp_path / "cache"), "--framing", "wbc-canonical",
            "--frame-fill", "0.6", "--ood", str(MALARIA)]  # fmt: skip
    assert train_main(args) == 0
    card = json.loads((out / "model.json").read_text())
    assert card["input"]["framing"] == FRAMING
    assert card["hparams"]["framing"] == "wbc-canonical" and card["hparams"]["frame_fill"] == 0.6
    assert "input.framing" in card["client_rule"]
    assert "leave_one_lab_out" not in card and "labs" not in card["dataset"]  # pbc-only run
    counts = card["dataset"]["no_white_cell_found"]
    assert set(counts) == {"train", "val", "test"} and counts["train"] >= 0
    if counts["test"]:
        assert card["metrics"]["test_images_without_white_cell"] == counts["test"]
        assert card["metrics"]["test_accuracy_all_images"] <= card["metrics"]["test_accuracy"]
    classifier = Classifier(out)
    assert classifier.framing == FRAMING
    crop = real_images(MALARIA, "test", "uninfected", 1)[0]
    assert classifier.classify(crop)["status"] == "unfamiliar"
    cell = classifier.classify(real_images(PBC, "test", "neutrophil", 1)[0])
    assert cell["label"] in card["labels"] and "box" in cell


def test_in_lab_accuracy_of_a_framed_release_counts_images_without_a_cell_as_not_correct():
    from training.release.card import _whole_split_accuracy

    skipped = [f"{NO_WHITE_CELL} a.jpg", f"{NO_WHITE_CELL} b.jpg", "cannot read image c.jpg"]
    got = _whole_split_accuracy({"accuracy": 0.95, "images": 98}, skipped)
    assert got == {"test_images_without_white_cell": 2, "test_accuracy_all_images": 0.931}
    assert _whole_split_accuracy({"accuracy": 0.95, "images": 98}, []) == {}
