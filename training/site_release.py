"""A release adapted to one laboratory: its classification layer refitted on white cells that
the lab's own haematologist has confirmed, the rest of the network unchanged.

    python -m training.site_release --from tflite_models/wbc-differential/2.8.0 \\
        --cells CONFIRMED --site "Hospital X haematology" \\
        tflite_models/wbc-differential/2.8.0-hospital-x

CONFIRMED holds one folder per label (the release's label names) of single-cell images from the
lab's microscopes, each checked by a person: at least MIN_PER_CLASS of every label given; labels
the lab does not give keep being called from the training images. What a lab's stain, camera
and magnification change is mostly how the network's final features map onto the classes:
refitting only that map on a few confirmed cells took the leave-one-lab-out runs' unseen labs
from 61/66/46% to 89/89/73% right with 10 cells per class (bench.site_adaptation, docs/notes),
while the shared network keeps what pbc taught it.

How: the source's final Dense layer (W0, b0; the calibrated logits) is refitted by gradient
descent on cross-entropy over the lab's cells, each in both views the release looks at, plus
ANCHOR_PER_CLASS training images of every class (so the classes the lab does not give stay
where they were), with a pull back to W0, b0. It is then divided by a temperature fitted on the
lab's cells called by layers that did not see them (FOLDS-fold cross-validation), so that
`confident` means the same thing there as in-lab; never under 1, nor under the one the dataset's
validation images ask for. The same cross-validation gives the card's before/after figures for
this lab. The thresholds and the client rule are the source's; the map follows the new layer.

Familiarity (how typical an image's mid-level statistics are of the training images) is the
source's unless most of the confirmed cells are `unfamiliar` to it (a lab at another
magnification, say): then it gains a second component, the lab's cells' own mean and spread,
and an image is familiar if it is like the training images or like the lab's cells; only if
that leaves the lab's cells familiar out of fold and makes no image that is not a white cell
(malaria crops, generated images) familiar; otherwise it stays the source's and the card says
why. Nothing is written unless every check passes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from classifier.classify import TFLiteModel, decide, load_image
from classifier.model_card import class_activation_output, read_model_card, view_check_output
from training import derived_release
from training.cam_release import CAM, softmax
from training.evaluate import fit_temperature, summarize, synthetic_non_cell_images
from training.paths import datasets_root
from training.view_check_release import VIEWS, honesty, quarter_turn, test_split_outputs
from training.view_mean_release import OWN_VIEW, both
from training.view_mean_release import figures as view_mean_figures

HEADING = "## Adapted to one laboratory"
MIN_PER_CLASS = 5
FOLDS = 5
ANCHOR_PER_CLASS = 60
ANCHOR_WEIGHT = 1.0  # the training images' share of the loss against the lab's cells'
PULL = 0.01  # weight of ||W - W0||^2 + ||b - b0||^2
STEPS, LEARNING_RATE = 300, 0.01
# A lab's few cells may make the calls less sure than the source's calibration, never surer:
# fitted on cells the network already knows, T went to 0.7 and pbc's wrong calls marked
# confident from 4% to 19%.
LEAST_TEMPERATURE = 1.0
SEED = 0
# Familiarity gains the lab's component only for a lab whose cells it mostly flags: for a lab it
# already knows there is nothing to add, and every component is one more way to be familiar.
# (Mixing a lab's statistics into the training images' moments instead widened them: 15 of 193
# malaria crops became familiar to 2.8.0 at a 5% share of tecom's cells at twice the
# magnification; the lab's own component let none in.)
REFIT_FAMILIARITY_ABOVE = 0.5  # share of the confirmed cells `unfamiliar` to the source
FAMILIAR_ENOUGH = 0.1  # at most this share of the lab's cells `unfamiliar` out of fold
NEVER_WHITE_CELLS = 200  # malaria crops, and as many generated images, that must stay unfamiliar
# The new file against the Keras model it was converted from: float16 weights through the whole
# network (2.8.0's own file is up to 4e-3 from its Keras model on tecom's crops, the adapted
# one up to 1.3e-2, where calls are least sure). A file left with the source's layer misses by
# the adaptation itself. The file's map against its own probabilities and its familiarity
# against the source file's are exact up to the converter.
FILE_TOLERANCES = {
    "probabilities": 5e-2,
    "views": 5e-2,
    "cam_reconstruction": 1e-4,
    "familiarity": 1e-4,
}
# Familiarity with the lab's component is checked against the Keras model instead, float16
# through the whole network again: 2.8.0's own file is up to 6% (relative) from its Keras
# model's familiarity on tecom's crops at twice the magnification; the adapted one, whose lab
# cells sit near 0.67, up to 1.6e-2 (2.9%).
SITE_FAMILIARITY_TOLERANCE = 5e-2


def fit_head(W0, b0, X, y, anchor_X, anchor_y) -> tuple[np.ndarray, np.ndarray]:
    """The Dense layer (W0 [F, K], b0 [K]) refitted on features X [N, F] with labels y and the
    anchor images' features, pulled towards W0, b0; Adam, full batch, STEPS steps."""
    W, b = W0.astype(np.float64), b0.astype(np.float64)
    k = W.shape[1]
    targets, anchor_targets = np.eye(k)[y], np.eye(k)[anchor_y]
    moments = [[np.zeros_like(W), np.zeros_like(W)], [np.zeros_like(b), np.zeros_like(b)]]
    for step in range(1, STEPS + 1):
        g = (softmax(X @ W + b) - targets) / len(X)
        ga = ANCHOR_WEIGHT * (softmax(anchor_X @ W + b) - anchor_targets) / len(anchor_X)
        grads = (
            X.T @ g + anchor_X.T @ ga + 2 * PULL * (W - W0),
            g.sum(0) + ga.sum(0) + 2 * PULL * (b - b0),
        )
        for param, grad, (m, v) in zip((W, b), grads, moments, strict=True):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad**2
            param -= LEARNING_RATE * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return W.astype(np.float32), b.astype(np.float32)


