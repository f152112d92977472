"""The canonical framing of a white cell: the one crop that training and inference both see.

Two ways to size the frame, named by the model that was trained on them (model_framing.py):
"wbc-canonical" scales the cell's own box to a fixed share of the frame (`frame_cell`);
"rbc-scaled" makes the frame a fixed number of red-cell diameters wide (`scaled_window`).

A found cell's box -> a FRAME_SIZE x FRAME_SIZE RGB crop, centred on the box, scaled so that
the box's longer side spans CELL_FILL of the frame. Beyond the photo's edge the edge pixels
are repeated. Large reductions first average whole blocks of pixels (an integer factor), then
every output pixel is sampled bilinearly at its centre, so a 6000x4000 photo and a 640x480
one give the same crop of the same cell. `pwa/js/classifier/cells/framing.js` has the same function
(`frameCell`), step for step.
"""

import math

import numpy as np

from classifier.cells.finder import find_cells
from classifier.cells.image_ops import block_mean

FRAME_SIZE = 224
CELL_FILL = 0.6


def frame_window(box: list[int], fill: float = CELL_FILL) -> tuple[float, float, float]:
    """Centre x, centre y and side (photo pixels) of the square that frames a box."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty box {box}")
    side = max(x1 - x0, y1 - y0) / fill
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, side


def scaled_window(box: list[int] | None, shape, diameter: float, span: float):
    """Centre x, centre y and side of the "rbc-scaled" frame: `span` red-cell diameters wide,
    centred on the box (on the photo's centre when there is no box). The cell keeps its size
    relative to the red cells, so a platelet stays small and a monocyte large, whatever the
    microscope's magnification."""
    height, width = shape[:2]
    x0, y0, x1, y1 = [0, 0, width, height] if box is None else box
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, span * diameter


def frame_cell(
    rgb: np.ndarray, box: list[int], size: int = FRAME_SIZE, fill: float = CELL_FILL
) -> np.ndarray:
    """The canonical (size, size, 3) uint8 crop of the cell in `box` of an RGB photo."""
    return frame_square(rgb, *frame_window(box, fill), size)


def frame_square(rgb: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """The (size, size, 3) uint8 crop of the square of `side` photo pixels centred on (cx, cy)."""
    factor = max(1, math.floor(side / size / 2))
    source = block_mean(rgb, factor) if factor > 1 else rgb.astype(np.int32)
    step = side / factor / size
    left = (cx - side / 2.0) / factor
    top = (cy - side / 2.0) / factor
    centres = np.arange(size, dtype=np.float64) + 0.5
    xs = left + centres * step - 0.5
    ys = top + centres * step - 0.5
    return _bilinear(source, xs, ys)


def _bilinear(source: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    height, width = source.shape[:2]
    xs = np.clip(xs, 0.0, width - 1.0)
    ys = np.clip(ys, 0.0, height - 1.0)
    x0 = np.floor(xs).astype(np.int64)
    y0 = np.floor(ys).astype(np.int64)
    x1 = np.minimum(x0 + 1, width - 1)
    y1 = np.minimum(y0 + 1, height - 1)
    fx = (xs - x0)[None, :, None]
    fy = (ys - y0)[:, None, None]
    top = source[y0][:, x0] * (1.0 - fx) + source[y0][:, x1] * fx
    bottom = source[y1][:, x0] * (1.0 - fx) + source[y1][:, x1] * fx
    value = top * (1.0 - fy) + bottom * fy
    return np.floor(value + 0.5).astype(np.uint8)


def central_white_cell(rgb: np.ndarray) -> dict | None:
    """The found white cell nearest the photo's centre, or None when there is none."""
    return central_cell(find_cells(rgb), rgb.shape, "wbc")


def central_cell(cells: list[dict], shape, kind: str | None) -> dict | None:
    """Of found `cells`, the one of type `kind` (of any type: None) nearest the photo's
    centre, or None."""
    height, width = shape[:2]
    cells = [c for c in cells if kind is None or c["type"] == kind]
    if not cells:
        return None

    def off_centre(cell):
        x0, y0, x1, y1 = cell["box"]
        return (x0 + x1 - width) ** 2 + (y0 + y1 - height) ** 2

    return min(cells, key=off_centre)


def frame_single_cell(rgb: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray | None:
    """Re-frame a single-cell image (e.g. pbc) canonically; None if no white cell is found.

    None is the caller's cue for the status `unfamiliar`: no guess is made on such a photo.
    """
    cell = central_white_cell(rgb)
    return None if cell is None else frame_cell(rgb, cell["box"], size)
