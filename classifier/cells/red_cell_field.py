"""Red-cell field mode: every red cell of a thin-smear photo, each with its own pixels.

A malaria screen judges red cells one by one, and its training crops (NIH) are single red
cells segmented from the photo with the background blacked out, the crop being the cell's own
box. So here, unlike the white-cell finder, each red cell comes with the pixels that belong to
it, and `segmented_crop` cuts it out the way those crops were made.

How it works (sizes relative to the photo's median red-cell diameter D, thresholds measured on
the photo itself, as in classifier.cells.finder, whose first steps it shares):
1. Shrink by an integer factor: first coarsely, to measure D from one global cut (step 2 of
   the white-cell finder: white balance, darkness, Otsu's cut, pale centres filled; when that
   takes in more than half the photo the cut fell inside the pale haze of out-of-focus cells
   and plasma, and is sought again among the pixels above it); then so that D is about
   TARGET_DIAMETER working pixels (the coarse look itself when that factor is the same).
2. Cell pixels: darker than Otsu's cut and than the mean of their own square of side about D
   (`local_radius`). Touching cells in haze then part along the paler seam between them,
   which one global cut buries. Holes under `hole_area` of a red cell are filled (pale
   centres); larger pockets between cells stay background.
3. D from the median Euclidean depth of cell pixels (for a disc it is (1 - 1/sqrt 2) of the
   radius; touching cells do not change it, unlike blob areas).
4. Each blob of cell pixels: smaller than `min_area` of a red cell -> left out (platelets,
   debris); up to `single_max_area` -> one cell; larger (touching or overlapping cells) ->
   split at seeds on its deepest points, at least `spacing` x D apart, each pixel to the seed
   whose disc it lies deepest in (a power diagram), no farther than `clump_reach` x D; and every
   pixel of the clump within `disc_radius` x D of a seed belongs to that seed's box as well
   (where cells overlap, each box spans its whole cell), while its mask, what `segmented_crop`
   cuts out, stays its own side of the split. A split cell is marked `clump`: its outline is a
   guess and a person may want to look. A cell whose mean darkness is under `min_darkness` of
   the way from the cut to the median cell pixel is left out: an out-of-focus cell or haze.
5. A cell whose pixels touch the photo's edge is marked `edge`: it is cut, so it is shown but
   never counted.

Integers (or single correctly rounded float operations) throughout, so that
`pwa/js/classifier/cells/red-cell-field.js` finds the very same cells.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from classifier.cells.finder import BLACK, SCALE, _checked, _darkness_and_cut, _white_balanced
from classifier.cells.image_ops import (
    block_mean,
    box_mean,
    fill_small_holes,
    label_components,
    otsu_threshold,
)

COARSE_SIDE = 400  # the first, coarse look that measures D
# Working pixels across a red cell for the real search: boxes stay right at IoU 0.5 and the
# browser's search takes a fraction of what 48 px took; at 24 px the cut-out outlines get too
# coarse for the model (fewer confident calls; measured: docs/classifier.md).
TARGET_DIAMETER = 32
MAX_WORK_PIXELS = 1_000_000
# A disc's median distance to its outline is (1 - 1/sqrt(2)) of its radius.
EDT_TO_DIAMETER = 2 / (1 - 1 / math.sqrt(2))
CLUMP_SCORE = 0.5  # a cell split out of a clump; one standing alone scores 1


@dataclass(frozen=True)
class RedCellParams:
    """Tuned on malaria-fields (bbbc041, 10 fields; see docs/classifier.md for the figures)."""

    min_cell_contrast: int = 40  # Otsu cut on darkness (of 1024) below which nothing is there
    min_background: int = 40  # 99th-percentile level below which a photo is too dark to judge
    local_radius: float = 0.5  # (x D) half-side of the square a pixel is compared with
    hole_area: float = 0.5  # (x a red cell's area) larger holes in cells are background
    min_area: float = 0.4  # (x a red cell's area) smaller blobs are not red cells
    single_max_area: float = 1.25  # larger blobs are touching cells, split ...
    centre_depth: float = 0.25  # ... at seeds at least this x D deep ...
    spacing: float = 0.65  # ... and this x D apart; each part reaches at most ...
    clump_reach: float = 0.7  # ... this x D from its seed, and takes in ...
    disc_radius: float = 0.55  # ... in its box every clump pixel this x D from it
    min_darkness: float = 0.3  # fainter cells (see _clear) are out of focus or haze


RED_DEFAULT = RedCellParams()


def find_red_cells(rgb: np.ndarray, params: RedCellParams = RED_DEFAULT) -> dict:
    """Red cells of an (H, W, 3) uint8 RGB photo.

    Returns {"diameter": D in photo pixels | None, "factor": the shrink factor, "cells": [{
    "box": [x0, y0, x1, y1] (photo pixels, x1/y1 exclusive), "score": 1 | CLUMP_SCORE,
    "edge": bool, "clump": bool, "mask": (h, w) bool array of the cell's pixels in its box at
    working scale (box / factor)}], "cells_mask": every cell pixel at working scale (None when
    nothing was found)}, cells sorted by box. No cells: "cells" is empty. FinderError for an
    image that cannot be searched."""
    rgb = _checked(rgb)
    height, width = rgb.shape[:2]
    factor = max(1, (max(height, width) + COARSE_SIDE // 2) // COARSE_SIDE)
    coarse = block_mean(rgb, factor)
    found = None
    measured = _measured_diameter(coarse, params)
    if measured is not None:
        finer = _finer_factor(height, width, measured * factor)
        work = coarse if finer == factor else block_mean(rgb, finer)
        found = _search(work, measured * factor / finer, params)
        factor = finer
    if found is None:
        return {"diameter": None, "factor": factor, "cells": [], "cells_mask": None}
    cells, diameter, cells_mask = found
    for cell in cells:
        x0, y0, x1, y1 = cell.pop("work_box")
        cell["box"] = [x0 * factor, y0 * factor, min(width, x1 * factor), min(height, y1 * factor)]
    cells.sort(key=lambda c: c["box"])
    return {
        # Rounded to 1/1000 px so that the JavaScript twin gives the very same number.
        "diameter": math.floor(diameter * factor * 1000 + 0.5) / 1000,
        "factor": factor,
        "cells": cells,
        "cells_mask": cells_mask,
    }


def marked_cell(found: dict, box: list[int]) -> dict:
    """A red cell a person marked by hand (a box within the photo): its pixels are the cell
    pixels of the search inside the box (the whole box when the search saw none there)."""
    factor = found["factor"]
    x0, y0, x1, y1 = box
    wx0, wy0 = x0 // factor, y0 // factor
    wx1, wy1 = max(wx0 + 1, -(-x1 // factor)), max(wy0 + 1, -(-y1 // factor))
    cells_mask = found["cells_mask"]
    mask = np.zeros((wy1 - wy0, wx1 - wx0), dtype=bool)
    if cells_mask is not None:
        part = cells_mask[wy0:wy1, wx0:wx1]
        mask[: part.shape[0], : part.shape[1]] = part
    if not mask.any():
        mask[:] = True
    return {"box": list(box), "score": None, "edge": False, "clump": False, "mask": mask}


def segmented_crop(rgb: np.ndarray, cell: dict, factor: int) -> np.ndarray:
    """The cell as the NIH training crops show one: its own box of the photo, every pixel that
    is not the cell's black. (h, w, 3) uint8; the model resizes it whole to its input. A split
    cell is cut out as its own side of the split (its mask) in that side's box: its box spans
    the whole cell, overlap included, but the overlap shows its neighbour, which the model
    reads as something in the cell (measured: more uninfected cells called parasitized)."""
    if cell["clump"]:
        cell = _own_side(cell, factor, rgb.shape[1], rgb.shape[0])
    x0, y0, x1, y1 = cell["box"]
    rows = np.arange(y0, y1) // factor - y0 // factor
    cols = np.arange(x0, x1) // factor - x0 // factor
    inside = cell["mask"][rows][:, cols]
    crop = rgb[y0:y1, x0:x1].copy()
    crop[~inside] = 0
    return crop


def _own_side(cell: dict, factor: int, width: int, height: int) -> dict:
    """A split cell's mask pixels and their own box (photo pixels)."""
    ys, xs = np.nonzero(cell["mask"])
    top, left, bottom, right = int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1
    x0, y0 = cell["box"][:2]
    return {
        "box": [
            x0 + left * factor,
            y0 + top * factor,
            min(width, x0 + right * factor),
            min(height, y0 + bottom * factor),
        ],
        "mask": cell["mask"][top:bottom, left:right],
    }


