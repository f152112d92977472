"""`make bench-pwa`: the PWA in headless Chromium against the reference runtime, same run.

1. Per-image inference time (p50, p95) of each released model in LiteRT.js (the app's worker,
   on the threads it runs: 2 on this machine) against ai-edge-litert on as many threads, on the
   same test images; the ratio is the
   figure (goal <= 2x). Both pure model time and the whole per-image path (decode, resize, run)
   are printed.
2. Cold offline start to first result: the installed app, browser restarted with the server
   stopped and the network off, until the first image is classified and saved.
   The runtime not chosen (@tensorflow/tfjs-tflite, a devDependency) is timed on the same
   model files and pixels for the record, or its error is printed.
3. Bytes the app downloads on its first visit with the WBC model (shell, runtime, model; as
   sent, compressed where the server compresses; goal <= 6 MB).

Not a test: it prints figures. Run: make bench-pwa  (or .venv/bin/python -m bench.pwa)."""

import argparse
import base64
import functools
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import inputs
from bench import pwa_driver as pwa

WARMUP = 3


def pct(values, q):
    return float(np.percentile(np.asarray(values), q))


@functools.cache
def reference_classifier(folder: Path, threads: int = 1):
    from classifier.classify import Classifier

    return Classifier(folder, num_threads=threads)


def reference_times(folder: Path, images: list[Path], threads: int = 1) -> dict:
    """classifier.classify with ai-edge-litert on `threads`: invoke alone, and the whole path."""
    from classifier.classify import load_image

    classifier = reference_classifier(folder, threads)
    model = classifier.model
    invoke, total, results = [], [], []
    for image in images:
        started = time.perf_counter()
        rgb = load_image(str(image), classifier.size)
        batch = np.broadcast_to(rgb, (model.batch, *rgb.shape))
        model.interpreter.set_tensor(model.input["index"], model._quantize(batch))
        t0 = time.perf_counter()
        model.interpreter.invoke()
        invoke.append((time.perf_counter() - t0) * 1000)
        results.append(classifier.classify_array(rgb))  # runs it again: counted once below
        total.append((time.perf_counter() - started) * 1000 - invoke[-1])
    return {"invoke": invoke, "total": total, "results": results}


BROWSER_RUN = """async ([name, images]) => {
    const app = window.hematovision;
    const model = app.state.models[name];
    const { threads } = await app.inference.init();  // the runtime the app started
    await app.inference.load(model, await app.store.bytes(model));
    const invoke = [], total = [], results = [];
    for (const b64 of images) {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const started = performance.now();
        const out = await app.inference.classify(model, new Blob([bytes]), null);
        total.push(performance.now() - started);
        invoke.push(out.inferenceMs);
        results.push(out);
    }
    return {invoke, total, results, threads};
}"""


def browser_times(page, name: str, images: list[Path]) -> dict:
    encoded = [base64.b64encode(p.read_bytes()).decode() for p in images]
    times = page.evaluate(BROWSER_RUN, [name, encoded])
    return times


def interleaved(page, name: str, folder: Path, images: list[Path], chunk: int = 10):
    """Both runtimes in alternating chunks of images, so that they share the machine's load
    (this machine is shared; one side running in a busy minute would skew the ratio)."""
    browser = {"invoke": [], "total": [], "results": []}
    reference = {"invoke": [], "total": [], "results": []}
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk]
        in_browser = browser_times(page, name, part)
        # ai-edge-litert on as many threads as the app's worker runs the model on
        for side, times in (
            (browser, in_browser),
            (reference, reference_times(folder, part, in_browser["threads"])),
        ):
            for key in side:
                side[key] += times[key]
    for side in (browser, reference):  # the first runs of each side warm caches up
        side["invoke"], side["total"] = side["invoke"][WARMUP:], side["total"][WARMUP:]
    return browser, reference


def agreement(browser: list[dict], reference: list[dict]) -> str:
    same = sum(
        b["label"] == r["label"] and b["status"] == r["status"]
        for b, r in zip(browser, reference, strict=True)
    )
    worst = max(
        abs(b["probabilities"][k] - p)
        for b, r in zip(browser, reference, strict=True)
        for k, p in r["probabilities"].items()
    )
    n = len(reference)
    return f"  same label and status on {same}/{n} images; max |probability difference| {worst:.4f}"


