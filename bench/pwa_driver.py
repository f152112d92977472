"""Driving the PWA in the system Chromium through Python Playwright, as a person does: a fresh
profile, the app opened, logged in, models loaded, photos classified; and a LiveServer with the
accounts the PWA tests and benchmarks log in with. Shared by tests/pwa/ and bench/."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.file_lock import locked
from bench.live_server import PWA_DIR, LiveServer

ARTIFACTS = PWA_DIR.parent / "test-artifacts"
PASSWORD = "pwa test password 42"
ACCOUNTS = {"tech": "technician", "tech2": "technician", "viewer": "viewer", "admin": "admin"}
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}


def serve(tmp: Path, models: dict[str, Path], **config) -> LiveServer:
    """A LiveServer (not started) with ACCOUNTS, all with PASSWORD, and `models` published."""
    return LiveServer(tmp, models, users=ACCOUNTS, password=PASSWORD, **config)


def ensure_pwa_built() -> None:
    """pwa/vendor/ is built by `make setup`; rebuild it here so tests see the current sources.
    In a test session (HEMATOVISION_TEST_SESSION, set by tests/conftest.py) it is built once for
    all of the session's workers, before any of them opens the app: a rebuild while another
    worker's Chromium reads pwa/vendor/ could hand it half a file."""
    session = os.environ.get("HEMATOVISION_TEST_SESSION")
    if not session:
        return _build_pwa()
    built = _built_marker(session)
    with locked(built.with_suffix(".lock")):
        if not built.exists():
            _build_pwa()
            built.touch()


def forget_pwa_built(session: str) -> None:
    """Remove the session's "built" marker and its lock (tests/conftest.py, at the session's end),
    so that test runs do not leave two files each in the temporary folder."""
    built = _built_marker(session)
    for path in (built, built.with_suffix(".lock")):
        path.unlink(missing_ok=True)


def _built_marker(session: str) -> Path:
    return Path(tempfile.gettempdir()) / f"hv-pwa-built-{session}"


def _build_pwa() -> None:
    if not (PWA_DIR / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PWA_DIR, check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=PWA_DIR, check=True)


def launch(playwright, profile: Path, viewport=PHONE, extra_args=(), fresh=True, **options):
    """A persistent Chromium context with a fresh profile (service workers, IndexedDB, caches);
    fresh=False reopens an existing profile (a cold start of an installed app).
    `extra_args`: e.g. ["--use-fake-device-for-media-stream"] for a synthetic camera."""
    if fresh and profile.exists():
        shutil.rmtree(profile)
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS + list(extra_args),
        headless=True,
        viewport=viewport,
        service_workers="allow",
        accept_downloads=True,
        **options,
    )


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # the viewport, as a person sees it
    return path


# --- driving the app through its UI -------------------------------------------------------


def open_logged_in(playwright, server, profile: Path, models: int = 1, **options):
    """A fresh Chromium profile with the app open, logged in as the technician, and its
    `models` models downloaded: (context, page)."""
    context = launch(playwright, profile, **options)
    return context, logged_in_page(context, server, models)


def logged_in_page(context, server, models: int = 1):
    """A new page of `context` with the app open, logged in as the technician, models loaded."""
    page = context.new_page()
    open_app(page, server.url)
    log_in(page)
    wait_for_models(page, models)
    return page


def open_app(page, url: str) -> None:
    page.goto(url + "/")
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)


def log_in(page, username: str = "tech", password: str = PASSWORD) -> None:
    page.click("#tab-account")
    page.fill("#login-user", username)
    page.fill("#login-password", password)
    # On a loaded CI machine the login answer once took over 15 s (the first service-worker
    # precache shares the browser's connections): wait for the answer, then for the panel.
    with page.expect_response(_is_login_answer, timeout=60_000):
        page.click("#login-form button[type=submit]")
    page.wait_for_selector("#account-info:not([hidden])", timeout=15_000)


def _is_login_answer(response) -> bool:
    return response.url.endswith("/api/auth/login") and response.request.method == "POST"


def wait_for_models(page, count: int) -> None:
    page.wait_for_function(
        f"() => Number(document.body.dataset.models || 0) >= {count}", timeout=60_000
    )


