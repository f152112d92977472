from flask import Blueprint

bp = Blueprint("sync", __name__, url_prefix="/api")

from backend.sync import routes  # noqa: E402,F401
