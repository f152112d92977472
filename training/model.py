"""MobileNetV2 transfer-learning model: raw RGB pixels in, class probabilities out.

Preprocessing lives inside the model, so a client only resizes the image to the input size and
passes its 0..255 pixels. The exported model has two outputs: calibrated ``probabilities`` and
``familiarity`` (cosine similarity of the image's features to the nearest class centre; low
means "I do not recognise this image").
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from training.paths import weights_root

WEIGHT_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224_no_top.h5"


@keras.saving.register_keras_serializable(package="hematovision")
class PerImageStandardization(layers.Layer):
    """Subtract the image's own mean and divide by its own spread (over all pixels and channels).

    Exposure and contrast differ between microscopes and cameras; colour ratios are kept because
    the same shift and scale apply to all three channels. With `per_channel` each channel is
    standardised on its own instead, which also removes a colour cast of the stain or the lamp
    (another lab's grey-blue background and bluer nuclei look like pbc's cream and purple ones).
    The result is scaled to roughly the [-1, 1] range MobileNetV2 was trained on.
    """

    def __init__(self, per_channel: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.per_channel = per_channel

    def get_config(self):
        return {**super().get_config(), "per_channel": self.per_channel}

    def call(self, images):
        axes = (1, 2) if self.per_channel else (1, 2, 3)
        mean = ops.mean(images, axis=axes, keepdims=True)
        spread = ops.sqrt(ops.mean(ops.square(images - mean), axis=axes, keepdims=True))
        return (images - mean) / (2.0 * ops.maximum(spread, 4.0))


@keras.saving.register_keras_serializable(package="hematovision")
class Familiarity(layers.Layer):
    """How typical an image's mid-level feature statistics are of the training images.

    The per-channel spatial mean and spread of an intermediate feature map are compared with
    their training distribution (a z-score per statistic); familiarity = exp(-mean(z^2) / 2),
    about 0.6 for a typical training image and near 0 for images unlike any of them. Measured on
    the first wbc model, these statistics separated other datasets and generated non-cell images
    from validation cells where the pooled final features (and the top probability) did not.

    With `site`, a second mean and scale describe one laboratory's confirmed cells
    (training.site_release) and familiarity is the larger of the two: an image is familiar if it
    is like the training images or like that lab's cells.
    """

    def __init__(self, site: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.site = site

    def get_config(self):
        return {**super().get_config(), "site": self.site}

    def build(self, input_shape):
        size = 2 * input_shape[-1]
        self.mean = self.add_weight(name="mean", shape=(size,), initializer="zeros",
                                    trainable=False)  # fmt: skip
        self.scale = self.add_weight(name="scale", shape=(size,), initializer="ones",
                                     trainable=False)  # fmt: skip
        if self.site:
            self.site_mean = self.add_weight(name="site_mean", shape=(size,),
                                             initializer="zeros", trainable=False)  # fmt: skip
            self.site_scale = self.add_weight(name="site_scale", shape=(size,),
                                              initializer="ones", trainable=False)  # fmt: skip

    @staticmethod
    def statistics(feature_map):
        mean = ops.mean(feature_map, axis=(1, 2))
        spread = ops.sqrt(ops.mean(ops.square(feature_map - mean[:, None, None, :]), axis=(1, 2)))
        return ops.concatenate([mean, spread], axis=-1)

    def call(self, feature_map):
        statistics = self.statistics(feature_map)
        familiarity = self._of(statistics, self.mean, self.scale)
        if self.site:
            familiarity = ops.maximum(
                familiarity, self._of(statistics, self.site_mean, self.site_scale)
            )
        return familiarity

    @staticmethod
    def _of(statistics, mean, scale):
        z = (statistics - mean) / scale
        return ops.exp(-0.5 * ops.mean(ops.square(z), axis=-1, keepdims=True))

    def fit(self, statistics: np.ndarray) -> None:
        self.mean.assign(statistics.mean(axis=0).astype("float32"))
        self.scale.assign((statistics.std(axis=0) + 1e-3).astype("float32"))


# The view check's two layers (training.view_check_release): registered here, with the other
# custom layers, so that a view-check release's model.keras loads wherever training.model is
# imported (bench.model, --start-from), not only after the release tool has run.
@keras.saving.register_keras_serializable(package="hematovision")
class QuarterTurnBatch(layers.Layer):
    """[1, H, W, C] -> [2, H, W, C]: the image, then the image turned (as np.rot90)."""

    def call(self, pixels):
        turned = ops.flip(ops.transpose(pixels, (0, 2, 1, 3)), axis=1)
        return ops.concatenate([pixels, turned], axis=0)


@keras.saving.register_keras_serializable(package="hematovision")
class SplitViews(layers.Layer):
    """The batch's first image's outputs, and the other views' probabilities [1, V, K]."""

    def call(self, probabilities, familiarity, cam):
        views = ops.expand_dims(probabilities[1:], 0)
        return probabilities[:1], familiarity[:1], cam[:1], views


