"""The one differential-count rule of a slide, used by the dashboard and the PDF report and
mirrored line for line by the phone (pwa/js/classifier/differential.js; a Chromium test feeds
both the same cells and compares their answers).

What a hematologist reports: each white-cell class as a percentage of the white cells counted
(toward a target of 100, or 200); nucleated red cells (erythroblasts) per 100 white cells;
platelets seen, outside the count. A cell counts under the label a person gave it (reviewer,
else technician), else under the model's label, except that a cell the model did not recognise
(`unfamiliar`) waits for a person and is not counted. "Not a cell / artefact", "other / cannot
tell" and classes outside the differential (e.g. a malaria screen's) are listed apart.

Percentages are rounded half-up to one decimal from integers, so the phone and the server print
the same digits; flags compare exact fractions with the range.

Ranges: typical adult peripheral-blood values in % of white cells (Bain, Bates & Laffan, Dacie
and Lewis Practical Haematology, 12th ed., 2017, ch. 2): neutrophils 40-80, lymphocytes 20-40,
monocytes 2-10, eosinophils 1-6, basophils 0-2; immature granulocytes (not in that table) are
below 1 % in healthy adults; nucleated red cells are absent. Each laboratory should check them
against its own ranges."""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WBC_RANGES: dict[str, tuple[int, int]] = {
    "neutrophil": (40, 80),
    "lymphocyte": (20, 40),
    "monocyte": (2, 10),
    "eosinophil": (1, 6),
    "basophil": (0, 2),
    "ig": (0, 1),
}
PER_100_WBC_RANGES: dict[str, tuple[int, int]] = {"erythroblast": (0, 0)}
PLATELET = "platelet"
ARTEFACT = "artefact"  # "Not a cell / artefact": a person's choice, never the model's
OTHER = "other"  # "Other / cannot tell"
PERSON_ONLY_LABELS = (ARTEFACT, OTHER)
TARGETS = (100, 200)
# Below this many white cells a percentage is too imprecise to lean on (a 100-cell manual
# differential is the usual minimum).
MIN_WBC_FOR_PERCENT = 100

# People's words for each label in the four languages the app speaks (one file: the release
# script writes the translated names into new model cards from it, the PWA's catalogues are
# checked against it).
CLASS_NAMES: dict[str, dict[str, str]] = json.loads(
    (Path(__file__).with_name("class_names.json")).read_text(encoding="utf-8")
)
DISPLAY_NAMES = CLASS_NAMES["en"]


def display_name(label: str, card: dict[str, Any] | None = None, language: str = "en") -> str:
    """People's words for a label in a language: the model card's
    `display_names_by_language[language]`, else (English) its `display_names`, else
    class_names.json for that language, else the label made readable."""
    card = card or {}
    by_language = card.get("display_names_by_language") or {}
    names = by_language.get(language) or (card.get("display_names") if language == "en" else None)
    if names and label in names:
        return names[label]
    table = CLASS_NAMES.get(language) or DISPLAY_NAMES
    return (
        table.get(label)
        or DISPLAY_NAMES.get(label)
        or label[:1].upper() + label[1:].replace("_", " ")
    )


@dataclass(frozen=True)
class Cell:
    label: str  # the model's
    status: str  # confident | review | unfamiliar
    corrected_label: str | None = None  # the technician's
    reviewed_label: str | None = None  # the reviewer's
    id: str | None = None  # the record's, so a rule can say which cells wait for a person


def counted_label(cell: Cell) -> str | None:
    """The label a cell counts under, or None while an unrecognised cell waits for a person."""
    person = cell.reviewed_label or cell.corrected_label
    if person:
        return person
    return None if cell.status == "unfamiliar" else cell.label


def tenths_half_up(count: int, whole: int) -> float:
    """100 * count / whole rounded half-up to one decimal, computed in integers."""
    return ((2000 * count + whole) // (2 * whole)) / 10


@dataclass(frozen=True)
class DifferentialRow:
    label: str
    count: int
    percent: float | None
    basis: str  # "% of white cells" or "per 100 white cells"
    low: int
    high: int
    flag: str | None  # "high", "low" or None

    @property
    def range_text(self) -> str:
        return f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Differential:
    rows: list[DifferentialRow]
    white_cells: int
    target: int
    platelets: int
    apart: dict[str, int]  # artefact, other, unconfirmed (unfamiliar, no person's label yet)
    other_classes: dict[str, int]  # labels outside the differential, e.g. a malaria screen's
    total: int  # every cell of the slide

    @property
    def target_reached(self) -> bool:
        return self.white_cells >= self.target

    @property
    def flags(self) -> list[str]:
        out = [
            f"{display_name(r.label)} {r.percent:.1f} {r.basis}: "
            f"{'above' if r.flag == 'high' else 'below'} the adult range {r.range_text}"
            for r in self.rows
            if r.flag
        ]
        if 0 < self.white_cells < MIN_WBC_FOR_PERCENT:
            out.append(
                f"Only {self.white_cells} white cells counted (fewer than "
                f"{MIN_WBC_FOR_PERCENT}): the percentages are imprecise."
            )
        if self.apart["unconfirmed"]:
            out.append(
                f"{self.apart['unconfirmed']} unrecognised cell(s) are not counted until a "
                "person confirms a class."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, key for key the phone's differential()."""
        return {
            "rows": [
                {
                    "label": r.label,
                    "count": r.count,
                    "percent": r.percent,
                    "basis": r.basis,
                    "low": r.low,
                    "high": r.high,
                    "flag": r.flag,
                }
                for r in self.rows
            ],
            "white_cells": self.white_cells,
            "target": self.target,
            "target_reached": self.target_reached,
            "platelets": self.platelets,
            "apart": dict(self.apart),
            "other_classes": dict(sorted(self.other_classes.items())),
            "total": self.total,
            "flags": self.flags,
        }


def differential(cells: Iterable[Cell], target: int = TARGETS[0]) -> Differential:
    cells = list(cells)
    labels = [counted_label(c) for c in cells]
    counts = Counter(label for label in labels if label is not None)
    wbc = sum(counts[label] for label in WBC_RANGES)
    rows = []
    for label in WBC_RANGES if wbc else ():
        rows.append(_row(label, counts[label], wbc, WBC_RANGES, "% of white cells"))
    for label in PER_100_WBC_RANGES:
        if wbc or counts[label]:
            rows.append(_row(label, counts[label], wbc, PER_100_WBC_RANGES, "per 100 white cells"))
    apart = {ARTEFACT: counts[ARTEFACT], OTHER: counts[OTHER], "unconfirmed": labels.count(None)}
    known = {*WBC_RANGES, *PER_100_WBC_RANGES, PLATELET, *PERSON_ONLY_LABELS}
    others = {label: n for label, n in counts.items() if label not in known}
    return Differential(rows, wbc, target, counts[PLATELET], apart, others, len(cells))


def _row(label: str, count: int, wbc: int, ranges: dict, basis: str) -> DifferentialRow:
    low, high = ranges[label]
    if not wbc:
        return DifferentialRow(label, count, None, basis, low, high, None)
    flag = "high" if 100 * count > high * wbc else "low" if 100 * count < low * wbc else None
    return DifferentialRow(label, count, tenths_half_up(count, wbc), basis, low, high, flag)
