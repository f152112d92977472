"""Train, calibrate, evaluate, export and release one model.

    python -m training.train --data pbc --out tflite_models/wbc-differential/1.0.0 --ood malaria

``--other-labs`` adds the other laboratories' crops (training.labs); ``--hold-out-lab LAB`` then
trains without LAB and scores it with the shipped file (model.json ``leave_one_lab_out``).
``--data`` is a dataset folder (``<root>/<split>/<class>/*`` or Kaggle ``TRAIN|TEST/<CLASS>/``)
or the name of one under $HEMATOVISION_DATASETS. Every hyper-parameter of ``HParams`` is an option
(``--image-size 160 --alpha 0.5 ...``); ``python -m training.train --help`` lists them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from classifier.cells.model_framing import framing_of  # noqa: E402
from training import other_labs, release  # noqa: E402
from training.augment import AUGMENT_STRENGTHS, augment  # noqa: E402
from training.dataset import (  # noqa: E402
    NO_WHITE_CELL,
    DatasetError,
    DatasetIndex,
    load_samples,
    load_split,
    scan,
)
from training.evaluate import fit_temperature  # noqa: E402
from training.hparams import HParams  # noqa: E402
from training.labs import (  # noqa: E402
    PBC,
    LabSplit,
    lab_share_repeats,
    label_smoothing_of,
    lolo_split,
    read_labs,
)
from training.model import (  # noqa: E402
    build_model,
    export_model,
    start_from_release,
    unfreeze_upper_blocks,
)
from training.paths import datasets_root  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--data", required=True, help="dataset folder or name (pbc, malaria)")
    parser.add_argument("--out", required=True, help="release folder tflite_models/NAME/VERSION")
    parser.add_argument("--name", help="model name (default: the folder above --out)")
    parser.add_argument("--version", help="model version (default: the last part of --out)")
    parser.add_argument(
        "--ood",
        action="append",
        default=[],
        help="dataset folder or name whose test images should come out 'unfamiliar' (checked "
        "after the threshold is chosen on validation, never tuned on); repeatable",
    )
    parser.add_argument(
        "--max-per-class", type=int, help="at most N images per class and split (quick runs)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=REPO / "build" / "cache",
        help="decoded image arrays are cached here (default build/cache)",
    )
    parser.add_argument(
        "--other-labs-check",
        action="store_true",
        help="white-cell models: state in the model card how the release labels the white "
        "cells found in bccd-fields photos (training.other_labs; never used for tuning)",
    )
    parser.add_argument(
        "--other-labs",
        nargs="?",
        type=Path,
        const=datasets_root() / "other-labs",
        metavar="FOLDER",
        help="also train on the other laboratories' crops, <FOLDER>/<lab>/<class>/<image> "
        "(default folder: other-labs of the shared datasets), cut into train/val by content",
    )
    parser.add_argument(
        "--hold-out-lab",
        metavar="LAB",
        help="with --other-labs: leave LAB out of training and validation and score the shipped "
        "file on all of its crops (model.json leave_one_lab_out)",
    )
    for f in dataclasses.fields(HParams):
        option = "--" + f.name.replace("_", "-")
        if f.type == "bool":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type]
            parser.add_argument(option, type=kind, default=f.default)
    args = parser.parse_args(argv)
    if args.file_format not in ("auto", "float16"):
        parser.error("--file-format must be auto or float16")
    if args.class_weights_from not in ("epoch", "pbc"):
        parser.error("--class-weights-from must be epoch or pbc")
    if args.augment not in AUGMENT_STRENGTHS:
        parser.error(f"--augment must be one of {', '.join(AUGMENT_STRENGTHS)}")
    if not 0 <= args.weight_average_from <= args.fine_tune_epochs:
        parser.error("--weight-average-from must be 0 (off) or a fine-tuning epoch")
    if args.hold_out_lab and args.other_labs is None:
        parser.error("--hold-out-lab needs --other-labs: it names one of the other labs")
    return args


def resolve_dataset(name_or_path: str) -> Path:
    path = Path(name_or_path)
    return path if path.exists() or path.is_absolute() else datasets_root() / name_or_path


def limit_per_class(index, n: int) -> None:
    for split, samples in index.splits.items():
        kept, seen = [], {}
        for sample in samples:
            seen[sample.label] = seen.get(sample.label, 0) + 1
            if seen[sample.label] <= n:
                kept.append(sample)
        index.splits[split] = kept


def with_other_labs(
    index: DatasetIndex, args: argparse.Namespace, seed: int
) -> tuple[DatasetIndex, LabSplit]:
    """pbc plus the other labs as one index to train on, and the split it came from."""
    labs = read_labs(args.other_labs, index.labels, args.max_per_class)
    split = lolo_split(index, labs, args.hold_out_lab, seed)
    held = f"; {args.hold_out_lab} held out, only scored" if args.hold_out_lab else ""
    notes = [*index.notes, f"other labs from {args.other_labs}: {sorted(labs)}{held}"]
    return split.training_index(notes), split


def held_out_lab(
    split: LabSplit | None, args: argparse.Namespace, hp: HParams, framing: dict | None
) -> release.HeldOutLab | None:
    """The held-out lab's crops as the model sees them; None when no lab is held out."""
    if split is None or split.held_out is None:
        return None
    x, y, bad = load_split(split.score_index(), "score", hp.image_size, args.cache_dir, framing)
    for message in bad:
        log(f"skipped (held-out lab): {message}")
    no_cell = sum(m.startswith(NO_WHITE_CELL) for m in bad)
    return release.HeldOutLab(split.held_out, x, y, no_cell)


