"""Training-time augmentation aimed at other laboratories and phone cameras.

Other labs stain differently, zoom differently, focus worse and photograph through phones, so
each training image is randomly re-stained (hue, saturation, per-channel gain), re-exposed
(brightness, contrast, gamma), re-framed (zoom, aspect, off-centre shift, any rotation, flips;
for framed cells also edge pixels repeated past a line, as where a frame runs over a photo's
edge), blurred, noised and JPEG-compressed. Works on float32 pixels in 0..255, one at a time.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


def _chance(p: float) -> tf.Tensor:
    return tf.random.uniform(()) < p


# Zoom ranges of the "strong" and "strong-wide" strengths. Labs crop and magnify differently:
# a white cell spans about half of a pbc crop, a third of a lisc crop and most of a tecom crop
# (datasets README), so a model meant for unseen labs sees zooms from 0.55 to 2 in training.
ZOOM = {
    "strong": (0.8, 1.3),
    "strong-wide": (0.55, 2.0),
    "strong-stain": (0.8, 1.3),
    "strong-wide-stain": (0.55, 2.0),
}
# Share of images re-coloured (_recolour): half for red cells (strong-stain); for white cells,
# whose eosinophils and basophils are told apart partly by granule colour, under a third.
RECOLOUR = {"strong-stain": 0.5, "strong-wide-stain": 0.3}
AUGMENT_STRENGTHS = ("strong", "strong-wide", "strong-stain", "strong-wide-stain", "light", "none")


def _reframe(image: tf.Tensor, zoom_range: tuple[float, float]) -> tf.Tensor:
    """One affine warp: rotation, zoom in `zoom_range`, aspect 0.85-1.15, shift up to 12%."""
    size = tf.cast(tf.shape(image)[0], tf.float32)
    angle = tf.random.uniform((), -math.pi, math.pi)
    zoom = tf.exp(tf.random.uniform((), math.log(zoom_range[0]), math.log(zoom_range[1])))
    aspect = tf.exp(tf.random.uniform((), math.log(0.85), math.log(1.15)))
    sx, sy = 1.0 / (zoom * tf.sqrt(aspect)), tf.sqrt(aspect) / zoom
    shift = tf.random.uniform((2,), -0.12, 0.12) * size
    cos, sin, c = tf.cos(angle), tf.sin(angle), size / 2.0
    # Output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2).
    a0, a1, b0, b1 = cos * sx, -sin * sx, sin * sy, cos * sy
    a2 = c - a0 * c - a1 * c + shift[0]
    b2 = c - b0 * c - b1 * c + shift[1]
    transform = tf.stack([a0, a1, a2, b0, b1, b2, 0.0, 0.0])[None]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform,
        output_shape=tf.shape(image)[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )[0]


def _edge_repeat(image: tf.Tensor) -> tf.Tensor:
    """Repeat the pixels beyond a random line near one side, as a frame that runs over the
    photo's edge does (classifier.cells.framing repeats edge pixels): cells near the border of a
    field photo, or in a tight crop, are framed like that."""
    size = tf.shape(image)[0]
    keep = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform((), 0.6, 0.95), tf.int32)
    side = tf.random.uniform((), 0, 4, dtype=tf.int32)
    image = tf.image.rot90(image, side)
    rows = tf.minimum(tf.range(size), keep - 1)  # everything below row `keep` repeats it
    return tf.image.rot90(tf.gather(image, rows, axis=0), (4 - side) % 4)


def _restain(image: tf.Tensor) -> tf.Tensor:
    x = image / 255.0
    x = tf.image.random_hue(x, 0.06)
    x = tf.image.random_saturation(x, 0.6, 1.5)
    x = x * tf.random.uniform((1, 1, 3), 0.85, 1.15)
    x = tf.image.random_brightness(x, 0.12)
    x = tf.image.random_contrast(x, 0.7, 1.3)
    gamma = tf.exp(tf.random.uniform((), math.log(0.7), math.log(1.4)))
    return tf.clip_by_value(x, 0.0, 1.0) ** gamma * 255.0


def _recolour(image: tf.Tensor) -> tf.Tensor:
    """Any hue, and often little colour at all: Giemsa from another site can turn red cells
    grey-blue rather than pink, so the cells' shape and texture must carry the call."""
    x = tf.image.adjust_hue(image / 255.0, tf.random.uniform((), -0.5, 0.5))
    grey = tf.image.rgb_to_grayscale(x)
    keep = tf.cond(_chance(0.5), lambda: tf.random.uniform((), 0.0, 0.6), lambda: 1.0)
    return tf.clip_by_value(grey + keep * (x - grey), 0.0, 1.0) * 255.0


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = int(math.ceil(2 * sigma))
    xs = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-(xs**2) / (2 * sigma**2))
    k2 = np.outer(k, k) / k.sum() ** 2
    return np.tile(k2[:, :, None, None], (1, 1, 3, 1)).astype(np.float32)


BLUR_KERNEL = _gaussian_kernel(1.6)


def _defocus(image: tf.Tensor) -> tf.Tensor:
    """Blend towards a strong Gaussian blur: a random amount of defocus."""
    blurred = tf.nn.depthwise_conv2d(image[None], BLUR_KERNEL, [1, 1, 1, 1], "SAME")[0]
    amount = tf.random.uniform((), 0.2, 1.0)
    return image + amount * (blurred - image)


def _noise_and_jpeg(image: tf.Tensor) -> tf.Tensor:
    image = image + tf.random.normal(tf.shape(image), stddev=tf.random.uniform((), 0.0, 8.0))
    image = tf.clip_by_value(image, 0.0, 255.0)
    as_bytes = tf.cast(tf.round(image), tf.uint8)
    return tf.cast(tf.image.random_jpeg_quality(as_bytes, 35, 95), tf.float32)


def augment(image: tf.Tensor, strength: str, framed: bool = False) -> tf.Tensor:
    """Augment one float32 [H, W, 3] image in 0..255 ("strong", "strong-wide" (zooms of other
    labs' crops too), "strong-stain" (any hue, often little colour), "strong-wide-stain" (both,
    fewer images re-coloured), "light" or "none"). `framed`
    images (cut out of photos by the cell finder) also get edges repeated now and then."""
    if strength == "none":
        return image
    image = tf.image.random_flip_left_right(tf.image.random_flip_up_down(image))
    image = tf.image.rot90(image, tf.random.uniform((), 0, 4, dtype=tf.int32))
    if strength == "light":
        return image
    image = tf.cond(_chance(0.8), lambda: _reframe(image, ZOOM[strength]), lambda: image)
    if framed:
        image = tf.cond(_chance(0.25), lambda: _edge_repeat(image), lambda: image)
    image = tf.cond(_chance(0.8), lambda: _restain(image), lambda: image)
    if strength in RECOLOUR:
        image = tf.cond(_chance(RECOLOUR[strength]), lambda: _recolour(image), lambda: image)
    image = tf.cond(_chance(0.35), lambda: _defocus(image), lambda: image)
    image = tf.cond(_chance(0.4), lambda: _noise_and_jpeg(image), lambda: image)
    return tf.clip_by_value(image, 0.0, 255.0)
