"""Who may open which page: sign-in required, role checks that log every refusal, which
sessions are still valid (idle expiry, sign-out, account changes) and the security headers of
every dashboard response."""

import time
from collections.abc import Callable

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from backend import db, login
from backend.audit.log import record_now
from backend.auth.roles import role_gate
from backend.auth.tokens import revoked_id
from backend.dashboard import bp
from backend.models import ROLES, User

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
    from backend.dashboard.vocabulary import role_name  # it imports this module's blueprint

    """Logs the refusal, then shows the 403 page."""
    log_denied(reason)
    # the reason ("needs role admin") stays in the audit log, in English
    role = role_name(current_user.role)
    abort(403, description=_("Your role (%(role)s) may not open this page.", role=role))


@login.user_loader
def load_session_user(session_user_id: str) -> User | None:
    """The account of a dashboard session, or None when the session has ended: its
    "id:epoch" (User.get_id) is of an older credential epoch (password, role or state
    changed since), the account is disabled, the session was signed out (its "sid" is in the
    blocklist, so a copy of the cookie ends too) or it is older than the absolute limit."""
    user_id, _, epoch = session_user_id.partition(":")
    try:
        user = db.session.get(User, int(user_id))
    except ValueError:
        return None
    if user is None or not user.active or epoch != str(user.credential_epoch):
        return None
    if time.time() - session.get("signed_in_at", 0) > max_session_seconds():
        return None
    return None if revoked_id(session.get("sid")) else user


def max_session_seconds() -> int:
    return current_app.config["DASHBOARD_SESSION_MAX_HOURS"] * 3600


@bp.before_request
def end_stale_session():
    """Signs out a session idle for too long, or one the user loader refused (see above)."""
    if not current_user.is_authenticated:
        if session.get("_user_id"):  # signed in, but that session is over
            why = _("Your session was ended; please sign in again.")
            return _end_session("auth.session_revoked", why, _owner())
        return None
    now = time.time()
    idle_limit = current_app.config["DASHBOARD_SESSION_MINUTES"] * 60
    last_seen = session.get("last_seen")
    if last_seen is not None and now - last_seen > idle_limit:
        why = _("Your session expired; please sign in again.")
        return _end_session("auth.session_expired", why, current_user)
    session["last_seen"] = now
    return None


def _owner() -> User | None:
    """The account a refused session belonged to, for the audit log."""
    user_id = str(session.get("_user_id")).partition(":")[0]
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def _end_session(action: str, why: str, user: User | None):
    record_now(action, user, details={"via": "dashboard"})
    logout_user()
    session.clear()
    flash(why, "info")
    return redirect(url_for("dashboard.login", next=request.full_path))


@bp.after_request
def security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype in ("text/html", "text/csv", "application/pdf", "image/jpeg"):
        response.headers["Cache-Control"] = "no-store"  # medical data stays off shared caches
    return response
