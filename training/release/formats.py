"""The two candidate .tflite files (int8, float16) and which of them ships.

int8 ships when it agrees with the float model on the validation split and keeps its accuracy
there, otherwise float16: the test split plays no part in the choice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.export import batch_of_one, convert_float16, convert_int8, parity, run_tflite
from training.hparams import HParams
from training.release.run import TrainingRun

MAX_INT8_ACCURACY_LOSS = 0.005


def convert_candidates(run: TrainingRun, work: Path) -> dict[str, dict]:
    """format -> {"path", "bytes", "val", "test"}: each file in `work` with its
    (probabilities, familiarity) on the validation and test splits."""
    x_train = run.arrays["train"][0]
    rng = np.random.default_rng(run.hp.seed)
    take = rng.choice(len(x_train), min(run.hp.representative_images, len(x_train)), replace=False)
    one = batch_of_one(run.released)
    converters = {
        "int8": lambda: convert_int8(one, x_train[take]),
        "float16": lambda: convert_float16(one),
    }
    candidates = {}
    for fmt, convert in converters.items():
        path = work / f"{fmt}.tflite"
        path.write_bytes(convert())
        candidates[fmt] = {"path": path, "bytes": path.stat().st_size}
        for split in ("val", "test"):
            candidates[fmt][split] = run_tflite(path, len(run.labels), run.arrays[split][0])
        run.log(f"{fmt}: {candidates[fmt]['bytes']} bytes")
    return candidates


def choose_format(candidates: dict, keras_val, y_val, hp: HParams) -> tuple[str, str]:
    """(format that ships, why), judged on the validation split."""
    if hp.file_format == "float16":
        return (
            "float16",
            "float16 ships as asked (--file-format float16): the same file on every CPU",
        )
    int8 = candidates["int8"]["val"][0]
    agreement = parity(keras_val, int8)["argmax_agreement"]
    lost = (keras_val.argmax(1) == y_val).mean() - (int8.argmax(1) == y_val).mean()
    if agreement >= hp.int8_min_agreement and lost <= MAX_INT8_ACCURACY_LOSS:
        return "int8", f"int8 agrees with the float model on {agreement:.1%} of validation images"
    return "float16", (
        f"int8 agreed with the float model on only {agreement:.1%} of validation images and lost "
        f"{100 * lost:.1f} accuracy points there (limit {hp.int8_min_agreement:.1%} and 0.5), so "
        f"the float16 file ships"
    )
