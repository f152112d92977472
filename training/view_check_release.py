"""A release whose `confident` must hold when the image is turned: the same network, a fourth
output `views`.

    python -m training.view_check_release --from tflite_models/wbc-differential/2.2.0 \\
        tflite_models/wbc-differential/2.3.0 [--lolo RUN ...]

A cell on a slide has no "up": a call that is right for a reason holds when the image is turned
a quarter turn, and one driven by something the model never learned to read (another lab's
stain, camera or magnification) often does not. Measured on the three leave-one-lab-out runs
(each scored on a lab it never saw): requiring the called class's probability to reach the
`confident` threshold in the image *and* in the image turned a quarter turn cut the share of
wrong calls marked `confident` from 9.2% to 2.3% in lisc, while pbc's confident calls went from
84-88% to 80-83% of the test images (still 99.2-99.7% right).

The file runs the network once on a batch of two (the image and the image turned a quarter
turn counter-clockwise, `np.rot90` over height and width) inside the model, so the Python
runtime and the app's worker compute the same thing: `probabilities`, `familiarity` and `cam`
are the image's own (checked equal to the source file's), `views` [1, 1, K] the turned image's
probabilities. The rule (model.json `view_check`): `confident` only when the top probability
reaches the threshold and the same class's probability in every view does too; label,
confidence and `unfamiliar` are unchanged. Nothing is written unless every check passes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from classifier.classify import TFLiteModel, decide, load_image
from classifier.model_card import class_activation_output, read_model_card
from training import derived_release
from training.cam_release import CAM, check_images
from training.paths import datasets_root

VIEWS = "views"
HEADING = "## Confident only if it holds when turned (view check)"
# The image's own outputs against the source's shipped file: converter rounding only
# (measured with the class-activation release: up to 1.5e-5).
SOURCE_FILE_TOLERANCE = 1e-4
VIEW_NAMES = ["the image turned a quarter turn counter-clockwise (np.rot90 over height and width)"]
RULE = (
    "unfamiliar if familiarity < unfamiliar_below; else confident if the top probability >= "
    "confident_at_or_above (decision.field's for field cells) and, for every view in `views`, "
    "that view's probability of the same class >= the same threshold; else review. Label and "
    "confidence are the image's own."
)


def quarter_turn(images: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> each image turned a quarter turn counter-clockwise."""
    return np.ascontiguousarray(np.rot90(images, 1, axes=(1, 2)))


def view_model(released):
    """The released Keras model (probabilities, familiarity, cam) run on the image and its
    quarter turn as one batch of two; a fourth output `views` [1, 1, K]."""
    import keras

    from training.model import QuarterTurnBatch, SplitViews

    pixels = keras.Input(released.input.shape[1:], batch_size=1, name="pixels")
    both = released(QuarterTurnBatch(name="views_batch")(pixels))
    outputs = SplitViews(name=VIEWS)(*both)
    return keras.Model(pixels, outputs, name="released")


def check(new: TFLiteModel, source: TFLiteModel, images: np.ndarray) -> dict:
    """The image's outputs equal the source file's, and `views` equals the source file's
    probabilities of the turned image; ValueError when a gap is over the tolerance."""
    gaps = {"probabilities": 0.0, "familiarity": 0.0, "cam": 0.0, "views": 0.0}
    for rgb, turned in zip(images, quarter_turn(images), strict=True):
        p, f, cam, views = new.run_views(rgb)
        p0, f0, cam0 = source.run(rgb)
        pt, _ = source.predict(turned)
        for key, gap in (
            ("probabilities", p - p0),
            ("familiarity", f - f0),
            ("cam", cam - cam0),
            ("views", views[0] - pt),
        ):
            gaps[key] = max(gaps[key], float(np.max(np.abs(gap))))
    return verdict(gaps, len(images))


def verdict(gaps: dict[str, float], images: int) -> dict:
    """A check's largest differences from the source file as the card records them;
    ValueError when one is over SOURCE_FILE_TOLERANCE."""
    failed = [f"{k} {v:.2e}" for k, v in gaps.items() if v > SOURCE_FILE_TOLERANCE]
    if failed:
        raise ValueError(f"the new file does not match its source: {'; '.join(failed)}")
    return {
        "images": images,
        "max_difference": {k: float(f"{v:.3g}") for k, v in gaps.items()},
        "tolerance": SOURCE_FILE_TOLERANCE,
    }


