"""`make bench-cam`: what the why-this-call map costs per cell, same run (issue 17: <= 10 %).

Each release with the map (wbc-differential 2.2.0, malaria-screen 1.2.0) against the release
it was made from (2.1.0, 1.1.0: the same network without the `cam` output), on the same test
images, image by image, alternately, so that both share the machine's load:
- in headless Chromium, in the app's inference worker (LiteRT.js, one thread): the model run
  with every output read (`inferenceMs`), and the whole per-cell path (decode, resize, run,
  rule, and the map when the worker makes one);
- in Python, ai-edge-litert at one thread (classifier.classify): the model run with every
  output read, and classify_array (run, rule and map).
Per image the two releases run alternately (--repeats times) and each keeps its best run (the
machine may be shared); prints p50/p95 over images of each and the ratio map/no map.
Not a test: it prints figures.
Run: make bench-cam  (or .venv/bin/python -m bench.cam)."""

import argparse
import tempfile
import time
from pathlib import Path

from bench import inputs
from bench import pwa_driver as pwa
from bench.pwa import WARMUP, pct, reference_classifier

PAIRS = {  # name -> (release with the map, release without it, dataset of single cells)
    "wbc-differential": ("2.2.0", "2.1.0", "pbc"),
    "malaria-screen": ("1.2.0", "1.1.0", "malaria"),
}
SOURCE = "-without-map"  # the source release is published under name + SOURCE


# Per image, the release with the map and the one without it run alternately REPEATS times in
# the app's worker; each side keeps its best run. The machine is shared: the best of a few
# back-to-back runs is what the model costs, a run that met another process's burst is not.
BROWSER_RUN_PAIRS = """async ([names, images, repeats]) => {
    const app = window.hematovision;
    const models = names.map(name => app.state.models[name]);
    for (const model of models) await app.inference.load(model, await app.store.bytes(model));
    const out = names.map(() => ({invoke: [], total: [], results: []}));
    for (const b64 of images) {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const best = names.map(() => ({invoke: Infinity, total: Infinity}));
        for (let r = 0; r < repeats; r++) {
            const order = r % 2 ? [1, 0] : [0, 1];
            for (const i of order) {
                const started = performance.now();
                const result = await app.inference.classify(models[i], new Blob([bytes]), null);
                const total = performance.now() - started;
                best[i].invoke = Math.min(best[i].invoke, result.inferenceMs);
                best[i].total = Math.min(best[i].total, total);
                if (r === 0) out[i].results.push(result);
            }
        }
        names.forEach((_, i) => {
            out[i].invoke.push(best[i].invoke);
            out[i].total.push(best[i].total);
        });
    }
    return out;
}"""


def browser_pairs(page, name: str, images: list[Path], repeats: int) -> dict:
    import base64

    encoded = [base64.b64encode(p.read_bytes()).decode() for p in images]
    with_map, without = page.evaluate(BROWSER_RUN_PAIRS, [[name, name + SOURCE], encoded, repeats])
    return {"map": with_map, "none": without}


def python_pairs(folders: dict, images: list[Path], repeats: int) -> dict:
    """As BROWSER_RUN_PAIRS with classifier.classify (ai-edge-litert, one thread): the model run
    with every output read (TFLiteModel.run) and classify_array (run, rule and map)."""
    from classifier.classify import load_image

    classifiers = {release: reference_classifier(folder) for release, folder in folders.items()}
    out = {release: {"invoke": [], "total": [], "results": []} for release in folders}
    for image in images:
        rgb = load_image(str(image), classifiers["map"].size)
        best = {release: {"invoke": float("inf"), "total": float("inf")} for release in folders}
        for r in range(repeats):
            for release in ("map", "none") if r % 2 == 0 else ("none", "map"):
                classifier = classifiers[release]
                started = time.perf_counter()
                classifier.model.run(rgb)
                run = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                result = classifier.classify_array(rgb)
                total = (time.perf_counter() - started) * 1000
                best[release] = {"invoke": min(best[release]["invoke"], run),
                                 "total": min(best[release]["total"], total)}  # fmt: skip
                if r == 0:
                    out[release]["results"].append(result)
        for release in folders:
            for key in ("invoke", "total"):
                out[release][key].append(best[release][key])
    return out