def training_data(x: np.ndarray, targets: np.ndarray, weights: np.ndarray, hp: HParams):
    """Shuffled, augmented batches of (image, soft target, sample weight)."""
    data = tf.data.Dataset.from_tensor_slices((x, targets, weights)).shuffle(len(x), seed=hp.seed)
    data = data.map(
        lambda image, target, weight: (
            augment(tf.cast(image, tf.float32), hp.augment, hp.framing != "none"),
            target,
            weight,
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return data.batch(hp.batch_size).prefetch(2)


def class_weights(y: np.ndarray, n: int) -> dict[int, float] | None:
    """Balanced weights when the classes differ in size by more than 10%, else none."""
    counts = np.bincount(y, minlength=n)
    if counts.max() <= 1.1 * counts.min():
        return None
    return {k: float(len(y) / (n * max(c, 1))) for k, c in enumerate(counts)}


def balancing_weights(
    y: np.ndarray, labs: list[str], repeats: np.ndarray, n: int, counted_on: str
) -> dict[int, float] | None:
    """class_weights counted on the epoch as it holds the images (each repeated) or, with
    counted_on "pbc", on pbc's own images only (HParams.class_weights_from)."""
    if counted_on == "pbc":
        return class_weights(y[np.asarray(labs) == PBC], n)
    return class_weights(np.repeat(y, repeats), n)


def soft_targets(y: np.ndarray, n: int, smoothing: np.ndarray) -> np.ndarray:
    """One-hot targets, each smoothed by its own amount (0 = a hard label)."""
    one_hot = np.eye(n, dtype=np.float32)[y]
    return one_hot * (1 - smoothing[:, None]) + smoothing[:, None] / n


class WeightAverage(keras.callbacks.Callback):
    """Keeps the uniform average of the trainable weights over every batch from epoch
    `first_epoch` (1-based) of its fit on, and puts it into the model when the fit ends.
    BatchNorm statistics are frozen in this model, so the average needs no re-estimation."""

    def __init__(self, first_epoch: int):
        super().__init__()
        self.first_epoch = first_epoch
        self.averaging = False
        self.steps = 0
        self.average: list[np.ndarray] = []

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.averaging = epoch + 1 >= self.first_epoch

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if not self.averaging:
            return
        self.steps += 1
        weights = [w.numpy() for w in self.model.trainable_weights]
        if self.steps == 1:
            self.average = weights
            return
        for average, w in zip(self.average, weights, strict=True):
            average += (w - average) / self.steps

    def on_train_end(self, logs=None) -> None:
        if self.steps:
            for variable, average in zip(self.model.trainable_weights, self.average, strict=True):
                variable.assign(average)
            log(f"weights averaged over the last {self.steps} steps")


def fit(model, x, y, labs: list[str], val, hp: HParams) -> list[dict]:
    """Head training with the base frozen, then fine-tuning of the upper blocks.

    `labs` names each training image's laboratory: other labs' crops are repeated up to
    hp.lab_share of an epoch, and those of unreviewed labs get soft labels."""
    n = model.output.shape[-1]
    loss = keras.losses.CategoricalCrossentropy(from_logits=True)
    repeats = lab_share_repeats(labs, hp.lab_share)
    weights = balancing_weights(y, labs, repeats, n, hp.class_weights_from)
    x, y = np.repeat(x, repeats, axis=0), np.repeat(y, repeats)
    smoothing = np.repeat(label_smoothing_of(labs, hp.noisy_label_smoothing), repeats)
    targets = soft_targets(y, n, smoothing)
    sample_weights = np.array([weights[k] for k in y] if weights else np.ones(len(y)), np.float32)
    val = (val[0], np.eye(n, dtype=np.float32)[val[1]])
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    base.trainable = False
    history = []

    def fit_stage(stage: str, epochs: int, callbacks=()) -> dict:
        fitted = model.fit(
            training_data(x, targets, sample_weights, hp),
            epochs=epochs,
            validation_data=val,
            callbacks=list(callbacks),
            verbose=2,
        )
        return {"stage": stage, **fitted.history}

    model.compile(keras.optimizers.Adam(hp.head_learning_rate), loss, metrics=["accuracy"])
    if hp.head_epochs:
        log(f"head training: {hp.head_epochs} epochs, {len(x)} images")
        history.append(fit_stage("head", hp.head_epochs))
    if hp.fine_tune_epochs:
        n_layers = unfreeze_upper_blocks(model, hp.fine_tune_from)
        steps = hp.fine_tune_epochs * int(np.ceil(len(x) / hp.batch_size))
        schedule = keras.optimizers.schedules.CosineDecay(hp.fine_tune_learning_rate, steps)
        model.compile(keras.optimizers.Adam(schedule), loss, metrics=["accuracy"])
        log(
            f"fine-tuning {n_layers} base layers from {hp.fine_tune_from}: "
            f"{hp.fine_tune_epochs} epochs"
        )
        averaging = [WeightAverage(hp.weight_average_from)] if hp.weight_average_from else []
        history.append(fit_stage("fine-tune", hp.fine_tune_epochs, averaging))
    return [
        {k: v if k == "stage" else [round(float(e), 4) for e in v] for k, v in stage.items()}
        for stage in history
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    hp = HParams(**{f.name: getattr(args, f.name) for f in dataclasses.fields(HParams)})
    out = Path(args.out)
    name, version = args.name or out.parent.name, args.version or out.name
    started = time.perf_counter()
    keras.utils.set_random_seed(hp.seed)
    framing = hp.framing_spec()
    try:
        framing_of({"input": {"framing": framing}})
    except ValueError as error:
        print(f"error: --framing/--frame-fill: {error}", file=sys.stderr)
        return 2
    try:
        index = scan(resolve_dataset(args.data), hp.val_fraction)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.max_per_class:
        limit_per_class(index, args.max_per_class)
    lab_split = None
    if args.other_labs:
        try:
            index, lab_split = with_other_labs(index, args, hp.seed)
        except DatasetError as error:
            print(f"error: --other-labs: {error}", file=sys.stderr)
            return 2
    log(f"dataset {index.root}: labels {index.labels}, {index.counts()}")
    model = build_model(
        len(index.labels),
        hp.image_size,
        hp.alpha,
        hp.dropout,
        hp.per_image_standardization,
        hp.colour_normalization,
    )
    if hp.start_from:
        try:
            start_from_release(model, hp.start_from, index.labels)
        except (ValueError, OSError, KeyError) as error:
            print(f"error: --start-from {hp.start_from}: {error}", file=sys.stderr)
            return 2
        log(f"starting from the weights of {hp.start_from}")
    arrays, skipped = {}, {}
    for split in ("train", "val", "test"):
        x, y, kept, bad = load_samples(index, split, hp.image_size, args.cache_dir, framing)
        arrays[split], skipped[split] = (x, y), bad
        if split == "train":  # fit() repeats and smooths by lab
            train_labs = [getattr(sample, "lab", PBC) for sample in kept]
        for message in bad:
            log(f"skipped: {message}")
    if any(len(arrays[s][0]) == 0 for s in arrays):
        print("error: a split has no readable images", file=sys.stderr)
        return 2
    (x_train, y_train), (x_val, y_val) = arrays["train"], arrays["val"]
    history = fit(model, x_train, y_train, train_labs, (x_val.astype(np.float32), y_val), hp)
    temperature = fit_temperature(model.predict(x_val.astype(np.float32), 64, verbose=0), y_val)
    log(f"temperature fitted on validation: {temperature:.3f}")
    released = export_model(model, temperature, x_train, hp.familiarity_layer)
    training_seconds = time.perf_counter() - started
    ood = {}  # name -> (images the model sees, images left out as having no white cell)
    for path in args.ood:
        x, _, bad = load_split(
            scan(resolve_dataset(path)), "test", hp.image_size, args.cache_dir, framing
        )
        ood[path] = (x, sum(m.startswith(NO_WHITE_CELL) for m in bad))
    held_out = held_out_lab(lab_split, args, hp, framing)
    run = release.TrainingRun(
        out=out,
        name=name,
        version=version,
        index=index,
        arrays=arrays,
        skipped=skipped,
        trained=model,
        released=released,
        temperature=temperature,
        hp=hp,
        history=history,
        ood=ood,
        training_seconds=training_seconds,
        log=log,
        labs=lab_split.counts() if lab_split else {},
        held_out=held_out,
    )
    release.make(run)
    if args.other_labs_check:
        other_labs.write(out, other_labs.field_check(out))
        log("other-labs check written to the model card")
    log(f"released {name} {version} in {out} ({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
