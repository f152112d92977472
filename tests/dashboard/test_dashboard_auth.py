"""Dashboard sign-in, sessions, CSRF, and the audited "Access denied" page."""

import time

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry, Prediction, User
from tests.conftest import cell_record, sync
from tests.dashboard.conftest import csrf_token, post_form, sign_in


def _audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        query = sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(db.session.scalars(query))


def test_sign_in_then_out(app, client):
    assert client.get("/dashboard/login").status_code == 200
    response = sign_in(client, "viewer")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "viewer" in page and "Sign out" in page
    token = csrf_token(page)
    response = client.post("/dashboard/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/login"
    assert client.get("/dashboard/results").status_code == 302
    logins = [(e.username, e.outcome, e.details["via"]) for e in _audit(app, "auth.login")]
    assert ("viewer", "success", "dashboard") in logins
    assert [e.username for e in _audit(app, "auth.logout")] == ["viewer"]


def test_wrong_password_is_refused_and_logged(app, client):
    response = sign_in(client, "viewer", "not the password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/dashboard/").status_code == 302
    assert [(e.username, e.outcome) for e in _audit(app, "auth.login")] == [("viewer", "failure")]


def test_repeated_failures_lock_the_account_for_a_while(app, client):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert sign_in(client, "viewer", "guessing wrong").status_code == 401
    response = sign_in(client, "viewer")  # even the right password waits now
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    assert "locked" in {e.outcome for e in _audit(app, "auth.login")}


def test_pages_ask_for_sign_in_and_come_back_afterwards(client):
    response = client.get("/dashboard/results?status=review")
    assert response.status_code == 302 and "/dashboard/login?next=" in response.headers["Location"]
    response = sign_in(client, "viewer", next_url="/dashboard/results?status=review")
    assert response.headers["Location"] == "/dashboard/results?status=review"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "///evil.example/x",
        "/api/users",
        "/\\evil.example",
        "/dashboard/../api/users",
        "/dashboard/%2e%2e/api/users",
        "/dashboard/..//evil.example",
        "/dashboard/results%0d%0aSet-Cookie:%20x=1",
        "/dashboard/results%0aX:%201",
        "javascript:alert(1)",
    ],
)
def test_sign_in_never_redirects_off_the_dashboard(client, target):
    response = sign_in(client, "viewer", next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    assert "Set-Cookie: x" not in str(response.headers)


@pytest.mark.parametrize(
    "target,location",
    [
        ("/dashboard/results/../slides", "/dashboard/slides"),
        ("/dashboard/./results?status=review", "/dashboard/results?status=review"),
        ("/dashboard/review/", "/dashboard/review/"),
    ],
)
def test_sign_in_follows_next_inside_the_dashboard_normalised(client, target, location):
    response = sign_in(client, "viewer", next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == location


def test_a_nul_in_next_is_refused_before_the_login(client):
    """A NUL anywhere in a request is a 400 before any view (backend/errors.py), so it never
    reaches the redirect."""
    response = sign_in(client, "viewer", next_url="/dashboard/%00")
    assert response.status_code == 400 and "Location" not in response.headers


def test_an_idle_session_expires(app, client):
    sign_in(client, "viewer")
    assert client.get("/dashboard/results").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - app.config["DASHBOARD_SESSION_MINUTES"] * 60 - 5
    response = client.get("/dashboard/results")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert "Your session expired" in client.get("/dashboard/login").get_data(as_text=True)
    assert client.get("/dashboard/results").status_code == 302
    assert [e.username for e in _audit(app, "auth.session_expired")] == ["viewer"]


def test_a_disabled_account_is_signed_out_at_once(app, client):
    sign_in(client, "viewer")
    with app.app_context():
        db.session.scalar(sa.select(User).where(User.username == "viewer")).active = False
        db.session.commit()
    assert client.get("/dashboard/results").status_code == 302
    assert sign_in(client, "viewer").status_code == 401


@pytest.mark.parametrize(
    "user,url",
    [
        ("tech", "/dashboard/admin/users"),
        ("tech", "/dashboard/admin/models"),
        ("tech", "/dashboard/admin/audit"),
        ("tech", "/dashboard/admin/audit.csv"),
        ("tech", "/dashboard/review"),
        ("viewer", "/dashboard/admin/users"),
        ("viewer", "/dashboard/admin/audit"),
    ],
)
def test_a_role_that_may_not_see_a_page_gets_the_403_page_and_an_audit_entry(
    app, client, user, url
):
    sign_in(client, user)
    response = client.get(url)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert (
        "Access denied" in page
        and f"Your role ({'technician' if user == 'tech' else user})" in page
    )
    denied = _audit(app, "authz.denied")
    assert [(e.username, e.target, e.outcome) for e in denied] == [(user, f"GET {url}", "failure")]
    assert denied[0].details["via"] == "dashboard"


def test_a_technician_cannot_review_even_with_a_valid_form(app, client, auth):
    record = cell_record("neutrophil", status="review", confidence=0.6)
    sync(client, auth, "tech", [record])
    sign_in(client, "tech")
    response = post_form(
        client,
        f"/dashboard/results/{record['id']}",
        f"/dashboard/results/{record['id']}/review",
        {"label": "monocyte"},
    )
    assert response.status_code == 403
    with app.app_context():
        stored = db.session.scalar(sa.select(Prediction).where(Prediction.id == record["id"]))
        assert stored.reviewed_label is None
    assert _audit(app, "authz.denied")[0].target.startswith("POST /dashboard/results/")


def test_admin_pages_show_only_the_links_a_role_may_use(client):
    sign_in(client, "tech")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "Audit log" not in page and "Review queue" not in page and "Results" in page


def _valid_session(client, user="admin"):
    sign_in(client, user)
    return csrf_token(client.get("/dashboard/admin/users").get_data(as_text=True))


@pytest.mark.parametrize(
    "url,data",
    [
        ("/dashboard/login", {"username": "viewer", "password": "correct horse battery"}),
        (
            "/dashboard/admin/users",
            {"username": "mallory", "password": "long enough!", "role": "admin"},
        ),
        ("/dashboard/logout", {}),
        ("/dashboard/admin/users/2/role", {"u2-role": "admin"}),  # user 2 is "viewer"
        ("/dashboard/admin/models/cells/rollback", {}),
    ],
)
def test_form_posts_without_the_csrf_token_are_refused(app, client, url, data):
    _valid_session(client)
    response = client.post(url, data=data)  # the session cookie is there, the token is not
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.username == "mallory")) is None
        viewer = db.session.scalar(sa.select(User).where(User.username == "viewer"))
        assert viewer.role == "viewer"
    assert _audit(app, "csrf.refused")[0].target == f"POST {url}"


