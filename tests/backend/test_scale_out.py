"""Two real app servers (`python -m backend.serve`), each with its own instance folder, sharing
one PostgreSQL and the same keys, as docs/deployment.md runs them (issue 16):

- four sync clients (two technicians, two phones each, half their records shared between
  their two phones) push contract-2 records with cell images, batch by batch alternately to
  both servers; server A is killed with SIGKILL mid-sync and restarted; each client replays
  its outbox until every record is answered: none lost, none created twice, no answer but
  200 (the only errors: connections to the killed server);
- a model published with the flask CLI against A's instance is served by B byte for byte,
  with the same ETag, and 304 on If-None-Match, from a cache B fills itself;
- a cell image synced through A is shown by B's dashboard; a /predict upload through A is
  read back through B.

PostgreSQL only: the point is several processes on one database server."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from backend import create_app, db
from backend.models import Blob, Prediction
from bench.inputs import cell_jpeg_b64
from tests.backend.conftest import wait_until_serving
from tests.conftest import DATABASES, PASSWORD, _config, cell_record, pbc_images
from tests.dashboard.conftest import csrf_token

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
KEY = "scale-out-test-key-that-is-long-enough-for-hs256"
PER_TECH = 400  # records per technician; each of their two phones holds 250, 100 shared
PER_PHONE = 250
BATCH = 25
THREADS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `python -m backend.serve` process with its own instance folder; `settings`: more
    environment (a proxy's PROXY_COUNT, say)."""

    def __init__(
        self,
        name: str,
        tmp: Path,
        database_url: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        **settings: str,
    ) -> None:
        self.name, self.host, self.port = name, host, port or _free_port()
        self.url = f"http://{host}:{self.port}"
        self.instance = tmp / name
        self.log_path = tmp / f"{name}.log"
        self.env = dict(
            os.environ,
            HEMATOVISION_INSTANCE=str(self.instance),
            DATABASE_URL=database_url,
            SECRET_KEY=KEY,
            JWT_SECRET_KEY=KEY,
            FLASK_APP="backend",
            TF_CPP_MIN_LOG_LEVEL="3",
            **settings,
        )
        for key in ("MODEL_STORE", "UPLOAD_FOLDER", "CELL_IMAGE_FOLDER", "BLOB_CACHE"):
            self.env.pop(key, None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "backend.serve", "--host", self.host,
            "--port", str(self.port), "--threads", str(THREADS),
        ]  # fmt: skip
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_until_serving(self.url, self.process, self.log_path)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def flask(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout


@contextlib.contextmanager
def scratch_database(request, name: str):
    """A new, empty PostgreSQL database `name` beside the test one, for servers started as
    separate processes: its URL; dropped afterwards (FORCE: a killed server's connections)."""
    if "postgresql" not in {p.values[0] for p in DATABASES}:
        pytest.skip("PostgreSQL excluded by HEMATOVISION_TEST_DB")
    base = request.getfixturevalue("postgres_url")
    admin_engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield base.replace("/hematovision_test?", f"/{name}?")
    finally:
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin_engine.dispose()


def app_with_accounts(url: str, tmp_path: Path, accounts: tuple[tuple[str, str], ...]):
    """The test's own app on a database `flask db upgrade` has migrated, with (name, role)
    accounts created in it."""
    app = create_app(_config(url, tmp_path), instance_path=tmp_path / "test-instance")
    with app.app_context():
        from backend.users.accounts import create_user

        for name, role in accounts:
            create_user(name, PASSWORD, role)
        db.session.commit()
    return app


@pytest.fixture
def cluster(request, tmp_path):
    """A fresh database migrated by `flask db upgrade`, its accounts, servers A and B."""
    with scratch_database(request, "hv_scale_out") as url:
        a, b = Server("a", tmp_path, url), Server("b", tmp_path, url)
        a.flask("db", "upgrade")
        accounts = (("admin", "admin"), ("tech1", "technician"), ("tech2", "technician"))
        app = app_with_accounts(url, tmp_path, accounts)
        try:
            a.start()
            b.start()
            yield app, a, b
        finally:
            a.stop()
            b.stop()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _token(server: Server, username: str) -> dict:
    body = {"username": username, "password": PASSWORD}
    response = requests.post(server.url + "/api/auth/login", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class Phone(threading.Thread):
    """Replays its outbox, BATCH records at a time, alternating servers, until every record is
    answered created or duplicate; a connection broken before or during the answer means, as
    on the phone: send the same batch again."""

    def __init__(self, n: int, headers: dict, outbox: list[dict], servers: list[Server]):
        super().__init__(name=f"phone-{n}")
        self.n, self.headers, self.outbox, self.servers = n, headers, list(outbox), servers
        self.answers: list[tuple[str, str, str]] = []  # (server, record id, status)
        self.errors: list[tuple[str, str]] = []  # (server, what)
        self.batches = 0

    def run(self) -> None:
        turn = self.n
        deadline = time.monotonic() + 90
        while self.outbox and time.monotonic() < deadline:
            server = self.servers[turn % 2]
            turn += 1
            batch = self.outbox[:BATCH]
            body = {"contract": 2, "predictions": batch}
            try:
                response = requests.post(
                    server.url + "/api/sync/predictions",
                    json=body,
                    headers=self.headers,
                    timeout=30,
                )
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
                # ChunkedEncodingError: the kill cut the answer off after its headers
                self.errors.append((server.name, type(error).__name__))
                time.sleep(0.05)
                continue
            if response.status_code != 200:
                self.errors.append((server.name, f"HTTP {response.status_code}"))
                continue
            results = response.json()["results"]
            answered = {r["id"] for r in results if r["status"] in ("created", "duplicate")}
            self.answers += [(server.name, r["id"], r["status"]) for r in results]
            self.outbox = [r for r in self.outbox if r["id"] not in answered]
            self.batches += 1


def _records() -> tuple[dict[str, list[dict]], set[str]]:
    images = [cell_jpeg_b64(p, size=80) for p in pbc_images("neutrophil", 12)]
    rng = random.Random(16)
    phones: dict[str, list[dict]] = {}
    every: set[str] = set()
    for tech in ("tech1", "tech2"):
        records = [cell_record("neutrophil", device_id=f"{tech}-phone") for _ in range(PER_TECH)]
        for record in records:
            record["image"] = rng.choice(images)
        every |= {r["id"] for r in records}
        shared = 2 * PER_PHONE - PER_TECH
        first, second = records[:PER_PHONE], records[PER_PHONE - shared :]
        rng.shuffle(second)  # the second phone sends the shared records in another order
        phones[f"{tech}/0"], phones[f"{tech}/1"] = first, second
    return phones, every


def test_two_servers_share_records_images_models_and_uploads(cluster, releases):
    app, a, b = cluster
    outboxes, every = _records()
    started = time.monotonic()

    # --- racing sync, A killed and restarted mid-way -------------------------------------
    phones = []
    for n, (key, outbox) in enumerate(sorted(outboxes.items())):
        tech = key.split("/")[0]
        phones.append(Phone(n, _token([a, b][n % 2], tech), outbox, [a, b]))
    for phone in phones:
        phone.start()
    total = sum(len(o) for o in outboxes.values()) // BATCH
    deadline = time.monotonic() + 60
    while sum(p.batches for p in phones) < total // 3:
        assert any(p.is_alive() for p in phones) and time.monotonic() < deadline
        time.sleep(0.01)
    a.kill()  # batches in flight on A are cut off mid-request
    killed_at = sum(p.batches for p in phones)
    time.sleep(0.5)
    a.start()
    for phone in phones:
        phone.join(120)
    assert not any(phone.is_alive() or phone.outbox for phone in phones)
    errors = [e for phone in phones for e in phone.errors]
    assert all(server == "a" and not what.startswith("HTTP") for server, what in errors), errors
    answers = [answer for phone in phones for answer in phone.answers]
    assert {status for _, _, status in answers} <= {"created", "duplicate"}
    created = [record_id for _, record_id, status in answers if status == "created"]
    assert len(created) == len(set(created))  # never created twice
    assert {record_id for _, record_id, _ in answers} == every
    with app.app_context():
        stored = db.session.execute(sa.select(Prediction.id, Prediction.image_path)).all()
        assert {row.id for row in stored} == every and len(stored) == len(every)  # 0 lost
        cells = set(db.session.scalars(sa.select(Blob.key).where(Blob.key.like("cells/%"))))
        assert cells == {f"cells/{row.image_path}" for row in stored}  # one image per record
    assert killed_at < total and errors  # A really died mid-sync, and phones ran into it
    print(f"{killed_at}/{total} batches before the kill; {len(errors)} connection errors")

    # --- a model published through A's instance, served by B ------------------------------
    a.flask("models", "publish", str(releases["v1"]), "--activate")
    tflite = (releases["v1"] / "model.tflite").read_bytes()
    path = "/api/models/cells/1.0.0/model.tflite"
    from_b, from_a = requests.get(b.url + path, timeout=30), requests.get(a.url + path, timeout=30)
    assert from_b.status_code == from_a.status_code == 200
    assert from_b.content == from_a.content == tflite
    assert from_b.headers["ETag"] == from_a.headers["ETag"]
    assert from_b.headers["Last-Modified"] == from_a.headers["Last-Modified"]
    assert "immutable" in from_b.headers["Cache-Control"]
    again = requests.get(
        b.url + path, headers={"If-None-Match": from_a.headers["ETag"]}, timeout=30
    )
    assert again.status_code == 304 and again.content == b""
    listed = requests.get(b.url + "/api/models", timeout=30).json()["models"]
    assert [(m["name"], m["version"]) for m in listed] == [("cells", "1.0.0")]

    # --- a cell image synced through A, on B's dashboard ----------------------------------
    through_a = next(
        rid for server, rid, status in answers if server == "a" and status == "created"
    )
    browser = requests.Session()
    form = csrf_token(browser.get(b.url + "/dashboard/login", timeout=30).text)
    signed_in = browser.post(
        b.url + "/dashboard/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": form},
        timeout=30,
    )
    assert signed_in.status_code == 200 and "Sign out" in signed_in.text
    image = browser.get(f"{b.url}/dashboard/results/{through_a}/image.jpg", timeout=30)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
    with app.app_context():
        name = db.session.scalar(sa.select(Prediction.image_path).where(Prediction.id == through_a))
        assert image.content == db.session.scalar(
            sa.select(Blob.data).where(Blob.key == f"cells/{name}")
        )

    # --- a /predict upload through A (restarted), read through B --------------------------
    tech = _token(b, "tech1")
    photo = pbc_images("lymphocyte", 1)[0].read_bytes()
    predicted = requests.post(
        a.url + "/predict", files={"image": ("cell.jpg", photo)}, headers=tech, timeout=60
    )
    assert predicted.status_code == 200, predicted.text
    upload_path = f"/predict/uploads/{predicted.json()['image_path']}"
    read_b = requests.get(b.url + upload_path, headers=tech, timeout=30)
    read_a = requests.get(a.url + upload_path, headers=tech, timeout=30)
    assert read_b.status_code == read_a.status_code == 200
    assert read_b.content == read_a.content and read_b.content[:3] == b"\xff\xd8\xff"
    assert read_b.headers["ETag"] == read_a.headers["ETag"]
    assert time.monotonic() - started < 60
