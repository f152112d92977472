"""A white-cell release on other laboratories' labelled crops, for ``make bench-model``.

Two ways the app meets a cell, measured on every crop of ``other-labs`` (each holds one
labelled white cell near its centre, in another lab's stain, camera and framing), beside the
release's own pbc test figures:

- single-cell mode: the crop classified as the technician's close-up of one cell
  (``Classifier.classify``);
- field mode: the crop searched as a field photo (``Classifier.classify_field``) and the white
  cell whose box holds the crop's centre taken; no such cell counts as a wrong call.

Per lab: share right, the share of wrong calls marked ``confident`` (the failure a doctor cannot
see), how right the confident calls are, and calibration (ECE). The release's
leave-one-lab-out table (model.json ``leave_one_lab_out``) is printed as its card has it: those
figures come from runs that never saw the scored lab, which these (for a release trained on
every lab) cannot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifier.classify import Classifier, UnreadableImageError
from training.evaluate import expected_calibration_error

WHITE_CELL_MODEL_LABEL = "neutrophil"


def is_white_cell_model(classifier: Classifier) -> bool:
    return WHITE_CELL_MODEL_LABEL in classifier.labels


def lab_crops(root: Path, lab: str) -> list[tuple[Path, str]]:
    """(crop, its label) of one lab, sorted."""
    return [
        (path, folder.name)
        for folder in sorted((root / lab).iterdir())
        if folder.is_dir()
        for path in sorted(folder.iterdir())
        if path.is_file()
    ]


def centre_cell(field: dict) -> dict | None:
    """The found white cell whose box holds the photo's centre (the labelled cell)."""
    cx, cy = field["width"] / 2, field["height"] / 2
    for cell in field["cells"]:
        x0, y0, x1, y1 = cell["box"]
        if x0 <= cx < x1 and y0 <= cy < y1:
            return cell
    return None


def figures(results: list[dict | None], truth: list[str], labels: list[str]) -> dict:
    """Right, confident and calibration figures of one lab's calls (None: no call made)."""
    pairs = list(zip(results, truth, strict=True))
    right = np.array([r is not None and r["label"] == t for r, t in pairs])
    confident = np.array([r is not None and r["status"] == "confident" for r in results])
    called = [(r, t) for r, t in pairs if r is not None and r["label"] is not None]
    ece = None
    if called:
        probabilities = np.array([[r["probabilities"][n] for n in labels] for r, _ in called])
        truth_index = np.array([labels.index(t) for _, t in called])
        ece = expected_calibration_error(probabilities, truth_index)
    return {
        "crops": len(results),
        "called": len(called),
        "right": _share(right),
        "wrong_calls_confident": _share(confident[~right]),
        "confident_share": _share(confident),
        "confident_right": _share(right[confident]),
        "ece": None if ece is None else round(ece, 4),
    }


def _share(flags: np.ndarray) -> float | None:
    return round(float(flags.mean()), 4) if len(flags) else None


def bench_labs(classifier: Classifier, root: Path) -> dict:
    """{lab: {"single_cell": figures, "field": figures}} over every crop of every lab."""
    report = {}
    for lab in sorted(p.name for p in root.iterdir() if p.is_dir()):
        crops = lab_crops(root, lab)
        single, field = [], []
        for path, _ in crops:
            single.append(classifier.classify(path))
            try:
                field.append(centre_cell(classifier.classify_field(path)))
            except UnreadableImageError:  # too small to search: no call in field mode
                field.append(None)
        truth = [label for _, label in crops]
        report[lab] = {
            "single_cell": figures(single, truth, classifier.labels),
            "field": figures(field, truth, classifier.labels),
        }
    return report


def lab_table(model: str, pbc: dict, report: dict) -> str:
    """Markdown: one row per lab and mode, pbc's test figures first."""
    rows = [
        f"#### {model} on other laboratories' crops",
        "",
        "| lab | mode | crops | right | wrong calls confident | confident calls right "
        "| confident share | ECE |",
        "|---|---|---|---|---|---|---|---|",
        f"| pbc (test) | single cell | {pbc['test_images']} | {_pct(pbc['accuracy'])} | "
        f"| {_pct(pbc['confident_accuracy'])} | {_pct(pbc['confident_coverage'])} "
        f"| {_pct(pbc['ece'])} |",
    ]
    for lab, modes in report.items():
        for mode, f in modes.items():
            rows.append(
                f"| {lab} | {mode.replace('_', ' ')} | {f['crops']} | {_pct(f['right'])} "
                f"| {_pct(f['wrong_calls_confident'])} | {_pct(f['confident_right'])} "
                f"| {_pct(f['confident_share'])} | {_pct(f['ece'])} |"
            )
    return "\n".join(rows)


def lolo_table(card: dict) -> str | None:
    """Markdown of the card's leave-one-lab-out figures, None when it has none."""
    lolo = card.get("leave_one_lab_out")
    if not lolo:
        return None
    runs = lolo.get("runs") or [lolo]
    rows = [
        f"#### {card['name']} {card['version']}: leave-one-lab-out (each lab scored by a run "
        "that never saw it)",
        "",
        "| held-out lab | crops | right | wrong calls confident | confident calls right "
        "| confident share | trained on |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        s = run["score"]
        rows.append(
            f"| {run['held_out']} | {s['n']} | {_pct(s['accuracy'])} "
            f"| {_pct(s['wrong_calls_confident'])} | {_pct(s['confident_accuracy'])} "
            f"| {_pct(s['confident_share'])} | {', '.join(run['train_labs'])} |"
        )
    return "\n".join(rows)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
