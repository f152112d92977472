"""model.json, the model card of a release, as a dict: what a client needs to run the file
(input, outputs, decision, client rule) and what the run measured and was made of.
classifier.model_card reads it; training.release.files checks it with that parser."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np

from classifier.classify import TFLiteModel
from training.dataset import NO_WHITE_CELL
from training.export import sha256_of
from training.labs import PBC
from training.release.run import TrainingRun
from training.sources import sources_of

CLIENT_RULE = (
    "Resize the whole image (no crop, EXIF orientation applied) to input.shape[1]xinput.shape[2] "
    "RGB, bilinear; feed the 0..255 pixels in input.dtype; dequantize each output as "
    "(q - zero_point) * scale when its dtype is uint8. label = labels[argmax(probabilities)], "
    "confidence = max(probabilities). status = 'unfamiliar' if familiarity < "
    "decision.unfamiliar_below, else 'confident' if confidence >= "
    "decision.confident_at_or_above, else 'review'. Outputs are told apart by shape: "
    "[1, len(labels)] is probabilities, [1, 1] is familiarity."
)
FRAMED_RULE = (
    "input.framing is set: instead of resizing the whole image, find the white cell nearest the "
    "photo's centre and feed its canonical frame (classifier.classify.frame_photo, "
    "pwa/js/classifier/cells/framing.js frameCell with input.framing.fill); a photo with no "
    "white cell found gets status 'unfamiliar' and no label. "
)


def build_model_card(run: TrainingRun, results: dict, decision: dict, tflite: Path) -> dict:
    """The card of the file `tflite` that ships; results is report.json (evaluation.evaluate)."""
    fmt, test = results["shipped_format"], results["test"]
    io = io_details(tflite, len(run.labels))
    framing = run.hp.framing_spec()
    return {
        "name": run.name,
        "version": run.version,
        "labels": run.labels,
        "task": f"single-cell image classification, {len(run.labels)} classes",
        "format": fmt,
        "format_reason": results["shipped_format_reason"],
        "input": _input(io["input"], framing),
        "outputs": io["outputs"],
        "decision": decision,
        "client_rule": (FRAMED_RULE if framing else "") + CLIENT_RULE,
        "calibration": {
            "method": "temperature scaling on the validation split, baked into the last layer",
            "temperature": round(float(run.temperature), 4),
        },
        "metrics": {
            "test_accuracy": test["accuracy"],
            "test_macro_f1": test["macro_f1"],
            "test_ece": test["ece"],
            "test_confident_coverage": test["confident_coverage"],
            "test_confident_accuracy": test["confident_accuracy"],
            "parity_with_keras_test": results["formats"][fmt]["parity_with_keras_test"],
            **_whole_split_accuracy(test, run.skipped["test"]),
        },
        "dataset": _dataset(run),
        "data_sources": sources_of(_trained_on(run)),
        "hparams": run.hp.to_dict(),
        "training": {
            "wall_time_s": round(run.training_seconds, 1),
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, CPU only",
            "history": run.history,
        },
        "file": file_entry(tflite),
        "report": "report.md",
        **_leave_one_lab_out(run, results),
    }


def file_entry(tflite: Path) -> dict:
    """model.json's `file`: the model file's name, size and sha256 (also for derived releases)."""
    return {"name": tflite.name, "bytes": tflite.stat().st_size, "sha256": sha256_of(tflite)}


def _trained_on(run: TrainingRun) -> list[str]:
    """The dataset and the other labs whose images trained the model."""
    return [run.index.root.name, *sorted(set(run.labs.get("train", {})) - {PBC})]


def _input(tensor: dict, framing: dict | None) -> dict:
    return {
        **tensor,
        "range": [0, 255],
        "color": "RGB",
        "resize": "whole image to the input size, bilinear, no crop; EXIF orientation applied"
        if framing is None
        else "the canonical frame of the found white cell (input.framing); EXIF applied",
        **({"framing": framing} if framing else {}),
    }


def _dataset(run: TrainingRun) -> dict:
    def count(skipped: list[str], without_cell: bool) -> int:
        return sum(m.startswith(NO_WHITE_CELL) == without_cell for m in skipped)

    return {
        "name": run.index.root.name,
        "layout": run.index.layout,
        "counts": run.index.counts(),
        "skipped_unreadable": {s: count(v, False) for s, v in run.skipped.items()},
        "no_white_cell_found": {s: count(v, True) for s, v in run.skipped.items()},
        "notes": run.index.notes,
        **({"labs": run.labs} if run.labs else {}),
    }


def _leave_one_lab_out(run: TrainingRun, results: dict) -> dict:
    """Only for a run that held a lab out: the lab, its score and what trained instead."""
    if run.held_out is None:
        return {}
    train, val = run.labs["train"], run.labs["val"]
    return {
        "leave_one_lab_out": {
            "held_out": run.held_out.name,
            "score": results["held_out_lab"],
            "train_labs": {lab: {"train": n, "val": val.get(lab, 0)} for lab, n in train.items()},
        }
    }


def _whole_split_accuracy(test: dict, skipped_test: list[str]) -> dict:
    """With framing, test images without a found white cell get no label: the like-for-like
    in-lab figure (to compare with an unframed release) counts them as not correct."""
    no_cell = sum(m.startswith(NO_WHITE_CELL) for m in skipped_test)
    if not no_cell:
        return {}
    correct = test["accuracy"] * test["images"]
    return {
        "test_images_without_white_cell": no_cell,
        "test_accuracy_all_images": round(correct / (test["images"] + no_cell), 4),
    }


def io_details(path: Path, n: int) -> dict:
    """input and outputs of the .tflite as clients find them: index, shape, dtype, quantization."""
    model = TFLiteModel(path, n)
    order = [d["index"] for d in model.interpreter.get_output_details()]
    return {
        "input": tensor_entry(model.input, "pixels", 0),
        "outputs": [
            tensor_entry(d, name, order.index(d["index"]))
            for d, name in ((model.probabilities_out, "probabilities"),
                            (model.familiarity_out, "familiarity"))
        ],
    }  # fmt: skip


def output_entry(path: Path, shape: list[int], name: str) -> dict:
    """model.json's entry (`name`) of the file's one output of `shape` (a derived release's
    added output: the map, the views); ValueError if the file has none or several."""
    details = TFLiteModel(path, shape[-1]).interpreter.get_output_details()
    found = [(d, i) for i, d in enumerate(details) if [int(s) for s in d["shape"]] == shape]
    if len(found) != 1:
        raise ValueError(f"{path} has no single {shape} output")
    detail, position = found[0]
    return tensor_entry(detail, name, position)


def tensor_entry(detail: dict, name: str, position: int) -> dict:
    """One input or output of model.json: a runtime's tensor detail under the card's name;
    `position`: its place among the interpreter's outputs (0 for the input)."""
    scale, zero_point = detail["quantization"]
    return {
        "name": name,
        "position": position,
        "tensor_index": int(detail["index"]),
        "shape": [int(d) for d in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "quantization": {"scale": float(scale), "zero_point": int(zero_point)},
    }
