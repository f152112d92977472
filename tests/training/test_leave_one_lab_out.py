"""Leave-one-lab-out (training.labs): a held-out lab is only scored, never trained or tuned on,
checked on the real pbc and other-labs folders; and a tiny real run that scores it."""

import json

import numpy as np
import pytest

from tests.training.conftest import PBC, TINY_RUN_PER_CLASS, copy_images
from training.dataset import DatasetError, scan
from training.labs import (
    lab_names,
    lab_share_repeats,
    label_smoothing_of,
    lolo_split,
    read_lab,
    read_labs,
)
from training.paths import datasets_root

OTHER_LABS = datasets_root() / "other-labs"
LABS = ("cellavision-blog", "lisc", "tecom")


@pytest.fixture(scope="module")
def pbc():
    return scan(PBC)


@pytest.fixture(scope="module")
def labs(pbc):
    return read_labs(OTHER_LABS, pbc.labels)


def test_the_three_other_labs_are_read_with_pbc_labels(pbc, labs):
    assert tuple(lab_names(OTHER_LABS)) == LABS
    for lab, samples in labs.items():
        assert samples and {s.lab for s in samples} == {lab}
        assert {pbc.labels[s.label] for s in samples} <= {
            "basophil", "eosinophil", "lymphocyte", "monocyte", "neutrophil"
        }  # fmt: skip
        assert all(s.path.parent.name == pbc.labels[s.label] for s in samples)


@pytest.mark.parametrize("held_out", LABS)
def test_a_held_out_lab_is_only_scored(pbc, labs, held_out):
    split = lolo_split(pbc, labs, held_out, seed=1234)
    held = labs[held_out]
    assert {s.path for s in split.sets["score"]} == {s.path for s in held}
    learned = split.sets["train"] + split.sets["val"]
    assert not {s.path for s in learned} & {s.path for s in held}
    assert not {s.sha256 for s in learned} & {s.sha256 for s in held}
    assert {s.lab for s in learned} == {"pbc", *LABS} - {held_out}
    for lab in set(LABS) - {held_out}:
        assert {s.path for s in learned if s.lab == lab} == {s.path for s in labs[lab]}
    assert {s.lab for s in split.sets["test"]} == {"pbc"}
    assert len(split.sets["test"]) == len(pbc.splits["test"])
    sets = [{s.sha256 for s in samples} for samples in split.sets.values()]
    assert sum(map(len, sets)) == len(set().union(*sets)), "an image is in two sets"


def test_the_training_labs_are_in_validation_too(pbc, labs):
    counts = lolo_split(pbc, labs, "tecom", seed=1234).counts()
    for lab in ("lisc", "cellavision-blog"):
        assert counts["train"][lab] > counts["val"][lab] > 0
    assert counts["score"] == {"tecom": len(labs["tecom"])}


def test_the_final_release_split_trains_on_every_lab(pbc, labs):
    split = lolo_split(pbc, labs, None, seed=1234)
    assert split.sets["score"] == []
    learned = split.sets["train"] + split.sets["val"]
    assert {s.lab for s in learned} == {"pbc", *LABS}
    assert len(learned) == sum(map(len, pbc.splits.values())) - len(pbc.splits["test"]) + sum(
        map(len, labs.values())
    )


def test_the_cut_into_train_and_val_is_the_same_every_time(pbc, labs):
    first, again = (lolo_split(pbc, labs, "lisc", seed=7).sets["val"] for _ in range(2))
    assert [s.path for s in first] == [s.path for s in again]


def test_an_unknown_lab_is_refused_naming_the_labs(pbc, labs):
    with pytest.raises(DatasetError, match="unknown lab 'tekom'.*cellavision-blog.*lisc.*tecom"):
        lolo_split(pbc, labs, "tekom")


def test_a_class_folder_pbc_does_not_have_is_refused_by_name(tmp_path, pbc):
    lab = tmp_path / "newlab"
    copy_images(sorted((OTHER_LABS / "lisc" / "basophil").iterdir())[:2], lab / "basophil")
    copy_images(sorted((OTHER_LABS / "lisc" / "monocyte").iterdir())[:2], lab / "smudge")
    with pytest.raises(DatasetError, match="class folder 'smudge' of lab newlab"):
        read_lab(lab, pbc.labels)


def test_a_lab_image_also_in_pbc_is_refused(tmp_path, pbc):
    copy_images([pbc.splits["train"][0].path], tmp_path / "copycat" / "basophil")
    labs = read_labs(tmp_path, pbc.labels)
    with pytest.raises(DatasetError, match="appear in two splits"):
        lolo_split(pbc, labs, "copycat")


