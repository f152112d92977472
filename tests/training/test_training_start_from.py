"""--start-from: a training run that begins with a released model's trained weights (for
instance, re-training the released 1.0.0 on framed images) instead of ImageNet's. The copy
is exact, and a release that does not fit the run stops it before anything is written."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.training.conftest import MALARIA, PBC, real_images
from training.paths import REPO_ROOT
from training.train import main as train_main

RELEASE = REPO_ROOT / "tflite_models" / "wbc-differential" / "1.0.0"


def test_the_training_model_starts_with_the_release_s_weights():
    import keras

    from training.model import build_model, start_from_release

    card = json.loads((RELEASE / "model.json").read_text())
    hp = card["hparams"]
    model = build_model(8, hp["image_size"], hp["alpha"], hp["dropout"], standardize=True)
    start_from_release(model, RELEASE, card["labels"])
    released = keras.saving.load_model(RELEASE / "model.keras", compile=False)
    size = (hp["image_size"], hp["image_size"])
    images = np.stack(
        [
            np.asarray(Image.open(path).convert("RGB").resize(size, Image.BILINEAR), np.float32)
            for label in ("monocyte", "platelet")
            for path in real_images(PBC, "test", label, 2)
        ]
    )
    logits = model.predict(images, verbose=0) / card["calibration"]["temperature"]
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(probabilities, released.predict(images, verbose=0)[0], atol=1e-5)


@pytest.mark.parametrize(
    "data, options, said",
    [
        (PBC, ["--image-size", "160", "--alpha", "0.5"], "--image-size"),
        (PBC, ["--image-size", "192", "--alpha", "0.35"], "--alpha"),
        (PBC, ["--image-size", "192", "--alpha", "0.5", "--colour-normalization"], "--colour"),
        (MALARIA, ["--image-size", "192", "--alpha", "0.5"], "labels"),
    ],
)
def test_a_release_that_does_not_fit_stops_the_run_before_anything_is_written(
    tmp_path, capsys, data, options, said
):
    out = tmp_path / "m" / "0.1.0"
    args = ["--data", str(data), "--out", str(out), "--start-from", str(RELEASE), *options]
    assert train_main(args) == 2
    assert said in capsys.readouterr().err and not out.exists()
