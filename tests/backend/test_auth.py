"""Login, refresh, logout and the JWT attacks the API must refuse."""

import threading
from datetime import timedelta

import jwt as pyjwt
import pytest
import sqlalchemy as sa
from flask_jwt_extended import create_access_token

from backend import db
from backend.models import AuditEntry, LoginThrottle, User
from tests.conftest import PASSWORD


def _error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]


def test_login_returns_tokens_and_user(client):
    response = client.post("/api/auth/login", json={"username": "tech", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["username"] == "tech" and body["user"]["role"] == "technician"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.get_json()["user"]["username"] == "tech"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "tech", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "TECH", "password": "wrong password"},
    ],
)
def test_wrong_credentials_are_401_and_logged(app, client, body):
    response = client.post("/api/auth/login", json=body)
    assert response.status_code == 401
    assert _error(response)["code"] == "invalid_credentials"
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditEntry)).all()[-1]
        assert (entry.action, entry.outcome) == ("auth.login", "failure")
        assert entry.username == body["username"].lower() and entry.ip == "127.0.0.1"


def test_successful_login_is_logged(app, client):
    client.post("/api/auth/login", json={"username": "Tech", "password": PASSWORD})
    with app.app_context():
        entry = db.session.scalars(sa.select(AuditEntry)).all()[-1]
        assert (entry.action, entry.outcome, entry.username) == ("auth.login", "success", "tech")


def test_repeated_failures_lock_the_account_from_that_address(app, client):
    app.config["LOGIN_MAX_FAILURES"] = 3
    for _ in range(3):
        assert (
            client.post("/api/auth/login", json={"username": "tech", "password": "x"}).status_code
            == 401
        )
    locked = client.post("/api/auth/login", json={"username": "tech", "password": PASSWORD})
    assert locked.status_code == 429
    assert _error(locked)["code"] == "too_many_attempts"
    assert int(locked.headers["Retry-After"]) > 0
    # Another account from the same address is not locked by this one's failures.
    assert (
        client.post(
            "/api/auth/login", json={"username": "viewer", "password": PASSWORD}
        ).status_code
        == 200
    )
    with app.app_context():
        outcomes = db.session.scalars(
            sa.select(AuditEntry.outcome).where(AuditEntry.action == "auth.login")
        )
        assert "locked" in list(outcomes)


def test_repeated_failures_from_one_address_lock_it(app, client):
    app.config["LOGIN_MAX_FAILURES_IP"] = 4
    for name in ("a1x", "a2x", "a3x", "a4x"):
        client.post("/api/auth/login", json={"username": name, "password": "x"})
    response = client.post("/api/auth/login", json={"username": "tech", "password": PASSWORD})
    assert response.status_code == 429


def _login_from(client, address: str, password: str = "wrong", username: str = "admin", **kw):
    environ = {"REMOTE_ADDR": address}
    body = {"username": username, "password": password}
    return client.post("/api/auth/login", json=body, environ_base=environ, **kw)


def test_a_guesser_cannot_lock_the_admin_out_from_another_address(app, client):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 3):
        _login_from(client, "203.0.113.9")
    assert _login_from(client, "203.0.113.9", PASSWORD).status_code == 429
    # forging X-Forwarded-For does not help: no proxy is trusted (PROXY_COUNT=0)
    forged = {"X-Forwarded-For": "198.51.100.7"}
    assert _login_from(client, "203.0.113.9", PASSWORD, headers=forged).status_code == 429
    assert _login_from(client, "192.0.2.44", PASSWORD).status_code == 200


def test_behind_a_trusted_proxy_each_client_has_its_own_counters(app, client):
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.config.update(LOGIN_MAX_FAILURES_IP=3)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # what create_app does with PROXY_COUNT=1
    for name in ("a1x", "a2x", "a3x", "a4x"):
        _login_from(client, "10.0.0.2", username=name, headers={"X-Forwarded-For": "203.0.113.9"})
    guesser = {"X-Forwarded-For": "203.0.113.9"}
    assert _login_from(client, "10.0.0.2", PASSWORD, headers=guesser).status_code == 429
    colleague = {"X-Forwarded-For": "192.0.2.44"}  # same proxy, another client
    assert _login_from(client, "10.0.0.2", PASSWORD, headers=colleague).status_code == 200


