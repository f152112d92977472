"""Red-cell field mode (classifier.cells.red_cell_field): every red cell of a thin-smear field,
each cut out on black in its own box; a photo without red cells, a white-cell close-up and a
6000x4000 photo give a clear answer; a card without the declaration keeps field mode as it was
(white cells)."""

import json

import numpy as np
import pytest
from PIL import Image

from bench.inputs import dataset_images, malaria_release
from classifier.cells.image_ops import box_mean
from classifier.cells.red_cell_field import (
    CLUMP_SCORE,
    find_red_cells,
    marked_cell,
    segmented_crop,
    squared_distance,
)
from classifier.classify import Classifier, ModelFolderError, load_photo
from tests.conftest import big_field, malaria_field_photos, red_cell_release


@pytest.fixture(scope="module")
def red_model(tmp_path_factory):
    return Classifier(red_cell_release())


@pytest.fixture(scope="module")
def first_field():
    rgb = load_photo(str(malaria_field_photos()[0]))
    return rgb, find_red_cells(rgb)


def test_every_field_gives_many_red_cells_and_edge_cells_touch_the_edge(first_field):
    rgb, found = first_field
    height, width = rgb.shape[:2]
    cells = found["cells"]
    # about 80 red cells of about 100 px on a 1600x1200 field
    assert len(cells) >= 40 and 60 < found["diameter"] < 160
    assert cells == sorted(cells, key=lambda c: c["box"])
    for cell in cells:
        x0, y0, x1, y1 = cell["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        factor = found["factor"]
        at_edge = x0 == 0 or y0 == 0 or x1 >= (width // factor) * factor
        at_edge = at_edge or y1 >= (height // factor) * factor
        assert cell["edge"] == at_edge, cell["box"]
        assert cell["score"] == (CLUMP_SCORE if cell["clump"] else 1.0)
        assert cell["mask"].any()
    assert any(c["edge"] for c in cells) and not all(c["edge"] for c in cells)


def test_a_segmented_crop_is_the_cell_on_black_in_its_own_box(first_field):
    rgb, found = first_field
    cell = next(c for c in found["cells"] if not c["edge"])
    x0, y0, x1, y1 = cell["box"]
    crop = segmented_crop(rgb, cell, found["factor"])
    assert crop.shape == (y1 - y0, x1 - x0, 3)
    black = (crop == 0).all(axis=2)
    assert 0 < black.sum() < black.size
    # the corners of a round cell's box are outside it; its centre is the cell's own pixels
    assert black[0, 0] and black[-1, -1]
    cy, cx = (y1 - y0) // 2, (x1 - x0) // 2
    assert (crop[cy, cx] == rgb[y0 + cy, x0 + cx]).all()


def test_a_marked_cell_takes_the_cell_pixels_inside_its_box(first_field):
    rgb, found = first_field
    cell = next(c for c in found["cells"] if not c["edge"])
    marked = marked_cell(found, cell["box"])
    assert marked["box"] == cell["box"] and marked["score"] is None and not marked["edge"]
    assert marked["mask"].sum() >= cell["mask"].sum()
    # on background only, the whole box is taken (a person saw a cell there)
    nothing = {**found, "cells_mask": np.zeros_like(found["cells_mask"])}
    assert marked_cell(nothing, [10, 10, 50, 40])["mask"].all()


def test_squared_distance_is_exact_and_the_image_edge_is_not_background():
    mask = np.ones((5, 7), dtype=bool)
    mask[2, 0] = False
    got = squared_distance(mask)
    assert got[2, 6] == 36 and got[0, 1] == 5 and got[2, 0] == 0
    assert got.dtype == np.int64


def test_box_mean_is_the_floored_mean_of_the_square_clipped_to_the_image():
    values = np.random.default_rng(3).integers(0, 1024, size=(9, 13)).astype(np.int32)
    got = box_mean(values, 2)
    for y in range(9):
        for x in range(13):
            window = values[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
            assert got[y, x] == int(window.sum()) // window.size, (y, x)


@pytest.mark.parametrize(
    "rgb",
    [
        np.full((1200, 1600, 3), 235, np.uint8),  # a white photo
        np.zeros((480, 640, 3), np.uint8),  # a black one
    ],
    ids=["white", "black"],
)
def test_a_photo_without_red_cells_gives_none(red_model, rgb, tmp_path):
    found = find_red_cells(rgb)
    assert found["cells"] == [] and found["diameter"] is None and found["cells_mask"] is None
    path = tmp_path / "empty.png"
    Image.fromarray(rgb).save(path)
    result = red_model.classify_field(str(path))
    assert result["cells"] == [] and result["diameter"] is None and result["cell_type"] == "rbc"


def test_a_white_cell_close_up_gives_a_clear_result(red_model):
    photo = dataset_images("pbc", per_class=1, classes=["neutrophil"])[0]
    result = red_model.classify_field(str(photo))
    # about 13 red cells, whole or cut by the edge, lie around the neutrophil
    assert result["cell_type"] == "rbc" and 5 <= len(result["cells"]) <= 20
    for cell in result["cells"]:
        assert cell["label"] in red_model.labels


def test_a_6000x4000_photo_finds_the_same_cells_scaled(tmp_path_factory, first_field):
    _, small = first_field
    big = find_red_cells(load_photo(str(big_field(tmp_path_factory.mktemp("big")))))
    assert big["diameter"] == pytest.approx(small["diameter"] * 6000 / 1600, rel=0.1)
    inner = [c for c in small["cells"] if not c["edge"]]
    assert len([c for c in big["cells"] if not c["edge"]]) == pytest.approx(len(inner), rel=0.15)


def test_field_mode_classifies_every_red_cell(red_model):
    photo = malaria_field_photos()[1]
    result = red_model.classify_field(str(photo))
    found = find_red_cells(load_photo(str(photo)))
    assert result["cell_type"] == "rbc" and result["diameter"] == found["diameter"]
    assert [c["box"] for c in result["cells"]] == [c["box"] for c in found["cells"]]
    for cell in result["cells"]:
        assert cell["label"] in red_model.labels
        assert cell["status"] in {"confident", "review", "unfamiliar"}
        assert set(cell["probabilities"]) == set(red_model.labels)


def test_a_card_without_the_declaration_keeps_white_cell_field_mode():
    classifier = Classifier(malaria_release(red_cells=False))
    assert not classifier.red_cells
    result = classifier.classify_field(str(malaria_field_photos()[1]))
    assert "cell_type" not in result and "diameter" not in result
    for cell in result["cells"]:
        assert set(cell) == {
            "box", "score", "label", "confidence", "status", "status_reason", "probabilities"
        }  # fmt: skip


def test_rbc_segmented_is_refused_as_a_close_up_framing(tmp_path):
    folder = red_cell_release(tmp_path)
    card = json.loads((folder / "model.json").read_text())
    card["input"]["framing"] = card["input"].pop("field_framing")
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelFolderError, match="input.framing"):
        Classifier(folder)
