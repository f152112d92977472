"""Adapting to a lab from a few of its confirmed cells (training.site_release), measured on the
leave-one-lab-out runs: each run's held-out lab was never in its training, so its crops stand
for a new lab's.

    .venv/bin/python -m bench.site_adaptation build/lolo/*/2.4.0 [--per-class 5 10 20] [--draws 10]

For each run, each number k of cells per label and each draw (seeded): k crops of every label
the lab has (at most half of that label's crops) are the "confirmed" cells the layer is refitted
on, exactly as training.site_release does it (its temperature too); every other crop of the lab
is scored, before (the run's own layer) and after, through the rule of a release that calls on
both views (wbc-differential 2.8.0's). Printed: the mean over draws (and the spread of `right`),
per lab, beside pbc's test split through the same layers (before, after). A measurement, not a
test; about 5 minutes on 2 cores for three runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from classifier.model_card import read_model_card
from training.site_release import (
    FOLDS,
    adapt,
    both_views_figures,
    dataset_images,
    features_of,
    network_parts,
    stratified_folds,
)
from training.view_check_release import lab_images

KEYS = ("right", "ece", "confident_share", "confident_right", "wrong_calls_confident")


def run_features(run: Path) -> dict:
    """The run's layer, and its features of the held-out lab's crops, of pbc anchor, held-out
    validation and test images."""
    import keras

    from training.model import PerImageStandardization  # noqa: F401  (registers the layers)

    card = read_model_card(run)
    lab = card["leave_one_lab_out"]["held_out"]
    features_model, dense, _ = network_parts(
        keras.saving.load_model(run / "model.keras", compile=False)
    )
    images, y = lab_images(lab, card)
    views, familiarity = features_of(features_model, images)
    parts = {"card": card, "lab": lab, "views": views, "familiarity": familiarity, "y": y}
    for name, split in (("anchor", "train"), ("held", "val"), ("test", "test")):
        pixels, labels = dataset_images(card, split)
        test_views, test_familiarity = features_of(features_model, pixels)
        parts[name] = (test_views[0], labels)
        if name == "test":
            parts["test_views"], parts["test_familiarity"] = test_views, test_familiarity
    parts["W0"], parts["b0"] = dense.get_weights()
    return parts


def draw_support(y: np.ndarray, k: int, rng) -> np.ndarray:
    """k crops of every label (at most half of the label's crops, at least one)."""
    labels, counts = np.unique(y, return_counts=True)
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(y == label), max(1, min(k, n // 2)), replace=False)
            for label, n in zip(labels, counts, strict=True)
        ]
    )


def measure(parts: dict, k: int, draws: int) -> dict:
    decision = parts["card"]["decision"]
    y, views, familiarity = parts["y"], parts["views"], parts["familiarity"]
    W0, b0 = parts["W0"], parts["b0"]
    rows = {"before": [], "after": [], "pbc_before": [], "pbc_after": []}
    for draw in range(draws):
        support = draw_support(y, k, np.random.default_rng(draw))
        query = np.setdiff1d(np.arange(len(y)), support)
        fold = stratified_folds(y[support], FOLDS, seed=draw)
        adapted = adapt(views[:, support], y[support], parts["anchor"], parts["held"], W0, b0, fold)
        W, b = adapted["head"]
        for name, (Wv, bv) in (("before", (W0, b0)), ("after", (W, b))):
            rows[name].append(
                both_views_figures(
                    views[:, query] @ Wv + bv, familiarity[query], y[query], decision
                )
            )
            rows[f"pbc_{name}"].append(
                both_views_figures(
                    parts["test_views"] @ Wv + bv,
                    parts["test_familiarity"],
                    parts["test"][1],
                    decision,
                )
            )
    return {
        name: {
            **{key: _mean([r[key] for r in figures]) for key in KEYS},
            "right_sd": round(float(np.std([r["right"] for r in figures])), 4),
        }
        for name, figures in rows.items()
    }


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.site_adaptation", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("runs", type=Path, nargs="+", help="leave-one-lab-out run folders")
    parser.add_argument("--per-class", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args(argv)
    results = []
    for run in args.runs:
        parts = run_features(run)
        for k in args.per_class:
            row = {
                "lab": parts["lab"],
                "crops": len(parts["y"]),
                "per_class": k,
                **measure(parts, k, args.draws),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    Path("build").mkdir(exist_ok=True)
    Path("build/bench-site-adaptation.json").write_text(json.dumps(results, indent=1))
    print(
        "| unseen lab | cells per label | right before → after (sd) | wrong calls confident | "
        "confident calls right | pbc test right | pbc wrong calls confident |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        b, a, pb, pa = r["before"], r["after"], r["pbc_before"], r["pbc_after"]
        print(
            f"| {r['lab']} ({r['crops']}) | {r['per_class']} | {_pct(b['right'])} → "
            f"{_pct(a['right'])} (±{_pct(a['right_sd'])}) | {_pct(b['wrong_calls_confident'])}"
            f" → {_pct(a['wrong_calls_confident'])} | {_pct(b['confident_right'])} → "
            f"{_pct(a['confident_right'])} | {_pct(pb['right'])} → {_pct(pa['right'])} | "
            f"{_pct(pb['wrong_calls_confident'])} → {_pct(pa['wrong_calls_confident'])} |"
        )
    return 0


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


if __name__ == "__main__":
    raise SystemExit(main())
