"""The real Flask app on a real port of 127.0.0.1, in a thread, on an SQLite file in a temp
folder: what the browser tests (PWA and dashboard) and the browser benchmarks talk to.

    server = LiveServer(tmp, {"wbc-differential": folder}, users={"tech": "technician"},
                        password="...").start()
    ...
    server.stop()

or ``with LiveServer(tmp) as server: ...``. stop() and start() again keep the same port, so the
browser's origin (and its service worker, caches and IndexedDB) stays the same."""

import io
import json
import threading
import time
import urllib.request
from pathlib import Path

from werkzeug.serving import make_server

PWA_DIR = Path(__file__).resolve().parents[1] / "pwa"


class LiveServer:
    """create_app() with `config` overrides; `users` ({username: role}, all with `password`)
    are created and `models` ({name: release folder}) published and activated before start.

    Test hooks: `bytes_sent` counts response bytes; `hold_sync_response`, `lose_sync_response`,
    `refuse_sync`, `sync_requests` and `sync_bodies` (each request's JSON) act on POST
    /api/sync/predictions; `next_app_version` serves /sw.js as a new app version."""

    def __init__(
        self,
        tmp: Path,
        models: dict[str, Path] | None = None,
        users: dict[str, str] | None = None,
        password: str | None = None,
        **config,
    ):
        from backend import create_app, db
        from backend.config import TestConfig

        class Config(TestConfig):
            SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp / 'live.sqlite3'}"
            MODEL_STORE = str(tmp / "models")
            UPLOAD_FOLDER = str(tmp / "uploads")
            BLOB_CACHE = str(tmp / "cache")  # not the checkout's instance folder

        for key, value in config.items():
            setattr(Config, key, value)

        tmp.mkdir(parents=True, exist_ok=True)
        self.app = create_app(Config)
        self.tmp = tmp
        self.port = 0
        self.server = None
        self.thread = None
        self.password = password
        self.hold_sync_response = None
        self.lose_sync_response = False
        self.refuse_sync = None
        self.sync_requests = 0
        self.sync_bodies: list[dict] = []
        self.sync_held = threading.Event()
        with self.app.app_context():
            db.create_all()
            from backend.users.accounts import create_user

            for username, role in (users or {}).items():
                create_user(username, password, role)
            db.session.commit()
        for folder in (models or {}).values():
            self.publish(folder)
        self.bytes_sent = 0
        self.next_app_version = None
        self.app.wsgi_app = self._counting(self._holding(self._new_version(self.app.wsgi_app)))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
            self.thread.join(timeout=10)
            self.server = None

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        with self.app.app_context():
            from backend import db

            db.engine.dispose()

    def publish(self, folder: Path, card_changes: dict | None = None) -> None:
        """Publishes and activates a release folder (model.json optionally changed, e.g. a new
        version number for the same file), as `flask models publish` does."""
        from backend import db
        from backend.model_delivery import store
        from backend.model_delivery.release import check_release

        card = json.loads((folder / "model.json").read_text())
        card.update(card_changes or {})
        with self.app.app_context():
            model_bytes = (folder / "model.tflite").read_bytes()
            release = check_release(json.dumps(card).encode(), model_bytes)
            version, _ = store.publish(release, None)
            store.activate(version)
            db.session.commit()

    def api(self, path: str, body: dict, token: str | None = None) -> dict:
        """A JSON POST over HTTP, as the phone app makes it."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def push_as(self, username: str, records: list[dict]) -> list[dict]:
        """POST /api/sync/predictions as another account (through the real API)."""
        client = self.app.test_client()
        login = client.post(
            "/api/auth/login", json={"username": username, "password": self.password}
        )
        headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
        response = client.post(
            "/api/sync/predictions", json={"predictions": records}, headers=headers
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()["results"]

    def end_sessions(self, username: str) -> None:
        """Ends every token `username` holds, as a password change on the server does (a
        refresh racing with it gets a token that is ended too)."""
        import sqlalchemy as sa

        from backend import db
        from backend.models import User

        with self.app.app_context():
            db.session.scalar(sa.select(User).filter_by(username=username)).end_sessions()
            db.session.commit()

    def predictions(self, ids=None) -> list:
        """The stored predictions (all, or those with `ids`) as the API returns them."""
        import sqlalchemy as sa

        from backend import db
        from backend.models import Prediction

        with self.app.app_context():
            query = sa.select(Prediction)
            if ids is not None:
                query = query.where(Prediction.id.in_(list(ids)))
            return [p.to_dict() for p in db.session.scalars(query)]

    def _new_version(self, wsgi_app):
        """With `next_app_version` set, /sw.js is served as a new app version (its version
        string replaced), as after a deploy of changed shell files."""

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
        """Hooks on POST /api/sync/predictions. `refuse_sync(body)` may return a status: the
        whole request is answered with it (in the API's error shape) and nothing is stored,
        as a server that fails on, or a proxy that refuses, what the body holds. The other two
        act after the server committed: `hold_sync_response` (seconds) keeps the answer back
        while a test reloads the page; `lose_sync_response` answers 502 instead, as a proxy
        that lost the answer would."""

        def app(environ, start_response):
            if environ.get("PATH_INFO") != "/api/sync/predictions":
                return wsgi_app(environ, start_response)
            self.sync_requests += 1
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(raw)
            try:
                self.sync_bodies.append(json.loads(raw))
            except ValueError:
                self.sync_bodies.append({})
            if self.refuse_sync and (status := self.refuse_sync(self.sync_bodies[-1])):
                error = {"code": "refused_by_test", "message": f"Refused with {status}."}
                start_response(f"{status} Refused", [("Content-Type", "application/json")])
                return [json.dumps({"error": error}).encode()]
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
