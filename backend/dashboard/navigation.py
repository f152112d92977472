"""The navigation (only the pages a role may open) and the time format of the templates."""

from datetime import UTC
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from backend.dashboard import bp
from backend.dashboard.access import REVIEWERS
from backend.models import ROLES

NAV = (
    ("dashboard.overview", _l("Overview"), ROLES),
    ("dashboard.results", _l("Results"), ROLES),
    ("dashboard.review_queue", _l("Review queue"), REVIEWERS),
    ("dashboard.slides", _l("Slides"), ROLES),
    ("dashboard.admin_users", _l("Users"), ("admin",)),
    ("dashboard.admin_models", _l("Models"), ("admin",)),
    ("dashboard.admin_audit", _l("Audit log"), ("admin",)),
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
