"""Red-cell field mode on malaria-fields (bbbc041, another site than the NIH training crops):
how many red cells are found, and how a malaria screen calls the cells it finds there.

Used by `make bench-finder`, by the floors in tests/core/test_red_cell_floors.py and by
training.red_cell_release (the figures in a release's card).

Two ways to count the finder's hits, both at IoU >= 0.5, one-to-one:
- "all": every found cell against every boxed cell;
- "counted": what a slide counts. Cells cut by the photo's edge are never counted (the finder
  marks them `edge`), and the annotators boxed some cut cells and not others; so boxes within
  EDGE_MARGIN pixels of the edge are left out of recall, found `edge` cells out of precision,
  and a found cell matching a left-out box is neither a hit nor a false find.
"""

import statistics
import time

import numpy as np

from classifier.cells.red_cell_field import find_red_cells
from classifier.classify import Classifier, load_photo
from training.annotations import malaria_fields, matched_pairs

EDGE_MARGIN = 3


def near_edge(box: list[int], width: int, height: int) -> bool:
    x0, y0, x1, y1 = box
    return min(x0, y0, width - x1, height - y1) < EDGE_MARGIN


def _shares(hits: int, found: int, annotated: int) -> dict:
    return {
        "recall": round(hits / max(annotated, 1), 4),
        "precision": round(hits / max(found, 1), 4),
        "hits": hits,
        "found": found,
        "annotated": annotated,
    }


def finder_scores(fields: list[dict] | None = None) -> dict:
    """{"all": {...}, "counted": {...}, "photos", "median_ms"}: recall and precision of
    find_red_cells on the fields (default: all of malaria-fields), and its median time."""
    fields = malaria_fields() if fields is None else fields
    totals = {"all": np.zeros(3, dtype=int), "counted": np.zeros(3, dtype=int)}
    times = []
    for field in fields:
        rgb = load_photo(field["photo"])
        height, width = rgb.shape[:2]
        started = time.perf_counter()
        cells = find_red_cells(rgb)["cells"]
        times.append((time.perf_counter() - started) * 1000)
        truth = [c["box"] for c in field["cells"]]
        found = [c["box"] for c in cells]
        totals["all"] += [len(matched_pairs(found, truth)), len(found), len(truth)]
        inner = [j for j, box in enumerate(truth) if not near_edge(box, width, height)]
        counted = [i for i, c in enumerate(cells) if not c["edge"]]
        pairs = matched_pairs([found[i] for i in counted], truth)
        hits = sum(1 for _, j in pairs if j in inner)
        beside = sum(1 for _, j in pairs if j not in inner)  # matched a cut cell's box
        totals["counted"] += [hits, len(counted) - beside, len(inner)]
    return {
        **{key: _shares(*(int(v) for v in total)) for key, total in totals.items()},
        "photos": len(fields),
        "median_ms": round(statistics.median(times), 1),
    }


def model_on_fields(model_dir, fields: list[dict] | None = None) -> dict:
    """How a red-cell model (input.field_framing rbc-segmented) calls the counted cells it
    finds on malaria-fields, against the boxes' infected / uninfected truth. A cell is "called
    parasitized" when its label is parasitized and its status review or confident (an
    unfamiliar cell is no call: it waits for a person)."""
    classifier = Classifier(model_dir, num_threads=1)
    if not classifier.red_cells:
        raise ValueError(f"{model_dir} does not declare red-cell field mode")
    fields = malaria_fields() if fields is None else fields
    tally = {
        key: {"cells": 0, "called_parasitized": 0, "unfamiliar": 0, "confident": 0}
        for key in ("infected", "uninfected", "unmatched")
    }
    confident_right = 0
    times = []
    for field in fields:
        started = time.perf_counter()
        result = classifier.classify_field(str(field["photo"]))
        times.append((time.perf_counter() - started) * 1000)
        cells = [c for c in result["cells"] if not c["edge"]]
        truth = field["cells"]
        matched = dict(matched_pairs([c["box"] for c in cells], [t["box"] for t in truth]))
        for i, cell in enumerate(cells):
            if i in matched:
                key = "infected" if truth[matched[i]]["infected"] else "uninfected"
            else:
                key = "unmatched"
            counts = tally[key]
            counts["cells"] += 1
            counts["unfamiliar"] += cell["status"] == "unfamiliar"
            counts["confident"] += cell["status"] == "confident"
            called = cell["label"] == "parasitized" and cell["status"] != "unfamiliar"
            counts["called_parasitized"] += called
            if cell["status"] == "confident" and key != "unmatched":
                confident_right += (cell["label"] == "parasitized") == (key == "infected")
    matched_confident = tally["infected"]["confident"] + tally["uninfected"]["confident"]

    def share(part, whole):
        return round(part / whole, 4) if whole else None

    return {
        "photos": len(fields),
        "infected_called_parasitized": share(
            tally["infected"]["called_parasitized"], tally["infected"]["cells"]
        ),
        "uninfected_called_parasitized": share(
            tally["uninfected"]["called_parasitized"], tally["uninfected"]["cells"]
        ),
        "unfamiliar_share": share(
            tally["infected"]["unfamiliar"] + tally["uninfected"]["unfamiliar"],
            tally["infected"]["cells"] + tally["uninfected"]["cells"],
        ),
        "confident_calls_right": share(confident_right, matched_confident),
        "confident_share": share(
            matched_confident, tally["infected"]["cells"] + tally["uninfected"]["cells"]
        ),
        "cells": tally,
        "median_ms_per_field": round(statistics.median(times), 1),
    }
