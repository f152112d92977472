"""Benchmark of every released model (``make bench-model``); a measurement, not a test.

For each ``tflite_models/<name>/<version>/``: test-split accuracy, macro-F1 and ECE of the shipped
file (a framed release through ``Classifier.classify``, an image given no label counted wrong),
its size, its per-image latency in ai-edge-litert against the float Keras model measured in the
same run (ratio; Keras through ``predict_on_batch``, its compiled inference path, batch 1), and
the training wall time recorded at release. For a white-cell release also the other
laboratories' crops, in single-cell and field mode, and its leave-one-lab-out table
(``bench.model_labs``; ``--no-labs`` skips them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from bench.model_labs import bench_labs, is_white_cell_model, lab_table, lolo_table  # noqa: E402
from classifier.classify import Classifier, decide  # noqa: E402
from training.dataset import load_split, scan  # noqa: E402
from training.evaluate import summarize  # noqa: E402
from training.paths import datasets_root  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def median_ms(call, image: np.ndarray, repeats: int) -> float:
    call(image)  # warm-up: first call allocates and traces
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(image)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def framed_metrics(classifier: Classifier, index) -> dict:
    """A framed model scored as a client meets it: every test image through
    Classifier.classify (finder, framing, status rule); an image given no label counts as
    wrong, so the accuracy compares like for like with an unframed release."""
    results = [classifier.classify(sample.path) for sample in index.splits["test"]]
    truth = np.array([sample.label for sample in index.splits["test"]])
    labelled = np.array([r["label"] is not None for r in results])
    probabilities = np.array(
        [[r["probabilities"][name] for name in classifier.labels] for r in results if r["label"]]
    )
    statuses = [r["status"] for r in results if r["label"]]
    metrics = summarize(probabilities, truth[labelled], classifier.labels, statuses)
    predicted = np.array(
        [classifier.labels.index(r["label"]) if r["label"] else -1 for r in results]
    )
    confident = np.array([r["status"] == "confident" for r in results])
    metrics["accuracy"] = round(float((predicted == truth).mean()), 4)
    metrics["confident_coverage"] = round(float(confident.mean()), 4)
    metrics["images"] = len(results)
    metrics["images_without_label"] = int((~labelled).sum())
    return metrics


def bench(model_dir: Path, classifier: Classifier, repeats: int) -> dict:
    import keras

    import training.model  # noqa: F401  (registers the custom layers for loading)

    card = classifier.card
    index = scan(datasets_root() / card["dataset"]["name"])
    x, y, _ = load_split(index, "test", classifier.size, REPO / "build" / "cache")
    if classifier.framing is None:
        # the file's outputs, with the view check's views where the card declares one
        outputs = classifier.model.run_many(list(x))
        probabilities = np.stack([o[0] for o in outputs])
        statuses = [
            decide(p, f, classifier.labels, classifier.decision, views)[2]
            for p, f, _, views in outputs
        ]
        metrics = summarize(probabilities, y, classifier.labels, statuses)
    else:
        metrics = framed_metrics(classifier, index)
    keras_model = keras.models.load_model(model_dir / "model.keras")
    batch = classifier.model.batch  # images per run of the file: time a full run, per image
    tflite_ms = median_ms(lambda image: classifier.model.run_many([image] * batch), x[0], repeats)
    tflite_ms /= batch
    keras_ms = median_ms(
        lambda image: keras_model.predict_on_batch(image[None].astype(np.float32)), x[0], repeats
    )
    return {
        "model": f"{card['name']} {card['version']}",
        "format": card["format"],
        "test_images": metrics["images"],
        "test_images_without_label": metrics.get("images_without_label", 0),
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "ece": metrics["ece"],
        "confident_coverage": metrics["confident_coverage"],
        "confident_accuracy": metrics["confident_accuracy"],
        "file_bytes": (model_dir / "model.tflite").stat().st_size,
        "images_per_run": batch,
        "tflite_ms_per_image": round(tflite_ms, 2),
        "keras_ms_per_image": round(keras_ms, 2),
        "keras_over_tflite_latency": round(keras_ms / tflite_ms, 1),
        "training_wall_time_min": round(card["training"]["wall_time_s"] / 60, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model", description=__doc__)
    parser.add_argument("--models", type=Path, default=REPO / "tflite_models")
    parser.add_argument("--repeats", type=int, default=100, help="timed batch-1 calls per model")
    parser.add_argument("--threads", type=int, default=1, help="TFLite interpreter threads")
    parser.add_argument("--json", type=Path, default=REPO / "build" / "bench-model.json")
    parser.add_argument("--no-labs", action="store_true", help="skip the other laboratories' crops")
    args = parser.parse_args(argv)
    folders = [card.parent for card in sorted(args.models.glob("*/*/model.json"))]
    classifiers = [Classifier(folder, num_threads=args.threads) for folder in folders]
    rows = [bench(f, c, args.repeats) for f, c in zip(folders, classifiers, strict=True)]
    if not rows:
        print(f"no released models under {args.models}", file=sys.stderr)
        return 1
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    labs_root = datasets_root() / "other-labs"
    for classifier, row in zip(classifiers, rows, strict=True):
        if args.no_labs or not is_white_cell_model(classifier) or not labs_root.is_dir():
            continue
        lolo = lolo_table(classifier.card)
        print("\n" + (lolo or f"#### {row['model']}: no leave-one-lab-out figures in its card"))
        row["other_labs"] = bench_labs(classifier, labs_root)
        print("\n" + lab_table(row["model"], row, row["other_labs"]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
