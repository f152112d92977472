"""Framing as a declared property of a released model.

A model trained on canonically framed cells says so in its model.json:
``"input": {..., "framing": {"method": "wbc-canonical", "fill": 0.6}}``. Clients (backend.classify
and the PWA's worker, `pwa/js/cell-framing.js`) then find the white cell nearest the photo's
centre and feed the model `frame_cell(photo, box, input size, fill)` instead of the resized whole
photo; a photo with no white cell gets status ``unfamiliar`` and no label. A model without the
key (the 1.0.0 releases) is fed the whole image, as before.
"""

from backend.cells.framing import CELL_FILL

METHOD = "wbc-canonical"
NO_WHITE_CELL = "no white cell found in the photo"


def framing_of(card: dict) -> dict | None:
    """The model's framing ({"method", "fill"}), or None; ValueError if it is malformed."""
    framing = (card.get("input") or {}).get("framing")
    if framing is None:
        return None
    if not isinstance(framing, dict) or framing.get("method") != METHOD:
        raise ValueError(f"input.framing.method must be '{METHOD}', got {framing!r}")
    fill = framing.get("fill")
    if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not 0 < fill <= 1:
        raise ValueError(f"input.framing.fill must be a number in (0, 1], got {fill!r}")
    return {"method": METHOD, "fill": float(fill)}


def field_fill(card: dict) -> float:
    """The fill used to frame each cell of a field photo: the model's, else the canonical one."""
    framing = framing_of(card)
    return CELL_FILL if framing is None else framing["fill"]


def no_white_cell_result() -> dict:
    """What a framed model answers for a photo without a white cell: no guess."""
    return {
        "label": None,
        "confidence": None,
        "status": "unfamiliar",
        "probabilities": {},
        "reason": NO_WHITE_CELL,
    }
