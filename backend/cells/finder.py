"""Find white cells, platelets and red cells in a photo of a stained blood smear.

How it works (every size is relative to the median red cell of the same photo, every
threshold is measured on the photo itself, so neither magnification nor stain is assumed):
1. Shrink the photo by an integer factor so its long side is about WORK_SIDE pixels (and
   search again less shrunk if its red cells come out too small to judge).
2. White-balance each channel by its bright background level (99th percentile), as integers.
3. Darkness = how much light a pixel absorbs; cells are darker than background (Otsu).
4. The median red-cell diameter D comes from the median depth (taxicab distance to the
   background) of cell pixels, pale centres filled: touching cells do not bias it.
5. Stain = blue minus red after white balance: nuclei and platelets absorb red light, red
   cells absorb green. Nucleus pixels are those bluer than the red cells by a margin that
   scales with how dark the red cells are stained.
6. White cells: nucleus pixels within a fraction of D of each other are one object (lobes
   of a neutrophil); an object of at least a fraction of a red cell's area is a white cell.
   Its box is the nucleus box, a little grown, joined with the faintly stained cytoplasm
   connected to it (up to a reach relative to D).
7. Platelets: small stained specks (relative to a red cell) away from white cells, lying
   mostly on background; boxed at least a fixed fraction of D wide.
8. Red cells: blobs of about one red cell's area; larger blobs (touching cells) are split
   at their deepest points, one D apart at least, each boxed D wide.
"""

import math
from dataclasses import dataclass

import numpy as np

from backend.cells.image_ops import (
    block_mean,
    city_block_distance,
    components,
    dilate_square,
    fill_small_holes,
    histogram_percentile,
    label_components,
    otsu_threshold,
)

WORK_SIDE = 320
SCALE = 1024  # white-balanced channels: 1024 = background level
MAX_PIXELS = 60_000_000
# Median taxicab depth of a cell pixel x this = the red cell's diameter (fitted on dev boxes).
DEPTH_TO_DIAMETER = 6.0
# Red cells narrower than MIN_DIAMETER working pixels are too coarse to judge: search again
# at a finer scale, aiming at TARGET_DIAMETER, without exceeding MAX_WORK_PIXELS.
CLUMP_SCORE = 0.5
MIN_DIAMETER = 24.0
TARGET_DIAMETER = 32.0
MAX_WORK_PIXELS = 1_000_000


class FinderError(ValueError):
    """The image cannot be searched (wrong shape, too large); the message says why."""


@dataclass(frozen=True)
class Params:
    """Tuned on the dev part of bccd-fields (photos numbered below HELD_OUT_FROM)."""

    min_background: int = 40  # 99th-percentile level below which a photo is too dark to judge
    min_cell_contrast: int = 40  # Otsu cut on darkness (of 1024) below which nothing is there
    nucleus_margin: float = 1.0  # nucleus: stain > red-cell stain + margin * red-cell darkness
    group_radius: float = 0.15  # nucleus pixels this close (x D) belong to one cell
    wbc_min_area: float = 0.3  # nucleus area (x red-cell area) of the smallest white cell
    wbc_edge_min_area: float = 0.3  # ... and of one cut by the photo's edge
    rbc_min_area: float = 0.4  # (x median red-cell area) smaller blobs are not red cells
    rbc_max_area: float = 1.6  # larger blobs are clumps, split at their deepest points ...
    rbc_centre_depth: float = 0.25  # ... at least this x D deep ...
    rbc_spacing: float = 0.7  # ... and this x D apart
    platelet_margin: float = 1.0  # platelet: stain > red-cell stain + this x darkness
    platelet_min_area: float = 0.004  # (x red-cell area)
    platelet_max_area: float = 0.1
    platelet_max_side: float = 0.45  # (x D)
    platelet_grow: float = 0.05  # (x D) on each side of the speck ...
    platelet_min_side: float = 0.37  # ... and a box at least this x D wide and high
    platelet_max_cover: float = 0.7  # at most this much of its box lies on cells
    wbc_grow: float = 0.1  # white-cell box: nucleus box + this x D on each side, joined with
    cytoplasm_margin: float = 0.3  # the cytoplasm: stain > red-cell stain + this x darkness ...
    cytoplasm_darkness: float = 0.7  # ... and darker than this x the cell/background cut
    cytoplasm_reach: float = 0.3  # cytoplasm counts up to this x D beyond the nucleus box


DEFAULT = Params()