def rule_figures(outputs: list[tuple], labels_true: np.ndarray, decision: dict) -> dict:
    """Close-up figures with and without the view check: outputs [(p, f, views)]."""
    figures = {}
    for name, use_views in (("without", False), ("with", True)):
        calls = [
            decide(p, f, list(range(len(p))), decision, views if use_views else None)
            for p, f, views in outputs
        ]
        figures[f"{name}_view_check"] = honesty(calls, labels_true)
    return figures


def honesty(calls: list[tuple], truth: np.ndarray) -> dict:
    """How often `decide`'s calls are marked confident, how often those are right, and the
    share of wrong calls marked confident."""
    right = np.array([c[0] for c in calls]) == truth
    confident = np.array([c[2] == "confident" for c in calls])
    wrong_confident = (confident & ~right).sum() / max((~right).sum(), 1)
    return {
        "confident_share": round(float(confident.mean()), 4),
        "confident_right": round(float(right[confident].mean()), 4) if confident.any() else None,
        "wrong_calls_confident": round(float(wrong_confident), 4),
    }


def test_split_outputs(model: TFLiteModel, card: dict) -> tuple[list[tuple], np.ndarray]:
    """`model`'s (probabilities, familiarity, views) on every image of the card's test split,
    and their labels."""
    size = card["input"]["shape"][1]
    test = datasets_root() / card["dataset"]["name"] / "test"
    outputs, truth = [], []
    for k, label in enumerate(card["labels"]):
        for path in sorted(p for p in (test / label).glob("*") if p.is_file()):
            p, f, _, views = model.run_views(load_image(path, size))
            outputs.append((p, f, views))
            truth.append(k)
    return outputs, np.array(truth)


def pbc_test_figures(new: TFLiteModel, card: dict) -> dict:
    """The rule with and without the view check on the card's whole test split (the file)."""
    outputs, truth = test_split_outputs(new, card)
    return {
        "dataset": f"{card['dataset']['name']} test ({len(truth)} images, this file)",
        **rule_figures(outputs, truth, card["decision"]),
    }


def lolo_outputs(run: Path) -> tuple[dict, str, np.ndarray, list[tuple]]:
    """A leave-one-lab-out run's card, held-out lab, the lab's labels, and its Keras model's
    outputs on each of the lab's crops: (probabilities, familiarity, views [1, K], the crop
    turned a quarter turn as np.rot90); float32."""
    import keras

    from training.model import PerImageStandardization  # noqa: F401  (registers the layers)

    card = read_model_card(run)
    lab = (card.get("leave_one_lab_out") or {}).get("held_out")
    if not lab:
        raise ValueError(f"{run} is not a leave-one-lab-out run (no held-out lab)")
    images, truth = lab_images(lab, card)
    released = keras.saving.load_model(run / "model.keras", compile=False)
    p, f = released.predict(images.astype(np.float32), 32, verbose=0)[:2]
    pt = released.predict(quarter_turn(images).astype(np.float32), 32, verbose=0)[0]
    return card, lab, truth, [(p[i], float(f[i][0]), pt[i][None]) for i in range(len(images))]


def lolo_figures(runs: list[Path], figures=rule_figures) -> list[dict]:
    """Each leave-one-lab-out run on the lab it never saw, its own thresholds: `figures` of
    its outputs (lolo_outputs), by default with and without the view check."""
    rows = []
    for run in runs:
        card, lab, truth, outputs = lolo_outputs(run)
        rows.append(
            {
                "held_out_lab": lab,
                "crops": len(truth),
                "run": str(run),
                **figures(outputs, truth, card["decision"]),
            }
        )
    return rows


def lab_images(lab: str, card: dict) -> tuple[np.ndarray, np.ndarray]:
    from training.labs import read_lab

    folder = datasets_root() / "other-labs" / lab
    samples = read_lab(folder, card["labels"])
    size = card["input"]["shape"][1]
    return (
        np.stack([load_image(s.path, size) for s in samples]),
        np.array([s.label for s in samples]),
    )


