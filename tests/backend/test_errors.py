"""One JSON error shape everywhere; a 500 shows no trace and rolls the session back; nothing a
client sends (deep JSON, a NUL) is answered with a 500."""

import logging

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry


def _assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert list(body) == ["error"] and isinstance(body["error"]["message"], str)
    return body["error"]


@pytest.mark.database_free
@pytest.mark.parametrize(
    "method,url,status,code",
    [
        ("GET", "/api/nothing-here", 404, "not_found"),
        ("DELETE", "/api/predictions", 405, "method_not_allowed"),
        ("GET", "/api/predictions?page=zero", 401, "missing_token"),
        ("POST", "/api/auth/login", 400, "invalid_json"),
    ],
)
def test_errors_share_one_shape(client, method, url, status, code):
    response = client.open(url, method=method)
    assert _assert_error_shape(response, status)["code"] == code


def test_bad_query_parameters_are_400(client, auth):
    for query in ("page=zero", "per_page=100000", "from=yesterday", "since=-1"):
        response = client.get(f"/api/predictions?{query}", headers=auth.headers("viewer"))
        assert _assert_error_shape(response, 400)["code"] == "invalid_query", query


@pytest.mark.parametrize("path", ["/api/predictions", "/api/audit"])
@pytest.mark.parametrize(
    "query", ["from=0001-01-01T00:00:00%2B01:00", "to=9999-12-31T23:59:59-01:00"]
)
def test_a_date_beyond_what_a_datetime_holds_is_a_clear_400(client, auth, path, query):
    response = client.get(f"{path}?{query}", headers=auth.headers("admin"))
    error = _assert_error_shape(response, 400)
    assert error["code"] == "invalid_query" and "out of range" in error["message"]


def test_500_rolls_back_and_hides_the_trace(app):
    @app.get("/api/test-crash")
    def crash():
        db.session.add(AuditEntry(action="should.not.persist"))
        db.session.flush()
        raise RuntimeError("secret internal detail /etc/passwd")

    response = app.test_client().get("/api/test-crash")
    error = _assert_error_shape(response, 500)
    assert error["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    with app.app_context():
        query = sa.select(AuditEntry).where(AuditEntry.action == "should.not.persist")
        assert db.session.scalar(query) is None


@pytest.mark.database_free
@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,  # RecursionError in the parser: once a 500
        '{"username": ' + "{" * 50_000,
        b'{"username": "\xff"}',  # not UTF-8
    ],
)
def test_json_that_cannot_be_parsed_is_a_400_even_anonymously(client, body):
    response = client.post("/api/auth/login", data=body, content_type="application/json")
    assert _assert_error_shape(response, 400)["code"] == "invalid_json"


@pytest.mark.database_free
@pytest.mark.parametrize(
    "field,value",
    [("username", "\ud800"), ("username", "ad\x00min"), ("password", "pass\udfffword")],
)
def test_json_strings_that_are_not_text_are_a_400(client, field, value):
    body = {"username": "admin", "password": "x", field: value}
    response = client.post("/api/auth/login", json=body)
    error = _assert_error_shape(response, 400)
    assert error["code"] == "invalid_field" and error["details"] == {"field": field}


@pytest.mark.database_free
@pytest.mark.parametrize(
    "url",
    [
        "/js/app%00.js",
        "/api/predictions/%00",
        "/api/models/cells%00/1.0.0/model.tflite",
        "/api/predictions?label=%00",
        "/dashboard/results?slide=a%00b",
    ],
)
def test_a_nul_character_in_a_path_or_query_is_a_400(client, url):
    response = client.get(url)
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert "NUL" in _assert_error_shape(response, 400)["message"]


@pytest.mark.database_free
def test_a_nul_character_in_a_form_is_a_400(client):
    response = client.post("/api/auth/login", data={"username": "admin\x00", "password": "x"})
    assert "NUL" in _assert_error_shape(response, 400)["message"]


@pytest.mark.database_free
def test_the_log_line_of_a_500_escapes_the_path(app, caplog):
    @app.get("/api/test-crash/<rest>")
    def crash(rest):
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="backend.errors"):
        response = app.test_client().get("/api/test-crash/a%0D%0Aforged%20log%20line%1B[31m")
    assert response.status_code == 500
    (line,) = [r.getMessage() for r in caplog.records if r.name == "backend.errors"]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "a\\r\\nforged log line\\x1b[31m" in line
