"""Serves pwa/ at the site root. The service worker owns offline caching, so every response is
revalidated (`no-cache` + ETag: a 304 costs a few bytes) and a new app version is seen at once.
The runtime's WASM is served precompressed (brotli or gzip) as built by `npm run build`."""

from pathlib import Path

from flask import abort, current_app, request, send_file

from backend.app_shell import bp

REPO_ROOT = Path(__file__).resolve().parents[2]
PWA_DIR = REPO_ROOT / "pwa"
MANIFEST = REPO_ROOT / "manifest.json"
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}


def _send(path: Path, mimetype: str | None = None):
    if not _is_file(path):
        abort(404)
    mimetype = mimetype or TYPES.get(path.suffix, "application/octet-stream")
    encoding, body = _precompressed(path)
    response = send_file(body, mimetype=mimetype, conditional=True, etag=True, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if encoding:
        response.headers["Content-Encoding"] = encoding
        response.headers["Vary"] = "Accept-Encoding"
    return response


def _precompressed(path: Path) -> tuple[str | None, Path]:
    accepted = request.headers.get("Accept-Encoding", "")
    for encoding, suffix in (("br", ".br"), ("gzip", ".gz")):
        variant = path.with_name(path.name + suffix)
        if encoding in accepted and _is_file(variant):
            return encoding, variant
    return None, path


def _is_file(path: Path) -> bool:
    """False also for a name the OS refuses (too long, a NUL): it names no file of the app."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _inside(folder: Path, relative: str) -> Path:
    try:
        path = (folder / relative).resolve()
    except (OSError, ValueError):
        abort(404)
    if not path.is_relative_to(folder.resolve()):
        abort(404)
    return path


@bp.get("/")
def index():
    return _send(PWA_DIR / "index.html")


@bp.get("/sw.js")
def service_worker():
    # pwa/sw.js is the source; the bundle carries the app version and the precache list.
    response = _send(PWA_DIR / "vendor" / "sw.js")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.json")
def manifest():
    return _send(MANIFEST, "application/manifest+json")


@bp.get("/<any(js, css, icons, vendor, locales):folder>/<path:relative>")
def shell_file(folder: str, relative: str):
    if relative.endswith((".br", ".gz")):
        abort(404)
    if folder == "vendor" and not (PWA_DIR / "vendor").is_dir():
        current_app.logger.error("pwa/vendor is missing: run `make setup` (npm ci + build)")
    return _send(_inside(PWA_DIR / folder, relative))
