"""The navigation (only the pages a role may open) and the time and class-name formats of the
templates."""

from datetime import UTC
from typing import Any

from flask import request
from flask_login import current_user
from markupsafe import Markup

from backend.dashboard import bp
from backend.dashboard.access import REVIEWERS
from backend.models import ROLES
from classifier.differential import display_name

NAV = (
    ("dashboard.overview", "Overview", ROLES),
    ("dashboard.results", "Results", ROLES),
    ("dashboard.review_queue", "Review queue", REVIEWERS),
    ("dashboard.slides", "Slides", ROLES),
    ("dashboard.admin_users", "Users", ("admin",)),
    ("dashboard.admin_models", "Models", ("admin",)),
    ("dashboard.admin_audit", "Audit log", ("admin",)),
)


@bp.context_processor
def navigation() -> dict[str, Any]:
    """Only the pages this role may open are offered."""
    if not current_user.is_authenticated:
        return {"nav_items": []}
    items = [
        {"endpoint": e, "label": label, "current": request.endpoint == e}
        for e, label, roles in NAV
        if current_user.role in roles
    ]
    return {"nav_items": items}


@bp.app_template_filter("when")
def format_when(value) -> Markup:
    """UTC in the HTML (static/local-time.js shows it in the reader's zone, UTC as its title)."""
    if value is None:
        return Markup("")
    utc = value.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"), utc.strftime("%Y-%m-%d %H:%M UTC")
    )


@bp.app_template_filter("display_name")
def format_display_name(label: str | None) -> str:
    """A class as people write it ("Immature granulocyte", not "ig")."""
    return "" if label is None else display_name(label)
