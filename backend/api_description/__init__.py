from flask import Blueprint

bp = Blueprint("api_description", __name__, url_prefix="/api")

from backend.api_description import routes  # noqa: E402,F401
