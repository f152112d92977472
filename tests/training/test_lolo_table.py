"""training.lolo_table: the leave-one-lab-out runs' scores go into the release's card, and only
runs of the release's own recipe are accepted."""

import json
import shutil
from pathlib import Path

import pytest

from training.lolo_table import HEADING, main

RELEASE = Path(__file__).resolve().parents[2] / "tflite_models" / "wbc-differential" / "1.1.0"


def score(accuracy):
    return {"n": 100, "accuracy": accuracy, "confident_share": 0.5, "confident_accuracy": 0.96,
            "wrong_calls_confident": 0.08, "ece": 0.03, "no_white_cell_found": 0}  # fmt: skip


@pytest.fixture
def release(tmp_path):
    folder = tmp_path / "wbc" / "2.0.0"
    folder.mkdir(parents=True)
    for name in ("model.json", "report.md"):
        shutil.copy(RELEASE / name, folder / name)
    return folder


def lolo_run(tmp_path, lab, accuracy, **hparams):
    card = json.loads((RELEASE / "model.json").read_text())
    card["version"] = f"0.0.1-{lab}"
    card["hparams"] = {**card["hparams"], **hparams}
    card["leave_one_lab_out"] = {"held_out": lab, "score": score(accuracy),
                                 "train_labs": {"pbc": {"train": 9, "val": 1}}}  # fmt: skip
    folder = tmp_path / "runs" / lab
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps(card))
    return folder


def test_the_three_runs_become_the_release_table(tmp_path, release, capsys):
    runs = [lolo_run(tmp_path, lab, a) for lab, a in (("tecom", 0.8), ("lisc", 0.9), ("cv", 0.85))]
    assert main([str(release), *map(str, runs)]) == 0
    card = json.loads((release / "model.json").read_text())
    entries = card["leave_one_lab_out"]["runs"]
    assert [e["held_out"] for e in entries] == ["cv", "lisc", "tecom"]
    assert entries[2]["score"]["accuracy"] == 0.8
    report = (release / "report.md").read_text()
    assert report.count(HEADING) == 1
    assert "| tecom | 100 | 80.0% | 8.0% | 96.0% | 50.0% | 3.0% | pbc 9 |" in report
    assert report.index(HEADING) < report.index("## Limits")
    # run again: the section is replaced, not repeated
    assert main([str(release), *map(str, runs)]) == 0
    assert (release / "report.md").read_text().count(HEADING) == 1


def test_a_run_of_another_recipe_is_refused_and_the_card_is_kept(tmp_path, release, capsys):
    before = (release / "model.json").read_bytes()
    other = lolo_run(tmp_path, "tecom", 0.9, image_size=128)
    assert main([str(release), str(other)]) == 2
    assert (
        "trained with another recipe (image_size: release 192, run 128)" in capsys.readouterr().err
    )
    assert (release / "model.json").read_bytes() == before


def test_a_run_without_a_held_out_lab_and_a_lab_twice_are_refused(tmp_path, release, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(RELEASE / "model.json", plain / "model.json")
    assert main([str(release), str(plain)]) == 2
    assert "held no lab out" in capsys.readouterr().err
    first = lolo_run(tmp_path, "tecom", 0.9)
    second = lolo_run(tmp_path / "again", "tecom", 0.8)
    assert main([str(release), str(first), str(second)]) == 2
    assert "a lab is held out by two runs" in capsys.readouterr().err


def test_a_missing_run_folder_is_a_clear_error(tmp_path, release, capsys):
    assert main([str(release), str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
