"""Secrets and the instance folder: without SECRET_KEY every app on one instance folder shares
one generated key; keys shorter than 32 bytes are refused at start; the folder and everything
the server stores in it are readable by its own account only."""

import io
import os
import stat

import pytest

from backend import create_app, db
from backend.config import TestConfig
from tests.conftest import PASSWORD, cell_record, pbc_images, publish_folder, sync


def test_generated_secret_is_shared_and_private(tmp_path):
    class NoSecret(TestConfig):
        SECRET_KEY = None
        JWT_SECRET_KEY = None
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    first = create_app(NoSecret, instance_path=tmp_path / "instance")
    second = create_app(NoSecret, instance_path=tmp_path / "instance")
    key = first.config["SECRET_KEY"]
    assert len(key) >= 40 and second.config["SECRET_KEY"] == key
    assert first.config["JWT_SECRET_KEY"] == key
    mode = (tmp_path / "instance" / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


LONG = "x" * 32


@pytest.mark.parametrize(
    "secret,jwt_secret,refused",
    [
        ("a", None, "SECRET_KEY"),
        ("k" * 31, None, "SECRET_KEY"),
        ("é" * 15, None, "SECRET_KEY"),  # 30 bytes in UTF-8
        (LONG, "short jwt key", "JWT_SECRET_KEY"),
    ],
)
def test_short_keys_are_refused_at_start(tmp_path, secret, jwt_secret, refused):
    class Short(TestConfig):
        SECRET_KEY = secret
        JWT_SECRET_KEY = jwt_secret

    with pytest.raises(RuntimeError, match=f"^{refused} is shorter than 32 bytes"):
        create_app(Short, instance_path=tmp_path / "instance")


def test_a_32_byte_key_is_accepted(tmp_path):
    class Enough(TestConfig):
        SECRET_KEY = "é" * 16  # 32 bytes
        JWT_SECRET_KEY = None

    assert create_app(Enough, instance_path=tmp_path / "i").config["JWT_SECRET_KEY"] == "é" * 16


def test_instance_folder_and_everything_stored_in_it_are_private(tmp_path, releases):
    os.umask(0o022)  # the usual default: files would be 0644 without create_app's own umask
    instance = tmp_path / "instance"

    class Defaults(TestConfig):  # where the default Config puts things, under the instance
        SECRET_KEY = None
        JWT_SECRET_KEY = None
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{instance / 'hematovision.sqlite3'}"
        MODEL_STORE = str(instance / "models")
        UPLOAD_FOLDER = str(instance / "uploads")

    app = create_app(Defaults, instance_path=instance)
    with app.app_context():
        from backend.users.accounts import create_user

        db.create_all()
        create_user("tech", PASSWORD, "technician")
        db.session.commit()
    publish_folder(app, releases["v1"])
    client = app.test_client()

    class Auth:
        def headers(self, username):
            body = {"username": username, "password": PASSWORD}
            token = client.post("/api/auth/login", json=body).get_json()["access_token"]
            return {"Authorization": f"Bearer {token}"}

    photo = pbc_images("neutrophil", 1)[0]
    upload = {"image": (io.BytesIO(photo.read_bytes()), "cell.jpg")}
    predicted = client.post("/predict", data=upload, headers=Auth().headers("tech"))
    assert predicted.status_code == 200, predicted.get_json()
    assert sync(client, Auth(), "tech", [cell_record("neutrophil", photo)]) == ["created"]

    with app.app_context(), db.engine.connect():  # an open connection keeps -wal and -shm
        names = {p.name for p in instance.iterdir()}
        assert {"hematovision.sqlite3-wal", "hematovision.sqlite3-shm"} <= names
        stored = list(instance.rglob("*"))
        assert stat.S_IMODE(instance.stat().st_mode) == 0o700
        for path in stored:
            want = 0o700 if path.is_dir() else 0o600
            assert stat.S_IMODE(path.stat().st_mode) == want, path
    kinds = {p.suffix for p in stored if p.is_file()}
    # db, the classifier's cached model and card, the key (and the cache's hash-named copies);
    # the upload and the synced cell image are in the database, not on disk
    assert {".sqlite3", ".tflite", ".json", ""} <= kinds and ".jpg" not in kinds
    assert (instance / "cache").is_dir() and not (instance / "uploads").exists()
