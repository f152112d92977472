"""`make bench-finder`: how well and how fast the cell finder works.

White-cell recall and precision at IoU >= 0.5 on bccd-fields (dev part, which tuned the
finder, and held-out part, which did not), the same on photos re-scaled and re-stained,
time per 640x480 photo in Python and in headless Chromium (the PWA's worker path) measured
in the same run, the released classifier's in-lab figures where a release exists, and on
other-labs' single white-cell crops, per lab and class, how often a white cell, the crop's
centre cell, or no cell at all is found (bench/finder_labs.py; its table goes to stderr), and
red-cell recall and precision on malaria-fields (bench/red_cell_fields.py).
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.finder_labs import finder_on_labs, markdown_table
from bench.red_cell_fields import finder_scores
from classifier.cells.finder import find_cells
from training.annotations import bccd_photos, match_counts, read_voc_boxes

ROOT = Path(__file__).resolve().parents[1]
BROWSER_BUDGET_MS = 150.0


def score(photos, kind="wbc", transform=None):
    total = np.zeros(3, dtype=int)
    for photo in photos:
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        sx = sy = 1.0
        if transform is not None:
            rgb, sx, sy = transform(rgb)
        truth = [
            [
                round(c["box"][0] * sx),
                round(c["box"][1] * sy),
                round(c["box"][2] * sx),
                round(c["box"][3] * sy),
            ]
            for c in read_voc_boxes(photo)
            if c["type"] == kind
        ]
        found = [c["box"] for c in find_cells(rgb) if c["type"] == kind]
        total += match_counts(found, truth)
    hits, found, annotated = (int(v) for v in total)
    return {
        "recall": round(hits / max(annotated, 1), 3),
        "precision": round(hits / max(found, 1), 3),
        "hits": hits,
        "found": found,
        "annotated": annotated,
    }


def resized(factor):
    def transform(rgb):
        h, w = rgb.shape[:2]
        size = (round(w * factor), round(h * factor))
        out = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
        return out, size[0] / w, size[1] / h

    return transform


def restained(rgb):
    return np.clip(rgb * np.array([0.85, 0.95, 0.8]) + 20, 0, 255).astype(np.uint8), 1.0, 1.0


def stain_mixed(rgb):
    # Nuclei more magenta, red cells more violet: another lab's eosin/azure balance.
    mix = np.array([[0.85, 0.1, 0.05], [0.05, 0.85, 0.1], [0.1, 0.0, 0.9]])
    return np.clip(rgb @ mix.T, 0, 255).astype(np.uint8), 1.0, 1.0


def defocused(rgb):
    from PIL import ImageFilter

    out = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(2.0))
    return np.asarray(out), 1.0, 1.0


def dim_low_contrast(rgb):
    # Under-exposed, flat: levels squeezed into 60..180.
    return (60 + rgb.astype(np.float64) * (120 / 255)).astype(np.uint8), 1.0, 1.0


def python_times(photos, repeats):
    times = []
    for photo in photos:
        rgb = np.asarray(Image.open(photo).convert("RGB"))
        find_cells(rgb)
        for _ in range(repeats):
            start = time.perf_counter()
            find_cells(rgb)
            times.append((time.perf_counter() - start) * 1000)
    return times


def browser_times(photos, repeats):
    from bench.browser_harness import browser_finder

    times = []
    with browser_finder(photos) as find:
        for photo in photos:
            times += find(photo, repeats)["times"]
    return times


def classifier_cards():
    cards = []
    for card in sorted(ROOT.glob("tflite_models/*/*/*.json")):
        data = json.loads(card.read_text())
        if isinstance(data, dict) and "metrics" in data:
            cards.append({"card": str(card.relative_to(ROOT)), "metrics": data["metrics"]})
    return cards


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.finder")
    parser.add_argument("--timing-photos", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)

    report = {"white_cells_iou_0.5": {}, "robustness_all_photos": {}, "other_types_all": {}}
    for part in ("dev", "held-out", "all"):
        report["white_cells_iou_0.5"][part] = score(bccd_photos(part))
    photos = bccd_photos("all")
    for name, transform in (
        ("half magnification", resized(0.5)),
        ("1.6x magnification", resized(1.6)),
        ("other stain and lamp", restained),
        ("channel-mixed stain", stain_mixed),
        ("defocused (blur 2 px)", defocused),
        ("dim, low contrast", dim_low_contrast),
    ):
        report["robustness_all_photos"][name] = score(photos, "wbc", transform)
    for kind in ("rbc", "platelet"):
        report["other_types_all"][kind] = score(photos, kind)

    timed = photos[:: max(1, len(photos) // args.timing_photos)][: args.timing_photos]
    py = python_times(timed, args.repeats)
    # Medians, and minima: on a shared machine the minimum is the least disturbed figure.
    timing = {
        "photos": len(timed),
        "size": "640x480",
        "python_median_ms": statistics.median(py),
        "python_min_ms": min(py),
    }
    if not args.no_browser:
        js = browser_times(timed, args.repeats)
        timing["chromium_worker_median_ms"] = statistics.median(js)
        timing["chromium_p95_ms"] = sorted(js)[int(0.95 * (len(js) - 1))]
        timing["chromium_min_ms"] = min(js)
        timing["chromium_over_python"] = round(
            timing["chromium_worker_median_ms"] / timing["python_median_ms"], 3
        )
        timing["chromium_share_of_150ms_budget"] = round(
            timing["chromium_worker_median_ms"] / BROWSER_BUDGET_MS, 3
        )
    try:
        report["red_cells_malaria_fields_iou_0.5"] = finder_scores()
    except FileNotFoundError as error:
        report["red_cells_malaria_fields_iou_0.5"] = str(error)
    report["time_per_photo"] = {
        k: round(v, 2) if isinstance(v, float) else v for k, v in timing.items()
    }
    try:
        report["other_labs_crops"] = finder_on_labs()
        # stdout stays one JSON document; the table is for reading (and for docs/benchmarks.md).
        print(markdown_table(report["other_labs_crops"]), file=sys.stderr)
    except FileNotFoundError as error:
        report["other_labs_crops"] = str(error)
        print(f"other-labs skipped: {error}", file=sys.stderr)
    cards = classifier_cards()
    report["classifier_in_lab"] = (
        cards or "no released classifier with a model card in tflite_models/"
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
