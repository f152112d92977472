"""The model card's other-labs section (training.other_labs): measured on the real release and
the real bccd-fields photos, stored once in model.json and report.md however often it is run."""

import json
import shutil

import numpy as np
import pytest

from bench.inputs import MODELS_ROOT
from tests.conftest import base_release
from training import other_labs


def test_the_other_labs_check_is_written_once_into_the_model_card(tmp_path):
    release = tmp_path / "wbc-differential" / "1.0.0"
    shutil.copytree(base_release(), release)
    check = other_labs.field_check(release)
    assert check["photos"] == 162 and check["white_cells_found"] >= 160
    assert sum(check["labels"].values()) == sum(check["statuses"].values())
    assert sum(check["labels"].values()) == check["white_cells_found"]
    wrong = sum(check["labels"].get(k, 0) for k in other_labs.NOT_WHITE_CELLS)
    assert check["called_platelet_or_erythroblast"] == wrong >= check["of_those_confident"]
    for _ in range(2):
        other_labs.write(release, check)
    card = json.loads((release / "model.json").read_text())
    assert card["other_labs"] == check
    report = (release / "report.md").read_text()
    assert report.count(other_labs.HEADING) == 1 and report.count("## Limits") == 1
    assert report.index(other_labs.HEADING) < report.index("## Limits")
    assert f"{check['white_cells_found']} white cells found" in report
    assert "leave-one-lab-out" in report  # the newest release trained on the other labs


@pytest.mark.parametrize(
    "version, says",
    [
        ("1.1.0", "**not measured** in this card: the release trained on one lab (pbc)"),
        ("2.1.0", "trained on pbc and cellavision-blog, lisc, tecom, so its figures there"),
    ],
)
def test_the_section_says_how_an_unseen_lab_is_scored(version, says):
    """A release trained on the other labs must not say no other lab's cells were at hand: it
    names the labs it knows and sends an unseen lab's reader to the leave-one-lab-out table."""
    card = json.loads((MODELS_ROOT / "wbc-differential" / version / "model.json").read_text())
    text = other_labs.section(card, card["other_labs"])
    assert says in text
    assert ("leave-one-lab-out" in text) == (version != "1.1.0")


def test_a_framed_release_is_benched_as_a_client_meets_it(tmp_path):
    """bench.model scores a framed release through Classifier.classify: a photo it gives no
    label (nothing to frame) counts as wrong, like for like with an unframed release."""
    from PIL import Image

    from bench.model import framed_metrics
    from classifier.classify import Classifier
    from tests.conftest import framed_release
    from tests.training.conftest import PBC, copy_images, real_images
    from training.dataset import scan

    root = tmp_path / "data"
    labels = sorted(p.name for p in (PBC / "test").iterdir() if p.is_dir())  # the model's 8
    for split in ("train", "val", "test"):
        for label in labels:
            copy_images(real_images(PBC, split, label, 1), root / split / label)
    blank = root / "test" / "neutrophil" / "blank.png"
    Image.fromarray(np.full((120, 120, 3), 235, np.uint8)).save(blank)
    index = scan(root)
    classifier = Classifier(framed_release(tmp_path, {"method": "rbc-scaled", "span": 3.5}))
    assert index.labels == classifier.labels
    metrics = framed_metrics(classifier, index)
    assert metrics["images"] == 9 and metrics["images_without_label"] == 1
    results = [classifier.classify(s.path) for s in index.splits["test"]]
    correct = sum(
        r["label"] == index.labels[s.label]
        for r, s in zip(results, index.splits["test"], strict=True)
    )
    assert metrics["accuracy"] == round(correct / 9, 4) and correct <= 8  # the blank: wrong
