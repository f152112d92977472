"""training.red_cell_release: a malaria screen declares red-cell field mode with its figures."""

import json
import shutil

import pytest

from classifier.classify import Classifier
from training.annotations import malaria_fields
from training.paths import REPO_ROOT
from training.red_cell_release import HEADING, declare

MALARIA_1 = REPO_ROOT / "tflite_models" / "malaria-screen" / "1.0.0"


@pytest.fixture()
def trained(tmp_path):
    folder = tmp_path / "malaria-screen" / "9.9.9"
    shutil.copytree(MALARIA_1, folder)
    return folder


def test_declares_field_mode_and_writes_what_was_measured(trained):
    fields = malaria_fields()[:2]
    card = declare(trained, fields, log=lambda *_: None)
    stored = json.loads((trained / "model.json").read_text())
    assert stored == card
    assert card["input"]["field_framing"] == {"method": "rbc-segmented"}
    finder, model = card["red_cell_field"]["finder"], card["red_cell_field"]["model"]
    assert finder["photos"] == model["photos"] == 2
    assert 0 < finder["counted"]["recall"] <= 1
    assert model["cells"]["uninfected"]["cells"] > 50
    assert HEADING in (trained / "report.md").read_text()
    # the declared folder now runs red-cell field mode
    result = Classifier(trained).classify_field(str(fields[0]["photo"]))
    assert result["cell_type"] == "rbc" and len(result["cells"]) > 30


def test_refuses_a_second_declaration_and_leaves_the_card(trained):
    declare(trained, malaria_fields()[:1], log=lambda *_: None)
    before = (trained / "model.json").read_bytes()
    with pytest.raises(ValueError, match="already declares"):
        declare(trained, malaria_fields()[:1], log=lambda *_: None)
    assert (trained / "model.json").read_bytes() == before


def test_refuses_a_white_cell_model(tmp_path):
    folder = tmp_path / "wbc"
    shutil.copytree(REPO_ROOT / "tflite_models" / "wbc-differential" / "1.0.0", folder)
    before = (folder / "model.json").read_bytes()
    with pytest.raises(ValueError, match="not a malaria screen"):
        declare(folder, malaria_fields()[:1], log=lambda *_: None)
    assert (folder / "model.json").read_bytes() == before
