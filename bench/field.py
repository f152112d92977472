"""Field-photo figures for `make bench-finder`: a 640x480 bccd photo -> find and
classify every white cell, in the app's inference worker in headless Chromium (LiteRT.js, one
thread) against classifier.classify.Classifier.classify_field (ai-edge-litert, one thread) in the
same run, with the released wbc-differential model; target <= 150 ms in the browser. The same
for a 1600x1200 malaria-fields photo -> find and classify every red cell with the newest
malaria-screen release that declares red-cell field mode; target <= 400 ms in the browser.
Also the classifier's in-lab figures from every release's model.json.

Not a test: it prints JSON. Run: .venv/bin/python -m bench.field [--photos N --repeats N]
[--cells white|red|both] [--red-model FOLDER ...] (several: each timed in the same run)
[--as-jpeg QUALITY] (the malaria-fields photos as a phone's camera saves them, not PNG)"""

import argparse
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import inputs
from bench import pwa_driver as pwa
from classifier.classify import Classifier
from training.annotations import bccd_photos, malaria_fields

BUDGET_MS = 150.0
RED_CELL_BUDGET_MS = 400.0
# The app's runtime as the page gets it (threaded where cross-origin isolated) and the
# single-thread build, each in its own worker, run photo by photo in turn: one run, two figures.
RUNTIMES = {"app": {}, "single_thread": {"singleThread": True}}
TIMED = """async ([modelUrl, card, images, mime, repeats, runtimes]) => {
    const { InferenceClient } = await import('/js/classifier/inference-client.js');
    const model = { name: card.name, version: card.version, card };
    const bytes = await (await fetch(modelUrl)).arrayBuffer();
    const blobs = images.map((b64) => new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))],
                                              { type: mime }));
    const clients = {};
    const first = {};  // the first photo after the model loads, as a technician's first field
    for (const [name, options] of Object.entries(runtimes)) {
        const client = new InferenceClient();
        const started = await client.init(options);
        const loading = performance.now();
        await client.load(model, bytes.slice(0));
        const load = performance.now() - loading;
        const out = await client.classifyField(model, blobs[0]);
        first[name] = { load, total: out.totalMs, find: out.findMs, classify: out.classifyMs };
        await out.cellImages;
        clients[name] = { client, threads: started.threads };
    }
    const runs = [];
    for (let r = 0; r < repeats; r++) {
        for (const blob of blobs) {
            for (const [name, { client, threads }] of Object.entries(clients)) {
                const t0 = performance.now();
                const out = await client.classifyField(model, blob);
                const roundTrip = performance.now() - t0;
                await out.cellImages;  // each cell's JPEG, made after the answer
                const modelRuns = out.cells.reduce((sum, c) => sum + (c.inferenceMs || 0), 0);
                runs.push({ runtime: name, threads, roundTrip, imagesReady: performance.now() - t0,
                            total: out.totalMs, decode: out.decodeMs, find: out.findMs,
                            classify: out.classifyMs, cells: out.cells.length, modelRuns });
            }
        }
    }
    return { runs, first };
}"""


