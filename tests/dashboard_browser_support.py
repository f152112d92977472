"""Support for the dashboard's browser tests: the real app on a real port (SQLite file in a
temp folder) and the system Chromium through Python Playwright with a fresh profile."""

import json
import threading
import urllib.request
from pathlib import Path

from werkzeug.serving import make_server

from bench.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 (re-exported to the tests)

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


class LiveServer:
    def __init__(self, tmp: Path) -> None:
        from backend import create_app, db
        from backend.config import TestConfig

        class Config(TestConfig):
            SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp / 'dashboard.sqlite3'}"
            MODEL_STORE = str(tmp / "models")
            UPLOAD_FOLDER = str(tmp / "uploads")

        self.app = create_app(Config)
        with self.app.app_context():
            db.create_all()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        with self.app.app_context():
            from backend import db

            db.engine.dispose()

    def api(self, path: str, body: dict, token: str | None = None) -> dict:
        """A JSON POST as the phone app makes it."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def shoot(page, name: str) -> None:
    """Screenshots at desktop and phone size; at phone size the page must not scroll sideways
    (wide tables scroll inside their own region instead)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size_name, size in SIZES.items():
        page.set_viewport_size(size)
        # two frames: charts redraw for the new size on a ResizeObserver callback
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size_name}.png"), full_page=True)
        if size_name == "phone":
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a phone"
    page.set_viewport_size(SIZES["desktop"])
