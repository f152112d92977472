"""training.augment: the zoom range that lets a model meet other labs' framings."""

import numpy as np
import pytest
import tensorflow as tf

from training.augment import ZOOM, _recolour, _reframe


def disc_area_after(zoom: float) -> int:
    size = 96
    yy, xx = np.mgrid[:size, :size]
    disc = ((xx - size / 2 + 0.5) ** 2 + (yy - size / 2 + 0.5) ** 2 < 12**2).astype(np.float32)
    image = tf.constant(np.repeat(disc[..., None], 3, axis=-1) * 255.0)
    tf.random.set_seed(0)
    out = _reframe(image, (zoom, zoom)).numpy()[..., 0]
    # Only around the centre: zoomed out, the reflected border shows copies of the disc
    # further away (at least 0.55 x 96 px, less the shift of up to 12%).
    near = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 < 38**2
    return int(((out > 127) & near).sum()), int(disc.sum())


@pytest.mark.parametrize("zoom", [0.55, 2.0])
def test_a_zoom_scales_the_cell_area_by_its_square(zoom):
    # aspect and shift are random too: the area still follows zoom^2 within the aspect's 15%
    after, before = disc_area_after(zoom)
    assert after / before == pytest.approx(zoom**2, rel=0.2)


def test_the_wide_range_reaches_tight_and_loose_crops():
    assert ZOOM["strong"] == (0.8, 1.3)  # the released 1.x recipe, unchanged
    for strength in ("strong-wide", "strong-wide-stain"):
        low, high = ZOOM[strength]
        assert low <= 0.6 and high >= 1.8


def test_train_refuses_an_unknown_augment_strength(tmp_path, capsys):
    from training.train import main as train_main

    with pytest.raises(SystemExit):
        train_main(["--data", "pbc", "--out", str(tmp_path), "--augment", "stronk"])
    message = (
        "--augment must be one of strong, strong-wide, strong-stain, strong-wide-stain, light, none"
    )
    assert message in capsys.readouterr().err


def test_strong_stain_recolours_to_other_hues_and_often_to_grey():
    # a pink red cell on black: re-coloured, it takes other hues, is often nearly grey, and
    # keeps its black background and its brightness order
    pink = np.zeros((32, 32, 3), np.float32)
    pink[8:24, 8:24] = (220.0, 120.0, 150.0)
    tf.random.set_seed(3)
    outs = [_recolour(tf.constant(pink)).numpy() for _ in range(40)]
    cells = np.array([out[16, 16] for out in outs])
    spread = cells.max(axis=1) - cells.min(axis=1)  # 0 for grey
    assert (spread < 0.4 * 100).sum() >= 5  # near grey now and then (pink's spread is 100)
    assert len({int(np.argmax(c)) for c in cells if c.max() - c.min() > 30}) >= 2
    assert all(np.abs(out[0, 0]).max() < 1e-3 for out in outs)