# The runtime not chosen, measured in the same page for the record: @tensorflow/tfjs-tflite
# (a devDependency, served only by this benchmark) in a worker at one thread, same model file,
# the same resized pixels as classifier.classify.load_image gives.
TFJS_TFLITE_RUN = """async ([modelUrl, size, pixels]) => {
    const o = location.origin, v = o + '/bench-vendor/';
    const src = `importScripts('${v}tfjs-core/dist/tf-core.min.js',
        '${v}tfjs-backend-cpu/dist/tf-backend-cpu.min.js', '${v}tfjs-tflite/dist/tf-tflite.min.js');
      tflite.setWasmPath('${v}tfjs-tflite/wasm/');
      onmessage = async (e) => {
        try {
          const model = await tflite.loadTFLiteModel(e.data.url, {numThreads: 1});
          const times = [];
          for (const b64 of e.data.pixels) {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const x = tf.tensor(Int32Array.from(bytes), [1, e.data.size, e.data.size, 3], 'int32');
            const t = performance.now();
            const y = model.predict(x);
            (y instanceof tf.Tensor ? [y] : Object.values(y)).forEach(t => t.dataSync());
            times.push(performance.now() - t);
          }
          postMessage({times});
        } catch (error) { postMessage({error: String(error)}); }
      };`;
    const worker = new Worker(URL.createObjectURL(new Blob([src], {type: 'text/javascript'})));
    const answer = await new Promise(done => {
        worker.onmessage = e => done(e.data);
        worker.onerror = e => done({error: e.message});
        worker.postMessage({url: o + modelUrl, size, pixels});
    });
    worker.terminate();
    return answer;
}"""


def tfjs_tflite_times(page, model_url: str, folder: Path, images: list[Path]) -> dict:
    from classifier.classify import load_image

    size = reference_classifier(folder).size
    pixels = [base64.b64encode(load_image(str(p), size).tobytes()).decode() for p in images]
    answer = page.evaluate(TFJS_TFLITE_RUN, [model_url, size, pixels])
    if "times" in answer:
        answer["times"] = answer["times"][WARMUP:]
    return answer


def serve_tfjs_tflite(app) -> None:
    from flask import send_from_directory

    @app.get("/bench-vendor/<path:relative>")
    def bench_vendor(relative):
        return send_from_directory(pwa.PWA_DIR / "node_modules" / "@tensorflow", relative)


def line(label, browser, reference):
    b50, b95 = pct(browser, 50), pct(browser, 95)
    r50, r95 = pct(reference, 50), pct(reference, 95)
    return (
        f"  {label:<28} LiteRT.js p50 {b50:6.2f} ms  p95 {b95:6.2f} ms | "
        f"ai-edge-litert p50 {r50:6.2f} ms  p95 {r95:6.2f} ms | ratio p50 {b50 / r50:4.2f}x"
    )


def first_visit_bytes(p, models, tmp: Path) -> tuple[int, dict]:
    server = pwa.serve(tmp / "visit", {"wbc-differential": models["wbc-differential"]})
    server.start()
    try:
        context = pwa.launch(p, tmp / "visit-profile")
        page = context.new_page()
        pwa.open_app(page, server.url)
        pwa.log_in(page)
        pwa.wait_for_models(page, 1)
        pwa.wait_until_offline_ready(page)
        page.wait_for_timeout(1000)  # let the service worker finish precaching
        sent = server.bytes_sent
        model_bytes = (models["wbc-differential"] / "model.tflite").stat().st_size
        context.close()
    finally:
        server.stop()
    return sent, {"model": model_bytes}


