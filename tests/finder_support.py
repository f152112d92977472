"""Helpers shared by the cell-finder tests."""

import numpy as np
from PIL import Image

from training.annotations import bccd_photos, read_voc_boxes


def low_magnification_mosaics(part: str, shrink: float = 0.5, grid: int = 4):
    """Photos as a lower-magnification, higher-resolution camera would take them: tiles of
    shrunk bccd photos, with the annotated white cells moved along."""
    photos = bccd_photos(part)
    w, h = round(640 * shrink), round(480 * shrink)
    for start in range(0, len(photos) - grid * grid + 1, grid * grid):
        canvas = Image.new("RGB", (w * grid, h * grid))
        truth = []
        for k, photo in enumerate(photos[start : start + grid * grid]):
            ox, oy = (k % grid) * w, (k // grid) * h
            canvas.paste(Image.open(photo).convert("RGB").resize((w, h)), (ox, oy))
            boxes = [c["box"] for c in read_voc_boxes(photo) if c["type"] == "wbc"]
            truth += [
                [
                    round(x0 * shrink) + ox,
                    round(y0 * shrink) + oy,
                    round(x1 * shrink) + ox,
                    round(y1 * shrink) + oy,
                ]
                for x0, y0, x1, y1 in boxes
            ]
        yield np.asarray(canvas), truth
