"""The one parasitaemia rule of a malaria slide, used by the dashboard and the PDF report and
mirrored line for line by the phone (pwa/js/classifier/parasitaemia.js; a Chromium test feeds
both the same cells and compares their answers).

A malaria slide counts red cells toward a target (500 to 5000): parasitaemia is the parasitized
red cells per 100 red cells counted, with its 95 % confidence interval by the Wilson score method
(it stays inside 0-100 and is honest at 0 and at a few parasitized cells, where the textbook
p +- 1.96 SE is not). A cell counts under a person's label, else the model's, exactly as in the
differential (classifier.differential.counted_label): an unrecognised cell waits for a person and
is listed by record so someone can review it. Artefacts, "other" and labels that are not red-cell
classes (a white cell on the smear) are kept apart.

Rounding is half-up to two decimals on both sides: the percentage from integers, the interval
from the same float operations in the same order (sqrt is correctly rounded in both languages),
so the phone and the server print the same digits."""

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from classifier.differential import ARTEFACT, OTHER, Cell, counted_label

PARASITIZED = "parasitized"
UNINFECTED = "uninfected"
RED_CELL_LABELS = (PARASITIZED, UNINFECTED)
TARGETS = (500, 1000, 2000, 5000)
DEFAULT_TARGET = 1000
Z_95 = 1.96


def hundredths_half_up(count: int, whole: int) -> float:
    """100 * count / whole rounded half-up to two decimals, computed in integers."""
    return ((20000 * count + whole) // (2 * whole)) / 100


def percent_half_up(fraction: float) -> float:
    """A fraction as a percentage rounded half-up to two decimals (the same floats as JS)."""
    return math.floor(10000 * fraction + 0.5) / 100


def wilson_interval(positive: int, whole: int) -> list[float]:
    """The 95 % Wilson score interval of positive / whole, in percent: [low, high]."""
    z2 = Z_95 * Z_95
    p = positive / whole
    denominator = 1 + z2 / whole
    centre = (p + z2 / (2 * whole)) / denominator
    margin = (Z_95 / denominator) * math.sqrt(p * (1 - p) / whole + z2 / (4 * whole * whole))
    low = max(0.0, centre - margin)
    high = min(1.0, centre + margin)
    return [percent_half_up(low), percent_half_up(high)]


def parasitaemia(cells: Iterable[Cell], target: int = DEFAULT_TARGET) -> dict[str, Any]:
    """The slide's answer as JSON, key for key the phone's parasitaemia()."""
    cells = list(cells)
    labels = [counted_label(c) for c in cells]
    counts = Counter(label for label in labels if label is not None)
    parasitized, uninfected = counts[PARASITIZED], counts[UNINFECTED]
    red_cells = parasitized + uninfected
    waiting = [c.id for c, label in zip(cells, labels, strict=True) if label is None]
    known = {*RED_CELL_LABELS, ARTEFACT, OTHER}
    others = {label: n for label, n in sorted(counts.items()) if label not in known}
    return {
        "red_cells": red_cells,
        "parasitized": parasitized,
        "uninfected": uninfected,
        "parasitaemia": hundredths_half_up(parasitized, red_cells) if red_cells else None,
        "ci95": wilson_interval(parasitized, red_cells) if red_cells else None,
        "target": target,
        "target_reached": red_cells >= target,
        "unconfirmed": len(waiting),
        "unconfirmed_ids": waiting,
        "apart": {ARTEFACT: counts[ARTEFACT], OTHER: counts[OTHER]},
        "other_classes": others,
        "total": len(cells),
        "flags": _flags(red_cells, target, len(waiting)),
    }


def _flags(red_cells: int, target: int, unconfirmed: int) -> list[str]:
    out = []
    if red_cells < target:
        out.append(f"Only {red_cells} of {target} red cells counted: the interval is wide.")
    if unconfirmed:
        out.append(
            f"{unconfirmed} unrecognised cell(s) are not counted until a person confirms a class."
        )
    return out
