"""The server `make run` starts (backend.serve), as a real process on a loopback port with a
temp instance folder and SQLite: slow or stalled clients cannot lock other users out and are
closed (idle, or headers unfinished past the deadline), and the request line and headers are
limited. Under gunicorn's sync workers (before issue 14) four
sockets trickling header lines held every worker and the normal request below hung."""

import os
import select
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.backend.conftest import wait_until_serving

REPO = Path(__file__).resolve().parents[2]
THREADS = 2
SLOW_SOCKETS = 6  # three times the threads, more than the old server had workers
CHANNEL_TIMEOUT = 2
HEADER_TIMEOUT = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serving(tmp: Path, **settings: str):
    """backend.serve on a fresh SQLite instance with `settings` added to its environment."""
    env = dict(
        os.environ,
        HEMATOVISION_INSTANCE=str(tmp / "instance"),
        DATABASE_URL=f"sqlite:///{tmp / 'instance' / 'server.sqlite3'}",
        FLASK_APP="backend",
        TF_CPP_MIN_LOG_LEVEL="3",
        **settings,
    )
    for key in ("SECRET_KEY", "JWT_SECRET_KEY", "MODEL_STORE", "UPLOAD_FOLDER"):
        env.pop(key, None)
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=REPO, env=env, check=True)
    port = _free_port()
    command = [
        sys.executable, "-m", "backend.serve", "--host", "127.0.0.1", "--port", str(port),
        "--threads", str(THREADS), "--channel-timeout", str(CHANNEL_TIMEOUT),
        "--header-timeout", str(HEADER_TIMEOUT),
    ]  # fmt: skip
    log = (tmp / "server.log").open("w")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, process, tmp / "server.log")
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with _serving(tmp_path_factory.mktemp("server")) as url:
        yield url


def _slow_socket(url: str) -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_slow_clients_do_not_lock_others_out_and_are_closed(server):
    slow = [_slow_socket(server) for _ in range(SLOW_SOCKETS)]
    answered = []
    # Four rounds, not a time window: under load a window held too few to judge (CI, 3 of 4),
    # and more failed logins meet the login throttle. A header line each round, never the end.
    for _ in range(4):
        for n, sock in enumerate(slow):
            sock.sendall(f"X-Slow-{n}: {time.monotonic()}\r\n".encode())
        t0 = time.monotonic()
        models = requests.get(server + "/api/models", timeout=5)
        login = requests.post(
            server + "/api/auth/login", json={"username": "nobody", "password": "x"}, timeout=5
        )
        answered.append(time.monotonic() - t0)
        assert models.status_code == 200 and login.status_code == 401
        time.sleep(0.5)
    assert max(answered) < 2.5, answered
    # Now they stall: the server closes each one after CHANNEL_TIMEOUT without a byte.
    for sock in slow:
        assert _closed_by_server(sock, within=CHANNEL_TIMEOUT + 8)
        sock.close()
    assert requests.get(server + "/api/models", timeout=5).status_code == 200


def test_a_client_that_never_finishes_its_headers_is_closed_though_never_idle(server):
    sock = _slow_socket(server)
    started = time.monotonic()
    closed_after = None
    while time.monotonic() - started < HEADER_TIMEOUT + 8:
        try:
            sock.sendall(b"X-Trickle: 1\r\n")  # well inside CHANNEL_TIMEOUT each time
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.monotonic() - started
            break
        if select.select([sock], [], [], 0.5)[0]:
            try:
                data = sock.recv(1024)
            except ConnectionResetError:
                data = b""
            if data == b"":
                closed_after = time.monotonic() - started
                break
    sock.close()
    assert closed_after is not None, "the server kept a trickling client past the deadline"
    assert closed_after > HEADER_TIMEOUT - 0.5


def test_a_connection_that_sends_nothing_is_closed(server):
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert _closed_by_server(sock, within=CHANNEL_TIMEOUT + 8)


@pytest.mark.parametrize(
    "extra",
    [
        {"X-Big": "a" * 40_000},  # one field over the header limit
        {f"X-Many-{n}": "b" * 100 for n in range(400)},  # many fields, the same limit
    ],
)
def test_oversized_headers_are_refused(server, extra):
    response = requests.get(server + "/api/models", headers=extra, timeout=10)
    assert response.status_code in (400, 431)
    assert requests.get(server + "/api/models", timeout=5).status_code == 200


def test_oversized_request_line_is_refused(server):
    response = requests.get(server + "/api/models?q=" + "c" * 40_000, timeout=10)
    assert response.status_code in (400, 414, 431)


def test_each_request_is_logged_without_control_characters(server, tmp_path_factory):
    requests.get(server + "/js/x%0A%00y.js", timeout=5)
    logs = list(Path(tmp_path_factory.getbasetemp()).glob("server*/server.log"))
    text = logs[0].read_text()
    assert '"GET /api/models" 200' in text
    assert "/js/x\\n\\x00y.js" in text


FORWARDED_HTTPS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}


def test_forwarded_headers_reach_the_app_only_behind_a_trusted_proxy(server, tmp_path):
    # No proxy trusted (PROXY_COUNT unset): a client claiming HTTPS is not believed.
    claimed = requests.get(server + "/api/models", headers=FORWARDED_HTTPS, timeout=10)
    assert claimed.status_code == 200 and "Strict-Transport-Security" not in claimed.headers
    # PROXY_COUNT=1: waitress passes the proxy's headers on (it deletes them by default), and
    # the app takes the request for HTTPS: HSTS. tests/backend/test_proxy.py runs this with
    # Caddy in front.
    with _serving(tmp_path, PROXY_COUNT="1") as behind_proxy:
        forwarded = requests.get(behind_proxy + "/api/models", headers=FORWARDED_HTTPS, timeout=10)
        plain = requests.get(behind_proxy + "/api/models", timeout=10)
    assert forwarded.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain.headers
