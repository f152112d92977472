"""The view check (issue 12): wbc-differential 2.3.0 is 2.2.0's network run on the image and on
the image turned a quarter turn; its `probabilities`, `familiarity` and `cam` are 2.2.0's, its
`views` 2.2.0's probabilities of the turned image, and `confident` needs both. A card that
declares a check its outputs do not carry is refused; releases without one behave as before."""

import json

import numpy as np
import pytest

from bench.inputs import MODELS_ROOT, dataset_images
from classifier.classify import Classifier, decide, load_image
from classifier.model_card import ModelCardError, parse_model_card
from training import view_check_release

NEW, SOURCE = MODELS_ROOT / "wbc-differential" / "2.3.0", MODELS_ROOT / "wbc-differential" / "2.2.0"


@pytest.fixture(scope="module")
def classifiers():
    return Classifier(NEW), Classifier(SOURCE)


def test_the_file_is_its_sources_network_run_on_the_image_and_on_it_turned(classifiers):
    new, source = classifiers
    for image in dataset_images("pbc", 1):
        rgb = load_image(image, new.size)
        p, f, cam, views = new.model.run_views(rgb)
        p0, f0, cam0, none = source.model.run_views(rgb)
        turned, _ = source.model.predict(view_check_release.quarter_turn(rgb[None])[0])
        assert none is None and views.shape == (1, len(new.labels))
        np.testing.assert_allclose(p, p0, atol=1e-4)
        np.testing.assert_allclose(cam, cam0, atol=1e-4)
        np.testing.assert_allclose(views[0], turned, atol=1e-4)
        assert f == pytest.approx(f0, abs=1e-4)


def test_the_check_only_takes_confident_away(classifiers):
    """On close-ups the check turns down, 2.3.0 gives 2.2.0's label, confidence, probabilities
    and map, and `review` where 2.2.0 says `confident`; elsewhere the same status."""
    new, source = classifiers
    turned_down = 0
    for image in dataset_images("pbc", 12):
        a, b = new.classify(str(image)), source.classify(str(image))
        assert {k: a[k] for k in ("label", "confidence", "probabilities", "cam")} == {
            k: b[k] for k in ("label", "confidence", "probabilities", "cam")
        }
        if a["status"] != b["status"]:
            assert (b["status"], a["status"]) == ("confident", "review"), image
            assert a["status_reason"] == "view_check", image  # the reason says which check
            turned_down += 1
    assert turned_down > 0


def test_the_rule_needs_every_view():
    decision = {"unfamiliar_below": 0.3, "confident_at_or_above": 0.8}
    p = np.float32([0.9, 0.1])
    held = decide(p, 0.9, ["a", "b"], decision, np.float32([[0.8, 0.2]]))
    assert held[2:] == ("confident", None)
    one_fails = decide(p, 0.9, ["a", "b"], decision, np.float32([[0.8, 0.2], [0.7, 0.3]]))
    assert one_fails[2:] == ("review", "view_check")
    unfamiliar = decide(p, 0.1, ["a", "b"], decision, np.float32([[0.1, 0.9]]))
    assert unfamiliar[2:] == ("unfamiliar", "unfamiliar")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["view_check"].update(output="nothing"), "names output 'nothing'"),
        (lambda c: c["view_check"].update(views=[]), "1 to 8 views"),
        (lambda c: c["view_check"].update(views=["a", "b"]), "with shape [1, 2, 8]"),
        (lambda c: c.update(view_check=[]), "must be an object"),
    ],
)
def test_a_card_whose_outputs_do_not_carry_its_check_is_refused(change, message):
    card = json.loads((NEW / "model.json").read_text())
    change(card)
    with pytest.raises(ModelCardError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_model_card(json.dumps(card))


@pytest.mark.parametrize(
    "source, out, message",
    [
        ("2.3.0", "new", "already has a view check"),
        ("2.1.0", "new", "has no class-activation map"),
        ("2.2.0", "2.3.0", "exists: a release folder is never overwritten"),
    ],
)
def test_derive_refuses_before_any_work(tmp_path, source, out, message):
    folder = MODELS_ROOT / "wbc-differential"
    target = folder / out if out == "2.3.0" else tmp_path / out
    with pytest.raises(ValueError, match=message):
        view_check_release.derive(folder / source, target)
    assert not (tmp_path / "new").exists()
