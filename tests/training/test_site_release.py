"""A release adapted to one laboratory from cells its haematologist confirmed (issue 12:
training.site_release). The layer refit, the temperature, the folds and the familiarity rule on
numbers whose answer is known; real adapted releases of wbc-differential 2.8.0 from another
lab's crops (as they are, and at twice the magnification, which 2.8.0 finds unfamiliar), checked
as the server checks an upload; refusals that come before any work and leave nothing behind."""

import json
import shutil

import numpy as np
import pytest

from backend.model_delivery.release import check_release
from bench.inputs import MODELS_ROOT
from bench.site_adaptation import draw_support
from classifier.classify import Classifier, load_image
from tests.conftest import (
    SITE_SOURCE,
    TECOM_CELLS,
    confirmed_cells,
    refused_before_any_work,
    unconfirmed_magnified_cells,
)
from training.cam_release import softmax
from training.evaluate import fit_temperature
from training.paths import datasets_root
from training.site_release import (
    FAMILIAR_ENOUGH,
    MIN_PER_CLASS,
    SITE_FAMILIARITY_TOLERANCE,
    adapt,
    familiarity_of,
    find_layer,
    fit_head,
    never_white_cells,
    read_cells,
    refit_familiarity,
    site_moments,
    stratified_folds,
)
from training.site_release import main as site_main

LABS = datasets_root() / "other-labs"
LABELS = ["basophil", "lymphocyte", "neutrophil"]


def blobs(rng, centres, n):
    """n points around each centre, and their labels."""
    X = np.concatenate([c + 0.3 * rng.standard_normal((n, len(c))) for c in centres])
    return X, np.repeat(np.arange(len(centres)), n)


def test_the_refit_layer_learns_the_lab_and_keeps_the_labels_it_was_not_given():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 4) * 3  # three classes; the 4th feature is 0 on the training images
    anchor = blobs(rng, centres, 30)
    W0, b0 = np.eye(4, 3, dtype=np.float32), np.zeros(3, np.float32)  # right on the anchors
    # The lab's stain turns the 4th feature on and moves its cells: class 0 where the layer
    # says 1, class 1 where it says 2. Class 2 is not given.
    lab_centres = np.array([[0.0, 3.0, 0.0, 3.0], [0.0, 0.0, 3.0, 3.0]])
    X, y = blobs(rng, lab_centres, 10)
    assert np.mean((X @ W0 + b0).argmax(1) == y) == 0
    W, b = fit_head(W0, b0, X, y, *anchor)
    test_X, test_y = blobs(np.random.default_rng(1), lab_centres, 50)
    assert np.mean((test_X @ W + b).argmax(1) == test_y) > 0.95
    held_X, held_y = blobs(np.random.default_rng(2), centres[2:], 50)  # not given by the lab
    assert np.mean((held_X @ W + b).argmax(1) == 2) > 0.95


