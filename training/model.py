"""MobileNetV2 transfer-learning model: raw RGB pixels in, class probabilities out.

Preprocessing lives inside the model, so a client only resizes the image to the input size and
passes its 0..255 pixels. The exported model has two outputs: calibrated ``probabilities`` and
``familiarity`` (cosine similarity of the image's features to the nearest class centre; low
means "I do not recognise this image").
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

WEIGHT_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224_no_top.h5"


@keras.saving.register_keras_serializable(package="hematovision")
class PerImageStandardization(layers.Layer):
    """Subtract the image's own mean and divide by its own spread (over all pixels and channels).

    Exposure and contrast differ between microscopes and cameras; colour ratios are kept because
    the same shift and scale apply to all three channels. The result is scaled to roughly the
    [-1, 1] range MobileNetV2 was trained on.
    """

    def call(self, images):
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        spread = ops.sqrt(ops.mean(ops.square(images - mean), axis=(1, 2, 3), keepdims=True))
        return (images - mean) / (2.0 * ops.maximum(spread, 4.0))


@keras.saving.register_keras_serializable(package="hematovision")
class Familiarity(layers.Layer):
    """Largest cosine similarity between a feature vector and the class centres of training."""

    def __init__(self, n_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = n_classes

    def build(self, input_shape):
        self.centres = self.add_weight(
            name="centres",
            shape=(input_shape[-1], self.n_classes),
            initializer="zeros",
            trainable=False,
        )

    def call(self, features):
        unit = features / ops.sqrt(ops.sum(ops.square(features), axis=-1, keepdims=True) + 1e-6)
        return ops.max(ops.matmul(unit, self.centres), axis=-1, keepdims=True)

    def set_centres(self, features: np.ndarray, labels: np.ndarray) -> None:
        unit = features / np.linalg.norm(features, axis=1, keepdims=True).clip(1e-6)
        centres = np.stack([unit[labels == k].mean(axis=0) for k in range(self.n_classes)], 1)
        centres /= np.linalg.norm(centres, axis=0, keepdims=True).clip(1e-6)
        self.centres.assign(centres.astype("float32"))

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes}


def ensure_imagenet_weights(alpha: float) -> None:
    """Put the shipped ImageNet file into the Keras cache, so weights="imagenet" works offline.

    On a machine with internet and no local copy, Keras downloads the file itself as usual.
    """
    name = WEIGHT_FILE.format(alpha=float(alpha))
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    default = Path(__file__).resolve().parents[1].parent / "shared" / "weights"
    local = Path(os.environ.get("HEMATOVISION_WEIGHTS", default)) / name
    if not (cache / name).exists() and local.exists():
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, cache / name)


def build_base(alpha: float) -> keras.Model:
    ensure_imagenet_weights(alpha)
    # An undefined input size makes Keras load the 224 weights (the only ones shipped); the
    # convolution weights do not depend on the input size.
    return keras.applications.MobileNetV2(
        input_shape=(None, None, 3), alpha=alpha, include_top=False, weights="imagenet"
    )


def build_model(n_classes: int, image_size: int, alpha: float, dropout: float, standardize: bool):
    """The training model: pixels -> logits. Its layers are reused by ``export_model``."""
    base = build_base(alpha)
    pixels = keras.Input((image_size, image_size, 3), name="pixels")
    x = (
        PerImageStandardization(name="standardize")(pixels)
        if standardize
        else (layers.Rescaling(1 / 127.5, offset=-1.0, name="standardize")(pixels))
    )
    # training=False keeps BatchNorm in inference mode even while the upper blocks fine-tune.
    features = layers.GlobalAveragePooling2D(name="features")(base(x, training=False))
    x = layers.Dropout(dropout, name="dropout")(features)
    logits = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(pixels, logits, name="classifier")


def feature_model(model: keras.Model) -> keras.Model:
    return keras.Model(model.input, model.get_layer("features").output)


def unfreeze_upper_blocks(model: keras.Model, first_layer: str) -> int:
    """Make the base trainable from ``first_layer`` up; returns the number of trainable layers."""
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    base.trainable = True
    names = [layer.name for layer in base.layers]
    cut = names.index(first_layer)
    for layer in base.layers[:cut]:
        layer.trainable = False
    for layer in base.layers[cut:]:
        # Frozen BatchNorm statistics and scales: small batches would only add noise.
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return sum(layer.trainable for layer in base.layers)


def export_model(model: keras.Model, temperature: float, centres: tuple) -> keras.Model:
    """Inference model with the temperature baked into the last layer.

    Dividing the logits by T equals dividing the weights and bias of the Dense layer by T, so
    the calibrated model needs no extra operation and the probabilities it outputs are the
    calibrated ones.
    """
    size = model.input.shape[1]
    pixels = keras.Input((size, size, 3), name="pixels")
    x = model.get_layer("standardize")(pixels)
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    features = model.get_layer("features")(base(x, training=False))
    trained = model.get_layer("logits")
    calibrated = layers.Dense(trained.units, name="calibrated_logits")
    probabilities = layers.Softmax(name="probabilities")(calibrated(features))
    kernel, bias = trained.get_weights()
    calibrated.set_weights([kernel / temperature, bias / temperature])
    familiarity_layer = Familiarity(trained.units, name="familiarity")
    familiarity = familiarity_layer(features)
    familiarity_layer.set_centres(*centres)
    return keras.Model(pixels, [probabilities, familiarity], name="released")
