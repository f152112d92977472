"""What the test folders share: the fixtures `app` (each test that uses it runs on SQLite and on
a real PostgreSQL, unless marked `database_free`), `client`, `auth` and `releases`; and the
helpers that build the inputs several folders feed the app: phone records, model releases,
cell finder mosaics.

HEMATOVISION_TEST_DB=sqlite (or postgresql) limits a run to one database; the default is both.
A test marked `database_free` never reads or writes the database: it runs once, on SQLite; so
does one marked `sqlite_only` (property-based tests, whose breadth is in their examples); one
marked `postgresql_only` runs on PostgreSQL alone (concurrent writers)."""

import json
import os
import shutil
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from backend import create_app, db
from backend.config import TestConfig
from bench.file_lock import locked
from bench.inputs import DATASETS, MODELS_ROOT, cell_jpeg_b64, malaria_release, version_key
from bench.pwa_driver import forget_pwa_built
from tests.pg_cluster import PostgresCluster
from tests.tiny_model import tiny_release
from training.annotations import bccd_photos, malaria_fields, read_voc_boxes

OWNS_TEST_SESSION = pytest.StashKey[bool]()


def pytest_configure(config):
    # One id for the test session and its parallel workers (they inherit the environment):
    # what they build once for all of them is keyed by it (bench.pwa_driver.ensure_pwa_built).
    # The process that makes the id (the controller) cleans up after it.
    owns = "HEMATOVISION_TEST_SESSION" not in os.environ
    os.environ.setdefault("HEMATOVISION_TEST_SESSION", uuid.uuid4().hex)
    config.stash[OWNS_TEST_SESSION] = owns


