"""Red cells: the photo's median red-cell diameter D, and red-cell boxes."""

import math

import numpy as np

from classifier.cells.image_ops import city_block_distance, components
from classifier.cells.params import Params

# Median taxicab depth of a cell pixel x this = the red cell's diameter (fitted on dev boxes).
DEPTH_TO_DIAMETER = 6.0
# Score of a red cell split out of a clump (one standing alone scores 1).
CLUMP_SCORE = 0.5


def red_cell_diameter(cells_mask: np.ndarray):
    """Median red-cell diameter (working pixels) and the depth map, or None if no cells.

    The diameter comes from the median taxicab depth of cell pixels: for a disc it is a fixed
    fraction of the diameter, and touching cells do not change it, unlike blob areas.
    """
    if cells_mask.all() or not cells_mask.any():
        return None
    depth = city_block_distance(cells_mask)
    inside = depth[cells_mask]
    return DEPTH_TO_DIAMETER * float(np.sort(inside)[(inside.size - 1) // 2]), depth


def red_cells(cells_mask, depth, diameter, white_boxes, params: Params) -> list[dict]:
    """Blobs of about one red cell's area, and clumps split at their deepest points."""
    area = math.pi * diameter * diameter / 4.0
    half = diameter / 2.0
    found = []
    for blob in components(cells_mask):
        if blob["area"] < params.rbc_min_area * area:
            continue
        if blob["area"] <= params.rbc_max_area * area:
            centres = [
                ((blob["box"][0] + blob["box"][2]) / 2.0, (blob["box"][1] + blob["box"][3]) / 2.0)
            ]
            boxes = [blob["box"]]
            score = 1.0
        else:
            centres = _clump_centres(blob, depth, diameter, params)
            score = CLUMP_SCORE
            bx0, by0, bx1, by1 = blob["box"]
            boxes = [
                [
                    max(bx0, x - half),
                    max(by0, y - half),
                    min(bx1, x + 1 + half),
                    min(by1, y + 1 + half),
                ]
                for x, y in centres
            ]
        for (cx, cy), box in zip(centres, boxes, strict=True):
            if not any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in white_boxes):
                found.append({"box": box, "type": "rbc", "score": score})
    return found


def _clump_centres(blob: dict, depth: np.ndarray, diameter: float, params: Params):
    """Greedy: the deepest pixel is a cell's centre; none closer than the spacing to another."""
    lowest = params.rbc_centre_depth * diameter
    ys, xs = blob["pixels"]
    values = depth[ys, xs]
    deep = values >= lowest
    ys, xs, values = ys[deep], xs[deep], values[deep]
    order = np.lexsort((ys * depth.shape[1] + xs, -values))
    reach = params.rbc_spacing * diameter
    spacing = reach * reach
    centres = []
    for i in order.tolist():
        x, y = int(xs[i]), int(ys[i])
        if all((x - cx) ** 2 + (y - cy) ** 2 >= spacing for cx, cy in centres):
            centres.append((x, y))
    return centres
