"""How the shipped file does on the lab a leave-one-lab-out run held out (training.labs):
the figure that says how a new laboratory would fare, measured on crops never trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.evaluate import expected_calibration_error, statuses_of
from training.export import run_tflite
from training.release.run import TrainingRun


def score_held_out_lab(path: Path, run: TrainingRun, decision: dict) -> dict:
    """Accuracy and the statuses' honesty on the held-out lab, through the client's rule."""
    lab = run.held_out
    probabilities, familiarity = run_tflite(path, len(run.labels), lab.images)
    statuses = np.array(statuses_of(probabilities, familiarity, run.labels, decision))
    correct = probabilities.argmax(1) == lab.labels
    confident = statuses == "confident"
    return {
        "n": int(len(correct)),
        "accuracy": _share(correct),
        "confident_share": _share(confident),
        "confident_accuracy": _share(correct[confident]),
        "wrong_calls_confident": _share(confident[~correct]),
        "ece": _ece(probabilities, lab.labels),
        "no_white_cell_found": lab.no_white_cell,
    }


def _ece(probabilities: np.ndarray, labels: np.ndarray) -> float | None:
    return round(expected_calibration_error(probabilities, labels), 4) if len(labels) else None


def _share(flags: np.ndarray) -> float | None:
    """Mean of a boolean array, None when it is empty (nothing to measure, not 0)."""
    return round(float(flags.mean()), 4) if len(flags) else None
