"""Model delivery: public immutable downloads, admin publish/activate/rollback, upload checks."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry, ModelVersion
from tests.backend.conftest import upload
from tests.conftest import publish_folder


def _versions(app) -> list[tuple[str, bool]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(ModelVersion).order_by(ModelVersion.version))
        return [(m.version, m.active) for m in rows]


def test_cli_publish_is_idempotent_and_activates_the_first(app, releases):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["models", "publish", str(releases["v1"])])
    again = runner.invoke(args=["models", "publish", str(releases["v1"])])
    assert first.exit_code == 0 and "published, active" in first.output
    assert again.exit_code == 0 and "already published" in again.output
    assert _versions(app) == [("1.0.0", True)]


def test_publish_all_publishes_every_release_and_activates_the_newest(app, releases, tmp_path):
    root = tmp_path / "tflite_models" / "cells"
    for key in ("v1", "v2"):
        shutil.copytree(
            releases[key], root / json.loads((releases[key] / "model.json").read_text())["version"]
        )
    result = app.test_cli_runner().invoke(args=["models", "publish-all", str(root.parent)])
    assert result.exit_code == 0, result.output
    assert _versions(app) == [("1.0.0", False), ("2.0.0", True)]  # the newest, on a new database
    again = app.test_cli_runner().invoke(args=["models", "publish-all", str(root.parent)])
    assert again.exit_code == 0 and _versions(app) == [("1.0.0", False), ("2.0.0", True)]


def test_a_card_edited_after_publishing_never_stops_make_run_nor_changes_what_phones_get(
    app, client, releases, tmp_path
):
    """A measurement added to a released card later (a leave-one-lab-out row): publish-all, run
    by every `make run`, keeps the published card; an explicit publish still refuses it."""
    folder = tmp_path / "cells" / "1.0.0"
    shutil.copytree(releases["v1"], folder)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["models", "publish-all", str(folder.parents[1])]).exit_code == 0
    served = client.get("/api/models/cells/1.0.0/model.json").data
    card = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**card, "leave_one_lab_out": {"rows": []}}))
    again = runner.invoke(args=["models", "publish-all", str(folder.parents[1])])
    assert again.exit_code == 0, again.output
    assert "the published card is kept" in again.output and "active" in again.output
    assert client.get("/api/models/cells/1.0.0/model.json").data == served
    explicit = runner.invoke(args=["models", "publish", str(folder)])
    assert explicit.exit_code != 0 and "other content" in explicit.output
    (folder / "model.tflite").write_bytes((releases["v2"] / "model.tflite").read_bytes())
    other_file = runner.invoke(args=["models", "publish-all", str(folder.parents[1])])
    assert other_file.exit_code != 0  # another model file under a published version: refused


def test_download_has_strong_etag_immutable_cache_and_304(app, client, releases):
    publish_folder(app, releases["v1"])
    listing_response = client.get("/api/models")
    assert "no-cache" in listing_response.headers["Cache-Control"]
    listing = listing_response.get_json()["models"]
    assert [(m["name"], m["version"]) for m in listing] == [("cells", "1.0.0")]
    entry = listing[0]
    content = (releases["v1"] / "model.tflite").read_bytes()
    assert entry["size"] == len(content) and entry["labels"] == [
        "lymphocyte",
        "monocyte",
        "neutrophil",
    ]
    response = client.get(entry["url"])
    assert response.status_code == 200 and response.data == content
    assert response.headers["ETag"] == f'"{entry["sha256"]}"'
    cache = response.headers["Cache-Control"]
    assert "immutable" in cache and "max-age=31536000" in cache and "public" in cache
    cached = client.get(entry["url"], headers={"If-None-Match": response.headers["ETag"]})
    assert cached.status_code == 304 and cached.data == b""
    card = client.get(entry["meta_url"])
    assert card.status_code == 200 and card.get_json()["file"]["sha256"] == entry["sha256"]
    assert (
        client.get(entry["meta_url"], headers={"If-None-Match": card.headers["ETag"]}).status_code
        == 304
    )


def test_unknown_model_is_json_404(client):
    response = client.get("/api/models/cells/9.9.9/model.tflite")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_admin_uploads_activates_and_rolls_back(app, client, auth, releases):
    admin = auth.headers("admin")
    assert upload(client, admin, releases["v1"], activate=True).status_code == 201
    response = upload(client, admin, releases["v2"], activate=True)
    assert response.status_code == 201 and response.get_json()["model"]["active"]
    assert [m["version"] for m in client.get("/api/models").get_json()["models"]] == ["2.0.0"]
    rolled = client.post("/api/models/cells/rollback", headers=admin)
    assert rolled.status_code == 200 and rolled.get_json()["model"]["version"] == "1.0.0"
    assert _versions(app) == [("1.0.0", True), ("2.0.0", False)]
    assert client.post("/api/models/cells/2.0.0/activate", headers=admin).status_code == 200
    assert _versions(app) == [("1.0.0", False), ("2.0.0", True)]
    again = upload(client, admin, releases["v2"])
    assert again.status_code == 200 and again.get_json()["created"] is False
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"model.publish", "model.activate", "model.rollback"} <= actions


def test_rollback_without_history_is_409(client, auth):
    response = client.post("/api/models/cells/rollback", headers=auth.headers("admin"))
    assert response.status_code == 409


def _card(folder: Path, **changes) -> bytes:
    card = json.loads((folder / "model.json").read_text())
    card.update(changes)
    return json.dumps(card).encode()


def _card_file(folder: Path, **changes) -> bytes:
    card = json.loads((folder / "model.json").read_text())
    card["file"].update(changes)
    return json.dumps(card).encode()


def _card_input(folder: Path, **changes) -> bytes:
    card = json.loads((folder / "model.json").read_text())
    card["input"].update(changes)
    return json.dumps(card).encode()


def _truncated(folder: Path) -> dict:
    """A cut-off file whose model.json matches it: only the TFLite loader can catch it."""
    cut = (folder / "model.tflite").read_bytes()[:600]
    return {
        "model": cut,
        "meta": _card_file(folder, sha256=hashlib.sha256(cut).hexdigest(), bytes=600),
    }


BAD_UPLOADS = {
    "not a tflite file": lambda f: {"model": b"\x89PNG\r\n\x1a\n" + b"0" * 500},
    "truncated tflite": lambda f: _truncated(f),
    "sha256 mismatch": lambda f: {"meta": _card_file(f, sha256="0" * 64)},
    "sha256 missing": lambda f: {"meta": _card(f, file={"name": "model.tflite"})},
    "size mismatch": lambda f: {"meta": _card_file(f, bytes=12)},
    "label count mismatch": lambda f: {"meta": _card(f, labels=["a", "b"])},
    "duplicate labels": lambda f: {"meta": _card(f, labels=["a", "a", "b"])},
    "path traversal name": lambda f: {"meta": _card(f, name="../../etc")},
    "path traversal version": lambda f: {"meta": _card(f, version="../1")},
    "malformed field framing": lambda f: {
        "meta": _card_input(f, field_framing={"method": "rbc-scaled", "span": 40})
    },
    "framing and field framing": lambda f: {
        "meta": _card_input(
            f,
            framing={"method": "rbc-scaled", "span": 3.5},
            field_framing={"method": "rbc-scaled", "span": 4.3},
        )
    },
    "meta not json": lambda f: {"meta": b"{nope"},
    "meta not an object": lambda f: {"meta": b"[1, 2]"},
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_uploads_are_refused_and_store_nothing(app, client, auth, releases, case):
    folder = releases["v1"]
    parts = BAD_UPLOADS[case](folder)
    response = upload(client, auth.headers("admin"), folder, **parts)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_model"
    assert _versions(app) == []
    assert not any(Path(app.config["MODEL_STORE"]).rglob("*.tflite"))


def test_a_malformed_field_framing_is_refused_with_a_message_that_names_it(
    app, client, auth, releases
):
    folder = releases["v1"]
    card = _card_input(folder, field_framing={"method": "rbc-scaled", "span": 40})
    response = upload(client, auth.headers("admin"), folder, meta=card)
    assert response.status_code == 400
    assert "input.field_framing.span" in response.get_json()["error"]["message"]
    assert _versions(app) == []


def test_same_version_with_other_content_is_409(app, client, auth, releases):
    admin = auth.headers("admin")
    upload(client, admin, releases["v1"])
    other = releases["v2"]
    response = upload(client, admin, other, meta=_card(other, version="1.0.0"))
    assert response.status_code == 409
    with app.app_context():
        assert (
            db.session.scalar(sa.select(ModelVersion.sha256))
            == json.loads((releases["v1"] / "model.json").read_text())["file"]["sha256"]
        )


def test_upload_without_files_is_400(client, auth):
    response = client.post("/api/models", data={}, headers=auth.headers("admin"))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "missing_file"


def test_flat_model_json_keys_are_accepted(app, client, auth, releases):
    """model.json with top-level file/sha256/size_bytes, as the issue first described it."""
    card = json.loads((releases["v1"] / "model.json").read_text())
    facts = card.pop("file")
    card.update(file=facts["name"], sha256=facts["sha256"], size_bytes=facts["bytes"])
    response = upload(client, auth.headers("admin"), releases["v1"], meta=json.dumps(card).encode())
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["model"]["sha256"] == facts["sha256"]
