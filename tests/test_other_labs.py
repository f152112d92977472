"""The model card's other-labs section (training.other_labs): measured on the real release and
the real bccd-fields photos, stored once in model.json and report.md however often it is run."""

import json
import shutil

from tests.framing_support import base_release
from training import other_labs


def test_the_other_labs_check_is_written_once_into_the_model_card(tmp_path):
    release = tmp_path / "wbc-differential" / "1.0.0"
    shutil.copytree(base_release(), release)
    check = other_labs.field_check(release)
    assert check["photos"] == 162 and check["white_cells_found"] >= 160
    assert sum(check["labels"].values()) == sum(check["statuses"].values())
    assert sum(check["labels"].values()) == check["white_cells_found"]
    wrong = sum(check["labels"].get(k, 0) for k in other_labs.NOT_WHITE_CELLS)
    assert check["called_platelet_or_erythroblast"] == wrong >= check["of_those_confident"]
    for _ in range(2):
        other_labs.write(release, check)
    card = json.loads((release / "model.json").read_text())
    assert card["other_labs"] == check
    report = (release / "report.md").read_text()
    assert report.count(other_labs.HEADING) == 1 and report.count("## Limits") == 1
    assert report.index(other_labs.HEADING) < report.index("## Limits")
    assert f"{check['white_cells_found']} white cells found" in report
    assert "**not measured**" in report
