"""The shared-storage sections of `make bench-backend` (issue 16), on one PostgreSQL; every
ratio is measured in the same round as its baseline.

1. Sync with cell images: every record carries a 96x96 pbc JPEG, stored in the `blobs` table
   in the sync's own transaction. The old path (images as files on the server's disk, before
   commit 48cfdc2's successor) no longer exists, so its baseline is built from the same run:
   the same requests without images, plus writing the same re-encoded JPEG bytes to files named
   by a fresh uuid with open(..., "xb") as the old `backend/sync/cell_images.store` did (no
   fsync: it did none). This baseline leaves out the checking and re-encoding the old path also
   did in the request, so the ratio is an upper bound; the figure with that work added back
   (timed in-process, one thread) and one with an fsync per file are printed beside it.
   With `--old-tree DIR` (a checkout of the code before the blobs table, e.g. `git archive
   5e3eda1 | tar -x -C DIR`), the same sync with images is also run, in the same round, against
   that code's server on its own database of the same cluster: today's path itself.
2. Model download: GET of a published (not active) model.tflite from a fresh app server (new
   instance folder, cold cache: its start-up warming copies every published version out of the
   database while it already listens), then warm (from its cache), against the same bytes
   sent by Flask's send_file from a temp folder behind the same waitress server
   (bench/disk_server.py), also cold (first request to a fresh server) and warm. Both fresh
   servers have answered the one request that shows they are up and idled SETTLE_S before the
   timed GET: the app server's warming runs in a thread once it listens, the disk server's
   (hashing its file) before, and a GET timed while that thread still ran charged start-up
   work to the app's side alone. And a version published through another server after this
   one started and warmed, fetched as soon as the publishing process has exited ("never
   seen"): the server hears of it from the database (store.announce, NOTIFY) and copies it,
   so this times whatever of that copy a phone asking at once still waits for; against the
   disk's cold figure and against the first GET of the file on a disk server that has answered
   one request and idled as long.
3. Sync ingest with the clients spread over two app servers (client c to server c mod 2) on
   the one database, against the raw SQLAlchemy insert of the same number of records.
"""

import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from bench.backend_load import REPO, Server, bench_sync, free_port
from training.paths import datasets_root

SETTLE_S = 1.0  # a "running" server: started, one request answered, then this long idle


def cell_images(count: int) -> list[str]:
    from bench.inputs import cell_jpeg_b64

    files = sorted((datasets_root() / "pbc" / "test").glob("*/*.jpg"))[:count]
    return [cell_jpeg_b64(path) for path in files]


def _old_store(jpegs: list[bytes], folder: Path, fsync: bool) -> float:
    """Seconds to write each JPEG as the old cell_images.store did: a uuid name, mode "xb"."""
    folder.mkdir(parents=True)
    start = time.perf_counter()
    for jpeg in jpegs:
        with open(folder / f"{uuid.uuid4().hex}.jpg", "xb") as f:
            f.write(jpeg)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    return time.perf_counter() - start


def _check(images_b64: list[str], total: int) -> tuple[float, list[bytes]]:
    """Seconds to decode and check+re-encode `total` images as a request does, and the bytes."""
    from backend.config import Config
    from backend.predict.images import check_image

    start = time.perf_counter()
    out = []
    for i in range(total):
        data = base64.b64decode(images_b64[i % len(images_b64)], validate=True)
        out.append(check_image(data, Config.CELL_IMAGE_MAX_PIXELS).encoded)
    return time.perf_counter() - start, out


