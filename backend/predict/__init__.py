from flask import Blueprint

bp = Blueprint("predict", __name__)

from backend.predict import routes  # noqa: E402,F401