def test_lab_share_repeats_other_labs_crops_up_to_the_share():
    labs = ["pbc"] * 90 + ["lisc"] * 6 + ["tecom"] * 4
    repeats = lab_share_repeats(labs, 0.3)
    # 10 crops beside 90 pbc images: each crop 4 times gives 40 / 130 = 31% >= 30%
    assert list(repeats[:90]) == [1] * 90 and set(repeats[90:]) == {4}
    assert (repeats[90:].sum() / repeats.sum()) >= 0.3
    assert set(lab_share_repeats(labs, 0.0)) == {1}
    assert set(lab_share_repeats(labs, 0.05)) == {1}  # already 10%: nothing repeated
    assert set(lab_share_repeats(["pbc"] * 5, 0.3)) == {1}  # no other lab: nothing to repeat


def test_only_unreviewed_labs_get_soft_labels():
    from training.train import soft_targets

    smoothing = label_smoothing_of(["pbc", "lisc", "tecom", "cellavision-blog"], 0.1)
    assert list(smoothing) == pytest.approx([0, 0, 0.1, 0.1])
    targets = soft_targets(np.array([0, 1, 2, 3]), 4, smoothing)
    assert targets[0].tolist() == [1, 0, 0, 0] and targets[1].tolist() == [0, 1, 0, 0]
    assert targets[2] == pytest.approx([0.025, 0.025, 0.925, 0.025])
    assert targets.sum(axis=1) == pytest.approx(np.ones(4))


@pytest.mark.slow
def test_a_tiny_run_scores_the_held_out_lab_with_the_shipped_file(tiny_lolo_release):
    out = tiny_lolo_release  # tecom held out, --lab-share 0.3, --noisy-label-smoothing 0.1
    card = json.loads((out / "model.json").read_text())
    lolo = card["leave_one_lab_out"]
    tecom_used = sum(
        min(TINY_RUN_PER_CLASS, len(list(c.iterdir()))) for c in (OTHER_LABS / "tecom").iterdir()
    )
    assert lolo["held_out"] == "tecom"
    assert lolo["score"]["n"] == tecom_used
    assert 0 <= lolo["score"]["accuracy"] <= 1
    assert 0 <= lolo["score"]["ece"] <= 1
    assert set(lolo["train_labs"]) == {"pbc", "lisc", "cellavision-blog"}
    assert "tecom" not in card["dataset"]["labs"]["train"]
    assert "tecom" not in card["dataset"]["labs"]["val"]
    assert card["hparams"]["lab_share"] == 0.3
    # the card credits every source it trained on, with its licence; not the held-out lab
    assert list(card["data_sources"])[1:] == ["cellavision-blog", "lisc"]
    assert card["data_sources"]["lisc"]["credit"].startswith("Rezatofighi")
    report = (out / "report.md").read_text()
    assert "## Data sources, licences and credits" in report and "GPL-3.0" in report
    assert "Trained on pbc and cellavision-blog, lisc;" in report
    assert card["hparams"]["noisy_label_smoothing"] == 0.1


def test_train_refuses_an_unknown_held_out_lab_before_training(tmp_path, capsys):
    from training.train import main as train_main

    args = ["--data", str(PBC), "--out", str(tmp_path / "m" / "0.1.0"), "--other-labs",
            "--hold-out-lab", "tekom"]  # fmt: skip
    assert train_main(args) == 2
    assert "unknown lab 'tekom': the other labs are" in capsys.readouterr().err


def test_train_refuses_a_held_out_lab_without_other_labs(tmp_path, capsys):
    from training.train import main as train_main

    with pytest.raises(SystemExit):
        train_main(["--data", str(PBC), "--out", str(tmp_path), "--hold-out-lab", "tecom"])
    assert "--hold-out-lab needs --other-labs" in capsys.readouterr().err


def test_class_weights_counted_on_pbc_do_not_raise_the_classes_other_labs_lack():
    """8 balanced pbc classes, one other lab with only classes 0-3, repeated 3 times: counted
    on the epoch, classes 4-7 weigh more than 0-3; counted on pbc, nothing is weighted."""
    from training.train import balancing_weights

    y = np.array([*np.repeat(np.arange(8), 10), *np.repeat(np.arange(4), 10)])
    labs = ["pbc"] * 80 + ["lisc"] * 40
    repeats = np.array([1] * 80 + [3] * 40)
    on_epoch = balancing_weights(y, labs, repeats, 8, "epoch")
    assert min(on_epoch[k] for k in range(4, 8)) > 2 * max(on_epoch[k] for k in range(4))
    assert balancing_weights(y, labs, repeats, 8, "pbc") is None
    # an unbalanced pbc is still balanced, by its own counts alone
    y = np.array([0, 0, 0, 0, *y])
    weights = balancing_weights(y, ["pbc"] * 4 + labs, np.array([1] * 4 + [*repeats]), 8, "pbc")
    assert weights[0] < 1 < weights[1] and weights[1] == weights[7]
