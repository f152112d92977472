"""Find white cells, platelets and red cells in a photo of a stained blood smear.

How it works (every size is relative to the median red cell of the same photo, every
threshold is measured on the photo itself, so neither magnification nor stain is assumed):
1. Shrink the photo by an integer factor so its long side is about WORK_SIDE pixels (and
   search again less shrunk if its red cells come out too small to judge).
2. White-balance each channel by its bright background level (99th percentile), as integers.
3. Darkness = how much light a pixel absorbs (mean over channels); cells are darker than
   background (Otsu). Black pixels (padding) are not cells; a photo whose cells cover under
   1/MIN_COVER of it has no red cells to compare with and gives none.
4. The median red-cell diameter D comes from the median depth (taxicab distance to the
   background) of cell pixels, pale centres filled: touching cells do not bias it.
5. The red cells' colour: the median absorption of the cell pixels outside blobs that hold a
   nucleus (a first guess from the paler half of the cell pixels finds those blobs, so a
   white cell filling a close-up does not pass for a red cell). Stain = how far a pixel's
   absorption strays from that colour's direction (its orthogonal part, L1): red cells keep
   their hue however dark they are, nuclei of any stain (purple, magenta, red-brown) do not.
6. Nucleus pixels: far from the red cells' hue (by a margin scaled by their darkness), or much
   darker than the red cells, or absorbing most of the light, or dark and of another hue.
   Nucleus pixels within a fraction of D of each other are one object (lobes of a
   neutrophil); an object of at least a fraction of a red cell's area is a white cell. Its box
   is the nucleus box, a little grown, joined with the faintly stained cytoplasm connected
   to it (up to a reach relative to D).
7. Platelets: small specks bluer than the cells (blue minus red after white balance) away
   from white cells, lying mostly on background; boxed at least a fixed fraction of D wide.
8. Red cells: blobs of about one red cell's area; larger blobs (touching cells) are split
   at their deepest points, one D apart at least, each boxed D wide.
"""

import math

import numpy as np

from classifier.cells.image_ops import (
    block_mean,
    fill_small_holes,
    histogram_percentile,
    label_components,
    otsu_threshold,
)
from classifier.cells.params import BLACK, DEFAULT, SCALE, Params
from classifier.cells.red_cells import red_cell_diameter, red_cells
from classifier.cells.stained_cells import nucleus_mask, platelets, white_cells

__all__ = ["DEFAULT", "FinderError", "Params", "find_cells", "survey", "working_factor"]

WORK_SIDE = 320
MAX_PIXELS = 60_000_000
# Cells must cover at least 1/MIN_COVER of the lit photo (a smear; not specks on a cell
# that fills a cut-out on black, which white balance took for the background).
MIN_COVER = 10
# Red cells narrower than MIN_DIAMETER working pixels are too coarse to judge: search again
# at a finer scale, aiming at TARGET_DIAMETER, without exceeding MAX_WORK_PIXELS.
MIN_DIAMETER = 24.0
TARGET_DIAMETER = 32.0
MAX_WORK_PIXELS = 1_000_000


class FinderError(ValueError):
    """The image cannot be searched (wrong shape, too large); the message says why."""


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
    return survey(rgb, params)[0]


def survey(rgb: np.ndarray, params: Params = DEFAULT) -> tuple[list[dict], float | None]:
    """find_cells' cells and D, the photo's median red-cell diameter in photo pixels (None
    when nothing could be measured, and then there are no cells): the scale that models
    framed "rbc-scaled" are fed at (classifier.cells.framing.scaled_window)."""
    rgb = _checked(rgb)
    factor = working_factor(*rgb.shape[:2])
    found, diameter = _search(block_mean(rgb, factor), params)
    finer = _finer_factor(rgb.shape[:2], factor, diameter)
    if finer < factor:
        factor = finer
        found, diameter = _search(block_mean(rgb, factor), params)
    return _to_photo(found, factor, rgb.shape[:2]), _photo_diameter(diameter, factor)


