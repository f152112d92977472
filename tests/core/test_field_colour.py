"""Field colour standardisation (classifier.cells.field_colour, input.field_framing.colour): the
photo's red-cell colours moved to the training crops' by one map per channel; declared by
training.red_cell_release --field-colour; what it does on malaria-fields (another site)."""

import copy
import json
import shutil

import numpy as np
import pytest

from bench.red_cell_fields import model_on_fields
from classifier.cells.field_colour import (
    MIN_CELLS,
    cell_statistics,
    colour_of,
    colour_table,
    field_colour,
    standardised,
)
from classifier.cells.model_framing import field_framing_of
from classifier.cells.red_cell_field import find_red_cells, segmented_crop
from classifier.classify import Classifier, load_photo
from tests.conftest import malaria_field_photos, red_cell_release
from training.annotations import malaria_fields
from training.paths import REPO_ROOT, datasets_root
from training.red_cell_release import declare, training_colour

COLOUR = {"cell_mean": [191.18, 152.19, 160.54], "cell_std": [20.69, 19.73, 17.15]}


@pytest.fixture(scope="module")
def field():
    rgb = load_photo(str(malaria_field_photos()[0]))
    found = find_red_cells(rgb)
    crops = [segmented_crop(rgb, cell, found["factor"]) for cell in found["cells"]]
    return {"found": found, "crops": crops, "edge": [c["edge"] for c in found["cells"]]}


@pytest.mark.parametrize(
    "colour, message",
    [
        ("grey", "must be an object"),
        ({"cell_mean": [1, 2], "cell_std": [1, 1, 1]}, "cell_mean must be three numbers"),
        ({"cell_mean": [1, 2, 300], "cell_std": [1, 1, 1]}, "cell_mean must be three numbers"),
        ({"cell_mean": [1, 2, 3], "cell_std": [1, 0, 1]}, r"cell_std must be three numbers in \(0"),
        ({"cell_mean": [1, 2, 3], "cell_std": [1, True, 1]}, "cell_std must be three numbers"),
        ({"cell_mean": [1, 2, float("nan")], "cell_std": [1, 1, 1]}, "cell_mean must be"),
    ],
)
def test_a_malformed_declaration_is_refused_with_what_is_wrong(colour, message):
    card = {"input": {"field_framing": {"method": "rbc-segmented", "colour": colour}}}
    with pytest.raises(ValueError, match=message):
        field_framing_of(card)


def test_the_declaration_is_read_and_other_keys_are_ignored():
    declared = {**COLOUR, "measured_on": "the training crops"}
    card = {"input": {"field_framing": {"method": "rbc-segmented", "colour": declared}}}
    assert field_framing_of(card) == {"method": "rbc-segmented", "colour": COLOUR}
    assert colour_of({"method": "rbc-segmented"}) is None


def test_statistics_are_those_of_the_cell_pixels_only(field):
    crops = field["crops"][:12]
    pixels = np.concatenate([c.reshape(-1, 3) for c in crops])
    pixels = pixels[pixels.any(axis=1)].astype(np.float64)
    got = cell_statistics(crops)
    assert got["cells"] == 12 and got["pixels"] == len(pixels)
    assert got["mean"] == pytest.approx(list(pixels.mean(axis=0)), abs=1e-9)
    assert got["std"] == pytest.approx(list(pixels.std(axis=0)), abs=1e-6)


def test_the_photo_s_cells_come_out_with_the_training_colours(field):
    table, report = field_colour(field["crops"], field["edge"], COLOUR)
    assert report["standardised"] and report["cells"] == field["edge"].count(False)
    counted = [c for c, cut in zip(field["crops"], field["edge"], strict=True) if not cut]
    after = cell_statistics([standardised(crop, table) for crop in counted])
    # rounding to whole levels and the few pixels clipped at 0 or 255 move them a little
    assert after["mean"] == pytest.approx(COLOUR["cell_mean"], abs=1.0)
    assert after["std"] == pytest.approx(COLOUR["cell_std"], rel=0.05)