def pytest_unconfigure(config):
    if config.stash.get(OWNS_TEST_SESSION, False):
        forget_pwa_built(os.environ.pop("HEMATOVISION_TEST_SESSION"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """Under pytest-xdist (`make test`): tests that share an id would be run once for all of
    them (schemathesis gives every API operation the same id; the Makefile runs that file
    without workers): stop, naming their files, rather than lose tests without a word."""
    shared = sorted({nodeid.split("::")[0] for nodeid, n in Counter(ids).items() if n > 1})
    if shared:
        pytest.exit(
            f"{', '.join(shared)}: several tests share an id, and pytest-xdist would run only "
            "one of them: run these files without -n",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def pytest_collection_modifyitems(config, items):
    # With workers, the training files first: they are the longest, and one left for the end
    # would leave the other worker idle.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: not item.nodeid.startswith("tests/training/"))  # stable


PASSWORD = "correct horse battery"
ACCOUNTS = {"admin": "admin", "viewer": "viewer", "tech": "technician", "tech2": "technician"}
_CHOICE = os.environ.get("HEMATOVISION_TEST_DB", "both")
DATABASES = [
    pytest.param(name, marks=[pytest.mark.postgres] if name == "postgresql" else [])
    for name in ("sqlite", "postgresql")
    if _CHOICE in ("both", name)
]


@pytest.fixture(scope="session")
def postgres_url():
    """One cluster per test session, migrated once; each test truncates what it wrote."""
    cluster = PostgresCluster().start()
    try:
        url = cluster.create_database("hematovision_test")
        app = create_app(_config(url, cluster.dir), instance_path=cluster.dir / "instance")
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            db.engine.dispose()
        yield url
    finally:
        cluster.stop()


def _config(url: str, tmp: Path) -> type:
    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = url
        MODEL_STORE = str(tmp / "models")
        UPLOAD_FOLDER = str(tmp / "uploads")

    return Config


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames:
        once = ("database_free", "sqlite_only")
        if metafunc.definition.get_closest_marker("postgresql_only"):
            metafunc.parametrize("database", [d for d in DATABASES if d.values[0] == "postgresql"])
        elif not any(metafunc.definition.get_closest_marker(m) for m in once):
            metafunc.parametrize("database", DATABASES)


@pytest.fixture
def database() -> str:
    """The database under `app`: parametrised over DATABASES, except for `database_free` tests,
    which only need some database for create_app, and `sqlite_only` ones: they get this one."""
    return "sqlite"


@pytest.fixture
def app(request, database, tmp_path):
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    app = create_app(_config(url, tmp_path), instance_path=tmp_path / "instance")
    with app.app_context():
        if database == "sqlite":
            db.create_all()
        for username, role in ACCOUNTS.items():
            _add_user(username, role)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        if database == "postgresql":
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


def _add_user(username: str, role: str) -> None:
    from backend.users.accounts import create_user

    create_user(username, PASSWORD, role)


@pytest.fixture
def client(app):
    return app.test_client()


class AuthHelper:
    """Logs in through the real API and returns bearer headers."""

    def __init__(self, client) -> None:
        self.client = client
        self._tokens: dict[str, dict] = {}

    def login(self, username: str, password: str = PASSWORD) -> dict:
        response = self.client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def tokens(self, username: str) -> dict:
        if username not in self._tokens:
            self._tokens[username] = self.login(username)
        return self._tokens[username]

    def headers(self, username: str | None) -> dict:
        if username is None:
            return {}
        return {"Authorization": f"Bearer {self.tokens(username)['access_token']}"}


@pytest.fixture
def auth(client):
    return AuthHelper(client)


@pytest.fixture(scope="session")
def releases(request, tmp_path_factory) -> dict[str, Path]:
    """Two real tiny TFLite releases of the model "cells" (built once, then cached)."""
    cache_plugin = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    if cache_plugin is not None:
        cache = Path(cache_plugin.mkdir("tiny-tflite"))
    else:
        cache = tmp_path_factory.mktemp("tiny-tflite")
    return {
        "v1": tiny_release(cache, version="1.0.0", seed=1),
        "v2": tiny_release(cache, version="2.0.0", seed=2),
    }


def publish_folder(app, folder: Path, activate: bool = True) -> None:
    """`flask models publish FOLDER [--activate]` on `app`."""
    from backend.model_delivery.cli import publish_command

    result = app.test_cli_runner().invoke(
        publish_command, [str(folder), "--activate" if activate else "--no-activate"]
    )
    assert result.exit_code == 0, result.output


def refused_before_any_work(main, tmp_path: Path, capsys, out: str, args: list[str],
                            name: str = "9.9.9") -> str:  # fmt: skip
    """A derived-release tool's `main([target, *args])` refuses (exit 2), with `target` made
    first when `out` is "existing": the target is left as it was, no temporary folder stays
    behind. Returns what it printed on stderr."""
    target = tmp_path / name
    if out == "existing":
        target.mkdir()
    assert main([str(target), *args]) == 2
    assert (out == "existing") == target.exists() and not list(tmp_path.glob(f".{name}*"))
    return capsys.readouterr().err


# --- a real released model declared as framed -----------------------------------------------
# Confirmed cells of another lab, for training.site_release: real crops, as they are or as a
# microscope at twice the magnification frames them (which wbc-differential 2.8.0 finds
# unfamiliar: no shared lab is, as it is).

SITE_SOURCE = MODELS_ROOT / "wbc-differential" / "2.8.0"
TECOM_CELLS = {"lymphocyte": 8, "monocyte": 8, "neutrophil": 8, "eosinophil": 6}


def zoomed(path: Path) -> Image.Image:
    """The crop's centre half: the same cell at twice the magnification."""
    with Image.open(path) as image:
        w, h = image.size
        return image.convert("RGB").crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))


def confirmed_cells(tmp: Path, per_label: dict[str, int], lab: str, zoom: bool = False) -> Path:
    """A confirmed-cells folder (<label>/<image>) of the first crops of each label of `lab`."""
    folder = tmp / "confirmed"
    for label, n in per_label.items():
        (folder / label).mkdir(parents=True)
        for path in sorted((DATASETS / "other-labs" / lab / label).glob("*"))[:n]:
            if zoom:
                zoomed(path).save(folder / label / f"{path.stem}.png")
            else:
                shutil.copy(path, folder / label / path.name)
    return folder


def unconfirmed_magnified_cells(tmp: Path, per_label: int = 5) -> list[Path]:
    """tecom's last crops of each confirmed label, at twice the magnification: never among the
    confirmed cells."""
    tmp.mkdir(parents=True, exist_ok=True)
    saved = []
    for label in TECOM_CELLS:
        for path in sorted((DATASETS / "other-labs" / "tecom" / label).glob("*"))[-per_label:]:
            saved.append(tmp / f"{label}-{path.stem}.png")
            zoomed(path).save(saved[-1])
    return saved


@pytest.fixture(scope="session")
def magnified_tecom_release(tmp_path_factory) -> Path:
    """2.8.0 adapted by training.site_release to 30 of tecom's crops at twice the magnification
    (about 1.5 min): its familiarity gains the lab's component. Built once, also when parallel
    workers ask for it (`make test`): built twice, it loaded the machine under the other
    worker's browser tests."""
    from training.site_release import main as site_main

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder the session's workers share
    out = root / "site" / "2.8.0-tecom-100x"
    with locked(root / "site.lock"):
        if not (out / "model.json").is_file():  # the folder appears whole (derived_release)
            shutil.rmtree(root / "site", ignore_errors=True)  # a worker's failed try
            cells = confirmed_cells(root / "site", TECOM_CELLS, "tecom", zoom=True)
            args = [str(out), "--from", str(SITE_SOURCE), "--cells", str(cells),
                    "--site", "TECOM at 100x"]  # fmt: skip
            assert site_main(args) == 0
    return out


# The unframed wbc-differential file, unchanged, with ``input.framing`` added to its model.json
# (the sha256 of the .tflite still matches). It checks the mechanism (classifier.classify and
# the PWA frame alike); it is not a model trained on frames.

FRAMING = {"method": "wbc-canonical", "fill": 0.6}


def base_release() -> Path:
    """The newest wbc-differential release trained on whole images (no input.framing)."""
    folders = sorted(MODELS_ROOT.glob("wbc-differential/*/model.json"))
    unframed = [m.parent for m in folders if "framing" not in json.loads(m.read_text())["input"]]
    assert unframed, f"no unframed wbc-differential release under {MODELS_ROOT}"
    return max(unframed, key=lambda folder: version_key(folder.name))


def framed_release(tmp: Path, framing: dict | None = FRAMING) -> Path:
    source = base_release()
    folder = tmp / "wbc-differential" / "framed"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "model.tflite", folder / "model.tflite")
    card = json.loads((source / "model.json").read_text())
    # A framed model frames field cells by its framing: the whole-image field framing goes.
    card["input"] = {k: v for k, v in card["input"].items() if k != "field_framing"}
    card["input"]["framing"] = framing
    (folder / "model.json").write_text(json.dumps(card))
    return folder


