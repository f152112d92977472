"""The shipped file's status thresholds, fitted on validation, and the release's figures
(report.json): the test split and the out-of-distribution sets are only measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.special import softmax

from training.evaluate import (
    confident_threshold,
    statuses_of,
    summarize,
    synthetic_non_cell_images,
)
from training.export import parity, run_tflite
from training.hparams import HParams
from training.release.held_out import score_held_out_lab
from training.release.run import TrainingRun

GENERATED_NON_CELLS = 240


def fit_decision_thresholds(shipped: dict, y_val, hp: HParams) -> dict:
    """model.json's decision, chosen on the shipped file's own validation outputs."""
    probabilities, familiarity = shipped["val"]
    return {
        "unfamiliar_below": round(float(np.quantile(familiarity, hp.familiar_quantile)), 4),
        "confident_at_or_above": round(
            confident_threshold(probabilities, y_val, hp.confident_precision), 4
        ),
    }


def evaluate(
    run: TrainingRun,
    candidates: dict,
    keras_probabilities: dict,
    choice: tuple[str, str],
    decision: dict,
) -> dict:
    """report.json. keras_probabilities: split -> the float model's; choice: (format, why)."""
    fmt, why = choice
    shipped = candidates[fmt]
    y_test = run.arrays["test"][1]
    keras_metrics = summarize(keras_probabilities["test"], y_test, run.labels)
    held_out = {}
    if run.held_out is not None:
        held_out = {"held_out_lab": score_held_out_lab(shipped["path"], run, decision)}
    return {
        "test": _summary(run, shipped, "test", decision),
        "validation": _summary(run, shipped, "val", decision),
        "keras_float_test": {k: keras_metrics[k] for k in ("accuracy", "macro_f1", "ece")},
        "ece_before_calibration_test": _ece_before_calibration(run),
        "formats": _formats(candidates, keras_probabilities, y_test),
        "shipped_format": fmt,
        "shipped_format_reason": why,
        "unfamiliar_checks": _ood_checks(shipped["path"], run, decision),
        **held_out,
    }


def _summary(run: TrainingRun, shipped: dict, split: str, decision: dict) -> dict:
    probabilities, familiarity = shipped[split]
    statuses = statuses_of(probabilities, familiarity, run.labels, decision)
    return summarize(probabilities, run.arrays[split][1], run.labels, statuses)


def _ece_before_calibration(run: TrainingRun) -> float:
    x_test, y_test = run.arrays["test"]
    logits = run.trained.predict(x_test.astype(np.float32), 64, verbose=0)
    return round(float(summarize(softmax(logits, axis=1), y_test, run.labels)["ece"]), 4)


def _formats(candidates: dict, keras_probabilities: dict, y_test) -> dict:
    return {
        fmt: {
            "bytes": c["bytes"],
            "test_accuracy": round(float((c["test"][0].argmax(1) == y_test).mean()), 4),
            "parity_with_keras_test": parity(keras_probabilities["test"], c["test"][0]),
            "parity_with_keras_val": parity(keras_probabilities["val"], c["val"][0]),
        }
        for fmt, c in candidates.items()
    }


def _ood_checks(path: Path, run: TrainingRun, decision: dict) -> dict:
    """How each set that should be 'unfamiliar' comes out. Images without a white cell are
    'unfamiliar' by the framing rule, without running the model, and are counted so."""
    generated = synthetic_non_cell_images(GENERATED_NON_CELLS, run.hp.image_size)
    sets = {**run.ood, "generated non-cell images": (generated, 0)}
    checks = {}
    for name, (images, no_cell) in sets.items():
        statuses = np.array(["unfamiliar"] * no_cell, dtype=object)
        median = None
        if len(images):
            probabilities, familiarity = run_tflite(path, len(run.labels), images)
            found = statuses_of(probabilities, familiarity, run.labels, decision)
            statuses = np.concatenate([statuses, np.array(found, dtype=object)])
            median = round(float(np.median(familiarity)), 4)
        checks[name] = {
            "images": len(statuses),
            "no_white_cell_found": no_cell,
            "unfamiliar": round(float((statuses == "unfamiliar").mean()), 4),
            "confident": round(float((statuses == "confident").mean()), 4),
            "median_familiarity": median,
        }
    return checks
