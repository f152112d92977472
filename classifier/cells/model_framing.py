"""Framing as a declared property of a released model.

A model trained on framed cells says so in its model.json, and clients (classifier.classify and
the PWA's worker, `pwa/js/classifier/cells/model-framing.js`) then feed it the same frames; a
model without the key (the 1.0.0 releases) is fed the resized whole photo, as before; such a
whole-image model may declare ``input.field_framing`` for the cells of a field photo
(field_framing_of). Two methods:

- ``{"method": "wbc-canonical", "fill": 0.6}``: the white cell nearest the photo's centre, its
  box spanning `fill` of the frame. No white cell found -> status ``unfamiliar``, no label.
- ``{"method": "rbc-segmented"}`` (``input.field_framing`` of a whole-image red-cell model
  only): field mode finds every red cell instead of white cells and feeds each one cut out on
  black in its own box (classifier.cells.red_cell_field), resized whole like a close-up. With
  ``"colour": {"cell_mean", "cell_std"}`` the photo's cell colours are first moved to the
  training crops' (classifier.cells.field_colour).
- ``{"method": "rbc-scaled", "span": 3.5}``: a frame `span` red-cell diameters wide (D measured
  in the same photo), centred on the white cell nearest the centre, else on the platelet nearest
  the centre, else on the photo's centre. Cells keep their size relative to the red cells
  (a platelet stays small), and a single-cell close-up is framed even when the finder cannot
  outline its cell. A frame centred on the photo's centre because no cell was found gets
  status ``unfamiliar`` (its label is shown for the person who must look, never counted as
  sure); a photo in which nothing can be measured (blank, black, no cells) gets
  ``unfamiliar`` and no label.
"""

import numpy as np

from classifier.cells.field_colour import colour_of
from classifier.cells.finder import survey
from classifier.cells.framing import (
    CELL_FILL,
    central_cell,
    frame_cell,
    frame_square,
    scaled_window,
)

WBC_CANONICAL = "wbc-canonical"
RBC_SCALED = "rbc-scaled"
# A red-cell model's field framing: every red cell of the photo, segmented on black in its own
# box, as the NIH training crops are (classifier.cells.red_cell_field).
RBC_SEGMENTED = "rbc-segmented"
METHODS = (WBC_CANONICAL, RBC_SCALED)
FIELD_METHODS = (*METHODS, RBC_SEGMENTED)
SPAN_RANGE = (1.5, 10.0)  # frames narrower than a white cell or wider than a field make no sense
NO_WHITE_CELL = "no white cell found in the photo"
NO_CELLS = "no cells found in the photo"
CENTRED = "no white cell or platelet found: framed at the photo's centre"
# The status reason (classifier.classify.STATUS_REASONS) of both: no cell to frame or centre on.
NO_CELL = "no_cell"


def framing_of(card: dict) -> dict | None:
    """The model's framing ({"method", "fill"|"span"}), or None; ValueError if malformed."""
    return _parsed(card, "framing")


def field_framing_of(card: dict) -> dict | None:
    """How cells found in a field photo (or marked by hand) are framed for this model: by its
    framing when it is framed; for a whole-image model by its ``input.field_framing`` when it
    declares one (``rbc-scaled``: as many red-cell diameters wide as its training photos were,
    so a cell comes out the size the model learned); else None, the box spanning CELL_FILL.
    ValueError if malformed, or if a framed model declares both."""
    framing, field = framing_of(card), _parsed(card, "field_framing")
    if framing is not None and field is not None:
        raise ValueError("input.field_framing is for whole-image models; this one is framed")
    return framing or field


def _parsed(card: dict, key: str) -> dict | None:
    framing = (card.get("input") or {}).get(key)
    if framing is None:
        return None
    methods = FIELD_METHODS if key == "field_framing" else METHODS
    if not isinstance(framing, dict) or framing.get("method") not in methods:
        raise ValueError(f"input.{key}.method must be one of {list(methods)}, got {framing!r}")
    if framing["method"] == RBC_SEGMENTED:
        colour = colour_of(framing)
        return {"method": RBC_SEGMENTED, **({"colour": colour} if colour else {})}
    if framing["method"] == WBC_CANONICAL:
        fill = framing.get("fill")
        if not _number(fill) or not 0 < fill <= 1:
            raise ValueError(f"input.{key}.fill must be a number in (0, 1], got {fill!r}")
        return {"method": WBC_CANONICAL, "fill": float(fill)}
    span = framing.get("span")
    if not _number(span) or not SPAN_RANGE[0] <= span <= SPAN_RANGE[1]:
        raise ValueError(
            f"input.{key}.span must be a number in [{SPAN_RANGE[0]}, {SPAN_RANGE[1]}], got {span!r}"
        )
    return {"method": RBC_SCALED, "span": float(span)}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def frame_photo_for(rgb: np.ndarray, framing: dict, size: int) -> dict:
    """One photo -> what a framed model is fed: {"frame": (size, size, 3) uint8 | None,
    "box": the framed cell's box | None, "reason": why there is no frame, or why it is
    centred on the photo | None}. FinderError for an image the finder cannot search."""
    cells, diameter = survey(rgb)
    wbc = central_cell(cells, rgb.shape, "wbc")
    if framing["method"] == WBC_CANONICAL:
        if wbc is None:
            return {"frame": None, "box": None, "reason": NO_WHITE_CELL}
        return {"frame": frame_cell(rgb, wbc["box"], size, framing["fill"]), "box": wbc["box"]}
    if diameter is None:
        return {"frame": None, "box": None, "reason": NO_CELLS}
    cell = wbc or central_cell(cells, rgb.shape, "platelet")
    box = None if cell is None else cell["box"]
    window = scaled_window(box, rgb.shape, diameter, framing["span"])
    return {
        "frame": frame_square(rgb, *window, size),
        "box": box,
        **({"reason": CENTRED} if box is None else {}),
    }


def frame_field_cells(rgb: np.ndarray, framing: dict | None, size: int) -> list[tuple]:
    """Every white cell of a field photo and its frame: [(cell, frame)], the finder's order.
    `framing` is the model's field framing (field_framing_of)."""
    cells, diameter = survey(rgb)
    return [
        (c, frame_box(rgb, c["box"], framing, diameter, size)) for c in cells if c["type"] == "wbc"
    ]


def frame_box(rgb, box: list[int], framing: dict | None, diameter: float | None, size: int):
    """The frame of one cell's box for a model's field framing: `span` D wide when it is
    "rbc-scaled", else its box spanning `fill` (CELL_FILL when there is none)."""
    if framing is not None and framing["method"] == RBC_SCALED:
        return frame_square(rgb, *scaled_window(box, rgb.shape, diameter, framing["span"]), size)
    return frame_cell(rgb, box, size, CELL_FILL if framing is None else framing["fill"])


def no_cell_result(reason: str = NO_WHITE_CELL) -> dict:
    """What a framed model answers for a photo without a cell to frame: no guess."""
    return {
        "label": None,
        "confidence": None,
        "status": "unfamiliar",
        "status_reason": NO_CELL,
        "probabilities": {},
        "reason": reason,
    }


def mark_centred(result: dict) -> dict:
    """A frame centred on the photo (no cell found) is 'unfamiliar': a person must look."""
    return {**result, "status": "unfamiliar", "status_reason": NO_CELL, "reason": CENTRED}
