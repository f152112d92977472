"""Dashboard benchmark (`make bench-dashboard`); a measurement, not a test. In-process (Flask
test client, SQLite file in a temp folder), every figure beside a baseline from the same run:

1. The phone (bench/phone_payloads.py, headless Chromium): real pbc cells classified in the app,
   the Classify tap to the record saved with its crop against the model's inference alone; then
   sync with those crops as the app's outbox sends them: batches of 100 records, each with one of
   the phone's crop JPEGs, against the same records without images (ratio = the cost of
   checking, re-encoding and storing them). `--no-browser` uses 96x96 pbc JPEGs made here.
2. Pages with N records: the results table (25 rows) against GET /api/predictions of the same
   25 rows as JSON; the overview (six GROUP BYs); a slide of 100 cells and its PDF report
   against the slide page; the CSV export of every record.

    python -m bench.dashboard [--records 4000] [--no-browser]
"""

import argparse
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend.config import REPO_ROOT
from training.paths import datasets_root

PASSWORD = "bench password 1"
DATASETS = datasets_root()


def make_app(tmp: Path):
    from backend import create_app, db
    from backend.config import TestConfig
    from backend.users.accounts import create_user

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp / 'bench.sqlite3'}"
        UPLOAD_FOLDER = str(tmp / "uploads")
        MODEL_STORE = str(tmp / "models")
        BLOB_CACHE = str(tmp / "cache")  # not the checkout's instance folder
        WTF_CSRF_ENABLED = False  # the bench signs in directly; the tests check CSRF

    app = create_app(Config)
    with app.app_context():
        db.create_all()
        create_user("tech", PASSWORD, "technician")
        create_user("viewer", PASSWORD, "viewer")
        db.session.commit()
    return app


def cell_images(count: int) -> list[str]:
    from bench.inputs import cell_jpeg_b64

    files = sorted((DATASETS / "pbc" / "test").glob("*/*.jpg"))[:count]
    return [cell_jpeg_b64(path) for path in files]


def records(count: int, images: list[str] | None, first: int = 0) -> list[dict]:
    """Records number first..first+count-1; every 100 share a slide."""
    labels = ["neutrophil", "lymphocyte", "monocyte", "eosinophil"]
    now = datetime.now(UTC)
    out = []
    for i in range(first, first + count):
        label = labels[i % len(labels)]
        record = {
            "id": str(uuid.uuid4()), "model_name": "wbc", "model_version": "1.0.0",
            "label": label, "confidence": 0.9, "status": "review" if i % 5 == 0 else "confident",
            "probabilities": {x: (0.9 if x == label else 0.1 / 3) for x in labels},
            "captured_at": (now - timedelta(minutes=i)).isoformat(),
            "device_id": f"phone-{i % 3}", "slide_id": f"S-{i // 100}",
        }  # fmt: skip
        if images:
            record["image"] = images[i % len(images)]
        out.append(record)
    return out


def sync_rate(client, token: str, batch_records: list[dict]) -> float:
    start = time.perf_counter()
    for i in range(0, len(batch_records), 100):
        body = {"predictions": batch_records[i : i + 100]}
        response = client.post(
            "/api/sync/predictions", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
    return len(batch_records) / (time.perf_counter() - start)


def p50_ms(client, url: str, repeat: int, **kwargs) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url, **kwargs)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return round(1000 * statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=4000)
    parser.add_argument("--no-browser", action="store_true", help="skip the phone; 96 px JPEGs")
    args = parser.parse_args()
    half = args.records // 2
    phone: dict = {}
    if args.no_browser:
        images = cell_images(200)
    else:
        from bench.phone_payloads import phone_payloads

        sent, phone = phone_payloads()
        images = [s["image"] for s in sent if "image" in s]
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        client = app.test_client()
        login = {"username": "tech", "password": PASSWORD}
        token = client.post("/api/auth/login", json=login).get_json()["access_token"]
        without = sync_rate(client, token, records(half, None))
        with_images = sync_rate(client, token, records(half, images, first=half))
        viewer_token = client.post(
            "/api/auth/login", json={"username": "viewer", "password": PASSWORD}
        ).get_json()["access_token"]
        client.post("/dashboard/login", data={"username": "viewer", "password": PASSWORD})
        api = p50_ms(client, "/api/predictions?per_page=25", 20,
                     headers={"Authorization": f"Bearer {viewer_token}"})  # fmt: skip
        table = p50_ms(client, "/dashboard/results", 20)
        slide_id = f"S-{half // 100}"  # the first slide of 100 cells with images
        slide = p50_ms(client, f"/dashboard/slide?id={slide_id}", 10)
        pdf = p50_ms(client, f"/dashboard/slide/report.pdf?id={slide_id}", 5)
        figures = {
            **phone,
            "records": args.records,
            "sync_images": "the phone's crops" if phone else "96x96 pbc JPEGs",
            "sync_records_per_s_without_images": round(without, 1),
            "sync_records_per_s_with_images": round(with_images, 1),
            "sync_with_images_ratio": round(without / with_images, 2),
            "api_predictions_25_p50_ms": api,
            "results_page_25_p50_ms": table,
            "results_page_vs_api_ratio": round(table / api, 2),
            "overview_p50_ms": p50_ms(client, "/dashboard/?from=2000-01-01", 10),
            "slide_100_cells_p50_ms": slide,
            "slide_pdf_100_cells_p50_ms": pdf,
            "pdf_vs_slide_page_ratio": round(pdf / slide, 2),
            "csv_all_records_p50_ms": p50_ms(client, "/dashboard/results.csv", 3),
        }
        with app.app_context():
            from backend import db

            db.engine.dispose()
    print(json.dumps(figures, indent=2))
    out = REPO_ROOT / "build"
    out.mkdir(exist_ok=True)
    (out / "bench-dashboard.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
