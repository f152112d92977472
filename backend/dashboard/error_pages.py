"""Dashboard errors are HTML pages, not the API's JSON: 4xx with a reason, CSRF refusals
(audited), and a 500 that rolls back and shows no trace."""

import logging

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from backend import db
from backend.audit.log import record_now
from backend.dashboard import bp
from backend.errors import http_message

log = logging.getLogger(__name__)


def _error_page(status: int, title: str, message: str):
    return render_template("dashboard/error.html", title=title, message=message), status


TITLES = {
    400: _l("Bad request"),
    403: _l("Access denied"),
    404: _l("Not found"),
    405: _l("Method not allowed"),
    413: _l("Upload too large"),
    429: _l("Too many requests"),
}


@bp.errorhandler(Exception)
def error_page(e: Exception):
    """Dashboard errors are pages, not the API's JSON; a crash shows no trace and rolls back."""
    if isinstance(e, HTTPException):
        return _error_page(e.code or 500, str(TITLES.get(e.code, e.name)), http_message(e))
    db.session.rollback()
    log.exception("unhandled error on %s %r", request.method, request.path)  # %r: no raw CR/LF
    return _error_page(500, _("Something went wrong"), _("The server failed; nothing was saved."))


@bp.errorhandler(CSRFError)
def csrf_refused(e):
    record_now(
        "csrf.refused",
        current_user if current_user.is_authenticated else None,
        outcome="failure",
        target=f"{request.method} {request.path}",
        details={"reason": e.description, "via": "dashboard"},
    )
    message = _(
        "The form was refused because it did not carry this site's security token. Reload the "
        "page and send it again."
    )
    return _error_page(400, _("Form refused"), message)