def derive(source: Path, out: Path, lolo_runs: list[Path] = (), log=print) -> dict:
    """The new release `out` (its name is the version) of `source`'s network with the view
    check; returns its model.json. Nothing is written unless every check passes."""
    card = read_model_card(source)
    if "view_check" in card:
        raise ValueError(f"{source} already has a view check")
    if "class_activation" not in card:
        raise ValueError(f"{source} has no class-activation map: derive from a release with one")
    derived_release.refuse_target(source, card, out)

    import keras  # after the checks: a refusal costs no TensorFlow start

    from training.export import convert_float16
    from training.model import PerImageStandardization  # noqa: F401  (registers the layers)
    from training.release.card import file_entry, io_details, output_entry

    n = len(card["labels"])
    lolo = lolo_figures(list(lolo_runs))
    images = np.stack([load_image(p, card["input"]["shape"][1]) for p in check_images(card)])
    released = keras.saving.load_model(source / "model.keras", compile=False)
    with_views = view_model(released)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        work = Path(work)
        (work / "model.tflite").write_bytes(convert_float16(with_views))
        views_entry = output_entry(work / "model.tflite", [1, 1, n], VIEWS)
        source_cam = class_activation_output(card)
        cam_entry = output_entry(work / "model.tflite", source_cam["shape"], CAM)
        outputs = io_details(work / "model.tflite", n)["outputs"]  # probabilities, familiarity
        new = TFLiteModel(work / "model.tflite", n, cam_output=cam_entry, views_output=views_entry)
        source_model = TFLiteModel(source / "model.tflite", n, cam_output=source_cam)
        checked = check(new, source_model, images)
        log(f"checked on {checked['images']} test images: {checked['max_difference']}")
        measured = pbc_test_figures(new, card)
        log(f"{measured}")
        source_card = card
        card = {
            **source_card,
            "version": out.name,
            "outputs": [*outputs, cam_entry, views_entry],
            "client_rule": source_card["client_rule"] + " The `views` output (view_check): " + RULE,
            "file": file_entry(work / "model.tflite"),
            "derived_from": {
                "name": source_card["name"],
                "version": source_card["version"],
                "change": "output `views` (the image turned a quarter turn) and the view check "
                "on `confident` (view_check); the network, probabilities, familiarity and map "
                "are the same",
            },
            "view_check": {
                "output": VIEWS,
                "views": VIEW_NAMES,
                "rule": RULE,
                "checked": checked,
                "measured": {"in_lab": measured, "leave_one_lab_out": lolo},
                "cost": "the network runs twice per image (one batch of two)",
            },
        }
        derived_release.finish(work, out, source, card, HEADING, section(card), with_views, log)
    return card


def _row(name: str, figures: dict) -> str:
    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}%"

    a, b = figures["without_view_check"], figures["with_view_check"]
    return (
        f"| {name} | {pct(a['confident_share'])} → {pct(b['confident_share'])} | "
        f"{pct(a['confident_right'])} → {pct(b['confident_right'])} | "
        f"{pct(a['wrong_calls_confident'])} → {pct(b['wrong_calls_confident'])} |"
    )


def section(card: dict) -> str:
    vc = card["view_check"]
    lines = [
        HEADING,
        "",
        f"The file has a fourth output `views` [1, 1, {len(card['labels'])}]: the probabilities of "
        f"the image turned a quarter turn, computed in the same run (the network runs on a batch "
        f"of two). {RULE} The network, the thresholds and the figures above are "
        f"{card['derived_from']['version']}'s; only how often `confident` is given changes.",
        "",
        "| scored on | confident share | confident calls right | wrong calls marked confident |",
        "|---|---|---|---|",
        _row(vc["measured"]["in_lab"]["dataset"], vc["measured"]["in_lab"]),
        *(
            _row(f"{r['held_out_lab']} (never seen: leave-one-lab-out run, {r['crops']} crops)", r)
            for r in vc["measured"]["leave_one_lab_out"]
        ),
        "",
        "Each cell: without → with the view check. The leave-one-lab-out rows are the runs of "
        "this card's leave-one-lab-out table with their own thresholds (Keras, float32), scored "
        "with the same rule.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.view_check_release", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out", type=Path, help="the new release folder, e.g. .../2.3.0")
    parser.add_argument("--from", dest="source", type=Path, required=True)
    parser.add_argument(
        "--lolo",
        type=Path,
        nargs="*",
        default=[],
        help="leave-one-lab-out runs to score with the rule",
    )
    args = parser.parse_args(argv)
    try:
        card = derive(args.source, args.out, args.lolo, log=lambda m: print(m, file=sys.stderr))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(card["view_check"]["measured"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