def _finer_factor(height: int, width: int, photo_diameter: float) -> int:
    """The shrink factor that makes D about TARGET_DIAMETER working pixels, without more than
    MAX_WORK_PIXELS of them."""
    least = 1
    while (height // least) * (width // least) > MAX_WORK_PIXELS:
        least += 1
    return max(least, math.floor(photo_diameter / TARGET_DIAMETER))


def _darkness(work: np.ndarray, params: RedCellParams):
    """(darkness, Otsu's cut) of the working image (step 2), or None when there is nothing to
    find in it (too dark to judge, or no cell darker than the background by the minimum)."""
    planes = _white_balanced(work, params)
    if planes is None:
        return None
    darkness, _, cut = _darkness_and_cut(planes, params.min_cell_contrast)
    return None if cut < params.min_cell_contrast else (darkness, cut)


def _measured_diameter(work: np.ndarray, params: RedCellParams):
    """D in working pixels from one global cut (steps 2-3 at the coarse scale), or None when
    there are no cells."""
    dark = _darkness(work, params)
    if dark is None:
        return None
    darkness, cut = dark
    cells_mask = fill_small_holes((darkness > cut) & (darkness < BLACK), darkness.size // 64)
    if 2 * int(cells_mask.sum()) > darkness.size:
        hist = np.bincount(darkness.ravel(), minlength=SCALE)
        hist[BLACK:] = 0
        hist[: cut + 1] = 0
        cut = otsu_threshold(hist)
        cells_mask = fill_small_holes((darkness > cut) & (darkness < BLACK), darkness.size // 64)
    if cells_mask.all() or not cells_mask.any():
        return None
    return _median_diameter(cells_mask, squared_distance(cells_mask)) or None


def _median_diameter(cells_mask: np.ndarray, depth2: np.ndarray) -> float:
    inside = np.sort(depth2[cells_mask])
    return EDT_TO_DIAMETER * math.sqrt(int(inside[(inside.size - 1) // 2]))


def _search(work: np.ndarray, rough_diameter: float, params: RedCellParams):
    """(cells with working boxes, D in working pixels, the cell pixels), or None when there
    are no cells. rough_diameter: D from the coarse look, in working pixels."""
    dark = _darkness(work, params)
    if dark is None:
        return None
    darkness, cut = dark
    # A cell pixel is darker than the cut and than its own neighbourhood: in haze, where the
    # whole neighbourhood is grey, that parts touching cells along the paler seam between them.
    radius = max(1, math.floor(params.local_radius * rough_diameter + 0.5))
    local = box_mean(darkness, radius)
    raw = (darkness > cut) & (darkness < BLACK) & (darkness > local)
    # Pale centres are holes; background pockets between cells are bigger and stay open.
    most = math.floor(params.hole_area * math.pi * rough_diameter * rough_diameter / 4)
    cells_mask = fill_small_holes(raw, most)
    if cells_mask.all() or not cells_mask.any():
        return None
    depth2 = squared_distance(cells_mask)
    diameter = _median_diameter(cells_mask, depth2)
    if diameter <= 0:
        return None
    cells = _cells(cells_mask, depth2, diameter, params)
    return _clear(cells, darkness, cells_mask, cut, params), diameter, cells_mask


def _clear(cells: list[dict], darkness, cells_mask, cut: int, params: RedCellParams):
    """Cells whose mean darkness is at least `min_darkness` of the way from the cut to the
    median cell pixel's: fainter ones are out-of-focus cells and haze."""
    inside = np.sort(darkness[cells_mask])
    median = int(inside[(inside.size - 1) // 2])
    least = cut + params.min_darkness * (median - cut)
    kept = []
    for cell in cells:
        x0, y0, x1, y1 = cell["work_box"]
        total = int(darkness[y0:y1, x0:x1][cell["mask"]].sum())
        if total >= least * int(cell["mask"].sum()):
            kept.append(cell)
    return kept


def squared_distance(mask: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of each mask pixel to the nearest pixel outside, as integers
    (exact: the JS twin computes it by Meijster's algorithm). The image edge is not outside:
    a cell cut by the edge is as thick as it looks."""
    distance = ndimage.distance_transform_edt(mask)
    return np.rint(distance * distance).astype(np.int64)


def _cells(cells_mask, depth2, diameter: float, params: RedCellParams) -> list[dict]:
    height, width = cells_mask.shape
    # Areas are compared as area x 4 against the share of pi x D^2.
    area_x4 = math.pi * diameter * diameter
    found = []
    for ys, xs in _blobs(label_components(cells_mask)):
        if ys.size * 4 < params.min_area * area_x4:
            continue
        if ys.size * 4 <= params.single_max_area * area_x4:
            parts = [(ys, xs, np.ones(ys.size, dtype=bool))]
        else:
            parts = _split(ys, xs, depth2, diameter, params)
        for part_ys, part_xs, own in parts:
            if part_ys.size * 4 < params.min_area * area_x4:
                continue
            x0, y0 = int(part_xs.min()), int(part_ys.min())
            x1, y1 = int(part_xs.max()) + 1, int(part_ys.max()) + 1
            mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
            mask[part_ys[own] - y0, part_xs[own] - x0] = True
            clump = len(parts) > 1
            found.append(
                {
                    "work_box": [x0, y0, x1, y1],
                    "score": CLUMP_SCORE if clump else 1.0,
                    "edge": x0 == 0 or y0 == 0 or x1 == width or y1 == height,
                    "clump": clump,
                    "mask": mask,
                }
            )
    return found


def _blobs(labels: np.ndarray):
    """Each component's pixel rows and columns, in row-major order, by label."""
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(int(labels.max()) + 2))
    width = labels.shape[1]
    for label in range(1, int(labels.max()) + 1):
        members = order[bounds[label] : bounds[label + 1]]
        if members.size:
            yield members // width, members % width


def _split(ys, xs, depth2, diameter: float, params: RedCellParams):
    """A clump's pixels split among seeds at its deepest points: each pixel goes to the seed
    whose disc (radius = the seed's depth) it lies deepest in: the least squared distance minus
    squared radius (a power diagram: two touching discs part on the line through the points
    where they touch), ties to the first seed; and each seed's box takes in every pixel within
    disc_radius x D of it, its neighbour's or not. [(rows, columns, whether each is the seed's
    own)], the box's pixels. Exact in integers."""
    values = depth2[ys, xs]
    reach = params.centre_depth * diameter
    lowest = reach * reach
    apart = params.spacing * diameter
    spacing = apart * apart
    order = np.lexsort((ys * depth2.shape[1] + xs, -values))
    seeds = []
    for i in order.tolist():
        if values[i] < lowest:
            break
        x, y = int(xs[i]), int(ys[i])
        if all((x - sx) * (x - sx) + (y - sy) * (y - sy) >= spacing for sx, sy, _ in seeds):
            seeds.append((x, y, int(values[i])))
    if len(seeds) <= 1:
        return [(ys, xs, np.ones(ys.size, dtype=bool))]
    seed_x, seed_y, seed_r2 = np.array(seeds, dtype=np.int64).T
    dx, dy = xs[:, None] - seed_x[None], ys[:, None] - seed_y[None]
    distance2 = dx * dx + dy * dy
    nearest = np.argmin(distance2 - seed_r2[None], axis=1)
    # A part reaches no farther than clump_reach x D from its seed: what lies beyond is a
    # neighbour the seeds missed, not this cell.
    far = params.clump_reach * diameter
    near = distance2[np.arange(ys.size), nearest] <= far * far
    # Overlapping cells: the power diagram gives each only its side of the overlap, so its box
    # is short of the cell on that side (the boxed truth spans whole cells). The seed's own
    # disc of about a cell's radius puts the overlap in both boxes.
    own = params.disc_radius * diameter
    disc = distance2 <= own * own
    parts = []
    for k in range(len(seeds)):
        mine = (nearest == k) & near
        member = mine | disc[:, k]
        parts.append((ys[member], xs[member], mine[member]))
    return parts
