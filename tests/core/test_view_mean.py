"""The call made on both views (issue 12): wbc-differential 2.8.0 is 2.7.0's network and view
check with `probabilities` the mean of the image's and the turned image's, and `views` both.
On real images of pbc and of the other labs its familiarity and map are 2.7.0's, its label the
mean's top class, and it marks `confident` exactly the calls 2.7.0 marks; the release step
refuses before any work."""

import json

import numpy as np
import pytest

from bench.inputs import MODELS_ROOT, dataset_images
from classifier.classify import Classifier, load_image
from tests.conftest import refused_before_any_work
from training.paths import datasets_root
from training.view_mean_release import OWN_VIEW
from training.view_mean_release import main as view_mean_main

NEW, SOURCE = "wbc-differential/2.8.0", "wbc-differential/2.7.0"


@pytest.fixture(scope="module")
def classifiers():
    return Classifier(MODELS_ROOT / NEW), Classifier(MODELS_ROOT / SOURCE)


def images() -> list:
    """pbc test images of every class and crops of every other lab (where 2.7.0's calls are
    least sure, so labels can change)."""
    labs = datasets_root() / "other-labs"
    crops = [sorted(p for p in (labs / lab).rglob("*.png"))[::12] for lab in
             ("tecom", "lisc", "cellavision-blog")]  # fmt: skip
    return [*dataset_images("pbc", 3), *(p for lab in crops for p in lab)]


def test_the_file_calls_on_the_mean_of_both_views(classifiers):
    new, source = classifiers
    for image in images()[::3]:
        rgb = load_image(image, new.size)
        p, f, cam, views = new.model.run_views(rgb)
        p0, f0, cam0, views0 = source.model.run_views(rgb)
        both = np.concatenate([p0[None], views0])
        np.testing.assert_allclose(views, both, atol=1e-4)
        np.testing.assert_allclose(p, both.mean(axis=0), atol=1e-4)
        np.testing.assert_allclose(cam, cam0, atol=1e-4)
        assert f == pytest.approx(f0, abs=1e-4)


def test_the_same_calls_are_confident_and_only_review_labels_change(classifiers):
    new, source = classifiers
    changed = 0
    for image in images():
        a, b = new.classify(str(image)), source.classify(str(image))
        assert a["status"] == b["status"], image
        if a["status"] == "confident":
            assert a["label"] == b["label"], image
        elif a["label"] != b["label"]:
            changed += 1  # the turned view moved a call that is not confident anyway
        assert a["label"] == max(a["probabilities"], key=a["probabilities"].get)
    assert changed > 0  # on other labs' crops some calls do move


def test_the_card_says_the_views_and_what_was_measured():
    card = json.loads((MODELS_ROOT / NEW / "model.json").read_text())
    vc = card["view_check"]
    assert vc["views"][0] == OWN_VIEW and len(vc["views"]) == 2
    assert card["derived_from"]["version"] == "2.7.0"
    in_lab = vc["measured"]["in_lab"]
    assert in_lab["both_views"]["confident_share"] == in_lab["image_alone"]["confident_share"]
    rows = vc["measured"]["leave_one_lab_out"]
    assert rows and {r["held_out_lab"] for r in rows} <= {"tecom", "lisc", "cellavision-blog"}
    for row in rows:  # the view check's confident calls, the same with both views
        assert row["both_views"]["confident_share"] == row["image_alone"]["confident_share"]


@pytest.mark.parametrize(
    ("source", "out", "message"),
    [
        ("wbc-differential/2.6.0", "new", "has no view check"),
        (NEW, "new", "already calls on both views"),
        (SOURCE, "existing", "is never overwritten"),
    ],
)
def test_the_release_step_refuses_before_any_work(tmp_path, capsys, source, out, message):
    args = ["--from", str(MODELS_ROOT / source)]
    assert message in refused_before_any_work(view_mean_main, tmp_path, capsys, out, args)
