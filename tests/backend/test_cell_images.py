"""Cell images synced with records: checked like uploads, re-encoded under server-made names,
idempotent like the records, and not stored at all when the server setting is off."""

import base64
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from backend import db
from backend.models import Blob, Prediction
from bench.inputs import cell_jpeg_b64
from tests.backend.conftest import jpeg_with_malformed_exif
from tests.conftest import cell_record, pbc_images, push, sync


class _StoredImage:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data


def _stored_files(app) -> list[_StoredImage]:
    """The stored cell images (blobs "cells/<name>"); nothing is written to disk."""
    assert not any(p.is_file() for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*"))
    with app.app_context():
        query = sa.select(Blob.key, Blob.data).where(Blob.key.startswith("cells/"))
        rows = db.session.execute(query.order_by(Blob.key))
        return [_StoredImage(key.removeprefix("cells/"), data) for key, data in rows]


def _image_path(app, record_id: str) -> str | None:
    with app.app_context():
        query = sa.select(Prediction.image_path).where(Prediction.id == record_id)
        return db.session.scalar(query)


def _jpeg_with_exif(path: Path) -> str:
    with Image.open(path) as image:
        small = image.convert("RGB").resize((80, 80))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x9286] = "patient name in a comment"  # UserComment
    out = io.BytesIO()
    small.save(out, format="JPEG", exif=exif.tobytes())
    return base64.b64encode(out.getvalue()).decode()


def test_image_is_re_encoded_without_metadata_under_a_server_name(app, client, auth):
    record = cell_record("neutrophil")
    record["image"] = _jpeg_with_exif(pbc_images("neutrophil", 1)[0])
    assert sync(client, auth, "tech", [record]) == ["created"]
    name = _image_path(app, record["id"])
    files = _stored_files(app)
    assert [f.name for f in files] == [name]
    assert name.endswith(".jpg") and len(name) == 36 and record["id"].replace("-", "") not in name
    with Image.open(io.BytesIO(files[0].data)) as stored:
        assert stored.format == "JPEG" and stored.size == (80, 80)
        assert not stored.getexif()
        stored.load()


def test_a_push_that_fails_stores_neither_the_records_nor_their_images(
    app, client, auth, monkeypatch
):
    """The images commit with their records: a failure after both were written (here the
    audit entry, the last write of the push) rolls both back, and the re-send stores both."""
    import backend.sync.routes

    records = [cell_record("neutrophil", photo) for photo in pbc_images("neutrophil", 2)]

    def failing(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(backend.sync.routes, "record", failing)
    response = client.post(
        "/api/sync/predictions",
        json={"contract": 2, "predictions": records},
        headers=auth.headers("tech"),
    )
    assert response.status_code == 500
    assert _stored_files(app) == [] and _image_path(app, records[0]["id"]) is None
    monkeypatch.undo()
    assert sync(client, auth, "tech", records) == ["created", "created"]
    names = sorted(_image_path(app, r["id"]) for r in records)
    assert [f.name for f in _stored_files(app)] == names


def test_resending_the_same_image_is_a_duplicate_and_another_image_a_conflict(app, client, auth):
    first, second = pbc_images("lymphocyte", 2)
    record = cell_record("lymphocyte", first)
    assert sync(client, auth, "tech", [record]) == ["created"]
    assert sync(client, auth, "tech", [record]) == ["duplicate"]
    changed = dict(record, image=cell_jpeg_b64(second))
    assert sync(client, auth, "tech", [changed]) == ["conflict"]
    without = {k: v for k, v in record.items() if k != "image"}
    assert sync(client, auth, "tech", [without]) == ["conflict"]
    assert len(_stored_files(app)) == 1  # the first image stays, nothing else written
    assert _image_path(app, record["id"]) == _stored_files(app)[0].name


def _png_b64() -> str:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 60, 120)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _truncated_b64(path: Path) -> str:
    data = base64.b64decode(cell_jpeg_b64(path))
    return base64.b64encode(data[: len(data) // 2]).decode()


def _huge_pixels_b64() -> str:
    out = io.BytesIO()
    Image.new("RGB", (1100, 1000), (255, 255, 255)).save(out, format="JPEG", quality=10)
    return base64.b64encode(out.getvalue()).decode()


BAD_IMAGES = [
    ("not base64 !!", "not valid base64"),
    (12345, "must be a base64 string"),
    (base64.b64encode(b"just some text, not an image").decode(), "JPEG, PNG or WebP"),
    ("png", "must be a JPEG"),
    ("truncated", "cannot be decoded"),
    ("malformed exif", "cannot be decoded"),
    ("pixels", "pixels"),
    (base64.b64encode(b"\xff\xd8\xff" + b"\0" * 300_000).decode(), "larger than"),
    ("", "is empty"),
]


@pytest.mark.parametrize("image,message", BAD_IMAGES)
def test_a_bad_image_makes_only_its_record_invalid(app, client, auth, image, message):
    if image == "png":
        image = _png_b64()
    elif image == "truncated":
        image = _truncated_b64(pbc_images("monocyte", 1)[0])
    elif image == "pixels":
        image = _huge_pixels_b64()
    elif image == "malformed exif":
        image = base64.b64encode(jpeg_with_malformed_exif()).decode()
    bad = cell_record("monocyte")
    bad["image"] = image
    good = cell_record("neutrophil", pbc_images("neutrophil", 1)[0])
    response = push(client, auth.headers("tech"), [bad, good])
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["invalid", "created"]
    assert message in results[0]["error"] and "'image'" in results[0]["error"]
    with app.app_context():
        assert db.session.scalar(sa.select(Prediction).where(Prediction.id == bad["id"])) is None
    assert [f.name for f in _stored_files(app)] == [_image_path(app, good["id"])]


def test_images_are_ignored_when_the_site_turns_them_off(app, client, auth):
    app.config["CELL_IMAGES_ENABLED"] = False
    record = cell_record("eosinophil", pbc_images("eosinophil", 1)[0])
    assert sync(client, auth, "tech", [record]) == ["created"]
    assert _image_path(app, record["id"]) is None
    assert _stored_files(app) == []
    # even a broken image is not looked at: nothing of it is kept
    other = dict(cell_record("eosinophil"), image="not base64 !!")
    assert sync(client, auth, "tech", [other]) == ["created"]