def stratified_folds(y: np.ndarray, folds: int, seed: int = SEED) -> np.ndarray:
    """Each sample's fold, every class spread over the folds as evenly as it can be."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), int)
    for label in np.unique(y):
        where = rng.permutation(np.flatnonzero(y == label))
        fold[where] = (np.arange(len(where)) + rng.integers(folds)) % folds
    return fold


def adapt(
    views: np.ndarray, y: np.ndarray, anchor: tuple, held: tuple, W0, b0, fold: np.ndarray
) -> dict:
    """views [V, N, F]: each cell's features in every view; anchor and held: (features,
    labels) of training images in the loss and of validation images kept out of it.
    Out-of-fold logits [V, N, K] (each cell called by a head fitted without its fold), the head
    fitted on every cell divided by a temperature: the larger of the ones fitted on those
    out-of-fold logits and on that head's logits of the held images, so that the calls are no
    surer than either the lab's cells or the training dataset's support."""

    def fit_on(index):
        X = np.concatenate([v[index] for v in views])
        return fit_head(W0, b0, X, np.tile(y[index], len(views)), *anchor)

    out_of_fold = np.zeros((len(views), len(y), W0.shape[1]), np.float32)
    for k in np.unique(fold):
        W, b = fit_on(fold != k)
        out_of_fold[:, fold == k] = views[:, fold == k] @ W + b
    W, b = fit_on(np.ones(len(y), bool))
    temperature = max(
        LEAST_TEMPERATURE,
        fit_temperature(out_of_fold.reshape(-1, W0.shape[1]), np.tile(y, len(views))),
        fit_temperature(held[0] @ W + b, held[1]),
    )
    return {
        "out_of_fold": out_of_fold,
        "temperature": temperature,
        "head": (W / temperature, b / temperature),
    }


def site_moments(statistics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lab's component of familiarity: its cells' statistics' mean and sample spread (as
    Familiarity.fit, which has thousands of images where this has tens)."""
    return (
        statistics.mean(axis=0).astype(np.float32),
        (statistics.std(axis=0, ddof=1) + 1e-3).astype(np.float32),
    )