def test_the_background_stays_black_and_the_outline_is_kept(field):
    table, _ = field_colour(field["crops"], field["edge"], COLOUR)
    crop = field["crops"][3]
    out = standardised(crop, table)
    assert out.shape == crop.shape and out is not crop
    assert np.array_equal(out.any(axis=2), crop.any(axis=2))
    # the table is monotonic: a darker pixel stays darker (a parasite against its cell)
    assert all(np.all(np.diff(table[c].astype(int)) >= 0) for c in range(3))


def test_too_few_cells_leave_the_colours_as_they_are(field):
    few = field["crops"][: MIN_CELLS - 1]
    table, report = field_colour(few, [False] * len(few), COLOUR)
    assert table is None and report["standardised"] is False and report["cells"] == MIN_CELLS - 1
    assert standardised(few[0], None) is few[0]
    # a photo with fewer counted cells is judged on all of its cells, edge ones too
    edge = [k >= MIN_CELLS - 1 for k in range(MIN_CELLS + 3)]
    table, report = field_colour(field["crops"][: MIN_CELLS + 3], edge, COLOUR)
    assert report["cells"] == MIN_CELLS + 3 and table is not None
    flat = [np.full((4, 4, 3), 120, np.uint8)] * MIN_CELLS
    assert colour_table(cell_statistics(flat), COLOUR) is None  # no spread: nothing to scale


def test_the_released_screen_reports_its_field_colours_and_old_ones_do_not(tmp_path):
    folder = red_cell_release()
    card = json.loads((folder / "model.json").read_text())
    assert "colour" in card["input"]["field_framing"], f"{folder.name} declares no field colour"
    photo = str(malaria_field_photos()[1])
    result = Classifier(folder).classify_field(photo)
    assert result["colour"]["standardised"] is True
    assert result["colour"]["cells"] == sum(not c["edge"] for c in result["cells"])
    # the same network without the declaration: other crops, no report
    plain = tmp_path / "malaria-screen" / folder.name
    shutil.copytree(folder, plain, ignore=shutil.ignore_patterns("*.keras", "*.png"))
    stripped = copy.deepcopy(card)
    del stripped["input"]["field_framing"]["colour"]
    (plain / "model.json").write_text(json.dumps(stripped))
    without = Classifier(plain).classify_field(photo)
    assert "colour" not in without
    assert [c["box"] for c in without["cells"]] == [c["box"] for c in result["cells"]]
    assert [c["probabilities"] for c in without["cells"]] != [
        c["probabilities"] for c in result["cells"]
    ]
    old = REPO_ROOT / "tflite_models" / "malaria-screen" / "1.2.0"
    assert "colour" not in Classifier(old).classify_field(photo)


def test_a_hand_marked_cell_is_judged_by_the_whole_photo_s_colours():
    folder = red_cell_release()
    classifier = Classifier(folder)
    rgb = load_photo(str(malaria_field_photos()[0]))
    whole = classifier._classify_red_cells(rgb)
    inner = next(c for c in whole["cells"] if not c["edge"])
    marked = classifier._classify_red_cells(rgb, [inner["box"]])
    assert marked["colour"] == whole["colour"]
    assert marked["cells"][0]["probabilities"] == inner["probabilities"]


def test_declared_by_the_release_step_from_the_training_crops(tmp_path):
    folder = tmp_path / "malaria-screen" / "9.9.9"
    shutil.copytree(REPO_ROOT / "tflite_models" / "malaria-screen" / "1.0.0", folder)
    colour = training_colour(datasets_root() / "malaria")
    assert colour_of({"colour": colour}) is not None and "training crops" in colour["measured_on"]
    card = declare(folder, malaria_fields()[:1], log=lambda *_: None, colour=colour)
    assert card["input"]["field_framing"] == {"method": "rbc-segmented", "colour": colour}
    assert "colour" in (folder / "report.md").read_text()


# What the released screen does with another site's cells (malaria-fields; the model never saw
# them, the finder was tuned on them): floors under what its card records.
def test_another_site_s_uninfected_cells_are_rarely_called_parasitized():
    figures = model_on_fields(red_cell_release())
    assert figures["uninfected_called_parasitized"] <= 0.03, figures
    assert figures["confident_calls_right"] >= 0.97, figures
    assert figures["cells"]["uninfected"]["cells"] >= 550, figures