def summary(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {
        "median_ms": round(float(np.median(values)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "min_ms": round(float(values.min()), 2),
    }


def in_lab_cards() -> list[dict]:
    """The classifier's in-lab figures, as each release's model card states them."""
    cards = []
    for path in sorted(inputs.REPO_ROOT.glob("tflite_models/*/*/model.json")):
        card = json.loads(path.read_text())
        metrics = card.get("metrics", {})
        cards.append(
            {
                "model": f"{card['name']} {card['version']}",
                "framing": card.get("input", {}).get("framing"),
                **{k: metrics.get(k) for k in ("test_accuracy", "test_macro_f1", "test_ece")},
                # framed releases: images with nothing to frame counted wrong (like for like)
                "test_accuracy_all_images": metrics.get(
                    "test_accuracy_all_images", metrics.get("test_accuracy")
                ),
                "confident_coverage": metrics.get("test_confident_coverage"),
                "confident_accuracy": metrics.get("test_confident_accuracy"),
                # field mode on the test photos (training.field_framing), where measured
                "field_framing": card.get("input", {}).get("field_framing"),
                "field_mode_test": (card.get("field_mode") or {}).get("test"),
            }
        )
    return cards


def python_times(classifier, photos, repeats) -> list[float]:
    classifier.classify_field(str(photos[0]))
    times = []
    for _ in range(repeats):
        for photo in photos:
            start = time.perf_counter()
            classifier.classify_field(str(photo))
            times.append((time.perf_counter() - start) * 1000)
    return times


def browser_runs(folder: Path, photos, repeats, mime: str = "image/jpeg") -> dict:
    from playwright.sync_api import sync_playwright

    pwa.ensure_pwa_built()
    with tempfile.TemporaryDirectory() as tmp:
        server = pwa.serve(Path(tmp) / "server", {folder.parent.name: folder}).start()
        try:
            with sync_playwright() as p:
                context = pwa.launch(p, Path(tmp) / "profile")
                page = context.new_page()
                page.goto(server.url + "/manifest.json")
                url = page.evaluate("fetch('/api/models').then(r => r.json())")["models"][0]["url"]
                card = json.loads((folder / "model.json").read_text())
                images = [base64.b64encode(p.read_bytes()).decode() for p in photos]
                runs = page.evaluate(TIMED, [url, card, images, mime, repeats, RUNTIMES])
                context.close()
        finally:
            server.stop()
    return runs


def field_figures(folder: Path, photos, repeats: int, budget_ms: float, mime: str) -> dict:
    """Browser (worker) against Python for find + classify every cell of each photo."""
    timed = browser_runs(folder, photos, repeats, mime)
    every_run = timed["runs"]
    runs = [r for r in every_run if r["runtime"] == "app"]
    single = [r for r in every_run if r["runtime"] == "single_thread"]
    py = python_times(Classifier(folder, num_threads=1), photos, repeats)
    parts = ("total", "decode", "find", "classify", "modelRuns")
    browser = {key: summary([r[key] for r in runs]) for key in parts}
    return {
        "model": str(folder.relative_to(inputs.REPO_ROOT)),
        "photos": len(photos),
        "repeats": repeats,
        "cells_per_photo_median": statistics.median(r["cells"] for r in runs),
        "browser_threads": runs[0]["threads"],
        "browser_field_photo": browser,
        # loading the model in a fresh worker, then its first photo (not in the figures above)
        "browser_first_field_after_load_ms": {
            key: round(value, 1) for key, value in timed["first"]["app"].items()
        },
        "browser_round_trip": summary([r["roundTrip"] for r in runs]),
        # until the cells' JPEGs (for the records) are there too, after the answer
        "browser_cell_images_ready": summary([r["imagesReady"] for r in runs]),
        "browser_single_thread_field_photo": {
            key: summary([r[key] for r in single]) for key in parts
        },
        "app_over_single_thread_median": round(
            browser["total"]["median_ms"] / statistics.median(r["total"] for r in single), 3
        ),
        "python_classify_field": summary(py),
        "browser_over_python_median": round(
            browser["total"]["median_ms"] / statistics.median(py), 3
        ),
        f"browser_share_of_{budget_ms:.0f}ms_median": round(
            browser["total"]["median_ms"] / budget_ms, 3
        ),
    }


def as_jpeg(photos, folder: Path, quality: int) -> list[Path]:
    """The photos re-encoded as JPEG (4:2:0, as cameras save), for Python and the browser alike."""
    from PIL import Image

    out = []
    for photo in photos:
        path = folder / f"{photo.stem}.jpg"
        with Image.open(photo) as image:
            image.convert("RGB").save(path, quality=quality)
        out.append(path)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.field")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cells", choices=("white", "red", "both"), default="both")
    parser.add_argument(
        "--red-model",
        action="append",
        type=Path,
        help="a red-cell release folder to time (repeatable: each in the same run); default the "
        "newest that declares red-cell field mode",
    )
    parser.add_argument(
        "--as-jpeg",
        type=int,
        metavar="QUALITY",
        help="time the malaria-fields photos re-encoded as JPEG at this quality (what a phone's "
        "camera saves) instead of the dataset's PNG files",
    )
    args = parser.parse_args(argv)
    report = {}
    if args.cells != "red":
        folder = inputs.released_models()["wbc-differential"]
        every = bccd_photos("all")
        photos = every[:: max(1, len(every) // args.photos)][: args.photos]
        report["white_cells"] = field_figures(folder, photos, args.repeats, BUDGET_MS, "image/jpeg")
    if args.cells != "white":
        try:
            folders = args.red_model or [inputs.malaria_release(red_cells=True)]
        except FileNotFoundError as error:
            report["red_cells"] = str(error)
        else:
            fields = [f["photo"] for f in malaria_fields()][: args.photos]
            with tempfile.TemporaryDirectory() as tmp:
                mime = "image/png"
                if args.as_jpeg:
                    fields, mime = as_jpeg(fields, Path(tmp), args.as_jpeg), "image/jpeg"
                runs = [
                    field_figures(folder.resolve(), fields, args.repeats, RED_CELL_BUDGET_MS, mime)
                    for folder in folders
                ]
            for run in runs:
                run["photo_format"] = f"JPEG quality {args.as_jpeg}" if args.as_jpeg else "PNG"
            report["red_cells"] = runs[0] if len(runs) == 1 else runs
    report["classifier_in_lab"] = in_lab_cards()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
