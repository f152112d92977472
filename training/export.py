"""Keras release model -> TFLite int8 and float16 files, and their parity with Keras."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from classifier.classify import TFLiteModel

# Ops that reduce, divide or exponentiate over a whole image or feature map: the per-image
# standardisation, the familiarity statistics and the global pooling. In int8 they ran as a
# 110,592-value int8 mean, squared difference, square root and division whose kernels (XNNPACK
# and TFLite's builtin ones) take CPU-specific paths; in float they cost little and leave no
# room for that. The convolutions, the bulk of the work, stay int8.
FLOAT_OPS = ("MEAN", "SQUARED_DIFFERENCE", "SUB", "SQRT", "MAXIMUM", "DIV", "MUL", "SQUARE", "EXP")


def convert_int8(model, representative: np.ndarray) -> bytes:
    """int8 weights and activations for the network, FLOAT_OPS in float; float32 input (raw
    0..255 pixels) and outputs. Ranges calibrated on real training images."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]

    def samples():
        for image in representative:
            yield [image[None].astype(np.float32)]

    converter.representative_dataset = samples
    # Selective quantization (TensorFlow's quantization debugger): every op int8 but FLOAT_OPS.
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=samples,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(FLOAT_OPS)),
    )
    return debugger.get_nondebug_quantized_model()


def convert_float16(model) -> bytes:
    """Float16 weights, float32 input (raw 0..255 pixels) and outputs."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def run_tflite(
    path: Path, n_labels: int, images: np.ndarray, portable: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities [N, n_labels] and familiarity [N] of a .tflite file (classifier.classify);
    `portable`: with TFLite's reference kernels, the same arithmetic on every CPU."""
    model = TFLiteModel(path, n_labels, portable=portable)
    outputs = [model.predict(image) for image in images]
    return np.stack([p for p, _ in outputs]), np.array([f for _, f in outputs])


def run_keras(model, images: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and familiarity of the Keras release model (any batch size)."""
    probabilities, familiarity = model.predict(images.astype(np.float32), batch, verbose=0)
    return probabilities, familiarity[:, 0]


def batch_of_one(model):
    """The same model with its input fixed to batch 1, as the browser runtimes require."""
    import keras

    pixels = keras.Input(model.input.shape[1:], batch_size=1, name="pixels")
    return keras.Model(pixels, model(pixels), name="released")


def parity(keras_probabilities: np.ndarray, tflite_probabilities: np.ndarray) -> dict:
    return {
        "argmax_agreement": round(
            float((keras_probabilities.argmax(1) == tflite_probabilities.argmax(1)).mean()), 4
        ),
        "max_probability_difference": round(
            float(np.abs(keras_probabilities - tflite_probabilities).max()), 4
        ),
    }


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