def working_factor(height: int, width: int) -> int:
    return max(1, (max(height, width) + WORK_SIDE // 2) // WORK_SIDE)


def find_cells(rgb: np.ndarray, params: Params = DEFAULT) -> list[dict]:
    """Cells in an (H, W, 3) uint8 RGB photo.

    Returns [{"box": [x0, y0, x1, y1], "type": "wbc"|"platelet"|"rbc", "score": float}]
    in pixels of the photo (x1, y1 exclusive), white cells first, each type sorted by box.
    Scores are in (0, 1]: a white cell's is its nucleus area over a red cell's (capped; the
    false finds on bccd mostly score low), a platelet's its area over 2% of a red cell's,
    a red cell's 1 when it stands alone and CLUMP_SCORE when split out of a clump.
    An empty list means no cells could be found (black, blank or featureless photo).
    """
    rgb = _checked(rgb)
    factor = working_factor(*rgb.shape[:2])
    found, diameter = _search(block_mean(rgb, factor), params)
    finer = _finer_factor(rgb.shape[:2], factor, diameter)
    if finer < factor:
        factor = finer
        found, diameter = _search(block_mean(rgb, factor), params)
    return _to_photo(found, factor, rgb.shape[:2])


def _finer_factor(shape, factor: int, diameter: float | None) -> int:
    """A smaller shrink factor when red cells came out too small to judge (a big photo at
    low magnification), so that D becomes about TARGET_DIAMETER working pixels."""
    if diameter is None or diameter >= MIN_DIAMETER or factor == 1:
        return factor
    height, width = shape
    least = 1
    while (height // least) * (width // least) > MAX_WORK_PIXELS:
        least += 1
    return max(least, math.floor(factor * diameter / TARGET_DIAMETER))


def _search(work: np.ndarray, params: Params):
    """Cells in working pixels (float boxes) and D, or ([], None) when there are none."""
    planes = _white_balanced(work, params)
    if planes is None:
        return [], None
    red, green, blue = planes
    darkness = np.clip((3 * SCALE - red - green - blue) // 3, 0, SCALE - 1)
    stain = blue - red
    cut = _cell_cut(darkness, stain)
    if cut < params.min_cell_contrast:
        return [], None
    cells_mask = fill_small_holes(darkness > cut, darkness.size // 64)
    measured = _red_cell_diameter(cells_mask)
    if measured is None:
        return [], None
    diameter, depth = measured
    found, base, dark = _white_cells(stain, darkness, cells_mask, diameter, cut, params)
    white_boxes = [c["box"] for c in found]
    found += _platelets(stain, cells_mask, base, dark, diameter, white_boxes, params)
    found += _red_cells(cells_mask, depth, diameter, white_boxes, params)
    return found, diameter


def _checked(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise FinderError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    if rgb.shape[0] * rgb.shape[1] > MAX_PIXELS:
        raise FinderError(
            f"image of {rgb.shape[1]}x{rgb.shape[0]} pixels is larger than {MAX_PIXELS} pixels"
        )
    if min(rgb.shape[:2]) < 16:
        raise FinderError(f"image of {rgb.shape[1]}x{rgb.shape[0]} pixels is too small")
    return rgb


def _white_balanced(work: np.ndarray, params: Params):
    planes = []
    for channel in range(3):
        values = work[..., channel]
        background = histogram_percentile(np.bincount(values.ravel(), minlength=256), 0.99)
        if background < params.min_background:
            return None
        lut = (np.arange(256, dtype=np.int64) * SCALE) // background
        planes.append(lut[values].astype(np.int32))
    return planes


def _cell_cut(darkness: np.ndarray, stain: np.ndarray) -> int:
    """Darkness above which a pixel belongs to a cell.

    Otsu's cut usually parts cells from background. Where red cells are pale and a white
    cell is dark (a close-up of one white cell), it parts the white cell from everything
    else instead: then the pixels above the cut are bluer than the background, and the cut
    is sought again among the pixels below it.
    """
    hist = np.bincount(darkness.ravel(), minlength=SCALE)
    cut = otsu_threshold(hist)
    above = stain[darkness > cut]
    if above.size and int(np.sort(above)[(above.size - 1) // 2]) > 0:
        cut = otsu_threshold(hist[: cut + 1])
    return cut


def _red_cell_diameter(cells_mask: np.ndarray):
    """Median red-cell diameter (working pixels) and the depth map, or None if no cells.

    The diameter comes from the median taxicab depth of cell pixels: for a disc it is a fixed
    fraction of the diameter, and touching cells do not change it, unlike blob areas.
    """
    if cells_mask.all() or not cells_mask.any():
        return None
    depth = city_block_distance(cells_mask)
    inside = depth[cells_mask]
    return DEPTH_TO_DIAMETER * float(np.sort(inside)[(inside.size - 1) // 2]), depth


def _red_cells(cells_mask, depth, diameter, white_cells, params: Params) -> list[dict]:
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
            if not any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in white_cells):
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


def _white_cells(stain, darkness, cells_mask, diameter, cut, params: Params) -> list[dict]:
    cell_stain = stain[cells_mask]
    cell_dark = darkness[cells_mask]
    base = int(np.sort(cell_stain)[(cell_stain.size - 1) // 2])
    dark = int(np.sort(cell_dark)[(cell_dark.size - 1) // 2])
    threshold = base + params.nucleus_margin * dark
    nucleus = stain > threshold
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
    return found, base, dark


def _platelets(stain, cells_mask, base, dark, diameter, white_cells, params: Params):
    """Small stained specks, away from white cells, mostly on background (not on a red cell)."""
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
        if any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in white_cells):
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


def _score(value: float) -> float:
    return math.floor(value * 1000 + 0.5) / 1000


def _union(a, b):
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


def _to_photo(found: list[dict], factor: int, shape) -> list[dict]:
    height, width = shape
    order = {"wbc": 0, "platelet": 1, "rbc": 2}
    out = []
    for cell in found:
        x0, y0, x1, y1 = cell["box"]
        box = [
            max(0, math.floor(x0 * factor)),
            max(0, math.floor(y0 * factor)),
            min(width, math.ceil(x1 * factor)),
            min(height, math.ceil(y1 * factor)),
        ]
        out.append({"box": box, "type": cell["type"], "score": _score(cell["score"])})
    out.sort(key=lambda c: (order[c["type"]], c["box"]))
    return out