@pytest.mark.parametrize("true_t", [2.0, 3.0, 0.5])
def test_the_temperature_is_the_held_images_and_never_makes_calls_surer(true_t):
    """A few clear cells of the lab ask for no softening; held images whose labels are drawn
    from softmax(z / T) ask for about T; the layer is divided by the larger, never by less
    than 1."""
    rng = np.random.default_rng(0)
    W0, b0 = rng.standard_normal((6, 4)).astype(np.float32), np.zeros(4, np.float32)
    held_X = 2 * rng.standard_normal((6000, 6)).astype(np.float32)
    p = softmax(held_X @ W0 / true_t)
    held_y = (rng.random(len(p))[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    clear = 6 * np.linalg.pinv(W0).astype(np.float32)  # rows: features calling one class hard
    cells = np.repeat(clear, 5, axis=0) + 0.05 * rng.standard_normal((20, 6)).astype(np.float32)
    y = np.repeat(np.arange(4), 5)
    assert ((cells @ W0).argmax(1) == y).all()
    adapted = adapt(cells[None], y, (cells, y), (held_X, held_y), W0, b0, stratified_folds(y, 5))
    t = adapted["temperature"]
    W, b = adapted["head"]
    assert t == pytest.approx(max(1.0, fit_temperature(held_X @ (W * t) + b * t, held_y)))
    if true_t < 1:
        assert t == 1.0
    else:
        assert 0.8 * true_t < t < 1.5 * true_t


def test_the_folds_spread_every_label_evenly():
    y = np.array([0] * 12 + [1] * 5 + [2] * 7)
    fold = stratified_folds(y, 5)
    for label in range(3):
        counts = np.bincount(fold[y == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert (stratified_folds(y, 5) == fold).all()  # seeded


def test_familiarity_gains_the_lab_only_where_it_flags_the_lab_and_lets_no_other_image_in():
    """Statistics of training images N(0, 1); a lab whose cells sit 4 sd off in two of them is
    flagged, and gains its own component: its other cells become familiar (out of fold too),
    the training images stay so, images far from both stay unfamiliar. Not when images that
    are not white cells would become familiar by it; never for a lab that is already familiar."""
    rng = np.random.default_rng(0)
    training = rng.standard_normal((2000, 8))
    moments = training.mean(axis=0), training.std(axis=0)
    below = np.quantile(familiarity_of(training, moments), 0.01)
    shift = np.array([4.0, 4.0, 0, 0, 0, 0, 0, 0])
    lab = rng.standard_normal((40, 8)) + shift
    fold = stratified_folds(np.zeros(40, int), 5)
    far = rng.standard_normal((100, 8)) - 3 * shift

    refit = refit_familiarity(lab, fold, moments, far, below)
    assert refit["site"] is not None and "like the lab's cells" in refit["reason"]
    assert np.mean(refit["out_of_fold"] < below) <= FAMILIAR_ENOUGH
    for k in range(5):  # each fold against a component fitted without it
        without = site_moments(lab[fold != k])
        assert refit["out_of_fold"][fold == k] == pytest.approx(
            familiarity_of(lab[fold == k], moments, without)
        )
    new_cells = rng.standard_normal((500, 8)) + shift
    assert np.mean(familiarity_of(new_cells, moments) >= below) < 0.1
    assert np.mean(familiarity_of(new_cells, moments, refit["site"]) >= below) > 0.9
    assert np.mean(familiarity_of(training, moments, refit["site"]) >= below) > 0.98
    assert (familiarity_of(far, moments, refit["site"]) < below).all()

    near = rng.standard_normal((100, 8)) + 1.4 * shift  # unfamiliar now, close to the lab's
    assert (familiarity_of(near, moments) < below).all()
    kept = refit_familiarity(lab, fold, moments, near, below)
    assert kept["site"] is None and (kept["out_of_fold"] == familiarity_of(lab, moments)).all()
    assert "of 100 images that are not white cells would become familiar" in kept["reason"]

    familiar_lab = rng.standard_normal((40, 8))
    kept = refit_familiarity(familiar_lab, fold, moments, far, below)
    assert kept["site"] is None and kept["reason"].endswith(": kept")


def test_the_familiarity_layer_with_a_site_component_is_the_larger_of_the_two():
    """training.model.Familiarity(site=True) computes what the release tool measured with
    familiarity_of, and the source layers (no `site` in their config) stay one-component."""
    from training.model import Familiarity

    rng = np.random.default_rng(0)
    feature_map = rng.random((5, 4, 4, 3)).astype(np.float32)
    statistics = np.concatenate([feature_map.mean(axis=(1, 2)), feature_map.std(axis=(1, 2))], 1)
    moments = statistics[:3].mean(axis=0), statistics[:3].std(axis=0) + 1e-3
    site = statistics[3:].mean(axis=0), statistics[3:].std(axis=0) + 1e-3
    layer = Familiarity(site=True)
    layer.build(feature_map.shape)
    for variable, value in zip(
        (layer.mean, layer.scale, layer.site_mean, layer.site_scale), (*moments, *site), strict=True
    ):
        variable.assign(value)
    got = np.asarray(layer(feature_map))[:, 0]
    assert got == pytest.approx(familiarity_of(statistics, moments, site), rel=1e-4)
    assert (got > familiarity_of(statistics, moments)).any()
    assert not Familiarity.from_config({"name": "familiarity"}).site


def test_the_bench_never_scores_a_cell_the_layer_was_refitted_on():
    y = np.array([0] * 30 + [1] * 4 + [2] * 1 + [3] * 11)
    support = draw_support(y, 10, np.random.default_rng(3))
    assert len(set(support)) == len(support)
    counts = np.bincount(y[support], minlength=4)
    assert counts.tolist() == [10, 2, 1, 5]  # k, or half of a small label (at least one)


def test_the_confirmed_cells_are_read_and_bad_folders_refused_with_a_reason(tmp_path):
    folder = confirmed_cells(tmp_path, {"lymphocyte": 6, "neutrophil": 5}, "lisc")
    paths, y = read_cells(folder, LABELS)
    assert len(paths) == 11 and np.bincount(y).tolist() == [0, 6, 5]
    with pytest.raises(ValueError, match="does not exist"):
        read_cells(tmp_path / "nowhere", LABELS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no class folders"):
        read_cells(tmp_path / "empty", LABELS)
    for path in sorted((folder / "neutrophil").iterdir())[2:]:
        path.unlink()
    with pytest.raises(ValueError, match=rf"'neutrophil': 2.*at least {MIN_PER_CLASS}"):
        read_cells(folder, LABELS)
    (folder / "blast").mkdir()
    with pytest.raises(ValueError, match="blast.* is empty"):
        read_cells(folder, LABELS)
    shutil.copy(next((folder / "lymphocyte").iterdir()), folder / "blast")
    with pytest.raises(ValueError, match="'blast' .* is not one of"):
        read_cells(folder, LABELS)


@pytest.mark.parametrize(
    ("source", "cells", "site", "out", "message"),
    [
        ("wbc-differential/2.7.0", 6, "Lab", "new", "does not call on both views"),
        ("wbc-differential/2.8.0", 6, "Lab", "existing", "is never overwritten"),
        ("wbc-differential/2.8.0", 6, "  ", "new", "--site must name"),
        ("wbc-differential/2.8.0", 3, "Lab", "new", "too few confirmed cells"),
    ],
)
def test_the_release_step_refuses_before_any_work(
    tmp_path, capsys, source, cells, site, out, message
):
    folder = confirmed_cells(tmp_path, {"lymphocyte": cells, "neutrophil": 6}, "lisc")
    args = ["--from", str(MODELS_ROOT / source), "--cells", str(folder), "--site", site]
    err = refused_before_any_work(site_main, tmp_path, capsys, out, args, name="2.8.0-lab")
    assert message in err


def test_a_real_adapted_release_is_checked_measured_and_accepted_by_the_server(tmp_path):
    folder = confirmed_cells(tmp_path, TECOM_CELLS, "tecom")
    out = tmp_path / "2.8.0-tecom"
    argv = [str(out), "--from", str(SITE_SOURCE), "--cells", str(folder), "--site", "TECOM lab"]
    assert site_main(argv) == 0
    card = json.loads((out / "model.json").read_text())
    sa = card["site_adaptation"]
    assert card["version"] == "2.8.0-tecom" and card["derived_from"]["version"] == "2.8.0"
    assert sa["site"] == "TECOM lab"
    assert sa["cells"] == {"eosinophil": 6, "lymphocyte": 8, "monocyte": 8, "neutrophil": 8}
    assert sa["temperature"] >= 1.0
    assert not sa["familiarity"]["site_component"] and "kept" in sa["familiarity"]["reason"]
    for when in ("before", "after"):
        assert 0 <= sa["cross_validated"][when]["right"] <= 1
        assert sa["in_lab"][when]["images"] > 0
    checked = sa["checked"]
    assert all(v <= checked["tolerance"][k] for k, v in checked["max_difference"].items())
    assert "TECOM lab" in (out / "report.md").read_text()
    # the server takes it as an upload, and the app's classifier runs it like any release
    release = check_release((out / "model.json").read_bytes(), (out / "model.tflite").read_bytes())
    assert release.version == "2.8.0-tecom"
    new, source = Classifier(out), Classifier(SITE_SOURCE)
    crop = sorted((LABS / "tecom" / "neutrophil").glob("*"))[-1]  # not among the confirmed
    result = new.classify(str(crop))
    assert result["label"] in card["labels"] and "cam" in result
    rgb = load_image(crop, new.size)
    assert new.model.predict(rgb)[1] == pytest.approx(source.model.predict(rgb)[1], abs=1e-5)


def test_a_lab_at_another_magnification_becomes_familiar_and_other_images_stay_out(
    magnified_tecom_release, tmp_path
):
    """tecom's crops at twice the magnification: 2.8.0 flags nearly all of them unfamiliar.
    The adapted release finds the lab's other cells familiar, still flags malaria crops and
    generated images, and its model.keras reloads with the lab's component."""
    import keras

    import training.model  # noqa: F401  (registers the custom layers)

    out = magnified_tecom_release
    card = json.loads((out / "model.json").read_text())
    familiarity = card["site_adaptation"]["familiarity"]
    assert familiarity["site_component"]
    lab_before, lab_after = familiarity["unfamiliar"]["lab_cells_out_of_fold"]
    assert lab_before > 0.5 and lab_after <= 0.1
    assert familiarity["unfamiliar"]["not_white_cells"] == [1.0, 1.0]
    assert "familiarity given the lab's cells" in card["derived_from"]["change"]
    assert "like the lab's cells" in (out / "report.md").read_text()
    check_release((out / "model.json").read_bytes(), (out / "model.tflite").read_bytes())

    new, source = Classifier(out), Classifier(SITE_SOURCE)
    below = card["decision"]["unfamiliar_below"]
    other_cells = [load_image(p, new.size) for p in unconfirmed_magnified_cells(tmp_path)]
    source_familiar = [source.model.predict(rgb)[1] >= below for rgb in other_cells]
    new_familiar = [new.model.predict(rgb)[1] >= below for rgb in other_cells]
    assert np.mean(source_familiar) < 0.3 and np.mean(new_familiar) >= 0.8
    never, _ = never_white_cells(new.size)
    assert all(new.model.predict(rgb)[1] < below for rgb in never[::10])
    reloaded = keras.saving.load_model(out / "model.keras", compile=False)  # as --from reads it
    assert find_layer(reloaded, "familiarity").site
    keras_familiarity = reloaded.predict(other_cells[0][None].astype(np.float32), verbose=0)[1]
    assert keras_familiarity[0, 0] == pytest.approx(
        new.model.predict(other_cells[0])[1], abs=SITE_FAMILIARITY_TOLERANCE
    )


@pytest.mark.slow
def test_the_bench_measures_a_real_leave_one_lab_out_run(tiny_lolo_release):
    """bench.site_adaptation on the tiny run (tecom held out): the lab's other crops scored
    before and after, pbc beside them; a refit on 5 cells per label moves the calls."""
    from bench.site_adaptation import measure, run_features

    parts = run_features(tiny_lolo_release)
    assert parts["lab"] == "tecom" and parts["views"].shape[:2] == (2, len(parts["y"]))
    row = measure(parts, 5, 1)
    for name in ("before", "after", "pbc_before", "pbc_after"):
        assert 0 <= row[name]["right"] <= 1
    assert row["after"]["right"] != row["before"]["right"]
