"""`flask models export-confirmed-cells NAME OUT` (issue 12): the cells a doctor reviewed on the
dashboard, as synced by the phones with their images, become the confirmed-cells folder that
`training.site_release --cells` adapts a release to this laboratory with."""

import html
import json
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_login import login_user
from PIL import Image

from backend import db
from backend.dashboard.admin_models import ADAPTABLE_FIRST_VIEW, ADAPTATION_MIN_PER_LABEL
from backend.dashboard.review import save_review
from backend.model_delivery.cli import export_confirmed_cells_command
from backend.models import AuditEntry, Prediction, User
from backend.sync import cell_images
from tests.conftest import cell_record, make_record, pbc_images, publish_folder, push, statuses
from tests.dashboard.conftest import sign_in
from training.site_release import MIN_PER_CLASS, read_cells
from training.view_mean_release import OWN_VIEW

WBC_RELEASE = Path(__file__).parents[2] / "tflite_models" / "wbc-differential" / "2.8.0"


def review(app, record_id: str, label: str) -> None:
    """A review saved the way the dashboard saves it."""
    with app.test_request_context():
        login_user(db.session.scalar(sa.select(User).where(User.username == "viewer")))
        prediction = db.session.scalar(sa.select(Prediction).where(Prediction.id == record_id))
        save_review(prediction, label, None)
        db.session.commit()


def export(app, *args):
    return app.test_cli_runner().invoke(export_confirmed_cells_command, [str(a) for a in args])


def test_reviewed_cells_are_exported_under_the_doctors_label(app, client, auth, tmp_path):
    monocytes, neutrophils = pbc_images("monocyte", 5), pbc_images("neutrophil", 2)
    confirmed = [cell_record("monocyte", path) for path in monocytes]
    changed = cell_record("monocyte", neutrophils[0])  # the phone said monocyte; it is not
    unreviewed = cell_record("neutrophil", neutrophils[1])
    no_image = make_record()
    artefact = cell_record("monocyte", monocytes[1])  # a person's label, not a model class
    other_model = cell_record("monocyte", monocytes[0], model_name="other")
    records = [*confirmed, changed, unreviewed, no_image, artefact, other_model]
    assert set(statuses(push(client, auth.headers("tech"), records))) == {"created"}
    for record in confirmed:
        review(app, record["id"], "monocyte")
    review(app, changed["id"], "neutrophil")
    review(app, no_image["id"], "lymphocyte")
    review(app, artefact["id"], "artefact")
    review(app, other_model["id"], "monocyte")

    out = tmp_path / "confirmed"
    result = export(app, "cells", out)
    assert result.exit_code == 0, result.output
    assert (
        "6 reviewed cells of cells" in result.output and "monocyte 5, neutrophil 1" in result.output
    )
    assert "Left out: 1 no stored image; 1 reviewed as no class of the model." in result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(
        [*(f"monocyte/{r['id']}.jpg" for r in confirmed), f"neutrophil/{changed['id']}.jpg"]
    )
    with app.app_context():  # the stored image itself, byte for byte
        path = db.session.scalar(
            sa.select(Prediction.image_path).where(Prediction.id == changed["id"])
        )
        assert (out / "neutrophil" / f"{changed['id']}.jpg").read_bytes() == cell_images.read(path)
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "cells.export"))
        assert entry.target == "cells" and entry.details["cells"] == {
            "monocyte": 5,
            "neutrophil": 1,
        }
    with Image.open(out / "monocyte" / f"{confirmed[0]['id']}.jpg") as image:
        assert image.format == "JPEG"
    # training.site_release reads the folder, and says what is missing
    labels = ["lymphocyte", "monocyte", "neutrophil"]
    with pytest.raises(ValueError, match="too few confirmed cells of {'neutrophil': 1}"):
        read_cells(out, labels)
    shutil.rmtree(out / "neutrophil")
    paths, y = read_cells(out, labels)
    assert len(paths) == 5 and set(y) == {1}


def test_an_earlier_export_is_never_overwritten(app, client, auth, tmp_path):
    record = cell_record("monocyte", pbc_images("monocyte", 1)[0])
    push(client, auth.headers("tech"), [record])
    review(app, record["id"], "monocyte")
    out = tmp_path / "confirmed"
    assert export(app, "cells", out).exit_code == 0
    before = sorted(out.rglob("*"))
    again = export(app, "cells", out)
    assert again.exit_code != 0 and "exists: export into a new folder" in again.output
    assert sorted(out.rglob("*")) == before


def test_the_models_page_counts_each_labels_confirmed_cells_for_an_adaptable_release(
    app, client, auth, releases
):
    assert (ADAPTABLE_FIRST_VIEW, ADAPTATION_MIN_PER_LABEL) == (OWN_VIEW, MIN_PER_CLASS)
    sign_in(client, "admin")
    publish_folder(app, releases["v1"])  # calls on one view: site_release cannot adapt it
    page = client.get("/dashboard/admin/models").text
    assert "Confirmed cells of this laboratory" not in page

    publish_folder(app, WBC_RELEASE)  # it calls on both views
    monocytes, neutrophil = pbc_images("monocyte", 5), pbc_images("neutrophil", 1)[0]
    name = {"model_name": "wbc-differential"}
    records = [cell_record("monocyte", path, **name) for path in monocytes]
    records += [cell_record("neutrophil", neutrophil, **name), make_record(**name)]  # no image
    assert set(statuses(push(client, auth.headers("tech"), records))) == {"created"}
    for record in records[:5]:
        review(app, record["id"], "monocyte")
    review(app, records[5]["id"], "neutrophil")
    review(app, records[6]["id"], "lymphocyte")  # no stored image: not counted

    page = " ".join(html.unescape(client.get("/dashboard/admin/models").text).split())
    assert page.count("Confirmed cells of this laboratory") == 1  # wbc-differential's only
    row = r'<tr><th scope="row">(\w+)</th><td class="num">(\d+)</td> <td>(.*?)</td>'
    counted = {
        label: (int(n), re.sub("<[^>]+>", "", why)) for label, n, why in re.findall(row, page)
    }
    labels = json.loads((WBC_RELEASE / "model.json").read_text())["labels"]
    assert counted == {
        **{label: (0, "none: called as trained") for label in labels},
        "monocyte": (5, "enough"),
        "neutrophil": (1, "too few: 4 more, or leave this label's folder out of the export"),
    }
    french = client.get("/dashboard/admin/models", headers={"Accept-Language": "fr"}).text
    french = " ".join(html.unescape(french).split())
    assert "Cellules confirmées de ce laboratoire" in french and "trop peu : encore 4" in french
