""" "Show why" on the dashboard: a record's class-activation map (`Prediction.cam`, synced by the
phone) drawn over its synced cell image as a PNG. The map covers the whole image the model was
given, and the synced image is that image (the crop or the cell's frame, at most 256 px), so the
map is stretched over all of it: resized like Pillow's BILINEAR and coloured by the ramp of the
phone's pwa/js/ui/why-overlay.js (its JS twin; both give the same overlay pixels)."""

import io
from typing import Any

import numpy as np
from PIL import Image

# Value 0..255 -> colour by linear steps between these stops; opacity up to ALPHA_MAX / 255.
RAMP = [
    (0, (43, 131, 186)),
    (85, (171, 221, 164)),
    (170, (253, 174, 97)),
    (255, (215, 25, 28)),
]
ALPHA_MAX = 160


def ramp_table() -> np.ndarray:
    """The 256 RGBA colours of the ramp, in integers (rampTable in why-overlay.js)."""
    table = np.zeros((256, 4), np.uint8)
    for v in range(256):
        i = max(1, next(k for k, (at, _) in enumerate(RAMP) if at >= v))
        (v0, c0), (v1, c1) = RAMP[i - 1], RAMP[i]
        span = v1 - v0
        for ch in range(3):  # c0 + round half up of the step: integers, as in JS
            table[v, ch] = c0[ch] + (2 * (c1[ch] - c0[ch]) * (v - v0) + span) // (2 * span)
        table[v, 3] = (v * ALPHA_MAX + 127) // 255
    return table


TABLE = ramp_table()


def overlay_rgba(cam: dict[str, Any], width: int, height: int) -> np.ndarray:
    """The overlay's pixels, height x width x 4 uint8: the map stretched over the image."""
    values = np.asarray(cam["values"], np.uint8).reshape(cam["rows"], cam["cols"])
    resized = Image.fromarray(values, "L").resize((width, height), Image.Resampling.BILINEAR)
    return TABLE[np.asarray(resized)]


def why_png(jpeg: bytes, cam: dict[str, Any]) -> bytes:
    """The cell image with the map over it, as a PNG of the image's own size."""
    cell = Image.open(io.BytesIO(jpeg)).convert("RGBA")
    layer = Image.fromarray(overlay_rgba(cam, *cell.size), "RGBA")
    out = io.BytesIO()
    Image.alpha_composite(cell, layer).convert("RGB").save(out, format="PNG")
    return out.getvalue()
