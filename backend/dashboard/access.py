"""Who may open which page: sign-in required, role checks that log every refusal, idle
session expiry and the security headers of every dashboard response."""

import hashlib
import time
from collections.abc import Callable

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_required, logout_user

from backend.audit.log import record_now
from backend.auth.roles import role_gate
from backend.dashboard import bp
from backend.models import ROLES

REVIEWERS = ("viewer", "admin")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


roles_required = role_gate(login_required, current_user, lambda reason: deny(reason))


def any_role(view: Callable) -> Callable:
    return roles_required(*ROLES)(view)


def log_denied(reason: str) -> None:
    """Logs an authorisation failure of the current user, committed at once (nothing else
    will be). An object the user may not see answers 404, so its existence stays hidden, but
    the attempt is logged like any other refusal."""
    record_now(
        "authz.denied",
        current_user,
        outcome="failure",
        target=f"{request.method} {request.path}",
        details={"reason": reason, "role": current_user.role, "via": "dashboard"},
    )


def deny(reason: str) -> None:
    """Logs the refusal, then shows the 403 page."""
    log_denied(reason)
    abort(403, description=f"Your role ({current_user.role}) may not open this page: {reason}.")


def password_stamp(user) -> str:
    """Changes whenever the password does: a reset ends the sessions opened before it."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


@bp.before_request
def end_stale_session():
    """Signs out a session idle for too long, or opened before the password was changed."""
    if not current_user.is_authenticated:
        return None
    now = time.time()
    idle_limit = current_app.config["DASHBOARD_SESSION_MINUTES"] * 60
    last_seen = session.get("last_seen")
    if last_seen is not None and now - last_seen > idle_limit:
        return _end_session("auth.session_expired", "Your session expired")
    if session.get("password_stamp") != password_stamp(current_user):
        return _end_session("auth.session_revoked", "Your password was changed")
    session["last_seen"] = now
    return None


def _end_session(action: str, why: str):
    record_now(action, current_user, details={"via": "dashboard"})
    logout_user()
    session.clear()
    flash(f"{why}; please sign in again.", "info")
    return redirect(url_for("dashboard.login", next=request.full_path))


@bp.after_request
def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype in ("text/html", "text/csv", "application/pdf", "image/jpeg"):
        response.headers["Cache-Control"] = "no-store"  # medical data stays off shared caches
    return response
