"""The release folder: model.tflite, model.keras, model.json, report.md/json and the plots."""

from __future__ import annotations

import json
import shutil

from classifier.model_card import model_card_text
from training import report
from training.evaluate import plot_confusion, plot_reliability
from training.release.run import TrainingRun


def write_release(run: TrainingRun, shipped: dict, card: dict, results: dict) -> None:
    """Write the release into run.out. The card is checked with the parser every client uses
    before anything is written, so a card the server or a phone would refuse never ships."""
    card_text = model_card_text(card)
    run.out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped["path"], run.out / "model.tflite")
    run.released.save(run.out / "model.keras")
    _plot_test_split(run, shipped, card["format"], results["test"]["confusion_matrix"])
    (run.out / "model.json").write_text(card_text)
    (run.out / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    (run.out / "report.md").write_text(report.markdown(card, results))


def _plot_test_split(run: TrainingRun, shipped: dict, fmt: str, confusion) -> None:
    title = f"{run.name} {run.version}: test ({fmt} file)"
    plot_confusion(confusion, run.labels, title, run.out / "confusion_matrix.png")
    probabilities, y_test = shipped["test"][0], run.arrays["test"][1]
    plot_reliability(probabilities, y_test, title, run.out / "reliability.png")
