"""Turn a trained model into a release folder: model.tflite, model.json, report.md/json, PNGs.

The shipped file is chosen on the validation split: int8 when it agrees with the float model and
keeps its accuracy, otherwise float16. The status thresholds are chosen on the validation
outputs of that very file; the test split is only measured.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np
from scipy.special import softmax

from classifier.classify import decide
from training import report
from training.dataset import NO_WHITE_CELL
from training.evaluate import (
    confident_threshold,
    plot_confusion,
    plot_reliability,
    summarize,
    synthetic_non_cell_images,
)
from training.export import (
    batch_of_one,
    convert_float16,
    convert_int8,
    parity,
    run_keras,
    run_tflite,
    sha256_of,
)

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


def _candidates(released, x_train, arrays, n, hp, work: Path, log) -> dict:
    rng = np.random.default_rng(hp.seed)
    take = rng.choice(len(x_train), min(hp.representative_images, len(x_train)), replace=False)
    one = batch_of_one(released)
    files = {
        "int8": lambda: convert_int8(one, x_train[take]),
        "float16": lambda: convert_float16(one),
    }
    out = {}
    for fmt, convert in files.items():
        path = work / f"{fmt}.tflite"
        path.write_bytes(convert())
        out[fmt] = {"path": path, "bytes": path.stat().st_size}
        for split in ("val", "test"):
            out[fmt][split] = run_tflite(path, n, arrays[split][0])
        log(f"{fmt}: {out[fmt]['bytes']} bytes")
    return out


def _choose(candidates: dict, keras_val, y_val, hp) -> tuple[str, str]:
    int8 = candidates["int8"]["val"][0]
    agreement = parity(keras_val, int8)["argmax_agreement"]
    lost = (keras_val.argmax(1) == y_val).mean() - (int8.argmax(1) == y_val).mean()
    if agreement >= hp.int8_min_agreement and lost <= 0.005:
        return "int8", f"int8 agrees with the float model on {agreement:.1%} of validation images"
    return "float16", (
        f"int8 agreed with the float model on only {agreement:.1%} of validation images and lost "
        f"{100 * lost:.1f} accuracy points there (limit {hp.int8_min_agreement:.1%} and 0.5), so "
        f"the float16 file ships"
    )


def _statuses(probabilities, familiarity, labels, decision) -> list[str]:
    return [
        decide(p, f, labels, decision)[2] for p, f in zip(probabilities, familiarity, strict=True)
    ]


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


def _ood_checks(path: Path, n, labels, decision, ood: dict, size: int) -> dict:
    """ood: name -> (model inputs, images without a white cell). With framing those are
    'unfamiliar' by the rule, without running the model, and are counted so."""
    sets = {**ood, "generated non-cell images": (synthetic_non_cell_images(240, size), 0)}
    checks = {}
    for name, (images, no_cell) in sets.items():
        statuses = np.array(["unfamiliar"] * no_cell, dtype=object)
        median = None
        if len(images):
            probabilities, familiarity = run_tflite(path, n, images)
            run = _statuses(probabilities, familiarity, labels, decision)
            statuses = np.concatenate([statuses, np.array(run, dtype=object)])
            median = round(float(np.median(familiarity)), 4)
        checks[name] = {
            "images": len(statuses),
            "no_white_cell_found": no_cell,
            "unfamiliar": round(float((statuses == "unfamiliar").mean()), 4),
            "confident": round(float((statuses == "confident").mean()), 4),
            "median_familiarity": median,
        }
    return checks


def _io_details(path: Path, n: int) -> dict:
    from classifier.classify import TFLiteModel

    model = TFLiteModel(path, n)
    order = [d["index"] for d in model.interpreter.get_output_details()]

    def describe(detail, name):
        scale, zero_point = detail["quantization"]
        return {
            "name": name,
            "position": order.index(detail["index"]) if name != "pixels" else 0,
            "tensor_index": int(detail["index"]),
            "shape": [int(d) for d in detail["shape"]],
            "dtype": np.dtype(detail["dtype"]).name,
            "quantization": {"scale": float(scale), "zero_point": int(zero_point)},
        }

    return {
        "input": describe(model.input, "pixels"),
        "outputs": [
            describe(model.probabilities_out, "probabilities"),
            describe(model.familiarity_out, "familiarity"),
        ],
    }


def make(
    *,
    out: Path,
    name,
    version,
    index,
    arrays,
    skipped,
    trained,
    released,
    temperature,
    hp,
    history,
    ood,
    training_seconds,
    log,
) -> dict:
    labels, n = index.labels, len(index.labels)
    (x_train, _), (x_val, y_val), (x_test, y_test) = arrays["train"], arrays["val"], arrays["test"]
    keras_val, _ = run_keras(released, x_val)
    keras_test, _ = run_keras(released, x_test)
    raw_test = softmax(trained.predict(x_test.astype(np.float32), 64, verbose=0), axis=1)
    with tempfile.TemporaryDirectory() as work:
        candidates = _candidates(released, x_train, arrays, n, hp, Path(work), log)
        fmt, why = _choose(candidates, keras_val, y_val, hp)
        shipped = candidates[fmt]
        val_probabilities, val_familiarity = shipped["val"]
        decision = {
            "unfamiliar_below": round(float(np.quantile(val_familiarity, hp.familiar_quantile)), 4),
            "confident_at_or_above": round(
                confident_threshold(val_probabilities, y_val, hp.confident_precision), 4
            ),
        }
        test_probabilities, test_familiarity = shipped["test"]
        test = summarize(
            test_probabilities,
            y_test,
            labels,
            _statuses(test_probabilities, test_familiarity, labels, decision),
        )
        val = summarize(
            val_probabilities,
            y_val,
            labels,
            _statuses(val_probabilities, val_familiarity, labels, decision),
        )
        ood_checks = _ood_checks(shipped["path"], n, labels, decision, ood, hp.image_size)
        out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped["path"], out / "model.tflite")
        io = _io_details(out / "model.tflite", n)
        formats = {
            f: {
                "bytes": c["bytes"],
                "test_accuracy": round(float((c["test"][0].argmax(1) == y_test).mean()), 4),
                "parity_with_keras_test": parity(keras_test, c["test"][0]),
                "parity_with_keras_val": parity(keras_val, c["val"][0]),
            }
            for f, c in candidates.items()
        }
    released.save(out / "model.keras")
    plot_confusion(
        test["confusion_matrix"],
        labels,
        f"{name} {version}: test ({fmt} file)",
        out / "confusion_matrix.png",
    )
    plot_reliability(
        test_probabilities, y_test, f"{name} {version}: test ({fmt} file)", out / "reliability.png"
    )
    keras_metrics = summarize(keras_test, y_test, labels)
    results = {
        "test": test,
        "validation": val,
        "keras_float_test": {k: keras_metrics[k] for k in ("accuracy", "macro_f1", "ece")},
        "ece_before_calibration_test": round(float(summarize(raw_test, y_test, labels)["ece"]), 4),
        "formats": formats,
        "shipped_format": fmt,
        "shipped_format_reason": why,
        "unfamiliar_checks": ood_checks,
    }
    card = {
        "name": name,
        "version": version,
        "labels": labels,
        "task": f"single-cell image classification, {n} classes",
        "format": fmt,
        "format_reason": why,
        "input": {
            **io["input"],
            "range": [0, 255],
            "color": "RGB",
            "resize": "whole image to the input size, bilinear, no crop; EXIF orientation applied"
            if hp.framing_spec() is None
            else "the canonical frame of the found white cell (input.framing); EXIF applied",
            **({"framing": hp.framing_spec()} if hp.framing_spec() else {}),
        },
        "outputs": io["outputs"],
        "decision": decision,
        "client_rule": (FRAMED_RULE if hp.framing_spec() else "") + CLIENT_RULE,
        "calibration": {
            "method": "temperature scaling on the validation split, baked into the last layer",
            "temperature": round(float(temperature), 4),
        },
        "metrics": {
            "test_accuracy": test["accuracy"],
            "test_macro_f1": test["macro_f1"],
            "test_ece": test["ece"],
            "test_confident_coverage": test["confident_coverage"],
            "test_confident_accuracy": test["confident_accuracy"],
            "parity_with_keras_test": formats[fmt]["parity_with_keras_test"],
            **_whole_split_accuracy(test, skipped["test"]),
        },
        "dataset": {
            "name": index.root.name,
            "layout": index.layout,
            "counts": index.counts(),
            "skipped_unreadable": {
                s: sum(not m.startswith(NO_WHITE_CELL) for m in v) for s, v in skipped.items()
            },
            "no_white_cell_found": {
                s: sum(m.startswith(NO_WHITE_CELL) for m in v) for s, v in skipped.items()
            },
            "notes": index.notes,
        },
        "hparams": hp.to_dict(),
        "training": {
            "wall_time_s": round(training_seconds, 1),
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, CPU only",
            "history": history,
        },
        "file": {
            "name": "model.tflite",
            "bytes": (out / "model.tflite").stat().st_size,
            "sha256": sha256_of(out / "model.tflite"),
        },
        "report": "report.md",
    }
    (out / "model.json").write_text(json.dumps(card, indent=2) + "\n")
    (out / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "report.md").write_text(report.markdown(card, results))
    return card
