"""Stained cells: white cells (nucleus + cytoplasm) and platelets."""

import math

import numpy as np

from classifier.cells.image_ops import components, dilate_square, label_components
from classifier.cells.params import BLACK, SCALE, Params


def white_cells(stain, darkness, reference, diameter, cut, params: Params):
    """White cells (boxes in working pixels); `reference` holds the red-cell pixels.

    Nucleus pixels (see nucleus_mask) within `group_radius` x D are one cell (lobes); its box
    joins the faintly stained, dark-enough cytoplasm connected to it.
    """
    nucleus, base, dark = nucleus_mask(stain, darkness, reference, params)
    cytoplasm = nucleus | (
        (stain > base + params.cytoplasm_margin * dark)
        & (darkness > params.cytoplasm_darkness * cut)
    )
    cyto_labels = label_components(cytoplasm)
    radius = _round_half_up(params.group_radius * diameter)
    rbc_area = math.pi * diameter * diameter / 4.0
    found = []
    height, width = stain.shape
    for obj in components(dilate_square(nucleus, radius), members=nucleus):
        x0, y0, x1, y1 = obj["box"]
        ratio = obj["area"] / rbc_area
        on_edge = x0 == 0 or y0 == 0 or x1 == width or y1 == height
        if ratio >= (params.wbc_edge_min_area if on_edge else params.wbc_min_area):
            grow = params.wbc_grow * diameter
            box = [x0 - grow, y0 - grow, x1 + grow, y1 + grow]
            reach = _round_half_up(params.cytoplasm_reach * diameter)
            box = _union(box, _cell_extent(cyto_labels, obj, reach))
            found.append({"box": box, "type": "wbc", "score": min(1.0, ratio)})
    return found


def nucleus_mask(stain, darkness, reference, params: Params):
    """Nucleus pixels, and the reference (red-cell) pixels' median stain and darkness."""
    base = _median(stain[reference])
    dark = _median(darkness[reference])
    absorbing = darkness > min(params.nucleus_darkness * dark, params.nucleus_absorbs * SCALE)
    hued = (stain > params.nucleus_hue * darkness) & (darkness > params.hue_darkness * dark)
    nucleus = (stain > base + params.nucleus_margin * dark) | absorbing | hued
    nucleus &= darkness < BLACK
    return nucleus, base, dark


def _median(values) -> int:
    return int(np.sort(values)[(values.size - 1) // 2])


def platelets(stain, darkness, cells_mask, diameter, white_boxes, params: Params):
    """Small stained specks, away from white cells, mostly on background (not on a red cell).

    `stain` here is blue minus red after white balance (platelets are azure-stained); the
    margin is over the median cell pixel's, by `platelet_margin` x its darkness.
    """
    base = _median(stain[cells_mask])
    dark = _median(darkness[cells_mask])
    rbc_area = math.pi * diameter * diameter / 4.0
    grow = params.platelet_grow * diameter
    height, width = stain.shape
    found = []
    for obj in components(stain > base + params.platelet_margin * dark):
        x0, y0, x1, y1 = obj["box"]
        ratio = obj["area"] / rbc_area
        if not params.platelet_min_area <= ratio <= params.platelet_max_area:
            continue
        if max(x1 - x0, y1 - y0) > params.platelet_max_side * diameter:
            continue
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        if any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in white_boxes):
            continue
        half_w = max((x1 - x0) / 2.0 + grow, params.platelet_min_side * diameter / 2.0)
        half_h = max((y1 - y0) / 2.0 + grow, params.platelet_min_side * diameter / 2.0)
        box = [cx - half_w, cy - half_h, cx + half_w, cy + half_h]
        bx0, by0 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
        bx1, by1 = min(width, math.ceil(box[2])), min(height, math.ceil(box[3]))
        cover = int(cells_mask[by0:by1, bx0:bx1].sum()) / ((bx1 - bx0) * (by1 - by0))
        if cover > params.platelet_max_cover:
            continue
        found.append({"box": box, "type": "platelet", "score": min(1.0, ratio / 0.02)})
    return found


def _cell_extent(labels: np.ndarray, nucleus: dict, reach: int) -> list[int]:
    """Box of the cytoplasm joined to a nucleus, at most `reach` pixels beyond its box."""
    x0, y0, x1, y1 = nucleus["box"]
    height, width = labels.shape
    wx0, wy0 = max(0, x0 - reach), max(0, y0 - reach)
    wx1, wy1 = min(width, x1 + reach), min(height, y1 + reach)
    own = np.unique(labels[nucleus["pixels"]])
    inside = np.isin(labels[wy0:wy1, wx0:wx1], own[own > 0])
    ys, xs = np.nonzero(inside)
    return [
        wx0 + int(xs.min()),
        wy0 + int(ys.min()),
        wx0 + int(xs.max()) + 1,
        wy0 + int(ys.max()) + 1,
    ]


def _round_half_up(value: float) -> int:
    # Python's round() rounds halves to even, JavaScript's Math.round up: use neither.
    return math.floor(value + 0.5)


def _union(a, b):
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
