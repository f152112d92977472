"""Builds a tiny but real TFLite release folder (model.tflite + model.json) shaped like the
training package's releases (model.json as training/release/card.py builds it): batch-1 RGB
input, outputs [1, n] probabilities and [1, 1] familiarity. tiny_release() builds one in a
subprocess (so TensorFlow never loads into the test process) and keeps it in a cache folder:

    python -m tests.tiny_model OUT_DIR --name cells --version 1.0.0 --seed 1
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.file_lock import locked

LABELS = ["lymphocyte", "monocyte", "neutrophil"]
SIZE = 32
REPO = Path(__file__).resolve().parent.parent
FORMAT = "f2"  # bump when this file's model changes, so cached builds are not reused


def tiny_release(
    cache_dir: Path, name: str = "cells", version: str = "1.0.0", seed: int = 1
) -> Path:
    """The release folder, built once per (name, version, seed, FORMAT) under `cache_dir`."""
    folder = cache_dir / f"{name}-{version}-{seed}-{FORMAT}"
    with locked(cache_dir / f".{folder.name}.lock"):  # parallel workers: built once
        if not (folder / "model.json").is_file():
            _build_in_subprocess(folder, name, version, seed)
    return folder


def _build_in_subprocess(folder: Path, name: str, version: str, seed: int) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    command = [sys.executable, "-m", "tests.tiny_model", str(folder), "--name", name,
               "--version", version, "--seed", str(seed)]  # fmt: skip
    subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)


def build(out: Path, name: str, version: str, seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    pixels = keras.Input((SIZE, SIZE, 3), batch_size=1, name="pixels")
    x = keras.layers.Rescaling(1 / 255)(pixels)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    probabilities = keras.layers.Dense(len(LABELS), activation="softmax", name="probabilities")(x)
    familiarity = keras.layers.Dense(1, activation="sigmoid", name="familiarity")(x)
    model = keras.Model(pixels, [probabilities, familiarity])
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.tflite").write_bytes(content)
    card = {
        "name": name,
        "version": version,
        "labels": LABELS,
        "file": {
            "name": "model.tflite",
            "bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        },
        "input": {"shape": [1, SIZE, SIZE, 3], "dtype": "float32"},
        "decision": {"unfamiliar_below": 0.0, "confident_at_or_above": 0.5},
    }
    (out / "model.json").write_text(json.dumps(card, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--name", default="cells")
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    build(args.out, args.name, args.version, args.seed)
