"""The cell finder on other laboratories' single white-cell crops (`other-labs`), for
`make bench-finder`.

Each crop holds exactly one white cell near its centre, so without boxes we can still tell
whether the finder found *a* white cell, found *the* labelled one (a white-cell box holding
the crop's centre), or found no cells at all. Figures per lab and per class within each lab.
"""

import statistics
import time
from pathlib import Path

import numpy as np

from classifier.cells.finder import FinderError, find_cells
from classifier.classify import load_photo
from training.paths import datasets_root


def crop_outcome(rgb: np.ndarray) -> dict:
    """What the finder made of one crop: a white cell found, one whose box holds the crop's
    centre (the labelled cell), no cells at all, and the finder's time in ms."""
    h, w = rgb.shape[:2]
    start = time.perf_counter()
    try:
        cells = find_cells(rgb)
    except FinderError:  # too small or not an image: the finder found nothing
        cells = []
    ms = (time.perf_counter() - start) * 1000
    white = [c["box"] for c in cells if c["type"] == "wbc"]
    return {
        "white_found": bool(white),
        "centre_found": any(x0 <= w / 2 < x1 and y0 <= h / 2 < y1 for x0, y0, x1, y1 in white),
        "no_cells": not cells,
        "ms": ms,
    }


def summary(outcomes: list[dict]) -> dict:
    """Crops, the share of them with each outcome, and the finder's median ms per crop."""
    n = len(outcomes)
    figures = {"crops": n}
    for key in ("white_found", "centre_found", "no_cells"):
        figures[key] = round(sum(o[key] for o in outcomes) / max(n, 1), 3)
    figures["median_ms"] = round(statistics.median(o["ms"] for o in outcomes), 2) if n else None
    return figures


def lab_crops(root: Path, lab: str, per_class: int | None = None) -> dict[str, list[Path]]:
    """{class: crop paths} of one lab, sorted; the first per_class of each where given."""
    return {
        folder.name: sorted(p for p in folder.iterdir() if p.is_file())[:per_class]
        for folder in sorted((root / lab).iterdir())
        if folder.is_dir()
    }


def finder_on_labs(root: Path | None = None, per_class: int | None = None) -> dict:
    """{lab: {"all": summary, "classes": {class: summary}}} over other-labs/<lab>/<class>/."""
    root = (root or datasets_root()) / "other-labs"
    if not root.is_dir():
        raise FileNotFoundError(
            f"no other-labs crops at {root} (set HEMATOVISION_DATASETS to the shared datasets)"
        )
    report = {}
    for lab in sorted(p.name for p in root.iterdir() if p.is_dir()):
        by_class = {
            name: [crop_outcome(load_photo(path)) for path in paths]
            for name, paths in lab_crops(root, lab, per_class).items()
        }
        report[lab] = {
            "all": summary([o for outcomes in by_class.values() for o in outcomes]),
            "classes": {name: summary(outcomes) for name, outcomes in by_class.items()},
        }
    return report


def markdown_table(report: dict) -> str:
    rows = [
        "| lab / class | crops | a white cell found | the centre cell found | no cells "
        "| ms per crop (median) |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, s: dict) -> str:
        keys = ("white_found", "centre_found", "no_cells")
        shares = " | ".join(f"{100 * s[k]:.1f}%" for k in keys)
        return f"| {name} | {s['crops']} | {shares} | {s['median_ms']} |"

    for lab, figures in report.items():
        rows.append(row(f"**{lab}**", figures["all"]))
        rows += [row(f"{lab} / {name}", s) for name, s in figures["classes"].items()]
    return "\n".join(rows)
