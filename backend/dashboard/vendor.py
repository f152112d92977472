"""Browser libraries installed from npm (backend/dashboard/package.json, `make setup`), served by
the app itself: the dashboard needs no CDN and works on a closed hospital network."""

from pathlib import Path

from flask import abort, send_file

from backend.dashboard import bp

NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
VENDOR_FILES = {"chart.umd.min.js": NODE_MODULES / "chart.js" / "dist" / "chart.umd.min.js"}


@bp.get("/vendor/<name>")
def vendor_file(name: str):
    path = VENDOR_FILES.get(name)
    if path is None or not path.is_file():
        abort(404, description=f"{name} is not installed: run `make setup` (npm ci).")
    return send_file(path, mimetype="text/javascript", max_age=86400)
