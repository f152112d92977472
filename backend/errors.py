"""One JSON error shape for the whole API: {"error": {"code", "message", "details"?}}."""

import logging
import re
from typing import Any

from flask import Flask, Response, jsonify, request
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


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _wants_json() -> bool:
    if request.path.startswith(("/api/", "/predict")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(e: ApiError):
        return error_response(e.status, e.code, e.message, e.details)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        if not _wants_json():
            return e  # browser pages keep werkzeug's HTML error page
        headers = {"Retry-After": e.retry_after} if getattr(e, "retry_after", None) else None
        return error_response(e.code or 500, _snake(e.name), e.description or e.name, None, headers)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        db.session.rollback()
        # %r: a path may hold control characters (a NUL, a newline) that must not reach the log
        log.exception("unhandled error on %s %r", request.method, request.path)
        return error_response(500, "internal_error", "The server failed to handle this request.")