def test_each_further_failure_doubles_the_lock(app, client):
    app.config.update(LOGIN_MAX_FAILURES=2, LOGIN_LOCK_SECONDS=100)
    waits = []
    for _ in range(3):
        for _ in range(2):
            _login_from(client, "203.0.113.9")
        locked = _login_from(client, "203.0.113.9", PASSWORD)
        assert locked.status_code == 429
        waits.append(int(locked.headers["Retry-After"]))
        with app.app_context():  # the lock runs out
            db.session.execute(sa.update(LoginThrottle).values(locked_until=None))
            db.session.commit()
    assert [round(w, -2) for w in waits] == [100, 200, 400]


def test_a_username_ceiling_brakes_guessing_from_many_addresses(app, client):
    app.config.update(LOGIN_MAX_FAILURES_USERNAME=6)
    for n in range(6):
        _login_from(client, f"203.0.113.{n}")
    assert _login_from(client, "192.0.2.44", PASSWORD).status_code == 429


def test_parallel_wrong_logins_get_at_most_the_limit_of_password_checks(app, monkeypatch):
    checks: list[int] = []
    real = User.check_password
    monkeypatch.setattr(User, "check_password", lambda self, pw: checks.append(1) or real(self, pw))
    barrier = threading.Barrier(40)
    codes: list[int] = []

    def guess() -> None:
        with app.test_client() as own:
            barrier.wait()
            codes.append(_login_from(own, "203.0.113.9", "guess").status_code)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    limit = app.config["LOGIN_MAX_FAILURES"]
    assert len(checks) <= limit
    assert sorted(codes) == [401] * limit + [429] * (40 - limit)


def test_lock_expires(app, client):
    app.config.update(LOGIN_MAX_FAILURES=1, LOGIN_LOCK_SECONDS=0)
    client.post("/api/auth/login", json={"username": "tech", "password": "x"})
    assert (
        client.post("/api/auth/login", json={"username": "tech", "password": PASSWORD}).status_code
        == 200
    )


