"""The full-integer int8 export of the released wbc model stays close to its float Keras model."""

import json
from pathlib import Path

import numpy as np
import pytest

from classifier.classify import load_image
from training.export import batch_of_one, convert_int8, parity, run_tflite
from training.paths import datasets_root

pytestmark = pytest.mark.slow

RELEASE = Path(__file__).resolve().parents[2] / "tflite_models" / "wbc-differential" / "1.0.0"


def _images(split: str, per_class: int, size: int, labels: list[str]) -> tuple:
    """Every 8th image of each class (spread over the folder), ``per_class`` of them."""
    root = datasets_root() / "pbc" / split
    chosen = [
        (k, sorted((root / label).iterdir())[::8][:per_class]) for k, label in enumerate(labels)
    ]
    x = [load_image(path, size) for _, paths in chosen for path in paths]
    y = [k for k, paths in chosen for _ in paths]
    return np.stack(x), np.array(y)


def test_int8_file_agrees_with_keras_on_test_images(tmp_path):
    import keras

    import training.model  # noqa: F401  (custom layers)

    card = json.loads((RELEASE / "model.json").read_text())
    size, labels = card["hparams"]["image_size"], card["labels"]
    model = keras.models.load_model(RELEASE / "model.keras")
    calibration, _ = _images("train", 12, size, labels)
    path = tmp_path / "int8.tflite"
    path.write_bytes(convert_int8(batch_of_one(model), calibration))
    x, y = _images("test", 12, size, labels)
    keras_probabilities = model.predict(x.astype(np.float32), verbose=0)[0]
    int8_probabilities, _ = run_tflite(path, len(labels), x)
    measured = parity(keras_probabilities, int8_probabilities)
    assert measured["argmax_agreement"] >= 0.97
    assert np.abs(keras_probabilities - int8_probabilities).mean() < 0.02
    keras_right = (keras_probabilities.argmax(1) == y).mean()
    assert (int8_probabilities.argmax(1) == y).mean() >= keras_right - 0.03
