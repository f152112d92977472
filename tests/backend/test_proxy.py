"""deploy/Caddyfile, the very file deploy/compose.yaml mounts, run by Debian's caddy in front of
two real app servers (`python -m backend.serve`, PROXY_COUNT=1, SESSION_COOKIE_SECURE=1, as
compose sets them) on one PostgreSQL, checked over HTTPS through the proxy only:

- TLS from Caddy's own CA (the site is an IP address, not a public name): the client trusts
  that CA's root and nothing else;
- `dynamic a` finds both servers through a DNS server of the test's (compose's is Docker's,
  127.0.0.11) that answers the app's name with two loopback addresses, one per server;
- login and a JWT sync push and pull; requests spread over both servers; server A SIGKILLed
  and every request, a sync push included, still answered (by B: lb_try_duration);
- X-Forwarded-For and -Proto reach the app: the audit log has the client's address, not the
  proxy's nor one the client forged; HSTS (the app's) and a Secure session cookie;
- the body limits: the app's JSON 413 above 16 MiB, Caddy's 413 above 17 MB;
- a model download with the app's ETag, and 304 on If-None-Match.

What only compose exercises: Let's Encrypt for a public name, Docker's DNS, and `--scale`."""

import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from requests.adapters import HTTPAdapter

from backend import db
from backend.models import AuditEntry
from tests.backend.test_scale_out import REPO, Server, app_with_accounts, scratch_database
from tests.conftest import PASSWORD, cell_record
from tests.dashboard.conftest import csrf_token

pytestmark = pytest.mark.postgres

APP_NAME = "app.hematovision.test"
SERVER_ADDRESSES = ("127.0.0.1", "127.0.0.2")  # A and B: both on loopback, one port
CLIENT_ADDRESS = "127.0.0.3"  # the phone: neither the proxy's address nor a server's
MIB = 1024 * 1024


