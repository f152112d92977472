"""Field colour standardisation for red-cell field mode (``input.field_framing.colour``).

A thin smear from another site has another stain, light and white balance than the training
crops, and a network that reads the parasite's purple chromatin then reads a blue-grey cast as
infection (docs/notes/malaria-red-cell-field-mode.md). So before a field's cells are classified,
each colour channel is moved, by one linear map for the whole photo, from the mean and spread
of this photo's red-cell pixels to those of the training crops' cell pixels (declared in
model.json): v -> (v - m_photo) / s_photo * s_train + m_train. One map per photo keeps what
differs between its cells, a parasite against its host cell; standardising each cell alone
erases exactly that (it was tried: candidate A of the lab note).

Statistics come from the counted cells (not cut by the photo's edge; all cells when fewer than
MIN_CELLS are counted); with fewer than MIN_CELLS cells in all, or no spread, the photo's colours
are left as they are and the result says so. Integer sums and single correctly rounded float
operations in one order, so that `pwa/js/classifier/cells/field-colour.js` computes the very
same table (tests/pwa/test_red_cell_field_pwa.py).
"""

import math

import numpy as np

MIN_CELLS = 8  # fewer red cells than this say too little about a photo's colours


def colour_of(field_framing: dict) -> dict | None:
    """The declared training statistics {"cell_mean", "cell_std"} of an rbc-segmented field
    framing, or None; ValueError if malformed."""
    colour = field_framing.get("colour")
    if colour is None:
        return None
    if not isinstance(colour, dict):
        raise ValueError(f"input.field_framing.colour must be an object, got {colour!r}")
    for key in ("cell_mean", "cell_std"):
        values = colour.get(key)
        positive = key == "cell_std"  # a spread of 0 would divide by nothing
        if not (
            isinstance(values, list)
            and len(values) == 3
            # the range also refuses NaN and infinity
            and all(_number(v) and (v > 0 if positive else v >= 0) and v <= 255 for v in values)
        ):
            raise ValueError(
                f"input.field_framing.colour.{key} must be three numbers in "
                f"{'(0' if positive else '[0'}, 255], got {values!r}"
            )
    return {"cell_mean": [float(v) for v in colour["cell_mean"]],
            "cell_std": [float(v) for v in colour["cell_std"]]}  # fmt: skip


def cell_statistics(crops: list[np.ndarray]) -> dict:
    """{"cells", "pixels", "mean", "std"} over the cell pixels (not black) of cut-out cells."""
    count, sums, squares = 0, [0, 0, 0], [0, 0, 0]
    for crop in crops:
        pixels = crop.reshape(-1, 3)
        pixels = pixels[pixels.any(axis=1)].astype(np.int64)
        count += len(pixels)
        for c in range(3):
            sums[c] += int(pixels[:, c].sum())
            squares[c] += int((pixels[:, c] * pixels[:, c]).sum())
    if count == 0:
        return {"cells": len(crops), "pixels": 0, "mean": None, "std": None}
    mean = [s / count for s in sums]
    std = [math.sqrt(max(0.0, q / count - m * m)) for q, m in zip(squares, mean, strict=True)]
    return {"cells": len(crops), "pixels": count, "mean": mean, "std": std}


def colour_table(statistics: dict, colour: dict) -> np.ndarray | None:
    """(3, 256) uint8: each channel's value -> its standardised value; None when the photo's
    cells are too few or without spread to say what its colours are."""
    if statistics["cells"] < MIN_CELLS or statistics["pixels"] == 0:
        return None
    if not all(s > 0 for s in statistics["std"]):
        return None
    table = np.zeros((3, 256), dtype=np.uint8)
    for c in range(3):
        gain = colour["cell_std"][c] / statistics["std"][c]
        shift = colour["cell_mean"][c] - statistics["mean"][c] * gain
        for v in range(256):
            table[c, v] = min(255, max(0, math.floor(v * gain + shift + 0.5)))
    return table


def standardised(crop: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """The cut-out cell with its cell pixels through the table; its black background stays
    black (a cell pixel is never pure black in a stained smear)."""
    if table is None:
        return crop
    out = crop.copy()
    inside = crop.any(axis=2)
    for c in range(3):
        out[..., c][inside] = table[c][crop[..., c][inside]]
    return out


def field_colour(crops: list[np.ndarray], edge: list[bool], colour: dict):
    """(table or None, what the result reports): statistics of the counted cells' crops (all
    cells' when fewer than MIN_CELLS are counted), the table that moves them to `colour`."""
    counted = [crop for crop, cut in zip(crops, edge, strict=True) if not cut]
    statistics = cell_statistics(counted if len(counted) >= MIN_CELLS else crops)
    table = colour_table(statistics, colour)
    report = {
        "standardised": table is not None,
        "cells": statistics["cells"],
        "mean": _rounded(statistics["mean"]),
        "std": _rounded(statistics["std"]),
    }
    return table, report


def _rounded(values):
    return None if values is None else [round(v, 2) for v in values]


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