def cold_offline_start(p, models, tmp: Path, image: Path, runs: int) -> list[dict]:
    tmp.mkdir(parents=True, exist_ok=True)
    server = pwa.serve(tmp, {"wbc-differential": models["wbc-differential"]}).start()
    profile = tmp / "cold-profile"
    context = pwa.launch(p, profile)
    page = context.new_page()
    pwa.open_app(page, server.url)
    pwa.log_in(page)
    pwa.wait_for_models(page, 1)
    pwa.wait_until_offline_ready(page)
    url = server.url
    context.close()
    server.stop()
    results = []
    for _ in range(runs):
        context = pwa.launch(p, profile, fresh=False, offline=True)
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=60_000)
        ready = page.evaluate("performance.now()")
        page.set_input_files("#file-input", str(image))
        page.wait_for_function("() => !document.querySelector('#classify-btn').disabled")
        page.click("#classify-btn")
        page.wait_for_function("() => document.body.dataset.lastResult", timeout=60_000)
        first = page.evaluate("performance.now()")
        results.append({"ready_ms": ready, "first_result_ms": first})
        context.close()
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pwa", description=__doc__)
    parser.add_argument("--images", type=int, default=50, help="test images per model")
    parser.add_argument("--cold-runs", type=int, default=3)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    models = inputs.released_models()
    if "wbc-differential" not in models:
        raise SystemExit(f"no released wbc-differential model under {inputs.MODELS_ROOT}")
    pwa.ensure_pwa_built()
    datasets = {"wbc-differential": "pbc", "malaria-screen": "malaria"}
    print(f"models: {', '.join(f'{n} {f.name}' for n, f in sorted(models.items()))}")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        server = pwa.serve(tmp / "speed", models)
        serve_tfjs_tflite(server.app)
        server.start()
        context = pwa.launch(p, tmp / "speed-profile", viewport=pwa.DESKTOP)
        page = context.new_page()
        pwa.open_app(page, server.url)
        pwa.log_in(page)
        pwa.wait_for_models(page, len(models))
        threads = page.evaluate("window.hematovision.inference.init().then((r) => r.threads)")
        print(
            f"\n1. per-image time, {threads} thread(s) each, same images, same run (first "
            f"{WARMUP} dropped as warm-up)"
        )
        for name, folder in sorted(models.items()):
            dataset = datasets.get(name)
            if dataset is None:
                continue
            per_class = max(
                1,
                (args.images + WARMUP) // len(list((inputs.DATASETS / dataset / "test").iterdir()))
                + 1,
            )
            images = inputs.dataset_images(dataset, per_class)[: args.images + WARMUP]
            browser, reference = interleaved(page, name, folder, images)
            print(f" {name} {folder.name} ({len(images) - WARMUP} images of {dataset}/test)")
            print(line("model run (invoke)", browser["invoke"], reference["invoke"]))
            print(line("decode+resize+run+rule", browser["total"], reference["total"]))
            print(agreement(browser["results"], reference["results"]))
            url = f"/api/models/{name}/{folder.name}/model.tflite"
            other = tfjs_tflite_times(page, url, folder, images)
            if "times" in other:
                b50, t50 = pct(browser["invoke"], 50), pct(other["times"], 50)
                print(
                    f"  runtime not chosen: tfjs-tflite 0.0.1-alpha.10 model run p50 {t50:6.2f} ms "
                    f"(LiteRT.js/tfjs-tflite {b50 / t50:4.2f}x)"
                )
            else:
                error = other["error"]
                print(f"  runtime not chosen: tfjs-tflite 0.0.1-alpha.10 cannot run it: {error}")
        context.close()
        server.stop()

        print("\n2. cold offline start (browser restarted, server stopped, network off)")
        image = inputs.dataset_images("pbc", 1)[0]
        cold = cold_offline_start(p, models, tmp / "cold", image, args.cold_runs)
        for key in ("ready_ms", "first_result_ms"):
            values = [c[key] for c in cold]
            runs = [round(v) for v in values]
            print(f"  {key:<16} median {statistics.median(values):7.0f} ms  runs {runs}")

        print("\n3. first visit with the WBC model (server-side count of response bytes)")
        sent, parts = first_visit_bytes(p, models, tmp)
        print(
            f"  total {sent / 1e6:.2f} MB (goal <= 6 MB; ratio to goal {sent / 6e6:.2f}); "
            f"of which the model file {parts['model'] / 1e6:.2f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