def bench_images(
    server: Server, args, images: list[str], tmp: Path, n: int, old: Server | None
) -> dict:
    with_images = bench_sync(server, args.clients, args.batches, 100, images)
    without = bench_sync(server, args.clients, args.batches, 100)
    old_sync = bench_sync(old, args.clients, args.batches, 100, images) if old else None
    total = with_images["records"]
    check_s, jpegs = _check(images, total)
    files_s = _old_store(jpegs, tmp / f"cells-{n}", fsync=False)
    fsync_s = _old_store(jpegs, tmp / f"cells-fsync-{n}", fsync=True)
    shutil.rmtree(tmp / f"cells-{n}")
    shutil.rmtree(tmp / f"cells-fsync-{n}")
    baseline = without["seconds"] + files_s
    result = {
        "records": total,
        "image_bytes_mean": round(sum(map(len, jpegs)) / len(jpegs)),
        "sync_with_images_in_db_s": with_images["seconds"],
        "sync_without_images_s": without["seconds"],
        "old_file_writes_s": round(files_s, 3),
        "old_file_writes_fsync_s": round(fsync_s, 3),
        "check_and_reencode_s": round(check_s, 3),
        "errors": with_images["errors"] + without["errors"],
        "db_over_disk": round(with_images["seconds"] / baseline, 2),
        "db_over_disk_fsync": round(with_images["seconds"] / (baseline - files_s + fsync_s), 2),
        "db_over_disk_with_check": round(with_images["seconds"] / (baseline + check_s), 2),
        "db_over_no_images": round(with_images["seconds"] / without["seconds"], 2),
    }
    if old_sync is not None:
        result["old_code_sync_with_images_on_disk_s"] = old_sync["seconds"]
        result["errors"] += old_sync["errors"]
        result["db_over_old_code"] = round(with_images["seconds"] / old_sync["seconds"], 2)
    return result


def _timed_get(session: requests.Session, url: str, expected: bytes) -> float:
    start = time.perf_counter()
    response = session.get(url, timeout=120)
    elapsed = time.perf_counter() - start
    if response.status_code != 200 or response.content != expected:
        raise RuntimeError(f"GET {url}: {response.status_code}, {len(response.content)} bytes")
    return elapsed


def _gets(url: str, expected: bytes, warm: int) -> tuple[float, float]:
    """(first GET's seconds, median of the next `warm` GETs' seconds); a new session."""
    session = requests.Session()
    cold = _timed_get(session, url, expected)
    return cold, statistics.median(_timed_get(session, url, expected) for _ in range(warm))


class DiskServer:
    def __init__(self, path: Path, threads: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "bench.disk_server", str(path)]
        self.command += ["--port", str(self.port), "--threads", str(threads)]

    def __enter__(self) -> "DiskServer":
        self.process = subprocess.Popen(self.command, cwd=REPO)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                requests.get(self.url + "/", timeout=5)  # a 404: the model is not touched
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the disk server did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(30)


def bench_download(url: str, args, model_dir: Path, tmp: Path, n: int) -> dict:
    data = (model_dir / "model.tflite").read_bytes()
    card = json.loads((model_dir / "model.json").read_text())
    path = f"/api/models/{card['name']}/{card['version']}/model.tflite"
    with Server(url, tmp / f"fresh-{n}", args.workers, setup=False) as fresh:
        time.sleep(SETTLE_S)  # its start-up warming done, as the disk server's is before it listens
        shared_cold, shared_warm = _gets(fresh.url + path, data, args.downloads)
    never_seen = _published_after_start(url, args, model_dir, tmp, n, path, data)
    folder = tmp / f"disk-{n}"
    folder.mkdir()
    shutil.copyfile(model_dir / "model.tflite", folder / "model.tflite")
    with DiskServer(folder / "model.tflite", args.workers) as disk:
        time.sleep(SETTLE_S)  # as the app server above
        disk_cold, disk_warm = _gets(disk.url + "/model.tflite", data, args.downloads)
    with DiskServer(folder / "model.tflite", args.workers) as disk:  # answered one 404
        time.sleep(SETTLE_S)
        disk_settled = _timed_get(requests.Session(), disk.url + "/model.tflite", data)
    ms = lambda s: round(1000 * s, 2)  # noqa: E731
    return {
        "bytes": len(data),
        "shared_cold_ms": ms(shared_cold),
        "disk_cold_ms": ms(disk_cold),
        "shared_warm_ms": ms(shared_warm),
        "disk_warm_ms": ms(disk_warm),
        "never_seen_on_a_running_server_ms": ms(never_seen),
        "disk_first_on_a_running_server_ms": ms(disk_settled),
        "cold_shared_over_disk": round(shared_cold / disk_cold, 2),
        "never_seen_over_disk_cold": round(never_seen / disk_cold, 2),
        "never_seen_over_disk_running": round(never_seen / disk_settled, 2),
        "warm_shared_over_disk": round(shared_warm / disk_warm, 2),
    }


