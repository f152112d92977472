"""Configuration from environment variables (each one is listed in .env.example), and from
the checkout's .env for those not set in the environment."""

import os
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

REPO_ROOT = Path(__file__).resolve().parent.parent
# The flask command reads .env itself, the server of `make run` does not: read it here for both.
# A variable set in the real environment wins over the file.
load_dotenv(REPO_ROOT / ".env", override=False)
INSTANCE_DIR = Path(os.environ.get("HEMATOVISION_INSTANCE", REPO_ROOT / "instance"))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    # None: create_app reads (or creates once) a random key in the instance folder, so every
    # server process and every restart signs with the same key without any setup.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{INSTANCE_DIR / 'hematovision.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=_int("JWT_ACCESS_MINUTES", 15))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=_int("JWT_REFRESH_DAYS", 30))
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_ALGORITHM = "HS256"
    # werkzeug's default KDF (scrypt); tests use a cheaper setting of the same API.
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
    # Whole-request cap; /predict has its own, smaller image limit below.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    SYNC_MAX_RECORDS = _int("SYNC_MAX_RECORDS", 500)
    PREDICT_MAX_BYTES = _int("PREDICT_MAX_BYTES", 10 * 1024 * 1024)
    PREDICT_MAX_PIXELS = _int("PREDICT_MAX_PIXELS", 40_000_000)
    # /predict uses this model when several are active and the request names none.
    PREDICT_DEFAULT_MODEL = os.environ.get("PREDICT_DEFAULT_MODEL", "wbc-differential")
    MODEL_STORE = os.environ.get("MODEL_STORE") or str(INSTANCE_DIR / "models")
    UPLOAD_FOLDER = os.environ.get("UPLOAD_FOLDER") or str(INSTANCE_DIR / "uploads")
    # Models, cell images and uploads live in the database (backend/storage/blobs.py); this local
    # folder only caches what must be a file (the classifier's .tflite). Default (None): "cache"
    # in the instance folder. MODEL_STORE, UPLOAD_FOLDER and CELL_IMAGE_FOLDER are only read by
    # `flask storage import-files`, which moves an older installation's files into the database.
    BLOB_CACHE = os.environ.get("BLOB_CACHE") or None
    # Login throttling (backend/auth/throttle.py): failures before a lock per username from one
    # address, per address, per username from everywhere; a counter forgets after the window
    # without failures; the lock doubles per further failure of one username+address pair.
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_MAX_FAILURES_IP = _int("LOGIN_MAX_FAILURES_IP", 100)
    LOGIN_MAX_FAILURES_USERNAME = _int("LOGIN_MAX_FAILURES_USERNAME", 100)
    LOGIN_WINDOW_SECONDS = _int("LOGIN_WINDOW_SECONDS", 15 * 60)
    LOGIN_LOCK_SECONDS = _int("LOGIN_LOCK_SECONDS", 5 * 60)
    LOGIN_LOCK_MAX_SECONDS = _int("LOGIN_LOCK_MAX_SECONDS", 60 * 60)
    # Trust X-Forwarded-For/-Proto from this many proxies (0 when the server faces clients).
    PROXY_COUNT = _int("PROXY_COUNT", 0)
    WTF_CSRF_TIME_LIMIT = None
    # Dashboard (browser) sessions: signed out after this many idle minutes.
    DASHBOARD_SESSION_MINUTES = _int("DASHBOARD_SESSION_MINUTES", 30)
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=DASHBOARD_SESSION_MINUTES)
    # ... and after this many hours however busy: a signed-out session's id is kept in the
    # blocklist only that long.
    DASHBOARD_SESSION_MAX_HOURS = _int("DASHBOARD_SESSION_MAX_HOURS", 12)
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    # Cell images sent with synced records; sites that must not store images set this to 0.
    CELL_IMAGES_ENABLED = os.environ.get("CELL_IMAGES_ENABLED", "1") == "1"
    CELL_IMAGE_MAX_BYTES = _int("CELL_IMAGE_MAX_BYTES", 256 * 1024)
    CELL_IMAGE_MAX_PIXELS = _int("CELL_IMAGE_MAX_PIXELS", 1024 * 1024)
    # Default (None): a "cells" folder inside UPLOAD_FOLDER.
    CELL_IMAGE_FOLDER = os.environ.get("CELL_IMAGE_FOLDER") or None


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"
    JWT_SECRET_KEY = SECRET_KEY
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
