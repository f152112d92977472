"""A release that runs several images at once (issue 15's field time): malaria-screen 2.3.0 is
2.2.0's network exported with a fixed batch of 8. On real images it calls exactly what 2.2.0
calls, single cells and every cell of a field photo; a part-filled batch gives each image its
own outputs; a card whose batch is malformed, or whose outputs lack it, is refused; the
release step refuses before any work; the server refuses a file whose batch is not the
card's."""

import json

import numpy as np
import pytest

from backend.errors import ApiError
from backend.model_delivery.release import check_release
from bench.inputs import MODELS_ROOT, dataset_images
from classifier.classify import Classifier, load_image
from classifier.model_card import ModelCardError, input_batch, parse_model_card
from tests.conftest import malaria_field_photos, refused_before_any_work
from training.batch_release import main as batch_release_main

NEW, SOURCE = "malaria-screen/2.3.0", "malaria-screen/2.2.0"
# The new file's outputs differ from its source's by at most 5.3e-5 (the card's batch.checked):
# the 4th decimal of a result can round the other way, no more.
ROUNDING = 1e-4


@pytest.fixture(scope="module")
def classifiers():
    return Classifier(MODELS_ROOT / NEW), Classifier(MODELS_ROOT / SOURCE)


def test_the_release_runs_eight_images_at_once(classifiers):
    new, _ = classifiers
    card = json.loads((MODELS_ROOT / NEW / "model.json").read_text())
    assert new.model.batch == input_batch(card) == card["batch"]["size"] == 8
    assert card["derived_from"]["version"] == "2.2.0"


def test_single_cells_are_called_as_by_the_source(classifiers):
    new, old = classifiers
    for image in dataset_images("malaria", per_class=4):
        got, want = new.classify(image), old.classify(image)
        assert (got["label"], got["status"]) == (want["label"], want["status"])
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=ROUNDING)
        assert got["cam"]["values"] == pytest.approx(want["cam"]["values"], abs=1)


def test_every_cell_of_a_field_is_called_as_by_the_source(classifiers):
    new, old = classifiers
    for photo in malaria_field_photos()[:3]:
        got, want = new.classify_field(str(photo)), old.classify_field(str(photo))
        assert len(got["cells"]) == len(want["cells"]) > 8  # more than one batch
        for g, w in zip(got["cells"], want["cells"], strict=True):
            same = ("box", "edge", "clump", "label", "status", "status_reason")
            assert {k: g[k] for k in same} == {k: w[k] for k in same}
            assert g["confidence"] == pytest.approx(w["confidence"], abs=ROUNDING)


def test_a_part_filled_batch_gives_each_image_its_own_outputs(classifiers):
    model = classifiers[0].model
    images = [load_image(p, model.size) for p in dataset_images("malaria", per_class=5)]
    alone = [model.run_views(rgb) for rgb in images]
    for count in (1, 3, 8, 9):
        together = model.run_many(images[:count])
        assert len(together) == count
        for mine, theirs in zip(together, alone, strict=False):
            for a, b in zip(mine, theirs, strict=True):
                if a is not None:
                    np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="expected an RGB image"):
        model.run_many([images[0], images[0][:10]])


def _card(**input_changes) -> bytes:
    card = json.loads((MODELS_ROOT / NEW / "model.json").read_text())
    card["input"].update(input_changes)
    return json.dumps(card).encode()


@pytest.mark.parametrize("batch", [0, 65, "8", True, None])
def test_a_malformed_batch_is_refused(batch):
    shape = [] if batch is None else [batch, 96, 96, 3]
    with pytest.raises(ModelCardError, match="input.shape"):
        parse_model_card(_card(shape=shape))


def test_outputs_without_the_batch_are_refused():
    # the map and the outputs say batch 1 while the input says 8
    with pytest.raises(ModelCardError, match="class_activation"):
        parse_model_card(_card(shape=[1, 96, 96, 3]))
    assert input_batch(parse_model_card(_card())) == 8
    card = json.loads(_card())
    del card["input"]["shape"], card["class_activation"]
    assert input_batch(card) == 1  # a card that does not say: one image per run, as before


@pytest.mark.parametrize(
    ("source", "batch", "out", "message"),
    [
        (NEW, "8", "new", "already runs 8 images at once"),
        (SOURCE, "1", "new", "--batch must be 2 to 64"),
        (SOURCE, "65", "new", "--batch must be 2 to 64"),
        (SOURCE, "8", "existing", "is never overwritten"),
        ("int8", "8", "new", "only float16 releases are handled"),
    ],
)
def test_the_release_step_refuses_before_any_work(tmp_path, capsys, source, batch, out, message):
    folder = MODELS_ROOT / source
    if source == "int8":  # no release ships int8 today: a card that says so
        folder = tmp_path / "int8"
        folder.mkdir()
        card = json.loads((MODELS_ROOT / SOURCE / "model.json").read_text())
        (folder / "model.json").write_text(json.dumps({**card, "format": "int8"}))
    args = ["--from", str(folder), "--batch", batch]
    assert message in refused_before_any_work(batch_release_main, tmp_path, capsys, out, args)


def test_the_server_refuses_a_file_whose_batch_is_not_the_card_s():
    new, old = MODELS_ROOT / NEW, MODELS_ROOT / SOURCE
    card = json.loads((new / "model.json").read_text())
    card["file"] = json.loads((old / "model.json").read_text())["file"]  # 2.2.0's batch-1 file
    with pytest.raises(ApiError, match="takes 1 images per run, model.json says 8"):
        check_release(json.dumps(card).encode(), (old / "model.tflite").read_bytes())
