"""The PWA's app shell: index.html, the service worker, the manifest, scripts and the runtime."""

from flask import Blueprint

bp = Blueprint("app_shell", __name__)

from backend.app_shell import routes  # noqa: E402,F401  (registers the views on bp)
