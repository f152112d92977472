"""The colour normalisation inside the model (training.model.PerImageStandardization): a colour
cast of another lab's stain or lamp (a gain and offset per channel) reaches the network only
with `per_channel`; exposure alone is removed either way."""

import numpy as np

from tests.training.conftest import PBC, real_images


def standardized(images: np.ndarray, per_channel: bool) -> np.ndarray:
    from training.model import PerImageStandardization

    return np.asarray(PerImageStandardization(per_channel)(images.astype(np.float32)))


def test_a_colour_cast_is_removed_only_per_channel():
    from PIL import Image

    image = np.asarray(Image.open(real_images(PBC, "test", "neutrophil", 1)[0]).convert("RGB"))
    image = image.astype(np.float32)[None]
    cast = image * np.array([0.8, 0.95, 0.9]) + np.array([10.0, 0.0, 20.0])  # no clipping
    brighter = image * 0.8 + 30.0
    for per_channel in (False, True):
        same = standardized(np.concatenate([image, brighter]), per_channel)
        assert np.abs(same[0] - same[1]).mean() < 0.02  # exposure: gone either way
    kept = standardized(np.concatenate([image, cast]), per_channel=False)
    removed = standardized(np.concatenate([image, cast]), per_channel=True)
    assert np.abs(kept[0] - kept[1]).mean() > 0.1
    assert np.abs(removed[0] - removed[1]).mean() < 0.02
    assert np.allclose(removed.mean(axis=(1, 2)), 0.0, atol=1e-2)


def test_the_layer_setting_survives_saving(tmp_path):
    import keras

    from training.model import build_model

    model = build_model(3, 32, 0.35, 0.2, standardize=True, per_channel=True)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("standardize").per_channel is True