def _published_after_start(
    url: str, args, model_dir: Path, tmp: Path, n: int, path: str, data: bytes
) -> float:
    """The first GET of a version published through another server after this one started,
    right after the publishing process exits (the server is told at the commit and copies it
    then). A new database of the cluster per round, so that the version is new to the server."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE never_seen_{n}")
    engine.dispose()
    round_url = sa.make_url(url).set(database=f"never_seen_{n}").render_as_string(False)
    with Server(round_url, tmp / f"running-{n}", args.workers) as running:  # migrates first
        time.sleep(SETTLE_S)  # started and warmed: nothing is published yet
        publish = [sys.executable, "-m", "flask", "models", "publish", str(model_dir)]
        other = dict(running.env, HEMATOVISION_INSTANCE=str(tmp / f"other-{n}"))  # server A
        subprocess.run([*publish, "--no-activate"], cwd=REPO, env=other, check=True)
        return _timed_get(requests.Session(), running.url + path, data)


def bench_two_servers(servers: list[Server], url: str, args) -> dict:
    from bench.backend import bench_raw_insert

    sync = bench_sync(servers, args.clients, args.batches, 100)
    raw = bench_raw_insert(url, sync["records"], 100)
    ratio = round(raw["records_per_s"] / sync["records_per_s"], 2)
    return {"sync": sync, "raw_insert": raw, "raw_over_sync": ratio}


def run_shared(
    url: str, tmp: Path, args, model_dir: Path | None, old_url: str | None = None
) -> dict:
    """The three sections, `args.rounds` rounds each, on the PostgreSQL database at `url`
    (and the old code's baseline on `old_url`, given `args.old_tree`)."""
    sections = set(args.sections.split(","))
    result: dict = {"database": "postgresql", "workers": args.workers}
    with Server(url, tmp / "a", args.workers) as a:
        if "images" in sections:
            result["sync_images"] = _images_section(a, args, tmp, old_url)
        if model_dir is not None and "download" in sections:
            a.flask("models", "publish", str(model_dir), "--no-activate")
            rounds = [bench_download(url, args, model_dir, tmp, n) for n in range(args.rounds)]
            keys = ["cold_shared_over_disk", "never_seen_over_disk_cold", "warm_shared_over_disk"]
            keys.append("never_seen_over_disk_running")
            result["model_download"] = _summary(rounds, *keys)
            result["model_download"]["model"] = str(
                model_dir.relative_to(REPO) if model_dir.is_relative_to(REPO) else model_dir
            )
        if "two-servers" not in sections:
            return result
        with Server(url, tmp / "b", args.workers, setup=False) as b:
            rounds = [bench_two_servers([a, b], url, args) for _ in range(args.rounds)]
            result["two_servers_ingest"] = _summary(rounds, "raw_over_sync")
            result["two_servers_ingest"]["median_sync_records_per_s"] = statistics.median(
                r["sync"]["records_per_s"] for r in rounds
            )
    return result


def _images_section(a: Server, args, tmp: Path, old_url: str | None) -> dict:
    images = cell_images(200)
    keys = ["db_over_disk", "db_over_disk_fsync", "db_over_disk_with_check"]
    if args.old_tree is None:
        rounds = [bench_images(a, args, images, tmp, n, None) for n in range(args.rounds)]
    else:
        keys.append("db_over_old_code")
        with Server(old_url, tmp / "old", args.workers, repo=args.old_tree.resolve()) as old:
            rounds = [bench_images(a, args, images, tmp, n, old) for n in range(args.rounds)]
    return _summary(rounds, *keys)


def _summary(rounds: list[dict], *keys: str) -> dict:
    return {"rounds": rounds} | {
        f"median_{k}": statistics.median(r[k] for r in rounds) for k in keys
    }