def familiarity_of(statistics: np.ndarray, moments: tuple, site: tuple | None = None):
    """training.model.Familiarity's output for statistics [N, S]: against the training images'
    moments (mean, scale), or the larger of that and the lab's `site` component."""

    def of(mean, scale):
        z = (statistics - mean) / scale
        return np.exp(-0.5 * np.mean(z * z, axis=1))

    return of(*moments) if site is None else np.maximum(of(*moments), of(*site))


def refit_familiarity(
    statistics: np.ndarray, fold: np.ndarray, moments: tuple, never: np.ndarray, below: float
) -> dict:
    """Familiarity for the lab whose confirmed cells have `statistics` [N, S]: the source's
    `moments` alone unless more than REFIT_FAMILIARITY_ABOVE of the cells are unfamiliar
    (familiarity < `below`); then with the lab's component (site_moments), provided that its
    out-of-fold familiarity (each fold's cells against a component fitted without them) leaves
    at most FAMILIAR_ENOUGH of them unfamiliar and that no image of `never` (statistics of
    images that are not white cells) is familiar with it that was not before.
    Returns the site component (None when not added), out_of_fold familiarity [N], reason."""
    before = familiarity_of(statistics, moments)
    unfamiliar = f"{np.mean(before < below):.0%} of the lab's cells unfamiliar"
    kept = {"site": None, "out_of_fold": before}
    if np.mean(before < below) <= REFIT_FAMILIARITY_ABOVE:
        return {**kept, "reason": f"{unfamiliar}: kept"}
    out_of_fold = np.empty(len(statistics))
    for k in np.unique(fold):
        site = site_moments(statistics[fold != k])
        out_of_fold[fold == k] = familiarity_of(statistics[fold == k], moments, site)
    if np.mean(out_of_fold < below) > FAMILIAR_ENOUGH:
        return {
            **kept,
            "reason": f"{unfamiliar}, and {np.mean(out_of_fold < below):.0%} still so out of "
            "fold with their own component: kept",
        }
    site = site_moments(statistics)
    was_unfamiliar = familiarity_of(never, moments) < below
    newly = int(np.sum(was_unfamiliar & (familiarity_of(never, moments, site) >= below)))
    if newly:
        return {
            **kept,
            "reason": f"{unfamiliar}, but with their component {newly} of {len(never)} images "
            "that are not white cells would become familiar: kept",
        }
    return {
        "site": site,
        "out_of_fold": out_of_fold,
        "reason": f"{unfamiliar}: familiar also when like the lab's cells (their mean and spread)",
    }


