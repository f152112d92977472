"""Headers every response carries: no-store on JSON (tokens, records, errors), a referrer
policy, and HSTS on HTTPS only (directly, or as a trusted proxy reports it)."""

import pytest

from backend import create_app
from backend.config import TestConfig
from tests.conftest import make_record


@pytest.mark.parametrize("username", ["tech", "viewer", "admin"])
def test_authenticated_json_is_never_stored(client, auth, username):
    headers = auth.headers(username)
    login = client.post(
        "/api/auth/login", json={"username": username, "password": "correct horse battery"}
    )
    answers = [
        login,
        client.get("/api/auth/me", headers=headers),
        client.get("/api/predictions", headers=headers),
        client.get("/api/sync/settings", headers=headers),
        client.get("/api/sync/slides", headers=headers),
    ]
    if username != "viewer":
        body = {"predictions": [make_record()]}
        answers.append(client.post("/api/sync/predictions", json=body, headers=headers))
    for response in answers:
        assert response.status_code == 200 and response.is_json, response.request.path
        assert response.headers["Cache-Control"] == "no-store", response.request.path
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.database_free
def test_json_errors_are_never_stored(client):
    for response in (
        client.get("/api/predictions"),
        client.post("/api/auth/login", data="{"),
        client.get("/api/nothing-here"),
    ):
        assert response.status_code >= 400 and response.is_json
        assert response.headers["Cache-Control"] == "no-store"


def _app(tmp_path, **settings):
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'h.sqlite3'}"

    for key, value in settings.items():
        setattr(Config, key, value)
    return create_app(Config, instance_path=tmp_path / "instance")


def test_hsts_only_over_https(tmp_path):
    client = _app(tmp_path).test_client()
    assert "Strict-Transport-Security" not in client.get("/api/models").headers
    secure = client.get("/api/models", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Without a trusted proxy, anyone could claim HTTPS: the header is ignored.
    claimed = client.get("/api/models", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in claimed.headers


def test_hsts_behind_a_trusted_tls_proxy(tmp_path):
    client = _app(tmp_path, PROXY_COUNT=1).test_client()
    proxied = client.get(
        "/api/models", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7"}
    )
    assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = client.get("/api/models", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in plain.headers
