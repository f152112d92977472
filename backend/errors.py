"""One JSON error shape for the whole API: {"error": {"code", "message", "details"?}}. The
code is a stable machine word; the message is for people, in the request's language (the
phone sends Accept-Language)."""

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from backend import db

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised anywhere below a view; turned into the JSON error shape."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict | None = None
) -> tuple[Response, int]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify(error=body)
    if headers:
        response.headers.update(headers)
    return response, status


# werkzeug's own descriptions are English: these replace them (a description given to abort()
# is translated where it is raised).
HTTP_MESSAGES = {
    400: _l("The request was not understood."),
    401: _l("Sign in first."),
    403: _l("You may not do this."),
    404: _l("There is no such page or record."),
    405: _l("This address does not accept that kind of request."),
    413: _l("The request is larger than this server accepts."),
    415: _l("This kind of content is not accepted here."),
    429: _l("Too many requests; wait a moment and try again."),
}


def http_message(e: HTTPException) -> str:
    """The description code gave to abort(), else a translated default for the status."""
    if e.description == type(e).description and e.code in HTTP_MESSAGES:
        return str(HTTP_MESSAGES[e.code])
    return e.description or e.name


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/predict")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def _html_error(e: HTTPException):
    """A browser's error page, outside the dashboard too: the dashboard's page, in the reader's
    language (werkzeug's own is English). Redirects pass through untouched."""
    if e.code is None or e.code < 400:
        return e
    from backend.dashboard.access import CSP
    from backend.dashboard.error_pages import TITLES

    html = render_template("dashboard/error.html", title=TITLES.get(e.code, e.name),
                           message=http_message(e))  # fmt: skip
    response = make_response(html, e.code)
    response.headers["Content-Security-Policy"] = CSP
    if allow := dict(e.get_headers()).get("Allow"):  # 405 says which methods would do
        response.headers["Allow"] = allow
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):
        return error_response(e.status, e.code, e.message, e.details)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        if not _wants_json():
            return _html_error(e)
        headers = {"Retry-After": e.retry_after} if getattr(e, "retry_after", None) else None
        return error_response(e.code or 500, _snake(e.name), http_message(e), None, headers)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        db.session.rollback()
        # %r: a path may hold control characters (a NUL, a newline) that must not reach the log
        log.exception("unhandled error on %s %r", request.method, request.path)
        message = _("The server failed to handle this request.")
        return error_response(500, "internal_error", message)
