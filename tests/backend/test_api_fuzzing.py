"""Property-based fuzzing of the live API from its OpenAPI description (schemathesis), and a
tour of the answers random requests cannot reach, checked against the same description.

A real `backend.serve` process on a loopback port, on a fresh database (SQLite, and PostgreSQL
where the suite runs it), with one published model and a few accounts. schemathesis sends each
operation its examples, the coverage phase's boundary and invalid cases, and hypothesis-made
valid and invalid requests, as an admin (the role that may call everything). Every answer must
be no 5xx and have a described status, content type, headers and schema, and show no stack
trace; the server's log must show no unhandled error. Deterministic (fixed seed, derandomized),
so a failure reproduces.

What is kept from the fuzzer, so that it does not saw off the branch it sits on:
- logout and refresh use up their token: each call gets a fresh one from a login of an
  account kept for that, never the admin's;
- PATCH /api/users/{user_id} aimed at one of the test's own accounts is sent to a victim
  account instead (a password, role or state change ends that account's tokens; that is tested
  in test_auth.py and test_users.py);
- the per-address login ceiling is raised: every request comes from 127.0.0.1, and hundreds of
  fuzzed wrong logins would lock out the fuzzer's own logins (test_auth.py tests that ceiling;
  the per-username+address lock stays and answers the fuzzed ones 429).

Run alone (the summary line gives the figures):
    .venv/bin/python -m pytest -q tests/backend/test_api_fuzzing.py
"""

import base64
import io
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import schemathesis
import sqlalchemy as sa
from flask_login import login_user
from PIL import Image
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend import create_app, db
from backend.api_description.routes import SOURCE, description
from backend.config import TestConfig
from backend.models import Prediction, User
from backend.users.accounts import create_user
from tests.backend.conftest import wait_until_serving
from tests.backend.test_server import REPO, _free_port
from tests.conftest import (
    DATABASES,
    PASSWORD,
    make_record,
    malaria_field_photos,
    pbc_images,
    publish_folder,
    red_cell_release,
)
from training.annotations import bccd_photos


def _example_model() -> Path:
    """The release the description's examples name, so the examples reach a real model."""
    parameters = description()["components"]["parameters"]
    name = parameters["ModelName"]["schema"]["examples"][0]
    version = parameters["ModelVersion"]["schema"]["examples"][0]
    return REPO / "tflite_models" / name / version


MODEL = _example_model()
ADMIN, TECH, TOKEN_SOURCE = "fuzz-admin", "fuzz-tech", "fuzz-token-source"
VICTIM = "fuzz-victim"
ROLES = {ADMIN: "admin", TECH: "technician", TOKEN_SOURCE: "viewer", VICTIM: "technician"}
SETTINGS = {
    "seed": 17,
    # The bearer token is the fuzzer's own (below), not a generated one: a made-up token only
    # ever reaches the 401 of the token check (test_auth.py tries forged ones).
    "generation": {
        "deterministic": True,
        "max-examples": 10,
        "mode": "all",
        "with-security-parameters": False,
    },
    "phases": {
        "examples": {"enabled": True},
        # Two methods no route has, not seven: each only meets werkzeug's routing (405).
        "coverage": {"enabled": True, "unexpected-methods": ["delete", "put"]},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},  # would chain calls through links the API does not have
    },
}
# On PostgreSQL the deterministic phases only: the described examples and the coverage
# phase's boundary and invalid values, where a database's own limits show (integer ranges,
# NUL characters); the random breadth of the fuzzing phase runs once, on SQLite, as the other
# property-based tests do.
POSTGRESQL_SETTINGS = {**SETTINGS, "phases": {**SETTINGS["phases"], "fuzzing": {"enabled": False}}}
ON_POSTGRESQL = "postgresql" in {p.values[0] for p in DATABASES}
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy.", "psycopg.")


def no_stack_trace(ctx: CheckContext, response, case) -> None:
    body = response.content.decode("utf-8", "replace")
    for marker in TRACE_MARKERS:
        if marker in body:
            raise AssertionError(f"the answer shows the server's internals ({marker!r})")