# --- the malaria releases with and without red-cell field mode, and malaria-fields ------------


def red_cell_release(tmp: Path | None = None) -> Path:
    """The newest malaria-screen release declaring red-cell field mode; with `tmp`, a copy of
    it there, for a test that edits its card (the released folder stays as it is)."""
    source = malaria_release(red_cells=True)
    if tmp is None:
        return source
    folder = tmp / "malaria-screen" / source.name
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.keras", "*.png"))
    return folder


def malaria_field_photos() -> list[Path]:
    """The 10 thin-smear field photos of malaria-fields (1600x1200 PNG, lossless)."""
    photos = [field["photo"] for field in malaria_fields()]
    assert len(photos) == 10, "expected the 10 fields under malaria-fields/bbbc041/images"
    return photos


def big_field(tmp: Path) -> Path:
    """A 6000x4000 JPEG: the first malaria field upscaled, as a phone camera would give it."""
    path = tmp / "big-field.jpg"
    if not path.exists():
        image = Image.open(malaria_field_photos()[0]).convert("RGB")
        image.resize((6000, 4000)).save(path, quality=90)
    return path


# --- prediction records the way a phone sends them ------------------------------------------


def make_record(**changes: Any) -> dict[str, Any]:
    record = {
        "id": str(uuid.uuid4()),
        "model_name": "cells",
        "model_version": "1.0.0",
        "label": "neutrophil",
        "confidence": 0.91,
        "status": "ok",
        "probabilities": {"neutrophil": 0.91, "lymphocyte": 0.06, "monocyte": 0.03},
        "captured_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "device_id": "phone-1",
        "slide_id": "S-001",
        "note": "field 3",
    }
    record.update(changes)
    return record


def push(client, headers: dict, records: list[dict]):
    return client.post("/api/sync/predictions", json={"predictions": records}, headers=headers)


def statuses(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [r["status"] for r in response.get_json()["results"]]


def sync(client, auth, username: str, records: list[dict]) -> list[str]:
    return statuses(push(client, auth.headers(username), records))


def pbc_images(label: str, count: int) -> list[Path]:
    folder = DATASETS / "pbc" / "test" / label
    files = sorted(folder.glob("*.jpg"))[:count]
    assert len(files) == count, f"need {count} images in {folder}"
    return files


def cell_record(label: str, image_path: Path | None = None, **changes) -> dict:
    """A record of a `label` cell, with a real cell photo as its image when `image_path`."""
    others = {"neutrophil", "lymphocyte", "monocyte"} - {label}
    rest = (1 - changes.get("confidence", 0.9)) / len(others)
    probabilities = {label: changes.get("confidence", 0.9), **{o: rest for o in others}}
    record = make_record(
        label=label,
        confidence=changes.pop("confidence", 0.9),
        status=changes.pop("status", "confident"),
        probabilities=probabilities,
        **changes,
    )
    if image_path is not None:
        record["image"] = cell_jpeg_b64(image_path)
    return record


# --- field photos for the cell finder -------------------------------------------------------


def low_magnification_mosaics(part: str, shrink: float = 0.5, grid: int = 4):
    """Photos as a lower-magnification, higher-resolution camera would take them: tiles of
    shrunk bccd photos, with the annotated white cells moved along."""
    photos = bccd_photos(part)
    w, h = round(640 * shrink), round(480 * shrink)
    for start in range(0, len(photos) - grid * grid + 1, grid * grid):
        canvas = Image.new("RGB", (w * grid, h * grid))
        truth = []
        for k, photo in enumerate(photos[start : start + grid * grid]):
            ox, oy = (k % grid) * w, (k // grid) * h
            canvas.paste(Image.open(photo).convert("RGB").resize((w, h)), (ox, oy))
            boxes = [c["box"] for c in read_voc_boxes(photo) if c["type"] == "wbc"]
            truth += [
                [
                    round(x0 * shrink) + ox,
                    round(y0 * shrink) + oy,
                    round(x1 * shrink) + ox,
                    round(y1 * shrink) + oy,
                ]
                for x0, y0, x1, y1 in boxes
            ]
        yield np.asarray(canvas), truth