def test_disabled_account_cannot_log_in_and_its_tokens_stop_working(app, client, auth):
    headers = auth.headers("tech")
    admin = auth.headers("admin")
    tech_id = auth.tokens("tech")["user"]["id"]
    assert (
        client.patch(f"/api/users/{tech_id}", json={"active": False}, headers=admin).status_code
        == 200
    )
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert (
        client.post("/api/auth/login", json={"username": "tech", "password": PASSWORD}).status_code
        == 401
    )


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_refresh_rotates_the_refresh_token(app, client, auth):
    first = auth.login("viewer")
    response = client.post("/api/auth/refresh", headers=_bearer(first["refresh_token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert client.get("/api/auth/me", headers=_bearer(body["access_token"])).status_code == 200
    # the one used is spent: a thief replaying it gets nothing, the new one works
    again = client.post("/api/auth/refresh", headers=_bearer(first["refresh_token"]))
    assert again.status_code == 401 and _error(again)["code"] == "token_revoked"
    second = client.post("/api/auth/refresh", headers=_bearer(body["refresh_token"]))
    assert second.status_code == 200
    # a refresh does not extend the login: the new token ends when the first one would have
    with app.app_context():
        from flask_jwt_extended import decode_token

        old = decode_token(first["refresh_token"], allow_expired=True)["exp"]
        new = decode_token(second.get_json()["refresh_token"])["exp"]
    assert abs(new - old) <= 1


def test_one_refresh_token_used_twice_at_once_refreshes_once(app, client, auth):
    refresh = auth.login("tech")["refresh_token"]
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def send() -> None:
        with app.test_client() as own:
            barrier.wait()
            codes.append(own.post("/api/auth/refresh", headers=_bearer(refresh)).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 401, 401, 401, 401, 401]


def _admin_change(client, auth, user_id: int, body: dict) -> None:
    response = client.patch(f"/api/users/{user_id}", json=body, headers=auth.headers("admin"))
    assert response.status_code == 200, response.get_json()


def _refused(client, tokens: dict) -> bool:
    me = client.get("/api/auth/me", headers=_bearer(tokens["access_token"]))
    refreshed = client.post("/api/auth/refresh", headers=_bearer(tokens["refresh_token"]))
    return me.status_code == 401 and refreshed.status_code == 401


@pytest.mark.parametrize(
    "changes",
    [
        [{"password": "a new password after a leak"}],
        [{"role": "viewer"}],
        [{"active": False}],
        [{"active": False}, {"active": True}],  # re-enabling does not revive old tokens
    ],
    ids=["password", "role", "disable", "disable-enable"],
)
def test_an_account_change_ends_every_token_of_the_account(client, auth, changes):
    stolen = auth.login("tech")
    other = auth.login("tech2")
    for body in changes:
        _admin_change(client, auth, stolen["user"]["id"], body)
    assert _refused(client, stolen)
    assert not _refused(client, other)  # only that account's tokens end
    if changes[-1] != {"active": False}:  # a new login works and is not refused
        password = changes[0].get("password", PASSWORD)
        assert not _refused(client, auth.login("tech", password))


def test_a_token_without_an_epoch_counts_as_epoch_zero(app, client):
    """Tokens issued before the upgrade carry no "ver": they work until the first change."""
    with app.app_context():
        token = create_access_token(identity="1", additional_claims={"role": "admin"})
    assert client.get("/api/auth/me", headers=_bearer(token)).status_code == 200


def test_logout_revokes_access_and_refresh_tokens(app, client, auth):
    tokens = auth.login("tech")
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    response = client.post(
        "/api/auth/logout", headers=access, json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 200
    again = client.get("/api/auth/me", headers=access)
    assert again.status_code == 401 and _error(again)["code"] == "token_revoked"
    assert _error(client.post("/api/auth/refresh", headers=refresh))["code"] == "token_revoked"
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "auth.logout"))


def _forge(app, payload_changes: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    with app.app_context():
        good = create_access_token(identity="1")
    payload = pyjwt.decode(good, options={"verify_signature": False})
    payload.update(payload_changes)
    if algorithm == "none":
        return pyjwt.encode(payload, None, algorithm="none")
    return pyjwt.encode(payload, key or app.config["JWT_SECRET_KEY"], algorithm=algorithm)


@pytest.mark.parametrize(
    "attack",
    ["bad_signature", "alg_none", "expired", "refresh_as_access", "garbage", "unknown_user"],
)
def test_jwt_attacks_are_refused(app, client, auth, attack):
    if attack == "bad_signature":
        token = _forge(app, {}, key="another-secret-of-sufficient-length-123")
    elif attack == "alg_none":
        token = _forge(app, {}, algorithm="none")
    elif attack == "expired":
        with app.app_context():
            token = create_access_token(identity="1", expires_delta=timedelta(seconds=-10))
    elif attack == "refresh_as_access":
        token = auth.tokens("admin")["refresh_token"]
    elif attack == "unknown_user":
        token = _forge(app, {"sub": "999999"})
    else:
        token = "not.a.jwt"
    response = client.get("/api/audit", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert _error(response)["code"] in {"invalid_token", "token_expired", "unknown_user"}


def test_access_token_cannot_refresh(client, auth):
    response = client.post("/api/auth/refresh", headers=auth.headers("tech"))
    assert response.status_code == 401


@pytest.mark.database_free
def test_missing_token_is_json_401(client):
    response = client.get("/api/predictions")
    assert response.status_code == 401 and _error(response)["code"] == "missing_token"


@pytest.mark.parametrize(
    "body,content_type",
    [
        ("{broken", "application/json"),
        ('["tech", "pw"]', "application/json"),
        ('{"username": 12, "password": "x"}', "application/json"),
        ('{"username": "tech"}', "application/json"),
        ('{"username": "tech", "password": null}', "application/json"),
        ('{"username": "' + "u" * 5000 + '", "password": "x"}', "application/json"),
        ("username=tech&password=x", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_logins_are_400_and_count_nothing(app, client, body, content_type):
    response = client.post("/api/auth/login", data=body, content_type=content_type)
    assert response.status_code == 400
    assert _error(response)["code"] in {"invalid_json", "invalid_field"}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_purge_keeps_live_revocations_and_drops_expired_ones(app, client, auth):
    tokens = auth.login("tech")
    client.post("/api/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    with app.app_context():
        expired = create_access_token(identity="1", expires_delta=timedelta(seconds=-5))
        from flask_jwt_extended import decode_token

        from backend.auth.tokens import revoke

        revoke(decode_token(expired, allow_expired=True))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["auth", "purge"])
    assert result.exit_code == 0 and "Removed 1 expired revoked tokens" in result.output
    again = client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert again.status_code == 401 and _error(again)["code"] == "token_revoked"
