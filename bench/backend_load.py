"""The load side of `make bench-backend`: the `make run` server (backend.serve) serving the
real app, and concurrent clients posting batches of phone records to it over loopback."""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark password"
# One key for every server of a run, so a token from one is good on the other (as deployed).
SECRET = "bench-secret-key-shared-by-every-app-server-of-one-run-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_records(n: int, device: str, images: list[str] | None = None) -> list[dict]:
    """`n` phone records; with `images` (base64 JPEGs), each carries one, in turn."""
    now = datetime.now(UTC).isoformat()
    probabilities = {"neutrophil": 0.8, "lymphocyte": 0.15, "monocyte": 0.05}
    return [
        {
            "id": str(uuid.uuid4()),
            "model_name": "wbc",
            "model_version": "1.0.0",
            "label": "neutrophil",
            "confidence": 0.8,
            "status": "confident",
            "probabilities": probabilities,
            "captured_at": now,
            "device_id": device,
            "slide_id": "S-1",
            "note": None,
            **({"image": images[i % len(images)]} if images else {}),
        }
        for i in range(n)
    ]


class Server:
    """backend.serve (as `make run` starts it) on a temp instance folder and the given database.
    `setup=False`: a further server on a database another one already set up (no migration, no
    user). `repo`: the checkout whose code runs (another commit's, for a baseline)."""

    def __init__(
        self,
        database_url: str,
        instance: Path,
        workers: int,
        setup: bool = True,
        repo: Path = REPO,
    ) -> None:
        self.port = free_port()
        self.env = dict(
            os.environ,
            DATABASE_URL=database_url,
            HEMATOVISION_INSTANCE=str(instance),
            FLASK_APP="backend",
            TF_CPP_MIN_LOG_LEVEL="3",
            SECRET_KEY=SECRET,
            JWT_SECRET_KEY=SECRET,
        )
        self.workers = workers
        self.setup = setup
        self.repo = repo
        self.url = f"http://127.0.0.1:{self.port}"

    def flask(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=self.repo,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def __enter__(self) -> "Server":
        if self.setup:
            self.flask("db", "upgrade")
            self.flask(
                "users",
                "create",
                "bench",
                "--role",
                "technician",
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend.serve",
                "--threads",
                str(self.workers),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            cwd=self.repo,
            env=self.env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/api/models", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("the server did not start within 120 s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def token(self) -> str:
        body = {"username": "bench", "password": PASSWORD}
        return requests.post(self.url + "/api/auth/login", json=body, timeout=30).json()[
            "access_token"
        ]


def bench_sync(
    server: "Server | list[Server]",
    clients: int,
    batches: int,
    batch: int,
    images: list[str] | None = None,
) -> dict:
    """`clients` threads each POST `batches` batches; given several servers, client c talks to
    server c mod len(servers) (a load balancer's round robin). With `images`, every record
    carries a cell image."""
    servers = server if isinstance(server, list) else [server]
    token = servers[0].token()
    latencies: list[float] = []
    errors: list[str] = []
    work = [
        [make_records(batch, f"phone-{c}", images) for _ in range(batches)] for c in range(clients)
    ]
    barrier = threading.Barrier(clients + 1)

    def client(batches_of_client, url):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        barrier.wait()
        for records in batches_of_client:
            start = time.perf_counter()
            response = session.post(
                url + "/api/sync/predictions", json={"predictions": records}, timeout=120
            )
            latencies.append(time.perf_counter() - start)
            statuses = {r["status"] for r in response.json().get("results", [])}
            if response.status_code != 200 or statuses != {"created"}:
                errors.append(f"{response.status_code} {statuses}")

    threads = [
        threading.Thread(target=client, args=(w, servers[c % len(servers)].url))
        for c, w in enumerate(work)
    ]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    total = clients * batches * batch
    latencies.sort()
    return {
        "records": total,
        "clients": clients,
        "servers": len(servers),
        "images": bool(images),
        "batch": batch,
        "errors": errors[:5],
        "seconds": round(elapsed, 3),
        "records_per_s": round(total / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1),
    }
