"""Adapting to a lab from a few of its confirmed cells (training.site_release), measured on the
leave-one-lab-out runs: each run's held-out lab was never in its training, so its crops stand
for a new lab's.

    .venv/bin/python -m bench.site_adaptation build/lolo/*/2.4.0 [--per-class 5 10 20] [--draws 10]

For each run, each number k of cells per label and each draw (seeded): k crops of every label
the lab has (at most half of that label's crops) are the "confirmed" cells the layer is refitted
on, exactly as training.site_release does it (its temperature and its familiarity rule too);
every other crop of the lab is scored, before (the run's own layer and familiarity) and after,
through the rule of a release that calls on both views (wbc-differential 2.8.0's). Printed: the
mean over draws (and the spread of `right`), per lab, beside pbc's test split through the same
layers (before, after), and the share of images that are not white cells left `unfamiliar`. A
measurement, not a test; 20-30 minutes on 2 cores for three runs and k = 5, 10, 20.
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
    familiarity_of,
    familiarity_of_layer,
    features_of,
    network_parts,
    never_white_cells,
    own_view,
    refit_familiarity,
    stratified_folds,
)
from training.view_check_release import lab_images

KEYS = (
    "right",
    "ece",
    "confident_share",
    "confident_right",
    "wrong_calls_confident",
    "unfamiliar",
)


def run_features(run: Path) -> dict:
    """The run's layer and familiarity's moments, and its features (with familiarity and its
    statistics) of the held-out lab's crops, of pbc anchor, held-out validation and test images,
    and the statistics of images that are not white cells."""
    import keras

    from training.model import PerImageStandardization  # noqa: F401  (registers the layers)

    card = read_model_card(run)
    lab = card["leave_one_lab_out"]["held_out"]
    features_model, dense, _, familiarity_layer = network_parts(
        keras.saving.load_model(run / "model.keras", compile=False)
    )
    images, y = lab_images(lab, card)
    views, _, statistics = features_of(features_model, images)
    parts = {"card": card, "lab": lab, "views": views, "statistics": statistics, "y": y}
    for name, split in (("anchor", "train"), ("held", "val")):
        pixels, labels = dataset_images(card, split)
        parts[name] = (own_view(features_model, pixels)[0], labels)
    pixels, parts["test_y"] = dataset_images(card, "test")
    parts["test_views"], _, parts["test_statistics"] = features_of(features_model, pixels)
    never, _ = never_white_cells(card["input"]["shape"][1])
    parts["never"] = own_view(features_model, never)[2]
    parts["W0"], parts["b0"] = dense.get_weights()
    parts["moments"] = familiarity_of_layer(familiarity_layer)
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
    below = decision["unfamiliar_below"]
    y, views, statistics = parts["y"], parts["views"], parts["statistics"]
    W0, b0, moments = parts["W0"], parts["b0"], parts["moments"]
    rows = {"before": [], "after": [], "pbc_before": [], "pbc_after": []}
    site_added, never_unfamiliar = [], {"before": [], "after": []}
    for draw in range(draws):
        support = draw_support(y, k, np.random.default_rng(draw))
        query = np.setdiff1d(np.arange(len(y)), support)
        fold = stratified_folds(y[support], FOLDS, seed=draw)
        adapted = adapt(views[:, support], y[support], parts["anchor"], parts["held"], W0, b0, fold)
        refit = refit_familiarity(statistics[support], fold, moments, parts["never"], below)
        site_added.append(refit["site"] is not None)
        layers = {"before": (W0, b0, None), "after": (*adapted["head"], refit["site"])}
        for name, (W, b, site) in layers.items():
            for key, scored_views, scored_statistics, truth in (
                (name, views[:, query], statistics[query], y[query]),
                (f"pbc_{name}", parts["test_views"], parts["test_statistics"], parts["test_y"]),
            ):
                familiarity = familiarity_of(scored_statistics, moments, site)
                rows[key].append(
                    {
                        **both_views_figures(scored_views @ W + b, familiarity, truth, decision),
                        "unfamiliar": float(np.mean(familiarity < below)),
                    }
                )
            never_unfamiliar[name].append(
                float(np.mean(familiarity_of(parts["never"], moments, site) < below))
            )
    return {
        "lab_familiarity_added": _mean(site_added),
        "not_white_cells_unfamiliar": {name: _mean(v) for name, v in never_unfamiliar.items()},
        **{
            name: {
                **{key: _mean([r[key] for r in figures]) for key in KEYS},
                "right_sd": round(float(np.std([r["right"] for r in figures])), 4),
            }
            for name, figures in rows.items()
        },
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
    print(
        "\n| unseen lab | cells per label | lab's familiarity component added (draws) | "
        "lab's crops unfamiliar | lab's crops confident | pbc test unfamiliar | "
        "not white cells unfamiliar |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        b, a, pb, pa = r["before"], r["after"], r["pbc_before"], r["pbc_after"]
        never = r["not_white_cells_unfamiliar"]
        print(
            f"| {r['lab']} ({r['crops']}) | {r['per_class']} | {_pct(r['lab_familiarity_added'])}"
            f" | {_pct(b['unfamiliar'])} → {_pct(a['unfamiliar'])} | "
            f"{_pct(b['confident_share'])} → {_pct(a['confident_share'])} | "
            f"{_pct(pb['unfamiliar'])} → {_pct(pa['unfamiliar'])} | "
            f"{_pct(never['before'])} → {_pct(never['after'])} |"
        )
    return 0


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


if __name__ == "__main__":
    raise SystemExit(main())
