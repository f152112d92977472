"""Accounts: the admin API and the `flask users` commands; passwords only as KDF hashes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry, User
from tests.conftest import PASSWORD

REPO = Path(__file__).resolve().parents[2]


def _user(app, username: str) -> User | None:
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


def test_cli_create_with_password_stdin(app, client):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Lab.Tech", "--role", "technician", "--password-stdin"],
        input="s3cret password\n",
    )
    assert result.exit_code == 0, result.output
    user = _user(app, "lab.tech")
    assert user.role == "technician"
    assert "s3cret" not in user.password_hash and user.password_hash.startswith("pbkdf2:")
    login = {"username": "lab.tech", "password": "s3cret password"}
    assert client.post("/api/auth/login", json=login).status_code == 200


@pytest.mark.database_free
def test_default_kdf_is_scrypt(app):
    app.config["PASSWORD_HASH_METHOD"] = "scrypt"
    with app.app_context():
        user = User(username="x", role="viewer")
        user.set_password("a long password")
        assert user.password_hash.startswith("scrypt:") and user.check_password("a long password")


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (["tech", "--role", "viewer"], "another password\n", "taken"),
        (["newone", "--role", "viewer"], "short\n", "at least 8"),
        (["a/b", "--role", "viewer"], "long enough pw\n", "username"),
        (["newone", "--role", "superuser"], "long enough pw\n", "Invalid value"),
    ],
)
def test_cli_create_refuses_bad_input(app, args, stdin, message):
    result = app.test_cli_runner().invoke(
        args=["users", "create", *args, "--password-stdin"], input=stdin
    )
    assert result.exit_code != 0 and message in result.output
    assert _user(app, "newone") is None


def test_ensure_admin_prints_a_generated_password_once(app, monkeypatch):
    monkeypatch.delenv("HEMATOVISION_ADMIN_PASSWORD", raising=False)
    runner = app.test_cli_runner()
    with app.app_context():
        db.session.execute(sa.delete(AuditEntry))
        db.session.execute(sa.delete(User).where(User.role == "admin"))
        db.session.commit()
    first = runner.invoke(args=["users", "ensure-admin"])
    assert first.exit_code == 0 and "password:" in first.output
    password = first.output.split("password: ")[1].split()[0]
    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        assert admin.role == "admin" and admin.check_password(password)
    second = runner.invoke(args=["users", "ensure-admin"])
    assert "exists already" in second.output and password not in second.output


def test_ensure_admin_uses_the_environment_password(app, monkeypatch):
    monkeypatch.setenv("HEMATOVISION_ADMIN_PASSWORD", "from the environment")
    with app.app_context():
        db.session.execute(sa.delete(AuditEntry))
        db.session.execute(sa.delete(User).where(User.role == "admin"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["users", "ensure-admin", "--username", "boss"])
    assert result.exit_code == 0 and "from the environment" not in result.output
    with app.app_context():
        boss = db.session.scalar(sa.select(User).where(User.username == "boss"))
        assert boss.check_password("from the environment")


def test_admin_api_creates_and_lists_users(app, client, auth):
    admin = auth.headers("admin")
    body = {"username": "Dr.Who", "password": "a good password", "role": "viewer"}
    created = client.post("/api/users", json=body, headers=admin)
    assert created.status_code == 201 and created.get_json()["user"]["username"] == "dr.who"
    assert "password_hash" not in created.get_json()["user"]
    again = client.post("/api/users", json=body, headers=admin)
    assert again.status_code == 409
    names = [u["username"] for u in client.get("/api/users", headers=admin).get_json()["users"]]
    assert "dr.who" in names
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.create"))
        assert entry.target == "dr.who" and entry.username == "admin"


@pytest.mark.parametrize(
    "body,code",
    [
        ({"username": "x1", "password": "a good password", "role": "viewer"}, "invalid_field"),
        ({"username": "valid", "password": "a good password", "role": "root"}, "invalid_field"),
        ({"username": "valid", "password": 12345678, "role": "viewer"}, "invalid_field"),
        ({"username": "valid", "password": "short", "role": "viewer"}, "weak_password"),
        ({"username": "v" * 500, "password": "a good password", "role": "viewer"}, "invalid_field"),
    ],
)
def test_admin_api_refuses_bad_accounts(app, client, auth, body, code):
    response = client.post("/api/users", json=body, headers=auth.headers("admin"))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code
    assert _user(app, "valid") is None


@pytest.mark.parametrize("user_id", [2**31 - 1, 2**31, 2**63, 10**30])
def test_an_id_no_database_integer_holds_is_no_user_not_a_500(app, client, auth, user_id):
    """Found by the API fuzzing: SQLite cannot bind 2**63, PostgreSQL's integer ends at
    2**31 - 1, and PATCH answered 500."""
    body = {"role": "viewer", "active": False}
    response = client.patch(f"/api/users/{user_id}", json=body, headers=auth.headers("admin"))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert _user(app, "admin").role == "admin" and _user(app, "admin").active


WEAK = [
    ("8 spaces", " " * 8, "not counting spaces"),
    ("short in spaces", "   abc12   ", "not counting spaces"),
    ("common", "password1", "most common passwords"),
    ("common in capitals", "PassWord123", "most common passwords"),
    ("common in spaces", "  iloveyou  ", "most common passwords"),
]


@pytest.mark.parametrize("password,message", [w[1:] for w in WEAK], ids=[w[0] for w in WEAK])
def test_weak_passwords_are_refused_by_the_api(app, client, auth, password, message):
    admin = auth.headers("admin")
    body = {"username": "valid", "password": password, "role": "viewer"}
    created = client.post("/api/users", json=body, headers=admin)
    assert created.status_code == 400 and created.get_json()["error"]["code"] == "weak_password"
    assert message in created.get_json()["error"]["message"]
    assert _user(app, "valid") is None
    tech_id = _user(app, "tech").id
    changed = client.patch(f"/api/users/{tech_id}", json={"password": password}, headers=admin)
    assert changed.status_code == 400 and message in changed.get_json()["error"]["message"]
    login = {"username": "tech", "password": PASSWORD}
    assert client.post("/api/auth/login", json=login).status_code == 200


@pytest.mark.parametrize("password,message", [w[1:] for w in WEAK], ids=[w[0] for w in WEAK])
def test_weak_passwords_are_refused_by_the_cli(app, client, password, message):
    created = app.test_cli_runner().invoke(
        args=["users", "create", "valid", "--role", "viewer", "--password-stdin"],
        input=password + "\n",
    )
    assert created.exit_code != 0 and message in created.output
    assert _user(app, "valid") is None
    changed = _set_password(app, "tech", password + "\n", "--password-stdin")
    assert changed.exit_code != 0 and message in changed.output


def test_the_common_password_list_is_there_and_long_enough():
    from backend.users.accounts import _common_passwords

    words = _common_passwords()
    assert len(words) > 5000 and {"password", "12345678", "qwertyuiop"} <= words
    assert all(len(w) >= 8 and w == w.lower() for w in words)


def _set_password(app, username: str, stdin: str, *options: str):
    return app.test_cli_runner().invoke(
        args=["users", "set-password", username, *options], input=stdin
    )


def test_cli_set_password_resets_audits_and_ends_sessions_and_tokens(app, client, auth):
    from tests.dashboard.conftest import sign_in

    stolen = auth.login("viewer")
    assert sign_in(client, "viewer").status_code == 302
    assert client.get("/dashboard/").status_code == 200
    result = _set_password(app, "Viewer", "a new long password\n", "--password-stdin")
    assert result.exit_code == 0, result.output
    assert "The password of 'viewer' was reset" in result.output
    # the API tokens issued before the reset are refused, access and refresh alike
    bearer = {"Authorization": f"Bearer {stolen['access_token']}"}
    assert client.get("/api/auth/me", headers=bearer).status_code == 401
    bearer = {"Authorization": f"Bearer {stolen['refresh_token']}"}
    assert client.post("/api/auth/refresh", headers=bearer).status_code == 401
    old = {"username": "viewer", "password": PASSWORD}
    assert client.post("/api/auth/login", json=old).status_code == 401
    new = {"username": "viewer", "password": "a new long password"}
    assert client.post("/api/auth/login", json=new).status_code == 200
    # the browser session opened with the old password is over
    assert client.get("/dashboard/").status_code == 302
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.update"))
        assert (entry.username, entry.target) == ("cli", "viewer")
        assert entry.details == {"password": "reset", "via": "cli"}


def test_cli_set_password_prompts_twice(app, client):
    result = _set_password(app, "tech", "typed twice ok\ntyped twice ok\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("password") >= 2  # the prompt and its confirmation
    login = {"username": "tech", "password": "typed twice ok"}
    assert client.post("/api/auth/login", json=login).status_code == 200


@pytest.mark.parametrize(
    "username,stdin,message",
    [("tech", "short\n", "at least 8 characters"), ("nobody", "a long password\n", "No account")],
)
def test_cli_set_password_refuses_bad_input(app, client, username, stdin, message):
    result = _set_password(app, username, stdin, "--password-stdin")
    assert result.exit_code != 0 and message in result.output
    login = {"username": "tech", "password": PASSWORD}
    assert client.post("/api/auth/login", json=login).status_code == 200
    with app.app_context():
        assert (
            db.session.scalar(sa.select(AuditEntry.id).where(AuditEntry.action == "user.update"))
            is None
        )


def test_the_flask_command_finds_the_app_through_flaskenv(app, tmp_path):
    """As the README says: `flask users list` in the checkout, with no FLASK_APP exported."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "HEMATOVISION_INSTANCE": str(tmp_path / "instance"),
    }
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run(
        [str(flask), "users", "list"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    names = [line.split("\t")[1] for line in result.stdout.splitlines()]
    assert names == ["admin", "tech", "tech2", "viewer"]