def _photo_diameter(diameter: float | None, factor: int) -> float | None:
    # Rounded to 1/1000 px so that the JavaScript twin gives the very same number.
    return None if diameter is None else math.floor(diameter * factor * 1000 + 0.5) / 1000


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
    darkness, blueness, cut = _darkness_and_cut(planes, params.min_cell_contrast)
    if cut < params.min_cell_contrast:
        return [], None
    cells_mask = fill_small_holes((darkness > cut) & (darkness < BLACK), darkness.size // 64)
    if int(cells_mask.sum()) * MIN_COVER < int((darkness < BLACK).sum()):
        return [], None  # too few cell pixels to tell red cells from anything else
    reference = _paler_half(darkness, cells_mask)
    stain = _stain(planes, reference)
    red_part = _red_part(cells_mask, nucleus_mask(stain, darkness, reference, params)[0])
    if red_part is not None:
        reference = red_part
        stain = _stain(planes, reference)
    measured = red_cell_diameter(cells_mask)
    if measured is None:
        return [], None
    diameter, depth = measured
    found = white_cells(stain, darkness, reference, diameter, cut, params)
    white_boxes = [c["box"] for c in found]
    found += platelets(blueness, darkness, cells_mask, diameter, white_boxes, params)
    found += red_cells(cells_mask, depth, diameter, white_boxes, params)
    return found, diameter


def _red_part(cells_mask, nucleus):
    """Cell pixels outside the blobs that hold a nucleus (None when too few are left)."""
    labels = label_components(cells_mask)
    count = int(labels.max())
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    held = np.bincount(labels[nucleus].ravel(), minlength=count + 1)
    white = held * 10 >= areas
    white[0] = True
    red = ~white[labels]
    if int(red.sum()) * 100 < cells_mask.size:
        return None
    return red


def _paler_half(darkness, cells_mask):
    """The paler half of the cell pixels: mostly red cells even where a white cell is large."""
    values = darkness[cells_mask]
    middle = int(np.sort(values)[(values.size - 1) // 2])
    return cells_mask & (darkness <= middle)


def _stain(planes, reference):
    """How far each pixel's colour is from the colour of the reference (red-cell) pixels:
    the L1 length of the pixel's absorption orthogonal to their median absorption, of SCALE.
    Whatever the stain, red cells have about the reference's hue however dark they are, and
    nuclei, cytoplasm and platelets do not. Integers throughout (the JS twin must match)."""
    absorbed = [np.clip(SCALE - plane, 0, SCALE).astype(np.int64) for plane in planes]
    ref = [int(np.sort(a[reference])[(int(reference.sum()) - 1) // 2]) for a in absorbed]
    norm = sum(r * r for r in ref)
    if norm == 0:
        return np.zeros_like(planes[0])
    along = sum(a * r for a, r in zip(absorbed, ref, strict=True))
    out = np.zeros(planes[0].shape, dtype=np.int64)
    for a, r in zip(absorbed, ref, strict=True):
        out += np.abs(a - (along * r) // norm)
    return out.astype(np.int32)


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


def _darkness_and_cut(planes, min_contrast: int):
    """How much light each white-balanced pixel absorbs (of SCALE), blue minus red, and the
    darkness above which a pixel belongs to a cell (_cell_cut)."""
    red, green, blue = planes
    darkness = np.clip((3 * SCALE - red - green - blue) // 3, 0, SCALE - 1)
    blueness = blue - red
    return darkness, blueness, _cell_cut(darkness, blueness, min_contrast)


def _cell_cut(darkness: np.ndarray, stain: np.ndarray, min_contrast: int) -> int:
    """Darkness above which a pixel belongs to a cell.

    Otsu's cut usually parts cells from background. Where red cells are pale and a white
    cell is dark (a close-up of one white cell), it parts the white cell from everything
    else instead: then the pixels above the cut are bluer than the background, and the cut
    is sought again among the pixels below it, unless that cut is too faint to be cells.
    Pixels that pass no light at all (BLACK: padding, a frame) are left out.
    """
    hist = np.bincount(darkness.ravel(), minlength=SCALE)
    hist[BLACK:] = 0
    cut = otsu_threshold(hist)
    above = stain[(darkness > cut) & (darkness < BLACK)]
    if above.size and int(np.sort(above)[(above.size - 1) // 2]) > 0:
        lower = otsu_threshold(hist[: cut + 1])
        if lower >= min_contrast:
            return lower
    return cut


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


def _score(value: float) -> float:
    return math.floor(value * 1000 + 0.5) / 1000
