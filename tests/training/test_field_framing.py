"""Field framing of a whole-image model (input.field_framing): every white cell found in a field
photo is cut out `span` red-cell diameters wide, as wide as the model's training photos, and
`python -m training.field_framing` derives such a release from a whole-image one (the same
.tflite) with the span measured on its training photos and field mode scored in its card."""

import hashlib
import json
import shutil

import pytest

from classifier.cells.finder import survey
from classifier.cells.framing import CELL_FILL, frame_cell, frame_square, scaled_window
from classifier.cells.model_framing import field_framing_of
from classifier.classify import Classifier, ModelFolderError, load_photo
from tests.training.conftest import make_dataset
from training.field_framing import main as derive_main
from training.field_framing import training_span
from training.paths import REPO_ROOT

RELEASES = REPO_ROOT / "tflite_models" / "wbc-differential"
LABELS = ("basophil", "eosinophil", "erythroblast", "ig", "lymphocyte", "monocyte",
          "neutrophil", "platelet")  # fmt: skip


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def field_cells_and_frames(classifier: Classifier, photo):
    """classify_field's cells, the white cells the finder finds, and each one's expected frame."""
    rgb = load_photo(str(photo))
    cells, diameter = survey(rgb)
    white = [c for c in cells if c["type"] == "wbc"]
    framing, size = classifier.field_framing, classifier.size
    frames = [
        frame_square(rgb, *scaled_window(c["box"], rgb.shape, diameter, framing["span"]), size)
        if framing
        else frame_cell(rgb, c["box"], size, CELL_FILL)
        for c in white
    ]
    return classifier.classify_field(str(photo))["cells"], white, frames


@pytest.mark.parametrize("version, framed_by_span", [("1.1.0", True), ("1.0.0", False)])
def test_field_cells_are_cut_out_span_diameters_wide_when_declared(version, framed_by_span):
    from training.annotations import bccd_photos

    classifier = Classifier(RELEASES / version)
    assert classifier.framing is None  # single-cell images: the whole image, as before
    assert (classifier.field_framing is not None) == framed_by_span
    for photo in bccd_photos("held-out")[:3]:
        got, white, frames = field_cells_and_frames(classifier, photo)
        assert [c["box"] for c in got] == [c["box"] for c in white] and white
        for cell, frame in zip(got, frames, strict=True):
            want = classifier.classify_array(frame)
            assert {k: cell[k] for k in want} == want, photo


def test_the_released_field_framing_is_1_0_0_s_network_with_its_measured_span():
    card = json.loads((RELEASES / "1.1.0" / "model.json").read_text())
    network = [sha256(RELEASES / v / "model.tflite") for v in ("1.0.0", "1.1.0")]
    assert network[0] == network[1]
    assert card["input"]["field_framing"] == {
        "method": "rbc-scaled",
        "span": card["field_mode"]["span"]["span"],
    }
    before, after = card["field_mode"]["test"].values()
    assert after["accuracy"] > before["accuracy"]
    assert after["confident_wrong"] < before["confident_wrong"]


@pytest.mark.parametrize(
    "field_framing, error",
    [
        ({"method": "rbc-scaled", "span": 0.5}, "input.field_framing.span"),
        ({"method": "centre", "span": 4}, "input.field_framing.method"),
        ("wide", "input.field_framing.method"),
    ],
)
def test_a_malformed_field_framing_is_refused_when_the_model_is_loaded(
    tmp_path, field_framing, error
):
    folder = tmp_path / "m"
    shutil.copytree(RELEASES / "1.1.0", folder)
    card = json.loads((folder / "model.json").read_text())
    card["input"]["field_framing"] = field_framing
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelFolderError, match=error):
        Classifier(folder)


def test_a_framed_model_frames_field_cells_by_its_own_framing_and_declares_no_other():
    scaled = {"method": "rbc-scaled", "span": 3.5}
    assert field_framing_of({"input": {"framing": scaled}}) == scaled
    assert field_framing_of({"input": {}}) is None
    with pytest.raises(ValueError, match="whole-image models"):
        field_framing_of({"input": {"framing": scaled, "field_framing": scaled}})


@pytest.mark.slow
def test_deriving_a_release_measures_the_span_on_training_photos_and_scores_field_mode(
    tmp_path, capsys
):
    data = make_dataset(tmp_path / "data", labels=LABELS, per_class=2)
    out = tmp_path / "models" / "wbc-differential" / "1.1.0"
    assert derive_main([str(RELEASES / "1.0.0"), str(out), "--data", str(data)]) == 0
    card = json.loads((out / "model.json").read_text())
    from training.dataset import scan

    span = training_span(scan(data))
    assert span["measured"] == span["photos"] == 16
    assert card["version"] == "1.1.0" and card["derived_from"]["version"] == "1.0.0"
    assert card["input"]["field_framing"] == {"method": "rbc-scaled", "span": span["span"]}
    assert sha256(out / "model.tflite") == sha256(RELEASES / "1.0.0" / "model.tflite")
    assert [m["photos"] for m in card["field_mode"]["test"].values()] == [16, 16]
    field_rule = card["decision"]["field"]
    assert 0.5 <= field_rule["confident_at_or_above"] <= 1.0
    assert "validation photos" in field_rule["chosen_on"]
    source_decision = json.loads((RELEASES / "1.0.0" / "model.json").read_text())["decision"]
    assert {k: v for k, v in card["decision"].items() if k != "field"} == source_decision
    report = (out / "report.md").read_text()
    assert f"from a top probability of {field_rule['confident_at_or_above']}" in report
    assert report.startswith("# wbc-differential 1.1.0")
    assert f"cut out {span['span']} red-cell diameters wide" in report
    assert "## Other laboratories" in report and card["other_labs"]["white_cells_found"] > 150
    assert json.loads(capsys.readouterr().out)["span"] == span


def test_deriving_refuses_an_existing_folder_and_a_release_that_frames_already(tmp_path, capsys):
    existing = tmp_path / "1.0.1"
    existing.mkdir()
    assert derive_main([str(RELEASES / "1.0.0"), str(existing)]) == 2
    assert "never overwritten" in capsys.readouterr().err and not any(existing.iterdir())
    out = tmp_path / "2.0.0"
    assert derive_main([str(RELEASES / "1.1.0"), str(out)]) == 2
    assert "already frames" in capsys.readouterr().err and not out.exists()