def test_a_forged_csrf_token_is_refused(app, client):
    _valid_session(client)
    response = client.post(
        "/dashboard/admin/users",
        data={
            "username": "mallory",
            "password": "long enough!",
            "role": "admin",
            "csrf_token": "x",
        },
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.username == "mallory")) is None


def test_pages_carry_security_headers_and_are_not_cached(client):
    sign_in(client, "viewer")
    response = client.get("/dashboard/results")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_password_reset_ends_the_sessions_opened_before_it(app, client):
    sign_in(client, "viewer")
    assert client.get("/dashboard/results").status_code == 200
    with app.app_context():
        viewer = db.session.scalar(sa.select(User).where(User.username == "viewer"))
        viewer.set_password("a new password after a leak")
        db.session.commit()
    response = client.get("/dashboard/results")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert "Your session was ended" in client.get("/dashboard/login").get_data(as_text=True)
    assert [e.username for e in _audit(app, "auth.session_revoked")] == ["viewer"]
    assert sign_in(client, "viewer", "a new password after a leak").status_code == 302
    assert client.get("/dashboard/results").status_code == 200


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, client):
    sign_in(client, "viewer")
    page = client.get("/dashboard/").get_data(as_text=True)
    copied = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/dashboard/results").status_code == 200  # the copy works while signed in
    client.post("/dashboard/logout", data={"csrf_token": csrf_token(page)})
    thief.set_cookie("session", copied)
    response = thief.get("/dashboard/results")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert thief.get("/dashboard/results").status_code == 302
    assert sign_in(client, "viewer").status_code == 302  # signing in again is a new session
    assert client.get("/dashboard/results").status_code == 200


def test_a_session_past_the_absolute_limit_ends_however_busy(app, client):
    sign_in(client, "viewer")
    with client.session_transaction() as session:
        session["signed_in_at"] -= app.config["DASHBOARD_SESSION_MAX_HOURS"] * 3600 + 5
    assert client.get("/dashboard/results").status_code == 302


@pytest.mark.parametrize("change", ["password", "role", "disable", "disable-enable"])
def test_an_admin_change_in_the_dashboard_ends_the_accounts_tokens_and_sessions(
    app, client, auth, change
):
    stolen = auth.login("tech")
    browser = app.test_client()
    sign_in(browser, "tech")
    assert browser.get("/dashboard/results").status_code == 200
    sign_in(client, "admin")
    users = "/dashboard/admin/users"
    tech_id = stolen["user"]["id"]
    if change == "password":
        post_form(client, users, f"{users}/{tech_id}/password", {"password": "a brand new one"})
    elif change == "role":
        post_form(client, users, f"{users}/{tech_id}/role", {f"u{tech_id}-role": "viewer"})
    else:
        post_form(client, users, f"{users}/{tech_id}/active", {})
        if change == "disable-enable":
            post_form(client, users, f"{users}/{tech_id}/active", {"active": "y"})
    access = {"Authorization": f"Bearer {stolen['access_token']}"}
    refresh = {"Authorization": f"Bearer {stolen['refresh_token']}"}
    assert client.get("/api/auth/me", headers=access).status_code == 401
    assert client.post("/api/auth/refresh", headers=refresh).status_code == 401
    assert browser.get("/dashboard/results").status_code == 302
    assert client.get(users).status_code == 200  # the admin who made the change stays in
