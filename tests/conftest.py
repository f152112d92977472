"""Fixtures: `app` (runs each test on SQLite and on a real PostgreSQL), `client`, `auth`.

HEMATOVISION_TEST_DB=sqlite (or postgresql) limits a run to one database; the default is both."""

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend import create_app, db
from backend.config import TestConfig
from tests.model_support import tiny_release
from tests.pg_cluster import PostgresCluster

PASSWORD = "correct horse battery"
ACCOUNTS = {"admin": "admin", "viewer": "viewer", "tech": "technician", "tech2": "technician"}
_CHOICE = os.environ.get("HEMATOVISION_TEST_DB", "both")
DATABASES = [
    pytest.param(name, marks=[pytest.mark.postgres] if name == "postgresql" else [])
    for name in ("sqlite", "postgresql")
    if _CHOICE in ("both", name)
]


@pytest.fixture(scope="session")
def postgres_url():
    """One cluster per test session, migrated once; each test truncates what it wrote."""
    cluster = PostgresCluster().start()
    try:
        url = cluster.create_database("hematovision_test")
        app = create_app(_config(url, cluster.dir), instance_path=cluster.dir / "instance")
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            db.engine.dispose()
        yield url
    finally:
        cluster.stop()


def _config(url: str, tmp: Path) -> type:
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        MODEL_STORE = str(tmp / "models")
        UPLOAD_FOLDER = str(tmp / "uploads")

    return Config


@pytest.fixture(params=DATABASES)
def app(request, tmp_path):
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    app = create_app(_config(url, tmp_path), instance_path=tmp_path / "instance")
    with app.app_context():
        if request.param == "sqlite":
            db.create_all()
        for username, role in ACCOUNTS.items():
            _add_user(username, role)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        if request.param == "postgresql":
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


def _add_user(username: str, role: str) -> None:
    from backend.users.accounts import create_user

    create_user(username, PASSWORD, role)


@pytest.fixture
def client(app):
    return app.test_client()


class AuthHelper:
    """Logs in through the real API and returns bearer headers."""

    def __init__(self, client) -> None:
        self.client = client
        self._tokens: dict[str, dict] = {}

    def login(self, username: str, password: str = PASSWORD) -> dict:
        response = self.client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def tokens(self, username: str) -> dict:
        if username not in self._tokens:
            self._tokens[username] = self.login(username)
        return self._tokens[username]

    def headers(self, username: str | None) -> dict:
        if username is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens(username)['access_token']}"}


@pytest.fixture
def auth(client):
    return AuthHelper(client)


@pytest.fixture(scope="session")
def releases(request, tmp_path_factory) -> dict[str, Path]:
    """Two real tiny TFLite releases of the model "cells" (built once, then cached)."""
    cache_plugin = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    if cache_plugin is not None:
        cache = Path(cache_plugin.mkdir("tiny-tflite"))
    else:
        cache = tmp_path_factory.mktemp("tiny-tflite")
    return {
        "v1": tiny_release(cache, version="1.0.0", seed=1),
        "v2": tiny_release(cache, version="2.0.0", seed=2),
    }
