"""Support for the PWA's browser tests and benchmark: the real Flask app on a real port (SQLite
file, real users, the released models published through the model store), and the system
Chromium driven by Python Playwright with a fresh profile.

Released models come from ``tflite_models/<name>/<version>/`` (``HEMATOVISION_PWA_MODELS`` may
point at another folder of releases)."""

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from bench.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 (re-exported to the tests)
from training.paths import datasets_root

REPO_ROOT = Path(__file__).resolve().parents[1]
PWA_DIR = REPO_ROOT / "pwa"
ARTIFACTS = REPO_ROOT / "test-artifacts"
DATASETS = datasets_root()
MODELS_ROOT = Path(os.environ.get("HEMATOVISION_PWA_MODELS", REPO_ROOT / "tflite_models"))
PASSWORD = "pwa test password 42"
ACCOUNTS = {"tech": "technician", "tech2": "technician", "viewer": "viewer", "admin": "admin"}
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}


def released_models() -> dict[str, Path]:
    """{name: folder} of the newest released version of each model."""
    found: dict[str, Path] = {}
    for meta in sorted(MODELS_ROOT.glob("*/*/model.json")):
        folder = meta.parent
        name = folder.parent.name
        if name not in found or version_key(folder.name) > version_key(found[name].name):
            found[name] = folder
    return found


def version_key(version: str) -> tuple:
    parts = version.replace("-", ".").replace("+", ".").split(".")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def require_releases(*names: str) -> dict[str, Path]:
    """{name: folder} of the named releases, with the app built; a missing one fails the test
    (it never skips: the browser tests are the PWA's proof)."""
    import pytest

    found = released_models()
    missing = set(names) - set(found)
    if missing:
        pytest.fail(f"no released {sorted(missing)} model under {MODELS_ROOT}")
    ensure_pwa_built()
    return {name: found[name] for name in names}


def ensure_pwa_built() -> None:
    """pwa/vendor/ is built by `make setup`; rebuild it here so tests see the current sources."""
    if not (PWA_DIR / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PWA_DIR, check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=PWA_DIR, check=True)


def dataset_images(
    dataset: str, per_class: int, split: str = "test", classes: list[str] | None = None
) -> list[Path]:
    """The first `per_class` images of each class (or of `classes`) of a dataset split."""
    root = DATASETS / dataset / split
    images = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if classes is not None and folder.name not in classes:
            continue
        images += sorted(folder.iterdir())[:per_class]
    assert images, f"no images under {root}"
    return images


