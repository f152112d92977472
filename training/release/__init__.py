"""Turn a trained model into a release folder: model.tflite, model.json, report.md/json, PNGs.

The shipped file is chosen on the validation split: int8 when it agrees with the float model and
keeps its accuracy, otherwise float16. The status thresholds are chosen on the validation
outputs of that very file; the test split is only measured.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from training.export import run_keras
from training.release.card import build_model_card
from training.release.evaluation import evaluate, fit_decision_thresholds
from training.release.files import write_release
from training.release.formats import choose_format, convert_candidates
from training.release.run import HeldOutLab, TrainingRun

__all__ = ["HeldOutLab", "TrainingRun", "make"]


def make(run: TrainingRun) -> dict:
    """Release `run` into run.out; returns its model card (model.json)."""
    y_val = run.arrays["val"][1]
    keras_probabilities = {s: run_keras(run.released, run.arrays[s][0])[0] for s in ("val", "test")}
    with tempfile.TemporaryDirectory() as work:
        candidates = convert_candidates(run, Path(work))
        fmt, why = choose_format(candidates, keras_probabilities["val"], y_val, run.hp)
        shipped = candidates[fmt]
        decision = fit_decision_thresholds(shipped, y_val, run.hp)
        results = evaluate(run, candidates, keras_probabilities, (fmt, why), decision)
        card = build_model_card(run, results, decision, shipped["path"])
        write_release(run, shipped, card, results)
    return card