def wait_until_offline_ready(page) -> None:
    """The service worker controls the page and its caches hold the shell and the runtime."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
    page.evaluate("navigator.serviceWorker.ready")


def choose_model(page, name: str) -> None:
    page.click("#tab-classify")
    page.select_option("#model-select", name)
    page.wait_for_function(
        "([n]) => window.hematovision.model() && window.hematovision.model().name === n && "
        "window.hematovision.inference.isLoaded(window.hematovision.model())",
        arg=[name],
        timeout=30_000,
    )


def start_slide(
    page, sample_id: str, target: str | None = None, specimen: str | None = None
) -> None:
    """Starts a slide on the Slide screen, of the kind and target the form offers unless
    `target` is given; new results then join it."""
    page.click("#tab-slide")
    page.fill("#slide-sample", sample_id)
    if specimen:
        page.fill("#slide-specimen", specimen)
    if target:
        page.select_option("#slide-target", target)
    page.click("#slide-form button[type=submit]")
    page.wait_for_function("() => window.hematovision.activeSlide() !== null")


def finish_slide(page) -> None:
    """Finishes the current slide: the first tap asks, the second confirms."""
    page.click("#tab-slide")
    if page.get_attribute("#slide-finish", "data-asked") != "true":
        page.click("#slide-finish")
        page.wait_for_function(
            "() => document.querySelector('#slide-finish').dataset.asked === 'true'"
        )
    page.click("#slide-finish")
    page.wait_for_function(
        "() => window.hematovision.state.slides.some("
        "s => s.id === window.hematovision.state.currentSlide && s.state === 'finished')"
    )


def classify_files(page, files: list[Path], timings: list[float] | None = None) -> list[dict]:
    """Picks the files (several at once), classifies each at zoom 1 (the whole image, like
    classifier.classify) and returns the saved records in order; `timings` gets each one's
    milliseconds from the Classify tap to the record saved on the phone."""
    page.click("#tab-classify")
    page.set_input_files("#file-input", [str(f) for f in files])
    results = []
    for i, _ in enumerate(files):
        previous = page.evaluate("document.body.dataset.lastResult || ''")
        page.wait_for_function(
            "() => !document.querySelector('#classify-btn').disabled", timeout=30_000
        )
        start = time.perf_counter()
        page.click("#classify-btn")
        page.wait_for_function(
            "([p]) => (document.body.dataset.lastResult || '') !== p",
            arg=[previous],
            timeout=30_000,
        )
        if timings is not None:
            timings.append(1000 * (time.perf_counter() - start))
        record_id = page.evaluate("document.body.dataset.lastResult")
        results.append(record(page, record_id))
        if i < len(files) - 1:
            page.click("#reset-btn")
    return results


def find_all_cells(page, photo: Path, read: str, timeout: int = 60_000):
    """ "Find all cells" on a photo from the Classify screen; returns `read` (a `() => …`
    function string over the field view) once the field is shown."""
    page.click("#tab-classify")
    page.set_input_files("#file-input", [str(photo)])
    page.wait_for_function("() => !document.querySelector('#field-btn').disabled", timeout=30_000)
    before = page.evaluate("document.body.dataset.fieldReady || ''")
    page.click("#field-btn")
    page.wait_for_function(
        "([b]) => (document.body.dataset.fieldReady || '') !== b", arg=[before], timeout=timeout
    )
    return page.evaluate(read)


def sync_now(page) -> None:
    """ "Sync now" from History, and wait until that sync has answered."""
    before = page.evaluate("document.body.dataset.syncDone || ''")
    page.click("#tab-history")
    page.click("#sync-now")
    page.wait_for_function(
        "([b]) => (document.body.dataset.syncDone || '') !== b", arg=[before], timeout=30_000
    )


def record(page, record_id: str) -> dict:
    return page.evaluate(
        """async (id) => {
            const r = await window.hematovision.db.get('predictions', id);
            const { thumbnail, ...rest } = r;
            return rest;
        }""",
        record_id,
    )


def runtime_cached(page) -> list[str]:
    """The paths the service worker keeps in its runtime cache (the LiteRT.js build), sorted."""
    return page.evaluate(
        """async () => {
            const name = (await caches.keys()).find((key) => key.startsWith('hv-runtime-'));
            const requests = await (await caches.open(name)).keys();
            return requests.map((r) => new URL(r.url).pathname).sort();
        }"""
    )


def all_records(page) -> list[dict]:
    return page.evaluate(
        """async () => (await window.hematovision.db.getAll('predictions')).map(
            ({ thumbnail, ...rest }) => rest)"""
    )


def wait_for_notice(page, text: str, timeout: int = 15_000) -> str:
    """Waits until the message line shows `text`; returns the whole message."""
    page.wait_for_function(
        "([t]) => !document.querySelector('#notice').hidden && "
        "document.querySelector('#notice-text').textContent.includes(t)",
        arg=[text],
        timeout=timeout,
    )
    return page.inner_text("#notice-text")