def measure(page, name: str, folders: dict, images: list[Path], repeats: int) -> dict:
    """side ("browser", "python") -> release ("map", "none") -> {"invoke", "total", "results"},
    one best-of-`repeats` time per image after WARMUP images."""
    out = {"browser": browser_pairs(page, name, images, repeats),
           "python": python_pairs(folders, images, repeats)}  # fmt: skip
    for side in out.values():
        for times in side.values():
            times["invoke"], times["total"] = times["invoke"][WARMUP:], times["total"][WARMUP:]
    return out


def line(label: str, with_map: list, without: list) -> str:
    m50, n50, m95, n95 = pct(with_map, 50), pct(without, 50), pct(with_map, 95), pct(without, 95)
    return (
        f"  {label:<34} map p50 {m50:6.2f} ms p95 {m95:6.2f} | no map p50 {n50:6.2f} ms "
        f"p95 {n95:6.2f} | ratio p50 {m50 / n50:5.3f}x (extra {100 * (m50 / n50 - 1):+.1f} %)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cam", description=__doc__)
    parser.add_argument("--images", type=int, default=64, help="test images per model")
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs per image")
    parser.add_argument("--only", choices=sorted(PAIRS), help="one model instead of both")
    parser.add_argument(
        "--versions",
        nargs=2,
        metavar=("NEW", "OLD"),
        help="with --only: these two releases instead (2.3.0 2.2.0: what the view check costs)",
    )
    args = parser.parse_args(argv)
    if args.versions and not args.only:
        parser.error("--versions needs --only")
    pairs = {args.only: (*args.versions, PAIRS[args.only][2])} if args.versions else PAIRS
    from playwright.sync_api import sync_playwright

    folders = {
        name: {"map": inputs.MODELS_ROOT / name / new, "none": inputs.MODELS_ROOT / name / old}
        for name, (new, old, _) in pairs.items()
    }
    pwa.ensure_pwa_built()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        server = pwa.serve(tmp / "server", {name: f["map"] for name, f in folders.items()})
        for name, f in folders.items():  # the source beside it, under another name
            server.publish(f["none"], {"name": name + SOURCE})
        server.start()
        context = pwa.launch(p, tmp / "profile", viewport=pwa.DESKTOP)
        page = pwa.logged_in_page(context, server, models=2 * len(folders))
        print(
            f"per cell, one thread, same images, same run: each image's best of {args.repeats} "
            f"runs alternating map / no map (first {WARMUP} images dropped as warm-up)"
        )
        for name, (new, old, dataset) in pairs.items():
            if args.only not in (None, name):
                continue
            classes = len(list((inputs.DATASETS / dataset / "test").iterdir()))
            per_class = (args.images + WARMUP) // classes + 1
            images = inputs.dataset_images(dataset, per_class)[: args.images + WARMUP]
            got = measure(page, name, folders[name], images, args.repeats)
            worker_map = "cam" in got["browser"]["map"]["results"][0]
            print(f" {name} {new} (map) vs {old} (no map), {len(images) - WARMUP} {dataset}/test")
            for side, runtime in (("browser", "LiteRT.js worker"), ("python", "ai-edge-litert")):
                t = got[side]
                print(line(f"{runtime}: model run", t["map"]["invoke"], t["none"]["invoke"]))
                whole = "decode+resize+run+rule" if side == "browser" else "run+rule"
                made = side == "python" or worker_map
                whole += "+map" if made else " (no map made)"
                print(line(f"{runtime}: {whole}", t["map"]["total"], t["none"]["total"]))
            same = all(
                a["label"] == b["label"] and a["status"] == b["status"]
                for side in got.values()
                for a, b in zip(side["map"]["results"], side["none"]["results"], strict=True)
            )
            print(f"  same label and status with and without the map: {same}")
        context.close()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
