"""The central dashboard: server-rendered pages at /dashboard with Flask-Login sessions + CSRF."""

from flask import Blueprint

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)

from backend.dashboard import (  # noqa: E402,F401
    access,
    admin_audit,
    admin_models,
    admin_users,
    error_pages,
    exports,
    labels,
    language,
    navigation,
    overview,
    results,
    review,
    sessions,
    slides,
    vendor,
    vocabulary,
)
