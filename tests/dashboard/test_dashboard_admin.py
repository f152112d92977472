"""Administration pages (admin only): accounts, model versions, the audit log."""

import csv
import html
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import ROLES, AuditEntry, ModelVersion, User
from tests.dashboard.conftest import post_form, sign_in

USERS = "/dashboard/admin/users"
MODELS = "/dashboard/admin/models"


def _user(app, username: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is not None:
            db.session.expunge(user)
        return user


def _actions(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        query = sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(db.session.scalars(query))


def _create(client, username: str, role: str, password: str = "a long password"):
    data = {"username": username, "password": password, "role": role}
    return post_form(client, USERS, USERS, data)


def test_an_admin_creates_accounts_that_can_sign_in(app, client):
    sign_in(client, "admin")
    assert _create(client, "Nurse.Ada", "technician").status_code == 302
    assert _create(client, "dr.bob", "viewer").status_code == 302
    assert (_user(app, "nurse.ada").role, _user(app, "dr.bob").role) == ("technician", "viewer")
    page = client.get(USERS).get_data(as_text=True)
    assert "nurse.ada" in page and "dr.bob" in page
    created = [(e.username, e.target, e.details["role"]) for e in _actions(app, "user.create")]
    assert ("admin", "nurse.ada", "technician") in created
    assert sign_in(client, "dr.bob", "a long password").status_code == 302


def test_the_new_account_form_starts_on_the_least_privilege(client):
    sign_in(client, "admin")
    page = client.get(USERS).text
    form = page[page.index('class="inline-form"') : page.index("Create account")]
    assert re.findall(r"<option (?:selected )?value=\"(\w+)\"", form) == list(ROLES)
    assert re.findall(r"<option selected value=\"(\w+)\"", form) == ["viewer"]


@pytest.mark.parametrize(
    "username,password,role,status,message",
    [
        ("viewer", "a long password", "viewer", 409, "is taken"),
        ("new.user", "short", "viewer", 400, "at least 8"),
        ("no spaces allowed", "a long password", "viewer", 400, "letters, digits"),
        ("new.user", "a long password", "superuser", 400, "Not a valid choice"),
        ("", "a long password", "viewer", 400, "This field is required"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(
    app, client, username, password, role, status, message
):
    sign_in(client, "admin")
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    response = _create(client, username, role, password)
    assert response.status_code == status
    assert message in html.unescape(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before


def test_role_change_disable_enable_and_password_reset(app, client):
    sign_in(client, "admin")
    tech = _user(app, "tech")
    assert (
        post_form(
            client, USERS, f"{USERS}/{tech.id}/role", {f"u{tech.id}-role": "viewer"}
        ).status_code
        == 302
    )
    assert _user(app, "tech").role == "viewer"
    post_form(client, USERS, f"{USERS}/{tech.id}/active", {})
    assert _user(app, "tech").active is False
    assert sign_in(client, "tech").status_code == 401
    sign_in(client, "admin")
    post_form(client, USERS, f"{USERS}/{tech.id}/active", {"active": "y"})
    post_form(client, USERS, f"{USERS}/{tech.id}/password", {"password": "a brand new secret"})
    assert sign_in(client, "tech").status_code == 401  # the old password no longer works
    assert sign_in(client, "tech", "a brand new secret").status_code == 302
    changes = [e.details for e in _actions(app, "user.update")]
    assert changes == [
        {"role": {"from": "technician", "to": "viewer"}},
        {"active": {"from": True, "to": False}},
        {"active": {"from": False, "to": True}},
        {"password": "reset"},
    ]


def test_the_last_active_admin_cannot_be_disabled_or_demoted(app, client):
    sign_in(client, "admin")
    admin = _user(app, "admin")
    response = post_form(client, USERS, f"{USERS}/{admin.id}/active", {})
    assert response.status_code == 409 and "no active admin" in response.get_data(as_text=True)
    response = post_form(client, USERS, f"{USERS}/{admin.id}/role", {f"u{admin.id}-role": "viewer"})
    assert response.status_code == 409
    admin = _user(app, "admin")
    assert admin.active and admin.role == "admin"
    assert client.get(USERS).status_code == 200  # still signed in as an admin


@pytest.mark.parametrize(
    "password,message",
    [
        ("short", "at least 8"),
        (" " * 8, "not counting spaces"),
        ("Password123", "most common passwords"),
    ],
)
def test_a_weak_password_is_refused_on_reset_and_on_create(app, client, password, message):
    sign_in(client, "admin")
    viewer = _user(app, "viewer")
    response = post_form(client, USERS, f"{USERS}/{viewer.id}/password", {"password": password})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    response = _create(client, "new.user", "viewer", password)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert _user(app, "new.user") is None
    assert sign_in(client, "viewer").status_code == 302


def _zip(files: dict[str, bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    out.seek(0)
    return out


def _with_metrics(folder: Path) -> bytes:
    card = json.loads((folder / "model.json").read_text())
    card["metrics"] = {"test": {"accuracy": 0.9312, "macro_f1": 0.9104}, "ece": 0.021}
    return json.dumps(card).encode()


def _publish_zip(client, files: dict[str, bytes], activate: bool = False):
    data = {"release_zip": (_zip(files), "release.zip")}
    if activate:
        data["activate"] = "y"
    return post_form(client, MODELS, MODELS, data, content_type="multipart/form-data")


def _active(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ModelVersion.version).where(ModelVersion.active)))


def test_publish_from_a_zip_see_metrics_activate_and_roll_back(app, client, releases):
    sign_in(client, "admin")
    v1, v2 = releases["v1"], releases["v2"]
    files = {
        "cells/1.0.0/model.json": _with_metrics(v1),
        "cells/1.0.0/model.tflite": (v1 / "model.tflite").read_bytes(),
    }
    assert _publish_zip(client, files, activate=True).status_code == 302
    page = client.get(MODELS).get_data(as_text=True)
    assert "test.accuracy" in page and "0.9312" in page and "ece" in page
    data = {
        "model_file": (io.BytesIO((v2 / "model.tflite").read_bytes()), "model.tflite"),
        "meta_file": (io.BytesIO((v2 / "model.json").read_bytes()), "model.json"),
    }
    response = post_form(client, MODELS, MODELS, data, content_type="multipart/form-data")
    assert response.status_code == 302 and _active(app) == ["1.0.0"]
    with app.app_context():
        v2_id = db.session.scalar(sa.select(ModelVersion.id).where(ModelVersion.version == "2.0.0"))
    # Unconfirmed, neither activate nor rollback changes anything.
    for action in (f"{v2_id}/activate", "cells/rollback"):
        response = post_form(client, MODELS, f"{MODELS}/{action}", {})
        assert response.status_code == 400 and "Tick the box to confirm." in response.text
        assert _active(app) == ["1.0.0"]
    assert _actions(app, "model.rollback") == [] and len(_actions(app, "model.activate")) == 1
    page = client.get(MODELS).text
    assert 'type="checkbox" name="confirm" value="y" required' in page
    confirmed = {"confirm": "y"}
    assert post_form(client, MODELS, f"{MODELS}/{v2_id}/activate", confirmed).status_code == 302
    assert _active(app) == ["2.0.0"]
    assert post_form(client, MODELS, f"{MODELS}/cells/rollback", confirmed).status_code == 302
    assert _active(app) == ["1.0.0"]
    assert client.get("/api/models").get_json()["models"][0]["version"] == "1.0.0"
    actions = [(e.action, e.target) for e in _actions(app, "model.rollback")]
    assert actions == [("model.rollback", "cells 1.0.0")]
    assert len(_actions(app, "model.publish")) == 2


def _adapted(folder: Path, version: str, site_adaptation) -> dict[str, bytes]:
    """`folder`'s release as `version`, its card carrying `site_adaptation` (as
    training.site_release writes it, or not)."""
    card = json.loads((folder / "model.json").read_text())
    card.update(version=version, site_adaptation=site_adaptation)
    return {
        f"cells/{version}/model.json": json.dumps(card).encode(),
        f"cells/{version}/model.tflite": (folder / "model.tflite").read_bytes(),
    }


def test_a_release_adapted_to_one_lab_shows_that_labs_figures_and_where_it_belongs(
    client, releases
):
    sign_in(client, "admin")
    adapted = {
        "site": "Hospital X haematology",
        "cells": {"lymphocyte": 10, "monocyte": 10, "neutrophil": 12},
        "cross_validated": {
            "folds": 5,
            "before": {"right": 0.656, "wrong_calls_confident": 0.011},
            "after": {"right": 0.894, "wrong_calls_confident": 0.071},
        },
        "familiarity": {  # the lab's cells were unfamiliar: familiarity learned them
            "site_component": True,
            "unfamiliar": {"lab_cells_out_of_fold": [0.967, 0.0]},
        },
    }
    assert _publish_zip(client, _adapted(releases["v1"], "1.0.0-hx", adapted)).status_code == 302
    broken = {"site": "Lab Y", "cells": "many"}  # unreadable: the page still shows
    assert _publish_zip(client, _adapted(releases["v2"], "2.0.0-y", broken)).status_code == 302
    page = html.unescape(client.get(MODELS).text)
    assert (
        "Adapted to Hospital X haematology from 32 confirmed cells: right on them "
        "(cross-validated) 65.6% → 89.4%; wrong calls marked confident 1.1% → 7.1%. "
        "Activate it only on a server whose phones all work at that laboratory. It also "
        "learned what the lab's cells look like, so they are no longer flagged as unfamiliar: "
        "unfamiliar among them 96.7% → 0.0%."
    ) in " ".join(page.split())
    assert "Lab Y" not in page and page.count("Adapted to") == 1
    french = client.get(MODELS, headers={"Accept-Language": "fr"}).text
    page = " ".join(html.unescape(french).split())
    assert "Adapté à Hospital X haematology à partir de 32 cellules confirmées" in page
    assert "inconnues parmi elles 96.7% → 0.0%" in page
    adapted["familiarity"]["site_component"] = False  # familiarity kept: nothing said of it
    assert _publish_zip(client, _adapted(releases["v2"], "2.0.0-hx", adapted)).status_code == 302
    page = html.unescape(client.get(MODELS).text)
    assert page.count("Adapted to Hospital X") == 2 and page.count("It also learned") == 1


@pytest.mark.parametrize(
    "files,message",
    [
        ({"notes.txt": b"hello"}, "has no model.json"),
        ({"model.json": b"{not json"}, "not a JSON object"),
        ("model-only-json", "has no model.tflite"),
        ("wrong-sha", "does not match the file"),
        ("not-a-zip", "not a valid .zip"),
    ],
)
def test_a_bad_release_is_refused_and_nothing_is_published(app, client, releases, files, message):
    sign_in(client, "admin")
    v1 = releases["v1"]
    model = (v1 / "model.tflite").read_bytes()
    if files == "model-only-json":
        files = {"model.json": (v1 / "model.json").read_bytes()}
    elif files == "wrong-sha":
        files = {
            "model.json": (v1 / "model.json").read_bytes(),
            "model.tflite": model[:-8] + b"x" * 8,
        }
    if files == "not-a-zip":
        data = {"release_zip": (io.BytesIO(b"PK but not really"), "release.zip")}
        response = post_form(client, MODELS, MODELS, data, content_type="multipart/form-data")
    else:
        response = _publish_zip(client, files)
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ModelVersion)) == 0


def test_rollback_without_an_earlier_version_says_so(client):
    sign_in(client, "admin")
    response = post_form(client, MODELS, f"{MODELS}/cells/rollback", {"confirm": "y"})
    assert response.status_code == 409 and "no earlier active version" in response.get_data(
        as_text=True
    )


def test_the_audit_log_filters_and_exports_csv(app, client):
    sign_in(client, "viewer", "wrong password")
    sign_in(client, "tech")
    client.get("/dashboard/admin/users")  # denied, audited
    sign_in(client, "admin")
    page = client.get("/dashboard/admin/audit?action=authz.denied").get_data(as_text=True)
    assert "GET /dashboard/admin/users" in page and "1 entry." in page
    page = client.get("/dashboard/admin/audit?user=viewer&outcome=failure").get_data(as_text=True)
    assert "auth.login" in page and "1 entry." in page
    assert client.get("/dashboard/admin/audit?from=someday").status_code == 400
    beyond = client.get("/dashboard/admin/audit?to=9999-12-31")  # once a 500
    assert beyond.status_code == 400 and "must be a date from" in beyond.get_data(as_text=True)
    response = client.get("/dashboard/admin/audit.csv?action=auth.login")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["username"], r["outcome"]) for r in rows] == [
        ("viewer", "failure"),
        ("tech", "success"),
        ("admin", "success"),
    ]
    assert all(r["ip"] == "127.0.0.1" and r["at"].endswith("Z") for r in rows)
    assert _actions(app, "audit.export")[0].username == "admin"


def test_an_admin_resetting_their_own_password_stays_signed_in(app, client):
    sign_in(client, "admin")
    admin = _user(app, "admin")
    url = f"{USERS}/{admin.id}/password"
    response = post_form(client, USERS, url, {"password": "new admin pw"})
    assert response.status_code == 302
    assert client.get(USERS).status_code == 200
    assert sign_in(client, "admin", "new admin pw").status_code == 302


def test_publish_a_release_folder_chosen_in_the_browser(app, client, releases):
    """A folder input sends each file with its relative path; the stray file is ignored."""
    sign_in(client, "admin")
    v2 = releases["v2"]
    data = {
        "release_folder": [
            (io.BytesIO(b"notes"), "2.0.0/README.txt"),
            (io.BytesIO((v2 / "model.json").read_bytes()), "2.0.0/model.json"),
            (io.BytesIO((v2 / "model.tflite").read_bytes()), "2.0.0/model.tflite"),
        ],
        "activate": "y",
    }
    response = post_form(client, MODELS, MODELS, data, content_type="multipart/form-data")
    assert response.status_code == 302
    assert _active(app) == ["2.0.0"]
    data = {"release_folder": [(io.BytesIO(b"{}"), "x/README.txt")]}
    response = post_form(client, MODELS, MODELS, data, content_type="multipart/form-data")
    assert response.status_code == 400 and "The folder has no model.json" in response.text