def test_the_stack_trace_check_sees_one():
    class Answer:
        def __init__(self, body: bytes) -> None:
            self.content = body

    trace = b'{"detail": "Traceback (most recent call last):\\n  File \\"/srv/app.py\\""}'
    with pytest.raises(AssertionError, match="internals"):
        no_stack_trace(None, Answer(trace), None)
    no_stack_trace(
        None, Answer(b'{"error": {"code": "not_found", "message": "No such record."}}'), None
    )


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    no_stack_trace,
]


class LiveApi:
    def __init__(self, url: str, log: Path, app, ids: dict[str, int]) -> None:
        self.url, self.log, self.app, self.ids = url, log, app, ids
        self.admin = self.login(ADMIN)["access_token"]
        self.sent: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()  # by status class: "2xx", "4xx", ...

    def login(self, username: str) -> dict:
        body = {"username": username, "password": PASSWORD}
        response = requests.post(self.url + "/api/auth/login", json=body, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()


def _database_url(request, tmp: Path, database: str) -> str:
    if database == "sqlite":
        return f"sqlite:///{tmp / 'fuzz.sqlite3'}"
    base = request.getfixturevalue("postgres_url")
    _postgres_admin(base, "DROP DATABASE IF EXISTS hv_fuzz WITH (FORCE)", "CREATE DATABASE hv_fuzz")
    request.addfinalizer(lambda: _postgres_admin(base, "DROP DATABASE hv_fuzz WITH (FORCE)"))
    return base.replace("/hematovision_test?", "/hv_fuzz?")


def _postgres_admin(url: str, *statements: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def _prepare(tmp: Path, database_url: str):
    """Schema, accounts and the model, written in-process (no CLI start-up per step)."""

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = database_url

    app = create_app(Config, instance_path=tmp / "instance")
    with app.app_context():
        db.create_all()  # the same schema as `flask db upgrade` (test_migrations.py)
        ids = {name: create_user(name, PASSWORD, role).id for name, role in ROLES.items()}
        db.session.commit()
    publish_folder(app, MODEL)
    return app, ids


def _serve(request, tmp_path_factory, database: str):
    tmp = tmp_path_factory.mktemp(f"fuzz-{database}")
    app, ids = _prepare(tmp, _database_url(request, tmp, database))
    env = dict(
        os.environ,
        HEMATOVISION_INSTANCE=str(tmp / "instance"),
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",  # logins in milliseconds, as in the tests
        LOGIN_MAX_FAILURES_IP="1000000",  # see the module's docstring
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    for key in ("SECRET_KEY", "JWT_SECRET_KEY", "MODEL_STORE", "UPLOAD_FOLDER", "BLOB_CACHE"):
        env.pop(key, None)
    port = _free_port()
    command = [sys.executable, "-m", "backend.serve", "--host", "127.0.0.1", "--port", str(port)]
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, log_path)
        live = LiveApi(url, log_path, app, ids)
        yield live
        _report(request, database, live)
    finally:
        process.terminate()
        process.wait(10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="module")
def sqlite_api(request, tmp_path_factory):
    yield from _serve(request, tmp_path_factory, "sqlite")


@pytest.fixture(scope="module")
def postgresql_api(request, tmp_path_factory):
    yield from _serve(request, tmp_path_factory, "postgresql")


@pytest.fixture(scope="module", params=DATABASES)
def live_api(request):
    return request.getfixturevalue(f"{request.param}_api")


def _report(request, database: str, live: LiveApi) -> None:
    """After every operation ran: the figures, and the server's own log."""
    total = sum(live.sent.values())
    answers = ", ".join(f"{n} {kind}" for kind, n in sorted(live.answers.items()))
    line = (
        f"API fuzzing on {database}: {total} generated requests over {len(live.sent)} "
        f"operations ({answers}); the server logged no unhandled error"
    )
    log = live.log.read_text()
    assert "unhandled error" not in log and "Traceback" not in log, log[-4000:]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown with -q too, as make test runs it
        print(f"\n{line}")


# Loaded from the file (schemathesis's fixture-based loader does not work with pytest 9);
# test_openapi.py checks that /api/openapi.json serves exactly this document.
schema = schemathesis.openapi.from_path(SOURCE, config=schemathesis.Config.from_dict(SETTINGS))
postgresql_schema = schemathesis.openapi.from_path(
    SOURCE, config=schemathesis.Config.from_dict(POSTGRESQL_SETTINGS)
)


def _sends_requests(live: LiveApi):
    """The server of one operation's test; after it, that it was sent something."""
    before = sum(live.sent.values())
    yield live
    assert sum(live.sent.values()) > before, "no request was generated for this operation"


@pytest.fixture
def sqlite_operation(sqlite_api):
    yield from _sends_requests(sqlite_api)


@pytest.fixture
def postgresql_operation(postgresql_api):
    yield from _sends_requests(postgresql_api)


@pytest.mark.usefixtures("sqlite_operation")  # not an argument: hypothesis refuses those
@schema.parametrize()
def test_the_live_api_keeps_its_description_on_sqlite(case, sqlite_api):
    _send(case, sqlite_api)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRESQL, reason="PostgreSQL excluded by HEMATOVISION_TEST_DB")
@pytest.mark.usefixtures("postgresql_operation")
@postgresql_schema.parametrize()
def test_the_live_api_keeps_its_description_on_postgresql(case, postgresql_api):
    _send(case, postgresql_api)


def _send(case, live: LiveApi) -> None:
    headers = {"Authorization": f"Bearer {live.admin}"}
    if case.operation.path in ("/api/auth/logout", "/api/auth/refresh"):
        tokens = live.login(TOKEN_SOURCE)
        kind = "refresh_token" if case.operation.path.endswith("refresh") else "access_token"
        headers = {"Authorization": f"Bearer {tokens[kind]}"}
    if case.operation.path == "/api/users/{user_id}":
        own = set(live.ids.values()) - {live.ids[VICTIM]}
        if case.path_parameters.get("user_id") in own:
            case.path_parameters["user_id"] = live.ids[VICTIM]
    case.headers = {**(case.headers or {}), **headers}
    live.sent[case.operation.label] += 1
    response = case.call_and_validate(base_url=live.url, checks=CHECKS, timeout=60)
    live.answers[f"{response.status_code // 100}xx"] += 1


# --- what random requests cannot reach: stored records, reviews, real images ----------------


def _call(live: LiveApi, token: str | None, method: str, path: str, status: int, **parts):
    """One request built from the description's operation, its answer checked like the
    fuzzer's; `status` is the one this step expects. Answer headers: lower case -> [values]."""
    case = schema[path][method].Case(**parts)
    if token is not None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    response = case.call(base_url=live.url, timeout=60)
    assert response.status_code == status, (method, path, response.text[:500])
    case.validate_response(response, checks=CHECKS)
    return response


def _ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def _jpeg(path: Path, box: tuple[int, int, int, int] | None = None) -> bytes:
    with Image.open(path) as image:
        picture = image.convert("RGB").crop(box) if box else image.convert("RGB")
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _review(live: LiveApi, record_id: str) -> None:
    """A reviewer's verdict, as the dashboard saves it."""
    from backend.dashboard.review import save_review

    with live.app.test_request_context():
        login_user(db.session.get(User, live.ids[ADMIN]))
        prediction = db.session.scalar(sa.select(Prediction).where(Prediction.id == record_id))
        save_review(prediction, "lymphocyte", "nucleus too round")
        db.session.commit()


def test_stored_records_reviews_and_slides_keep_the_description(live_api):
    tech = live_api.login(TECH)["access_token"]
    cell = pbc_images("neutrophil", 1)[0]
    record = make_record(image=base64.b64encode(_jpeg(cell)).decode(), slide_id=None)
    slide = {
        "id": str(uuid.uuid4()), "sample_id": "S-17", "patient": None, "specimen": "blood",
        "note": None, "kind": "wbc-differential", "target": 100, "state": "finished",
        "started_at": _ago(30), "updated_at": _ago(20), "finished_at": None,
        "device_id": "phone-1",
    }  # fmt: skip
    fix = {"id": str(uuid.uuid4()), "prediction_id": record["id"], "label": "monocyte",
           "previous_label": None, "at": _ago(1)}  # fmt: skip
    body = {"contract": 2, "predictions": [record], "slides": [slide], "corrections": [fix]}
    path = "/api/sync/predictions"
    pushed = _call(live_api, tech, "POST", path, 200, body=body).json()
    assert [r["status"] for r in pushed["results"] + pushed["slide_results"]] == ["created"] * 2
    older = dict(slide, state="open", updated_at=_ago(25))
    stale = _call(live_api, tech, "POST", path, 200, body={"contract": 2, "slides": [older]})
    assert stale.json()["slide_results"][0]["slide"]["state"] == "finished"
    _review(live_api, record["id"])

    one = {"record_id": record["id"]}
    got = _call(live_api, tech, "GET", "/api/predictions/{record_id}", 200, path_parameters=one)
    assert got.json()["prediction"]["review"] and got.json()["prediction"]["correction"]
    _call(live_api, tech, "GET", "/api/predictions", 200, query={"since": 0})
    reviews = _call(live_api, tech, "GET", "/api/sync/reviews", 200).json()["reviews"]
    assert [r["prediction_id"] for r in reviews] == [record["id"]]
    assert _call(live_api, tech, "GET", "/api/sync/slides", 200).json()["slides"]
    assert _call(live_api, live_api.admin, "GET", "/api/audit", 200).json()["entries"]


def test_classifications_uploads_and_model_files_keep_the_description(live_api):
    tech = live_api.login(TECH)["access_token"]
    single = {"image": _jpeg(pbc_images("lymphocyte", 1)[0])}
    field = {"image": _jpeg(bccd_photos("held-out")[0]), "mode": "field"}
    multipart = {"media_type": "multipart/form-data"}
    answer = _call(live_api, tech, "POST", "/predict", 200, body=single, **multipart).json()
    assert answer["predicted_label"] and answer["image_path"]
    cells = _call(live_api, tech, "POST", "/predict", 200, body=field, **multipart).json()
    assert cells["mode"] == "field" and cells["cells"]

    upload = "/predict/uploads/{image_path}"
    where = {"image_path": answer["image_path"]}
    image = _call(live_api, tech, "GET", upload, 200, path_parameters=where)
    again = {"If-None-Match": image.headers["etag"][0]}
    _call(live_api, tech, "GET", upload, 304, path_parameters=where, headers=again)

    release = red_cell_release()
    files = {"model": (release / "model.tflite").read_bytes(), "meta": (release / "model.json")
             .read_bytes(), "activate": "true"}  # fmt: skip
    admin = live_api.admin
    _call(live_api, admin, "POST", "/api/models", 201, body=files, **multipart)
    _call(live_api, admin, "POST", "/api/models", 200, body=files, **multipart)
    film = {"image": _jpeg(malaria_field_photos()[0], (0, 0, 640, 480)), "mode": "field"}
    film["model"] = "malaria-screen"
    red = _call(live_api, tech, "POST", "/predict", 200, body=film, **multipart).json()
    assert red["cell_type"] == "rbc" and red["cells"]

    listed = _call(live_api, None, "GET", "/api/models", 200).json()["models"]
    files = ("/api/models/{name}/{version}/model.json", "/api/models/{name}/{version}/model.tflite")
    for model in listed:
        for path in files:
            names = {"name": model["name"], "version": model["version"]}
            first = _call(live_api, None, "GET", path, 200, path_parameters=names)
            tag = {"If-None-Match": first.headers["etag"][0]}
            _call(live_api, None, "GET", path, 304, path_parameters=names, headers=tag)
    assert re.fullmatch(r'"[0-9a-f]{64}"', first.headers["etag"][0])


def test_a_locked_login_keeps_the_description(live_api):
    wrong = {"username": f"nobody-{uuid.uuid4().hex[:8]}", "password": "not the password"}
    for _ in range(5):  # LOGIN_MAX_FAILURES: these are refused
        _call(live_api, None, "POST", "/api/auth/login", 401, body=wrong)
    locked = _call(live_api, None, "POST", "/api/auth/login", 429, body=wrong)
    assert int(locked.headers["retry-after"][0]) > 0