def never_white_cells(size: int) -> tuple[np.ndarray, str]:
    """Images that are not white cells and must stay unfamiliar: up to NEVER_WHITE_CELLS
    malaria test crops (red cells, spread over the split) and as many generated images; and
    their description for the card."""
    folder = datasets_root() / "malaria" / "test"
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    if not paths:
        raise ValueError(f"no images in {folder} to check familiarity against")
    picked = paths[:: max(1, len(paths) // NEVER_WHITE_CELLS)][:NEVER_WHITE_CELLS]
    crops = np.stack([load_image(p, size) for p in picked])
    generated = synthetic_non_cell_images(NEVER_WHITE_CELLS, size)
    return (
        np.concatenate([crops, generated]),
        f"{len(crops)} malaria test crops and {len(generated)} generated images",
    )


def familiarity_of_layer(layer) -> tuple[np.ndarray, np.ndarray]:
    """A Familiarity layer's training-image moments (mean, scale)."""
    return layer.mean.numpy(), layer.scale.numpy()


def with_site_familiarity(model, old, site: tuple):
    """`model` with its Familiarity layer `old` replaced by one that also holds the lab's
    component (every other layer shared, weights and all)."""
    import keras

    from training.model import Familiarity

    def swap(layer):
        return Familiarity(site=True, name="familiarity") if layer is old else layer

    cloned = keras.models.clone_model(model, clone_function=swap, recursive=True)
    new = find_layer(cloned, "familiarity")
    for variable, value in zip(
        (new.mean, new.scale, new.site_mean, new.site_scale),
        (*familiarity_of_layer(old), *site),
        strict=True,
    ):
        variable.assign(value)
    return cloned


def both_views_figures(logits: np.ndarray, familiarity: np.ndarray, y, decision: dict) -> dict:
    """Right, ECE and honesty of logits [2, N, K] (image, turned) through the rule of a release
    that calls on both views (view_mean_release: probabilities the mean, `views` both)."""
    image, turned = softmax(logits[0]), softmax(logits[1])
    outputs = [both(image[i], float(familiarity[i]), turned[i][None]) for i in range(len(y))]
    return view_mean_figures(outputs, y, decision)


def read_cells(folder: Path, labels: list[str]) -> tuple[list[Path], np.ndarray]:
    """The confirmed cells' paths and label indices; ValueError naming what to fix."""
    from training.labs import read_lab

    if not folder.is_dir():
        raise ValueError(f"confirmed cells folder {folder} does not exist")
    samples = read_lab(folder, labels)  # DatasetError (a ValueError) names what to fix
    y = np.array([s.label for s in samples])
    counts = np.bincount(y, minlength=len(labels))
    few = {labels[k]: int(n) for k, n in enumerate(counts) if 0 < n < MIN_PER_CLASS}
    if few:
        raise ValueError(
            f"too few confirmed cells of {few} in {folder}: give at least {MIN_PER_CLASS} of "
            "each label given, or leave that label's folder out"
        )
    return [s.path for s in samples], y


def dataset_images(card: dict, split: str, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """ANCHOR_PER_CLASS images of every label from the card's dataset's `split`, and labels."""
    folder = datasets_root() / card["dataset"]["name"] / split
    rng = np.random.default_rng(seed)
    size = card["input"]["shape"][1]
    images, y = [], []
    for k, label in enumerate(card["labels"]):
        paths = sorted(p for p in (folder / label).glob("*") if p.is_file())
        if not paths:
            raise ValueError(f"no {split} images in {folder / label} to keep {label} in place")
        for i in rng.choice(len(paths), min(ANCHOR_PER_CLASS, len(paths)), replace=False):
            images.append(load_image(paths[i], size))
            y.append(k)
    return np.stack(images), np.array(y)


def find_layer(model, name: str):
    """The layer called `name` in `model` or in any model nested in it."""
    import keras

    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            found = find_layer(layer, name)
            if found is not None:
                return found
    return None


def network_parts(model):
    """(features model: pixels -> [final features, familiarity, familiarity's statistics],
    the calibrated Dense layer, the map's Dense layer or None, the Familiarity layer) of a
    released Keras model (a training run's, or a derived release's with the network nested
    in it)."""
    import keras

    from training.model import Familiarity

    dense, cam = find_layer(model, "calibrated_logits"), find_layer(model, CAM)
    familiarity = find_layer(model, "familiarity")
    inner = next(
        m for m in (model, *_nested(model)) if any(layer is dense for layer in m.layers)
    )  # the network (probabilities, familiarity[, map]) that the views run through
    statistics = Familiarity.statistics(familiarity.input)
    features = keras.Model(inner.input, [dense.input, inner.outputs[1], statistics])
    return features, dense, cam, familiarity


def _nested(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield layer
            yield from _nested(layer)


def own_view(features_model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Final features [N, F], familiarity [N] and its statistics [N, S] of the images as given."""
    f, familiarity, statistics = features_model.predict(images.astype(np.float32), 32, verbose=0)
    return f, familiarity[:, 0], statistics


def features_of(features_model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[2, N, F] final features of the images and of them turned, their familiarity [N] and
    its statistics [N, S] (the image's own view: familiarity is the image's)."""
    f, familiarity, statistics = own_view(features_model, images)
    turned = features_model.predict(quarter_turn(images).astype(np.float32), 32, verbose=0)[0]
    return np.stack([f, turned]), familiarity, statistics


def check(
    new: TFLiteModel, keras_model, source: TFLiteModel, bias, images: np.ndarray, site: bool
) -> dict:
    """The new file against the Keras model it was converted from (probabilities, views),
    its map against its own image's probabilities (softmax(mean(map) + b): the map's scale
    makes its float16 rounding large in absolute terms) and its familiarity against the source
    file's (the head does not touch it) or, with the lab's `site` component, against the
    Keras model's."""
    tolerances = {
        **FILE_TOLERANCES,
        **({"familiarity": SITE_FAMILIARITY_TOLERANCE} if site else {}),
    }
    gaps = {"probabilities": 0.0, "views": 0.0, "cam_reconstruction": 0.0, "familiarity": 0.0}
    for rgb in images:
        p, f, cam, views = new.run_views(rgb)
        kp, kf, _, kviews = keras_model.predict(rgb[None].astype(np.float32), verbose=0)
        f0 = kf[0] if site else source.predict(rgb)[1]
        own = softmax(cam.mean(axis=(0, 1)) + bias) - views[0]
        for key, gap in (
            ("probabilities", p - kp[0]),
            ("views", views - kviews[0]),
            ("cam_reconstruction", own),
            ("familiarity", f - f0),
        ):
            gaps[key] = max(gaps[key], float(np.max(np.abs(gap))))
    failed = [f"{k} {v:.2e}" for k, v in gaps.items() if v > tolerances[k]]
    if failed:
        raise ValueError(f"the new file does not match its Keras model: {'; '.join(failed)}")
    return {
        "images": len(images),
        "max_difference": {k: float(f"{v:.3g}") for k, v in gaps.items()},
        "tolerance": tolerances,
    }


def in_lab_figures(model: TFLiteModel, card: dict) -> dict:
    """Right, macro-F1, ECE and honesty on the card's whole test split through `model`'s file
    and the client rule."""
    outputs, truth = test_split_outputs(model, card)
    calls = [decide(p, f, list(range(len(p))), card["decision"], v) for p, f, v in outputs]
    summary = summarize(np.stack([p for p, _, _ in outputs]), truth, card["labels"])
    return {
        "images": len(truth),
        "right": summary["accuracy"],
        "macro_f1": summary["macro_f1"],
        "ece": summary["ece"],
        **honesty(calls, truth),
    }


def derive(source: Path, out: Path, cells: Path, site: str, log=print) -> dict:
    """The release `out` (its name is the version) of `source` adapted to the lab whose
    confirmed cells are in `cells`; returns its model.json."""
    card = read_model_card(source)
    declared = card.get("view_check") or {}
    if OWN_VIEW not in declared.get("views", []):
        raise ValueError(
            f"{source} does not call on both views: adapt a release that does (wbc-differential "
            "2.8.0 or later)"
        )
    if "site_adaptation" in card:
        raise ValueError(f"{source} is already adapted to {card['site_adaptation']['site']}")
    derived_release.refuse_target(source, card, out)
    if not site.strip():
        raise ValueError("--site must name the laboratory the cells come from")
    paths, y = read_cells(cells, card["labels"])

    import keras  # after the checks: a refusal costs no TensorFlow start

    from training.export import convert_float16
    from training.model import PerImageStandardization  # noqa: F401  (registers the layers)
    from training.release.card import file_entry, io_details, output_entry

    size, n = card["input"]["shape"][1], len(card["labels"])
    model = keras.saving.load_model(source / "model.keras", compile=False)
    features_model, dense, cam_layer, familiarity_layer = network_parts(model)
    W0, b0 = dense.get_weights()
    moments = familiarity_of_layer(familiarity_layer)
    images = np.stack([load_image(p, size) for p in paths])
    views, familiarity, statistics = features_of(features_model, images)
    anchor_pixels, anchor_y = dataset_images(card, "train")
    held_pixels, held_y = dataset_images(card, "val")
    anchor = (own_view(features_model, anchor_pixels)[0], anchor_y)
    held_features, _, held_statistics = own_view(features_model, held_pixels)
    held = (held_features, held_y)
    never_images, never_described = never_white_cells(size)
    never = own_view(features_model, never_images)[2]
    fold = stratified_folds(y, FOLDS)
    adapted = adapt(views, y, anchor, held, W0, b0, fold)
    below = card["decision"]["unfamiliar_below"]
    refit = refit_familiarity(statistics, fold, moments, never, below)
    log(f"familiarity: {refit['reason']}")
    before = both_views_figures(views @ W0 + b0, familiarity, y, card["decision"])
    after = both_views_figures(
        adapted["out_of_fold"] / adapted["temperature"], refit["out_of_fold"], y, card["decision"]
    )
    log(f"{site}, {len(y)} confirmed cells, cross-validated: before {before}, after {after}")
    W, b = adapted["head"]
    dense.set_weights([W, b])
    cam_layer.set_weights([W])
    if refit["site"] is not None:
        model = with_site_familiarity(model, familiarity_layer, refit["site"])

    def unfamiliar(familiarity) -> float:
        return round(float(np.mean(familiarity < below)), 4)

    familiarity_figures = {
        "site_component": refit["site"] is not None,
        "reason": refit["reason"],
        "unfamiliar": {  # before → after
            "lab_cells_out_of_fold": [unfamiliar(familiarity), unfamiliar(refit["out_of_fold"])],
            **{
                name: [
                    unfamiliar(familiarity_of(stats, moments, component))
                    for component in (None, refit["site"])
                ]
                for name, stats in (
                    ("dataset_validation", held_statistics),
                    ("not_white_cells", never),
                )
            },
        },
        "not_white_cells": never_described,
    }
    source_model = TFLiteModel(
        source / "model.tflite",
        n,
        cam_output=class_activation_output(card),
        views_output=view_check_output(card),
    )
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        work = Path(work)
        tflite = work / "model.tflite"
        tflite.write_bytes(convert_float16(model))
        cam_entry = output_entry(tflite, class_activation_output(card)["shape"], CAM)
        views_entry = output_entry(tflite, view_check_output(card)["shape"], VIEWS)
        new = TFLiteModel(tflite, n, cam_output=cam_entry, views_output=views_entry)
        checked = check(
            new,
            model,
            source_model,
            b,
            images[:: max(1, len(images) // 16)],
            familiarity_figures["site_component"],
        )
        log(f"checked on {checked['images']} of the lab's cells: {checked['max_difference']}")
        in_lab = {"before": in_lab_figures(source_model, card), "after": in_lab_figures(new, card)}
        log(f"in-lab ({card['dataset']['name']} test): {in_lab}")
        source_card = card
        card = {
            **source_card,
            "version": out.name,
            "outputs": [*io_details(tflite, n)["outputs"], cam_entry, views_entry],
            "file": file_entry(tflite),
            "metrics": {  # this file's, through the client rule (the source's differ)
                "test_accuracy": in_lab["after"]["right"],
                "test_macro_f1": in_lab["after"]["macro_f1"],
                "test_ece": in_lab["after"]["ece"],
                "test_confident_coverage": in_lab["after"]["confident_share"],
                "test_confident_accuracy": in_lab["after"]["confident_right"],
            },
            "derived_from": {
                "name": source_card["name"],
                "version": source_card["version"],
                "change": f"the classification layer refitted on {len(y)} cells confirmed at "
                f"{site}"
                + (
                    ", and familiarity given the lab's cells as a second component"
                    if familiarity_figures["site_component"]
                    else ""
                )
                + "; the rest of the network, the thresholds and the rule are the same",
            },
            "site_adaptation": {
                "site": site,
                "cells": {
                    source_card["labels"][k]: int(c)
                    for k, c in enumerate(np.bincount(y, minlength=n))
                    if c
                },
                "method": "final Dense layer refitted (cross-entropy on the cells in both views, "
                f"{ANCHOR_PER_CLASS} {source_card['dataset']['name']} training images per label, "
                f"pull {PULL} to the source's layer, Adam {STEPS} steps), temperature fitted on "
                f"{FOLDS}-fold out-of-fold calls of the lab's cells (or on {ANCHOR_PER_CLASS} "
                f"{source_card['dataset']['name']} validation images per label, the larger; "
                "at least 1)",
                "temperature": round(adapted["temperature"], 3),
                "cross_validated": {"folds": FOLDS, "before": before, "after": after},
                "familiarity": familiarity_figures,
                "in_lab": in_lab,
                "checked": checked,
            },
        }
        derived_release.finish(work, out, source, card, HEADING, section(card), model, log)
    return card


def section(card: dict) -> str:
    sa = card["site_adaptation"]
    cv, in_lab = sa["cross_validated"], sa["in_lab"]

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f}%"

    def row(name, a, b):
        keys = ("right", "confident_share", "confident_right", "wrong_calls_confident")
        return f"| {name} | " + " | ".join(f"{pct(a[k])} → {pct(b[k])}" for k in keys) + " |"

    cells = ", ".join(f"{label} {n}" for label, n in sa["cells"].items())
    familiarity = sa["familiarity"]
    unfamiliar = familiarity["unfamiliar"]
    return "\n".join(
        [
            HEADING,
            "",
            f"For **{sa['site']}**: {sa['method']} (temperature {sa['temperature']}). Confirmed "
            f"cells: {cells}. The rest of the network, the thresholds and the client rule are "
            f"{card['derived_from']['version']}'s; labels the lab did not give are still "
            "called from the training images, and are not measured at this lab.",
            "",
            f"Familiarity: {familiarity['reason']}. Unfamiliar, before → after: "
            + "; ".join(
                f"{name} {pct(a)} → {pct(b)}"
                for name, (a, b) in (
                    ("the lab's cells (out of fold)", unfamiliar["lab_cells_out_of_fold"]),
                    (
                        f"{card['dataset']['name']} validation images",
                        unfamiliar["dataset_validation"],
                    ),
                    (familiarity["not_white_cells"], unfamiliar["not_white_cells"]),
                )
            )
            + ".",
            "",
            "| scored on | right | confident share | confident calls right | wrong calls marked "
            "confident |",
            "|---|---|---|---|---|",
            row(
                f"{sa['site']}'s confirmed cells ({cv['folds']}-fold cross-validated)",
                cv["before"],
                cv["after"],
            ),
            row(
                f"{card['dataset']['name']} test ({in_lab['after']['images']} images, the file)",
                in_lab["before"],
                in_lab["after"],
            ),
            "",
            f"Each cell: {card['derived_from']['version']} → this release. Cross-validated: each "
            "cell called by a layer fitted without it. Use this release at that lab only.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = derived_release.parser("python -m training.site_release", __doc__, "2.8.0-hospital-x")
    parser.add_argument(
        "--cells",
        type=Path,
        required=True,
        help="folder of <label>/<image> cells confirmed at the lab",
    )
    parser.add_argument("--site", required=True, help="the laboratory's name, for the card")
    args = parser.parse_args(argv)
    return derived_release.run(
        lambda log: derive(args.source, args.out, args.cells, args.site, log=log)
    )


if __name__ == "__main__":
    sys.exit(main())
