"""training.red_cell_release: a malaria screen declares red-cell field mode with its figures."""

import json
import shutil

import pytest

from classifier.classify import Classifier
from training.annotations import malaria_fields
from training.paths import REPO_ROOT
from training.red_cell_release import HEADING, declare, derive

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


def test_a_derived_release_carries_the_same_network_under_a_new_version(tmp_path):
    source = tmp_path / "malaria-screen" / "1.0.0"
    shutil.copytree(MALARIA_1, source)
    out = tmp_path / "malaria-screen" / "1.0.1"
    card = derive(source, out, malaria_fields()[:1], log=lambda *_: None)
    assert card["version"] == "1.0.1" and card["derived_from"]["version"] == "1.0.0"
    assert (out / "model.tflite").read_bytes() == (source / "model.tflite").read_bytes()
    assert "field_framing" not in json.loads((source / "model.json").read_text())["input"]
    assert (out / "report.md").read_text().startswith("# malaria-screen 1.0.1")
    # a release folder is never overwritten
    with pytest.raises(ValueError, match="never overwritten"):
        derive(source, out, malaria_fields()[:1], log=lambda *_: None)


def test_a_failed_derivation_leaves_no_folder(tmp_path):
    source = tmp_path / "wbc" / "1.0.0"
    shutil.copytree(REPO_ROOT / "tflite_models" / "wbc-differential" / "1.0.0", source)
    out = tmp_path / "wbc" / "1.0.1"
    with pytest.raises(ValueError, match="not a malaria screen"):
        derive(source, out, malaria_fields()[:1], log=lambda *_: None)
    assert not out.exists()