class LiveServer:
    """create_app() on 127.0.0.1 in a thread. stop() and start() again keep the same port, so
    the browser's origin (and its service worker, caches and IndexedDB) stays the same."""

    def __init__(self, tmp: Path, models: dict[str, Path], **config):
        from backend import create_app, db
        from backend.config import TestConfig

        class Config(TestConfig):
            SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp / 'pwa.sqlite3'}"
            MODEL_STORE = str(tmp / "models")
            UPLOAD_FOLDER = str(tmp / "uploads")

        for key, value in config.items():
            setattr(Config, key, value)

        tmp.mkdir(parents=True, exist_ok=True)
        self.app = create_app(Config)
        self.tmp = tmp
        self.port = 0
        self.server = None
        self.hold_sync_response = None
        self.lose_sync_response = False
        self.sync_requests = 0
        self.sync_held = threading.Event()
        with self.app.app_context():
            db.create_all()
            from backend.users.accounts import create_user

            for username, role in ACCOUNTS.items():
                create_user(username, PASSWORD, role)
            db.session.commit()
        for folder in models.values():
            self.publish(folder)
        self.bytes_sent = 0
        self.next_app_version = None
        self.app.wsgi_app = self._counting(self._holding(self._new_version(self.app.wsgi_app)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def publish(self, folder: Path, meta_changes: dict | None = None) -> None:
        """Publishes and activates a release folder (model.json optionally changed, e.g. a new
        version number for the same file), as `flask models publish` does."""
        from backend import db
        from backend.model_delivery import store
        from backend.model_delivery.release import check_release

        meta = json.loads((folder / "model.json").read_text())
        meta.update(meta_changes or {})
        with self.app.app_context():
            model_bytes = (folder / "model.tflite").read_bytes()
            release = check_release(json.dumps(meta).encode(), model_bytes)
            version, _ = store.publish(release, None)
            store.activate(version)
            db.session.commit()

    def _new_version(self, wsgi_app):
        """Test hook: with `next_app_version` set, /sw.js is served as a new app version (its
        version string replaced), as after a deploy of changed shell files."""

        def app(environ, start_response):
            new = self.next_app_version
            if not new or environ.get("PATH_INFO") != "/sw.js":
                return wsgi_app(environ, start_response)
            environ = dict(environ, HTTP_ACCEPT_ENCODING="identity")
            captured = {}

            def keep(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers

            body = b"".join(wsgi_app(environ, keep))
            if captured["status"].startswith("200"):
                old = json.loads((PWA_DIR / "vendor" / "version.json").read_text())["appVersion"]
                body = body.replace(old.encode(), new.encode())
            headers = [
                (k, v)
                for k, v in captured["headers"]
                if k.lower() not in ("etag", "content-length")
            ]
            start_response(captured["status"], headers + [("Content-Length", str(len(body)))])
            return [body]

        return app

    def _counting(self, wsgi_app):
        """Counts the bytes of every response body (as sent: compressed where it was)."""

        def app(environ, start_response):
            for chunk in wsgi_app(environ, start_response):
                self.bytes_sent += len(chunk)
                yield chunk

        return app

    def _holding(self, wsgi_app):
        """Test hooks on POST /api/sync/predictions, both applied after the server committed:
        `hold_sync_response` (seconds) keeps the answer back while a test reloads the page;
        `lose_sync_response` answers 502 instead, as a proxy that lost the answer would."""

        def app(environ, start_response):
            if environ.get("PATH_INFO") != "/api/sync/predictions":
                return wsgi_app(environ, start_response)
            self.sync_requests += 1
            if self.lose_sync_response:
                self.lose_sync_response = False
                b"".join(wsgi_app(environ, lambda *a, **k: None))
                start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
                return [b"the answer was lost"]
            body = list(wsgi_app(environ, start_response))
            hold, self.hold_sync_response = self.hold_sync_response, None
            if hold:
                self.sync_held.set()
                time.sleep(hold)
            return body

        return app

    def start(self) -> "LiveServer":
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def push_as(self, username: str, records: list[dict]) -> list[dict]:
        """POST /api/sync/predictions as another account (through the real API)."""
        client = self.app.test_client()
        login = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        response = client.post(
            "/api/sync/predictions", json={"predictions": records}, headers=headers
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()["results"]

    def predictions(self, ids=None) -> list:
        import sqlalchemy as sa

        from backend import db
        from backend.models import Prediction

        with self.app.app_context():
            query = sa.select(Prediction)
            if ids is not None:
                query = query.where(Prediction.id.in_(list(ids)))
            return [p.to_dict() for p in db.session.scalars(query)]


def launch(playwright, profile: Path, viewport=PHONE, extra_args=(), fresh=True, **options):
    """A persistent Chromium context with a fresh profile (service workers, IndexedDB, caches);
    fresh=False reopens an existing profile (a cold start of an installed app).
    `extra_args`: e.g. ["--use-fake-device-for-media-stream"] for a synthetic camera."""
    if fresh and profile.exists():
        shutil.rmtree(profile)
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS + list(extra_args),
        headless=True,
        viewport=viewport,
        service_workers="allow",
        accept_downloads=True,
        **options,
    )


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # the viewport, as a person sees it
    return path


# --- driving the app through its UI -------------------------------------------------------


def open_logged_in(playwright, server, profile: Path, models: int = 1, **options):
    """A fresh Chromium profile with the app open, logged in as the technician, and its
    `models` models downloaded: (context, page)."""
    context = launch(playwright, profile, **options)
    return context, logged_in_page(context, server, models)


def logged_in_page(context, server, models: int = 1):
    """A new page of `context` with the app open, logged in as the technician, models loaded."""
    page = context.new_page()
    open_app(page, server.url)
    log_in(page)
    wait_for_models(page, models)
    return page


def open_app(page, url: str) -> None:
    page.goto(url + "/")
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=30_000)


def log_in(page, username: str = "tech", password: str = PASSWORD) -> None:
    page.click("#tab-account")
    page.fill("#login-user", username)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#account-info:not([hidden])", timeout=15_000)


def wait_for_models(page, count: int) -> None:
    page.wait_for_function(f"Number(document.body.dataset.models || 0) >= {count}", timeout=60_000)


def wait_until_offline_ready(page) -> None:
    """The service worker controls the page and its caches hold the shell and the runtime."""
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    page.evaluate("navigator.serviceWorker.ready")


def choose_model(page, name: str) -> None:
    page.click("#tab-classify")
    page.select_option("#model-select", name)
    page.wait_for_function(
        "([n]) => window.hematovision.model() && window.hematovision.model().name === n && "
        "window.hematovision.inference.isLoaded(window.hematovision.model())",
        arg=[name],
        timeout=30_000,
    )


def classify_files(page, files: list[Path]) -> list[dict]:
    """Picks the files (several at once), classifies each at zoom 1 (the whole image, like
    classifier.classify) and returns the saved records in order."""
    page.click("#tab-classify")
    page.set_input_files("#file-input", [str(f) for f in files])
    results = []
    for i, _ in enumerate(files):
        previous = page.evaluate("document.body.dataset.lastResult || ''")
        page.wait_for_function("!document.querySelector('#classify-btn').disabled", timeout=30_000)
        page.click("#classify-btn")
        page.wait_for_function(
            "([p]) => (document.body.dataset.lastResult || '') !== p",
            arg=[previous],
            timeout=30_000,
        )
        record_id = page.evaluate("document.body.dataset.lastResult")
        results.append(record(page, record_id))
        if i < len(files) - 1:
            page.click("#reset-btn")
    return results


def record(page, record_id: str) -> dict:
    return page.evaluate(
        """async (id) => {
            const r = await window.hematovision.db.get('predictions', id);
            const { thumbnail, ...rest } = r;
            return rest;
        }""",
        record_id,
    )


def all_records(page) -> list[dict]:
    return page.evaluate(
        """async () => (await window.hematovision.db.getAll('predictions')).map(
            ({ thumbnail, ...rest }) => rest)"""
    )


def wait_for_notice(page, text: str, timeout: int = 15_000) -> str:
    """Waits until the message line shows `text`; returns the whole message."""
    page.wait_for_function(
        "([t]) => !document.querySelector('#notice').hidden && "
        "document.querySelector('#notice-text').textContent.includes(t)",
        arg=[text],
        timeout=timeout,
    )
    return page.inner_text("#notice-text")
