"""bench/model_labs.py: a white-cell release on other laboratories' crops, per lab and mode."""

import shutil

from bench.model_labs import bench_labs, centre_cell, figures, lab_table, lolo_table
from classifier.classify import Classifier
from training.paths import datasets_root

RELEASE = "tflite_models/wbc-differential/1.1.0"
LABELS = ["basophil", "neutrophil"]


def call(label, status, p_neutrophil=0.9):
    return {
        "label": label,
        "status": status,
        "probabilities": {"basophil": 1 - p_neutrophil, "neutrophil": p_neutrophil},
    }


def test_figures_count_a_missing_call_as_wrong_and_never_confident():
    results = [
        call("neutrophil", "confident"),  # right, confident
        call("neutrophil", "confident"),  # wrong, confident
        call("basophil", "uncertain", 0.4),  # right
        None,  # field mode found no cell at the centre
    ]
    f = figures(results, ["neutrophil", "basophil", "basophil", "neutrophil"], LABELS)
    assert f["crops"] == 4 and f["called"] == 3
    assert f["right"] == 0.5
    assert f["wrong_calls_confident"] == 0.5  # 1 of the 2 wrong ones
    assert f["confident_right"] == 0.5 and f["confident_share"] == 0.5
    assert 0 <= f["ece"] <= 1


def test_the_centre_cell_is_the_one_whose_box_holds_the_centre():
    field = {
        "width": 100,
        "height": 80,
        "cells": [{"box": [0, 0, 30, 30]}, {"box": [40, 30, 60, 50]}],
    }
    assert centre_cell(field) == {"box": [40, 30, 60, 50]}
    assert centre_cell({**field, "cells": field["cells"][:1]}) is None


def test_a_release_is_scored_per_lab_in_both_modes(tmp_path):
    source = datasets_root() / "other-labs"
    for lab in ("lisc", "tecom"):
        for name in ("neutrophil", "lymphocyte"):
            folder = tmp_path / lab / name
            folder.mkdir(parents=True)
            for path in sorted((source / lab / name).iterdir())[:2]:
                shutil.copy(path, folder / path.name)
    classifier = Classifier(RELEASE)
    report = bench_labs(classifier, tmp_path)
    assert set(report) == {"lisc", "tecom"}
    for modes in report.values():
        assert set(modes) == {"single_cell", "field"}
        assert modes["single_cell"]["crops"] == modes["field"]["crops"] == 4
        assert modes["single_cell"]["called"] == 4  # an unframed release always calls
        for f in modes.values():
            assert 0 <= f["right"] <= 1
    pbc = {"test_images": 10, "accuracy": 0.9, "confident_accuracy": 1.0,
           "confident_coverage": 0.5, "ece": 0.02}  # fmt: skip
    table = lab_table("wbc 1.1.0", pbc, report).splitlines()
    assert len(table) == 5 + 2 * 2
    assert table[4].startswith("| pbc (test) | single cell | 10 | 90.0% |")


def test_the_leave_one_lab_out_table_has_a_row_per_held_out_lab():
    score = {"n": 296, "accuracy": 0.436, "wrong_calls_confident": 0.096,
             "confident_accuracy": 0.238, "confident_share": 0.071}  # fmt: skip
    run = {"held_out": "tecom", "score": score, "train_labs": {"pbc": {}, "lisc": {}}}
    card = {"name": "wbc-differential", "version": "2.0.0"}
    assert lolo_table(card) is None
    one = lolo_table({**card, "leave_one_lab_out": run}).splitlines()
    assert one[-1] == "| tecom | 296 | 43.6% | 9.6% | 23.8% | 7.1% | pbc, lisc |"
    three = lolo_table({**card, "leave_one_lab_out": {"runs": [run] * 3}}).splitlines()
    assert len(three) == len(one) + 2


def test_lab_rows_name_lab_and_mode():
    lab = "lisc"
    f = {"crops": 1, "right": 1.0, "wrong_calls_confident": None, "confident_right": None,
         "confident_share": 0.0, "ece": 0.1}  # fmt: skip
    pbc = {"test_images": 1, "accuracy": 1, "confident_accuracy": 1, "confident_coverage": 1,
           "ece": 0}  # fmt: skip
    rows = lab_table("m", pbc, {lab: {"single_cell": f, "field": f}}).splitlines()
    assert rows[-2].startswith(f"| {lab} | single cell | 1 | 100.0% | – |")
    assert rows[-1].startswith(f"| {lab} | field | 1 |")
