"""Backend benchmark (`make bench-backend`); a measurement, not a test.

1. Sync ingest: 8 concurrent clients POST batches of 100 records to the `make run` server
   (backend.serve, waitress) on loopback; the same number of records is then bulk-inserted
   with raw SQLAlchemy (batches of 100, one commit each) into the same database in the same run.
   Reports records/s of both, their ratio (goal: sync within 3x of the raw insert) and p50/p99
   request latency.
2. /predict: real microscope images posted one at a time, against calling classifier.classify
   directly on the same files in the same run (overhead goal: <= 25%).
3. Shared storage on PostgreSQL (issue 16; bench/backend_shared.py): sync with cell images in
   the `blobs` table against the same sync without images plus the old path's file writes
   (goal: <= 2x); a model download from the shared store, cold and warm, against the same file
   sent from local disk (goal: <= 2x); sync ingest with the clients spread over two app
   servers against the raw insert (goal: <= 3x). `--shared-only` runs only these.

    python -m bench.backend [--database sqlite|postgresql|both] [--model tflite_models/NAME/VER]
                            [--shared-only]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.backend_load import REPO, Server, bench_sync, make_records
from bench.backend_shared import run_shared
from training.paths import datasets_root


def bench_raw_insert(database_url: str, total: int, batch: int) -> dict:
    """The same records through a plain SQLAlchemy bulk insert: no HTTP, no checks, no hashes."""
    import sqlalchemy as sa

    from backend.models import Prediction
    from backend.sync.validation import clean_record

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM users WHERE username='bench'")).scalar()
    rows = []
    for record in make_records(total, "raw"):
        clean = clean_record(record)  # only to build rows of the same shape; not timed
        rows.append(
            dict(
                clean.fields,
                id=clean.id,
                content_hash=clean.content_hash,
                synced_by_id=user_id,
                synced_at=datetime.now(UTC),
            )
        )
    start = time.perf_counter()
    for i in range(0, total, batch):
        with engine.begin() as conn:
            conn.execute(sa.insert(Prediction), rows[i : i + batch])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return {
        "records": total,
        "seconds": round(elapsed, 3),
        "records_per_s": round(total / elapsed, 1),
    }


def bench_predict(server: Server, model_dir: Path, images: list[Path]) -> dict:
    from classifier.classify import Classifier

    if not getattr(server, "published", False):
        server.flask("models", "publish", str(model_dir), "--activate")
        server.published = True
    classifier = Classifier(model_dir, num_threads=1)
    classifier.classify(images[0])
    start = time.perf_counter()
    for path in images:
        classifier.classify(path)
    direct = time.perf_counter() - start
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {server.token()}"
    blobs = [(p.name, p.read_bytes()) for p in images]
    for _ in range(2 * server.workers):  # every worker loads its classifier before timing
        session.post(server.url + "/predict", files={"image": blobs[0]}, timeout=60)
    start = time.perf_counter()
    for blob in blobs:
        response = session.post(server.url + "/predict", files={"image": blob}, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"/predict failed: {response.text[:300]}")
    served = time.perf_counter() - start
    n = len(images)
    return {
        "model": str(model_dir.relative_to(REPO) if model_dir.is_relative_to(REPO) else model_dir),
        "images": n,
        "direct_images_per_s": round(n / direct, 1),
        "predict_images_per_s": round(n / served, 1),
        "overhead": round(served / direct - 1, 3),
    }


def run_database(kind: str, url: str, instance: Path, args, model_dir, images) -> dict:
    """`args.rounds` rounds, each measuring sync then the raw insert back to back, so a burst of
    load from other processes on the machine hits both sides of a ratio alike; medians."""
    rounds = []
    with Server(url, instance, args.workers) as server:
        for _ in range(args.rounds):
            sync = bench_sync(server, args.clients, args.batches, 100)
            raw = bench_raw_insert(url, sync["records"], 100)
            ratio = round(raw["records_per_s"] / sync["records_per_s"], 2)
            rounds.append({"sync": sync, "raw_insert": raw, "raw_over_sync": ratio})
        result = {"database": kind, "workers": args.workers, "rounds": rounds}
        for key in ("raw_over_sync",):
            result[f"median_{key}"] = statistics.median(r[key] for r in rounds)
        result["median_sync_records_per_s"] = statistics.median(
            r["sync"]["records_per_s"] for r in rounds
        )
        if model_dir is not None and kind == "sqlite":
            runs = [bench_predict(server, model_dir, images) for _ in range(args.rounds)]
            result["predict"] = runs
            result["median_predict_overhead"] = statistics.median(r["overhead"] for r in runs)
    return result


def default_model() -> Path | None:
    releases = sorted((REPO / "tflite_models").glob("*/*/model.json"))
    return releases[0].parent if releases else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10, help="batches of 100 per client")
    parser.add_argument("--workers", type=int, default=4, help="server threads (WORKERS)")
    parser.add_argument("--model", type=Path, default=None, help="release folder for /predict")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="repeat each measurement")
    parser.add_argument("--downloads", type=int, default=20, help="warm model GETs per round")
    parser.add_argument(
        "--shared-only",
        action="store_true",
        help="only the shared-storage sections (PostgreSQL): images, model download, two servers",
    )
    parser.add_argument(
        "--sections",
        default="images,download,two-servers",
        help="which shared-storage sections to run, comma-separated (default: all three)",
    )
    parser.add_argument(
        "--old-tree",
        type=Path,
        default=None,
        help="a checkout of the code before the blobs table (git archive 5e3eda1): its server "
        "is the images-on-disk baseline of the cell image sync",
    )
    args = parser.parse_args()
    if args.shared_only:
        args.database = "postgresql"
    datasets = datasets_root()
    images = sorted((datasets / "pbc" / "test").rglob("*.jpg"))[: args.images]
    model_dir = args.model or default_model()
    if model_dir is None:
        print("No release under tflite_models/: skipping /predict (pass --model DIR).")
    results = []
    with tempfile.TemporaryDirectory(prefix="hv-bench-") as tmp:
        if args.database in ("sqlite", "both") and not args.shared_only:
            url = f"sqlite:///{tmp}/bench.sqlite3"
            results.append(run_database("sqlite", url, Path(tmp) / "i1", args, model_dir, images))
        if args.database in ("postgresql", "both"):
            sys.path.insert(0, str(REPO))
            from tests.pg_cluster import PostgresCluster

            cluster = PostgresCluster().start()
            try:
                if not args.shared_only:
                    url = cluster.create_database("bench")
                    results.append(
                        run_database("postgresql", url, Path(tmp) / "i2", args, None, images)
                    )
                url = cluster.create_database("shared")
                old_url = cluster.create_database("old") if args.old_tree else None
                results.append(run_shared(url, Path(tmp) / "shared", args, model_dir, old_url))
            finally:
                cluster.stop()
    report = {"measured_at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(), "runs": results}
    out = REPO / "build" / "bench-backend.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