@keras.saving.register_keras_serializable(package="hematovision")
class MeanOfViews(layers.Layer):
    """A view-check model's outputs -> the call made on all views (training.view_mean_release):
    probabilities the mean of the image's and every view's, familiarity and map the image's,
    and views [1, 1 + V, K]: the image's own probabilities first, then the other views'."""

    def call(self, probabilities, familiarity, cam, views):
        every = ops.concatenate([ops.expand_dims(probabilities, 1), views], axis=1)
        return ops.mean(every, axis=1), familiarity, cam, every


def ensure_imagenet_weights(alpha: float) -> None:
    """Put the shipped ImageNet file into the Keras cache, so weights="imagenet" works offline.

    On a machine with internet and no local copy, Keras downloads the file itself as usual.
    """
    name = WEIGHT_FILE.format(alpha=float(alpha))
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    local = weights_root() / name
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


def build_model(
    n_classes: int,
    image_size: int,
    alpha: float,
    dropout: float,
    standardize: bool,
    per_channel: bool = False,
):
    """The training model: pixels -> logits. Its layers are reused by ``export_model``."""
    base = build_base(alpha)
    pixels = keras.Input((image_size, image_size, 3), name="pixels")
    x = (
        PerImageStandardization(per_channel, name="standardize")(pixels)
        if standardize
        else (layers.Rescaling(1 / 127.5, offset=-1.0, name="standardize")(pixels))
    )
    # training=False keeps BatchNorm in inference mode even while the upper blocks fine-tune.
    features = layers.GlobalAveragePooling2D(name="features")(base(x, training=False))
    x = layers.Dropout(dropout, name="dropout")(features)
    logits = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(pixels, logits, name="classifier")


def unfreeze_upper_blocks(model: keras.Model, first_layer: str) -> int:
    """Make the base trainable from ``first_layer`` up; returns the number of trainable layers."""
    base = _base(model)
    base.trainable = True
    names = [layer.name for layer in base.layers]
    cut = names.index(first_layer)
    for layer in base.layers[:cut]:
        layer.trainable = False
    for layer in base.layers[cut:]:
        # Frozen BatchNorm statistics and scales: small batches would only add noise.
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return sum(layer.trainable for layer in base.layers)


def start_from_release(model: keras.Model, folder: str | Path, labels: list[str]) -> None:
    """Load a released model's trained weights into a freshly built training model.

    The release's base and its calibrated classification layer are copied; the temperature
    baked into that layer (model.json's calibration) is taken back out, so the logits are the
    trained ones. ValueError when the release does not fit this model.
    """
    folder = Path(folder)
    card = json.loads((folder / "model.json").read_text())
    if card["labels"] != labels:
        raise ValueError(f"{folder} has labels {card['labels']}, this dataset {labels}")
    released = keras.saving.load_model(folder / "model.keras", compile=False)
    if released.input.shape[1:] != model.input.shape[1:]:
        raise ValueError(
            f"{folder} takes {tuple(released.input.shape[1:])} images, "
            f"this run {tuple(model.input.shape[1:])} (--image-size)"
        )
    # Matched in order: Keras suffixes the names of a second base built in one process.
    source, target = _base(released).weights, _base(model).weights
    if [w.shape for w in source] != [w.shape for w in target]:
        raise ValueError(f"{folder} has another base network (--alpha)")
    standardize = released.get_layer("standardize").get_config()
    if standardize != {**model.get_layer("standardize").get_config(), "name": "standardize"}:
        raise ValueError(
            f"{folder} standardises its input otherwise (--per-image-standardization, "
            f"--colour-normalization)"
        )
    for weight, value in zip(target, source, strict=True):
        weight.assign(value)
    temperature = float(card["calibration"]["temperature"])
    kernel, bias = released.get_layer("calibrated_logits").get_weights()
    model.get_layer("logits").set_weights([kernel * temperature, bias * temperature])


def _base(model: keras.Model) -> keras.Model:
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def export_model(
    model: keras.Model, temperature: float, train_images: np.ndarray, familiarity_layer: str
) -> keras.Model:
    """Inference model: calibrated probabilities and familiarity.

    Dividing the logits by T equals dividing the weights and bias of the Dense layer by T, so
    the calibrated model needs no extra operation and the probabilities it outputs are the
    calibrated ones. Familiarity statistics are fitted on the (unaugmented) training images.
    """
    base = _base(model)
    probe = keras.Model(base.input, [base.output, base.get_layer(familiarity_layer).output])
    size = model.input.shape[1]
    pixels = keras.Input((size, size, 3), name="pixels")
    top, middle = probe(model.get_layer("standardize")(pixels), training=False)
    features = model.get_layer("features")(top)
    trained = model.get_layer("logits")
    calibrated = layers.Dense(trained.units, name="calibrated_logits")
    probabilities = layers.Softmax(name="probabilities")(calibrated(features))
    kernel, bias = trained.get_weights()
    calibrated.set_weights([kernel / temperature, bias / temperature])
    familiarity = Familiarity(name="familiarity")
    released = keras.Model(pixels, [probabilities, familiarity(middle)], name="released")
    statistics = keras.Model(pixels, Familiarity.statistics(middle))
    familiarity.fit(statistics.predict(train_images.astype("float32"), 64, verbose=0))
    return released
