"""POST /predict on real microscope images with a real TFLite model; bad uploads store nothing."""

import io
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from backend import db
from backend.models import AuditEntry, Blob
from tests.backend.conftest import jpeg_with_malformed_exif
from tests.conftest import publish_folder
from training.paths import datasets_root

DATASETS = datasets_root()


def real_image(dataset: str = "pbc", suffix: str = ".jpg") -> Path:
    folder = DATASETS / dataset / "test"
    found = next(folder.rglob(f"*{suffix}"), None)
    assert found is not None, f"no {suffix} image under {folder}: set HEMATOVISION_DATASETS"
    return found


@pytest.fixture
def model(app, releases):
    publish_folder(app, releases["v1"])


def _post(client, headers, data: bytes, name: str = "cell.jpg", **form):
    fields = {"image": (io.BytesIO(data), name), **form}
    return client.post("/predict", data=fields, headers=headers, content_type="multipart/form-data")


def _stored(app) -> list[str]:
    """The image_path of every stored upload (blobs "uploads/..."); none is written to disk."""
    assert not any(p.is_file() for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*"))
    with app.app_context():
        keys = db.session.scalars(sa.select(Blob.key).where(Blob.key.startswith("uploads/")))
        return sorted(key.removeprefix("uploads/") for key in keys)


def _upload_bytes(app, image_path: str) -> bytes:
    from backend.storage import blobs

    with app.app_context():
        return blobs.read("uploads/" + image_path)


@pytest.mark.parametrize("dataset,suffix", [("pbc", ".jpg"), ("malaria", ".png")])
def test_predict_classifies_a_real_image_and_stores_it(app, client, auth, model, dataset, suffix):
    source = real_image(dataset, suffix)
    response = _post(client, auth.headers("tech"), source.read_bytes(), name="../../../etc/x.jpg")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["model"] == {"name": "cells", "version": "1.0.0"}
    assert body["predicted_label"] in body["probabilities"]
    assert body["confidence"] == max(body["probabilities"].values())
    assert body["status"] in ("confident", "review", "unfamiliar")
    reasons = {"confident": [None], "review": ["below_threshold", "view_check"]}
    assert body["status_reason"] in reasons.get(body["status"], ["unfamiliar"])
    assert _stored(app) == [body["image_path"]]
    assert "etc" not in body["image_path"] and ".." not in body["image_path"]
    with Image.open(io.BytesIO(_upload_bytes(app, body["image_path"]))) as image:
        assert image.size == Image.open(source).size
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "predict"))
        assert entry.username == "tech" and entry.target == body["image_path"]


def test_same_name_twice_never_overwrites(app, client, auth, model):
    data = real_image().read_bytes()
    paths = {_post(client, auth.headers("tech"), data).get_json()["image_path"] for _ in range(2)}
    assert len(paths) == 2 and len(_stored(app)) == 2


def test_result_matches_the_classifier_called_directly(app, client, auth, model, releases):
    from classifier.classify import Classifier

    source = real_image()
    body = _post(client, auth.headers("tech"), source.read_bytes()).get_json()
    stored = io.BytesIO(_upload_bytes(app, body["image_path"]))
    direct = Classifier(releases["v1"]).classify(stored)
    assert body["probabilities"] == direct["probabilities"]


def test_an_upload_is_read_back_by_its_sender_and_admins_only(app, client, auth, model):
    source = real_image()
    body = _post(client, auth.headers("tech"), source.read_bytes()).get_json()
    url = f"/predict/uploads/{body['image_path']}"
    mine = client.get(url, headers=auth.headers("tech"))
    assert mine.status_code == 200 and mine.mimetype == "image/jpeg"
    assert mine.data == _upload_bytes(app, body["image_path"])
    assert "private" in mine.headers["Cache-Control"]
    again = client.get(url, headers={**auth.headers("tech"), "If-None-Match": mine.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(url, headers=auth.headers("admin")).data == mine.data
    assert client.get(url, headers=auth.headers("tech2")).status_code == 404  # not theirs
    assert client.get(url, headers=auth.headers("viewer")).status_code == 403
    assert client.get(url).status_code == 401
    missing = client.get("/predict/uploads/2026/01/01/nothing.jpg", headers=auth.headers("admin"))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (180, 90, 120)).save(out, format="PNG")
    return out.getvalue()


def _bomb() -> bytes:
    """A tiny PNG file that claims 20000x20000 pixels (a decompression bomb)."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, format="PNG")
    return out.getvalue()


BAD_UPLOADS = {
    "text file named .jpg": (b"hello, I am not an image", 415, "unsupported_image_type"),
    "pdf": (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", 415, "unsupported_image_type"),
    "gif": (b"GIF89a" + b"\x00" * 40, 415, "unsupported_image_type"),
    "empty": (b"", 400, "empty_file"),
    "truncated jpeg": ("truncated", 400, "unreadable_image"),
    "jpeg header only": (b"\xff\xd8\xff\xe0" + b"\x00" * 30, 400, "unreadable_image"),
    "malformed exif": ("exif", 400, "unreadable_image"),
    "pixel bomb": ("bomb", 413, "too_many_pixels"),
    "over the configured pixel limit": ("many_pixels", 413, "too_many_pixels"),
    "oversized file": ("oversized", 413, "file_too_large"),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_uploads_get_a_clear_error_and_store_nothing(app, client, auth, model, case):
    data, status, code = BAD_UPLOADS[case]
    if data == "truncated":
        data = real_image().read_bytes()[:3000]
    elif data == "bomb":
        data = _bomb()
    elif data == "exif":
        data = jpeg_with_malformed_exif()
    elif data == "many_pixels":
        app.config["PREDICT_MAX_PIXELS"] = 100_000
        data = _png((400, 400))
    elif data == "oversized":
        app.config["PREDICT_MAX_BYTES"] = 50_000
        data = _png((400, 400)) + b"\x00" * 60_000
    response = _post(client, auth.headers("tech"), data)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert _stored(app) == []


def test_missing_file_field(client, auth, model):
    response = client.post("/predict", data={}, headers=auth.headers("tech"))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "missing_file"


def test_no_active_model_is_503(client, auth):
    response = _post(client, auth.headers("tech"), _png((64, 64)))
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "no_model"


def test_unknown_model_name_is_404(client, auth, model):
    response = _post(client, auth.headers("tech"), _png((64, 64)), model="nope")
    assert response.status_code == 404


def test_whole_request_cap_is_json_413(app, client, auth, model):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    response = _post(client, auth.headers("tech"), real_image().read_bytes())
    assert response.status_code == 413 and "error" in response.get_json()
    assert _stored(app) == []


def test_several_active_models_need_a_name_unless_one_is_the_default(app, client, auth, releases):
    publish_folder(app, releases["v1"])
    card = json.loads((releases["v2"] / "model.json").read_text())
    other = Path(app.config["UPLOAD_FOLDER"]).parent / "other"
    shutil.copytree(releases["v2"], other)
    (other / "model.json").write_text(json.dumps(dict(card, name="other-model")))
    publish_folder(app, other)
    image = _png((64, 64))
    app.config["PREDICT_DEFAULT_MODEL"] = None
    refused = _post(client, auth.headers("tech"), image)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "model_required"
    named = _post(client, auth.headers("tech"), image, model="other-model")
    assert named.get_json()["model"]["name"] == "other-model"
    app.config["PREDICT_DEFAULT_MODEL"] = "cells"
    assert _post(client, auth.headers("tech"), image).get_json()["model"]["name"] == "cells"
