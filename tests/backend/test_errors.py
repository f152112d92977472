"""One JSON error shape everywhere; a 500 shows no trace and rolls the session back."""

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
