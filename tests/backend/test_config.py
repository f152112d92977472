"""Secrets: without SECRET_KEY every app on one instance folder shares one generated key."""

import stat

from backend import create_app
from backend.config import TestConfig


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