class AppDNS:
    """A DNS server on 127.0.0.1 that answers an A query for `name` with `addresses` (as
    Docker's does for a compose service's replicas) and every other name with NXDOMAIN. Over
    TCP, which is how Caddy asks the `resolvers` it is given (and over UDP, on the same port)."""

    def __init__(self, name: str, addresses: tuple[str, ...]) -> None:
        self.name, self.addresses = name.lower(), addresses
        self.stream = socket.create_server(("127.0.0.1", 0))
        port = self.stream.getsockname()[1]
        self.datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.datagram.bind(("127.0.0.1", port))
        self.address = f"127.0.0.1:{port}"
        for serve in (self._serve_tcp, self._serve_udp):
            threading.Thread(target=serve, name="app-dns", daemon=True).start()

    def _serve_udp(self) -> None:
        while True:
            try:
                query, peer = self.datagram.recvfrom(4096)
                self.datagram.sendto(self.answer(query), peer)
            except OSError:  # closed
                return

    def _serve_tcp(self) -> None:
        while True:
            try:
                connection, _ = self.stream.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._answer_tcp, args=(connection,), daemon=True).start()

    def _answer_tcp(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as stream:
            while len(prefix := stream.read(2)) == 2:  # each message: its length, then it
                answer = self.answer(stream.read(struct.unpack(">H", prefix)[0]))
                connection.sendall(struct.pack(">H", len(answer)) + answer)

    def answer(self, query: bytes) -> bytes:
        query_id, flags = struct.unpack(">HH", query[:4])
        end, labels = 12, []
        while query[end]:
            labels.append(query[end + 1 : end + 1 + query[end]].decode("ascii").lower())
            end += 1 + query[end]
        question = query[12 : end + 5]  # the name, its type and class
        (query_type,) = struct.unpack(">H", query[end + 1 : end + 3])
        known = ".".join(labels) == self.name
        addresses = self.addresses if known and query_type == 1 else ()  # 1: A
        response_flags = 0x8400 | (flags & 0x0100) | (0 if known else 3)  # answer, AA, RD, rcode
        header = struct.pack(">HHHHHH", query_id, response_flags, 1, len(addresses), 0, 0)
        records = b"".join(
            struct.pack(">HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(a) for a in addresses
        )
        return header + question + records

    def close(self) -> None:
        self.stream.close()
        self.datagram.close()


def _port_free_on_every_server_address() -> int:
    for _ in range(50):
        with socket.socket() as first:
            first.bind((SERVER_ADDRESSES[0], 0))
            port = first.getsockname()[1]
            try:
                with socket.socket() as second:
                    second.bind((SERVER_ADDRESSES[1], port))
                return port
            except OSError:
                continue
    raise RuntimeError("no port free on both server addresses")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _caddy() -> str:
    """The caddy executable; the test fails (never skips) without it."""
    executable = shutil.which("caddy")
    if executable is None:
        pytest.fail("caddy is not installed: `make system-deps` installs it (Debian's caddy)")
    return executable


class Caddy:
    """`caddy run` on deploy/Caddyfile with the test's values for its environment variables;
    its data (the CA, the site's certificate) in a temp folder."""

    def __init__(self, tmp: Path, app_port: int, dns: str) -> None:
        executable = _caddy()
        self.port = _free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.home = tmp / "caddy"
        self.log_path = tmp / "caddy.log"
        self.command = [executable, "run", "--config", str(REPO / "deploy" / "Caddyfile")]
        self.command += ["--adapter", "caddyfile"]
        self.env = dict(
            os.environ,
            SITE_ADDRESS=f"127.0.0.1:{self.port}",
            APP_NAME=APP_NAME,
            APP_PORT=str(app_port),
            APP_DNS=dns,
            PROXY_RETRY_BODY="buffer_requests",  # Debian's Caddy 2.6: see deploy/Caddyfile
            CADDY_ADMIN="off",
            CADDY_HTTP_PORT=str(_free_port()),  # its redirects to HTTPS; compose: 80
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / "data"),
            XDG_CONFIG_HOME=str(self.home / "config"),
        )
        self.root_certificate = self.home / "data/caddy/pki/authorities/local/root.crt"

    def start(self) -> None:
        self.home.mkdir()
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log_path.read_text()
            assert time.monotonic() < deadline, self.log_path.read_text()
            if self.root_certificate.is_file():
                try:
                    response = requests.get(self.url + "/api/models", verify=self.verify, timeout=5)
                    if response.status_code == 200:
                        return
                except (requests.ConnectionError, requests.Timeout):
                    pass  # not listening yet, or its certificate is not issued yet
            time.sleep(0.2)

    @property
    def verify(self) -> str:
        return str(self.root_certificate)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class FromAddress(HTTPAdapter):
    """Connections from a given local address (the phone's, here)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture
def proxied(request, tmp_path):
    """A fresh database migrated by `flask db upgrade`, its accounts; servers A and B; the
    app's DNS name; Caddy in front."""
    _caddy()  # before anything is set up
    with scratch_database(request, "hv_proxy") as url:
        port = _port_free_on_every_server_address()
        behind_proxy = {"PROXY_COUNT": "1", "SESSION_COOKIE_SECURE": "1"}
        a, b = (
            Server(name, tmp_path, url, host=host, port=port, **behind_proxy)
            for name, host in zip("ab", SERVER_ADDRESSES, strict=True)
        )
        a.flask("db", "upgrade")
        app = app_with_accounts(url, tmp_path, (("admin", "admin"), ("tech1", "technician")))
        dns = AppDNS(APP_NAME, SERVER_ADDRESSES)
        caddy = Caddy(tmp_path, port, dns.address)
        try:
            a.start()
            b.start()
            caddy.start()
            yield app, a, b, caddy
        finally:
            for process in (caddy, a, b):
                if getattr(process, "process", None) is not None:
                    process.stop()
            dns.close()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def _client(caddy: Caddy, address: str | None = None) -> requests.Session:
    """HTTPS that trusts Caddy's CA only (no REQUESTS_CA_BUNDLE, no proxy from the
    environment), from `address` if given."""
    session = requests.Session()
    session.trust_env = False
    session.verify = caddy.verify
    if address is not None:
        session.mount("https://", FromAddress(address))
    return session


def _answered(server: Server, path: str, method: str = "GET") -> int:
    """How many requests for `path` the server's access log has."""
    return server.log_path.read_text().count(f'"{method} {path}"')


def test_caddyfile_in_front_of_two_servers(proxied, releases):
    app, a, b, caddy = proxied
    phone = _client(caddy, CLIENT_ADDRESS)
    proxy = caddy.url

    # --- login and a sync round trip with the JWT, X-Forwarded-For in the audit log --------
    forged = {"X-Forwarded-For": "203.0.113.7"}  # a client's own header is not believed
    body = {"username": "tech1", "password": PASSWORD}
    login = phone.post(proxy + "/api/auth/login", json=body, headers=forged, timeout=30)
    assert login.status_code == 200, login.text
    assert login.headers["Strict-Transport-Security"] == "max-age=31536000"  # the app's
    direct = requests.post(a.url + "/api/auth/login", json=body, timeout=30)
    assert direct.status_code == 200 and "Strict-Transport-Security" not in direct.headers
    with app.app_context():
        logins = sa.select(AuditEntry.ip).where(AuditEntry.action == "auth.login")
        addresses = db.session.scalars(logins.order_by(AuditEntry.id)).all()
    assert addresses[0] == CLIENT_ADDRESS  # the proxied login; the direct one came from A's peer
    phone.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    records = [cell_record("neutrophil", device_id="proxied-phone") for _ in range(5)]
    pushed = phone.post(
        proxy + "/api/sync/predictions", json={"contract": 2, "predictions": records}, timeout=30
    )
    assert pushed.status_code == 200, pushed.text
    assert [r["status"] for r in pushed.json()["results"]] == ["created"] * 5
    pulled = phone.get(proxy + "/api/predictions", timeout=30)
    assert pulled.status_code == 200
    assert {r["id"] for r in records} <= {r["id"] for r in pulled.json()["predictions"]}

    # --- round robin over both servers -----------------------------------------------------
    before = _answered(a, "/api/models"), _answered(b, "/api/models")
    for _ in range(20):
        assert phone.get(proxy + "/api/models", timeout=30).status_code == 200
    spread = _answered(a, "/api/models") - before[0], _answered(b, "/api/models") - before[1]
    assert sum(spread) == 20 and min(spread) >= 5, spread

    # --- a Secure session cookie for the dashboard -----------------------------------------
    browser = _client(caddy)
    page = browser.get(proxy + "/dashboard/login", timeout=30)
    form = {"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    signed_in = browser.post(
        proxy + "/dashboard/login",
        data=form,
        headers={"Referer": proxy + "/dashboard/login"},  # checked on HTTPS (Flask-WTF)
        timeout=30,
        allow_redirects=False,
    )
    assert signed_in.status_code in (302, 303), signed_in.text
    cookies = [c for c in browser.cookies if c.name == app.config["SESSION_COOKIE_NAME"]]
    assert cookies and all(c.secure for c in cookies)
    assert "Sign out" in browser.get(proxy + "/dashboard/", timeout=30).text

    # --- a model download: the app's ETag, 304 on If-None-Match ----------------------------
    a.flask("models", "publish", str(releases["v1"]), "--activate")
    tflite = (releases["v1"] / "model.tflite").read_bytes()
    path = "/api/models/cells/1.0.0/model.tflite"
    with app.app_context():
        sha256 = db.session.scalar(sa.text("SELECT sha256 FROM model_versions"))
    downloads = [phone.get(proxy + path, timeout=30) for _ in range(2)]  # round robin: A and B
    assert (_answered(a, path), _answered(b, path)) == (1, 1)
    for download in downloads:
        assert download.status_code == 200 and download.content == tflite
        assert download.headers["ETag"] == f'"{sha256}"'
        assert "immutable" in download.headers["Cache-Control"]
    for _ in range(2):
        again = phone.get(proxy + path, headers={"If-None-Match": f'"{sha256}"'}, timeout=30)
        assert again.status_code == 304 and again.content == b""
    assert (_answered(a, path), _answered(b, path)) == (2, 2)

    # --- body limits: up to 16 MiB to the app; its JSON 413 above; Caddy's refusal above 17 MB
    def predict(size: int) -> requests.Response:
        upload = {"image": ("cell.jpg", b"\0" * size)}
        return phone.post(proxy + "/predict", files=upload, timeout=120)

    # Just under 16 MiB with the multipart framing: the app reads the upload, and refuses the
    # image itself (PREDICT_MAX_BYTES, 10 MiB); above, the whole request (MAX_CONTENT_LENGTH).
    under = predict(16 * MIB - 4096)
    assert under.status_code == 413 and under.json()["error"]["code"] == "file_too_large"
    over_app = predict(16 * MIB + 1)
    assert over_app.status_code == 413, over_app.text
    assert over_app.json()["error"]["code"] not in ("", "file_too_large"), over_app.text
    posted = [_answered(s, "/predict", "POST") for s in (a, b)]
    over_proxy = predict(17_500_000)
    # Caddy stops reading at 17 MB and cuts the request it was passing on: waitress never
    # hands it to the app. Caddy 2.6 (Debian's) answers 502 then, later versions 413.
    assert over_proxy.status_code in (413, 502), over_proxy.text
    assert [_answered(s, "/predict", "POST") for s in (a, b)] == posted

    # --- server A killed: B answers everything, a sync push included -----------------------
    a.kill()
    before_b = _answered(b, "/api/models")
    for _ in range(10):
        assert phone.get(proxy + "/api/models", timeout=30).status_code == 200
    assert _answered(b, "/api/models") - before_b == 10
    for n in range(3):  # round robin: at least one of them is tried on A first
        records = [cell_record("lymphocyte", device_id="proxied-phone") for _ in range(5)]
        pushed = phone.post(
            proxy + "/api/sync/predictions",
            json={"contract": 2, "predictions": records},
            timeout=30,
        )
        assert pushed.status_code == 200, (n, pushed.text)
        assert [r["status"] for r in pushed.json()["results"]] == ["created"] * 5
    assert _answered(b, "/api/sync/predictions", "POST") >= 3
