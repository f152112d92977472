"""Hematovision backend: the extension singletons and the application factory."""

import os
import secrets
import time
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_jwt_extended import JWTManager
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import i18n, security_headers
from backend.config import INSTANCE_DIR, REPO_ROOT, Config

db = SQLAlchemy()
migrate = Migrate(directory=str(REPO_ROOT / "migrations"))
login = LoginManager()
login.login_view = "dashboard.login"  # the dashboard blueprint provides it
jwt = JWTManager()
csrf = CSRFProtect()


# HS256 keys: RFC 7518 asks for at least the hash's 256 bits; a short one can be guessed offline
# from any token or session cookie.
MIN_KEY_BYTES = 32


def create_app(config_class: type = Config, instance_path: str | Path | None = None) -> Flask:
    # Whatever the server writes (the instance folder, the SQLite file and its -wal/-shm, uploads,
    # cell images, published models, the generated key) is for its own account only: folders
    # 0700, files 0600. The whole process, because SQLite and Pillow create files themselves.
    os.umask(0o077)
    app = Flask(__name__, instance_path=str(instance_path or INSTANCE_DIR))
    app.config.from_object(config_class)
    Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
    _ensure_secret_keys(app)
    _init_extensions(app)
    _register_blueprints(app)
    security_headers.init_app(app)
    if proxies := app.config["PROXY_COUNT"]:
        # the client's address and scheme (HTTPS: HSTS, secure cookies) as the proxy saw them
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


def _ensure_secret_keys(app: Flask) -> None:
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")
    if not app.config["JWT_SECRET_KEY"]:
        app.config["JWT_SECRET_KEY"] = app.config["SECRET_KEY"]
    for name in ("SECRET_KEY", "JWT_SECRET_KEY"):
        if len(str(app.config[name]).encode()) < MIN_KEY_BYTES:
            raise RuntimeError(
                f"{name} is shorter than {MIN_KEY_BYTES} bytes. Set a long random value, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))', or leave it "
                "unset to use the key generated in the instance folder."
            )


def _instance_secret(path: Path) -> str:
    """Creates the key with O_EXCL, so workers starting together agree on one key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it right now
            if key := path.read_text().strip():
                return key
            time.sleep(0.05)
        raise RuntimeError(f"{path} is empty") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _init_extensions(app: Flask) -> None:
    from backend import models  # noqa: F401  (registers the tables)
    from backend.auth import tokens  # noqa: F401  (registers the JWT callbacks)

    db.init_app(app)
    migrate.init_app(app, db)
    login.init_app(app)
    jwt.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    with app.app_context():
        _tune_sqlite(app)


def _tune_sqlite(app: Flask) -> None:
    """WAL lets readers proceed during a write; foreign keys are off by default in SQLite."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        if app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def _register_blueprints(app: Flask) -> None:
    from backend.api_description import bp as api_description_bp
    from backend.app_shell import bp as app_shell_bp
    from backend.audit import bp as audit_bp
    from backend.auth import bp as auth_bp
    from backend.auth.cli import auth_cli
    from backend.dashboard import bp as dashboard_bp
    from backend.errors import register_error_handlers
    from backend.interop import bp as interop_bp
    from backend.model_delivery import bp as models_bp
    from backend.model_delivery.cli import models_cli
    from backend.predict import bp as predict_bp
    from backend.request_input import init_app as init_request_input
    from backend.storage.cli import storage_cli
    from backend.sync import bp as sync_bp
    from backend.users import bp as users_bp
    from backend.users.cli import users_cli

    init_request_input(app)  # first: the `int` URL converter; bad JSON and NULs are 400s
    blueprints = (auth_bp, users_bp, sync_bp, models_bp, audit_bp, predict_bp, interop_bp)
    for bp in (*blueprints, api_description_bp):
        app.register_blueprint(bp)
        csrf.exempt(bp)  # the JSON API authenticates with bearer tokens, not cookies
    app.register_blueprint(app_shell_bp)  # the PWA at / (GET only, nothing to protect by CSRF)
    app.register_blueprint(dashboard_bp)  # browser pages: sessions + CSRF, not exempt
    app.cli.add_command(users_cli)
    app.cli.add_command(auth_cli)
    app.cli.add_command(models_cli)
    app.cli.add_command(storage_cli)
    register_error_handlers(app)
