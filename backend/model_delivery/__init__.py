from flask import Blueprint

bp = Blueprint("model_delivery", __name__, url_prefix="/api/models")

from backend.model_delivery import routes  # noqa: E402,F401
