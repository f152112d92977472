"""Signing in and out of the dashboard, with the API's login throttling and audit entries."""

import posixpath
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from backend import db
from backend.audit.log import record
from backend.auth import throttle
from backend.auth.routes import _dummy_check, throttle_ip
from backend.auth.tokens import revoke_id
from backend.dashboard import bp
from backend.dashboard.access import any_role, max_session_seconds
from backend.dashboard.forms import ActionForm, LoginForm
from backend.models import User

VIA = {"via": "dashboard"}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.overview"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        if request.method == "POST":
            flash(_("Enter your username and password."), "error")
        return render_template("dashboard/login.html", form=form), status
    username = form.username.data.strip().lower()
    wait = throttle.begin_attempt(username, throttle_ip())
    if wait:
        record("auth.login", outcome="locked", username=username, details=VIA)
        db.session.commit()
        flash(_("Too many failed sign-ins; try again in %(num)s seconds.", num=wait), "error")
        return render_template("dashboard/login.html", form=form), 429
    user = _check_credentials(username, form.password.data)
    if user is None:
        return render_template("dashboard/login.html", form=form), 401
    return _sign_in(user)


def _check_credentials(username: str, password: str) -> User | None:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        _dummy_check(password)
    if user is None or not user.active or not user.check_password(password):
        record("auth.login", outcome="failure", username=username, details=dict(VIA))
        db.session.commit()
        flash(_("Wrong username or password."), "error")
        return None
    return user


def _sign_in(user: User):
    throttle.succeeded(user.username, throttle_ip())
    session.clear()  # a fresh session on sign-in: nothing set before it survives
    login_user(user)
    session.permanent = True
    # The session's own id: signing out puts it in the blocklist, so a copy of this cookie
    # taken before the sign-out is refused after it.
    session["sid"] = secrets.token_urlsafe(24)
    session["signed_in_at"] = time.time()
    record("auth.login", user, details=VIA)
    db.session.commit()
    return redirect(safe_next(request.args.get("next")))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path inside the dashboard, with "." and ".." resolved
    as the browser would resolve them (also when percent-encoded), else the dashboard home.
    Never another site, never a header that cannot be sent (CR/LF gave a 500)."""
    home = url_for("dashboard.overview")
    if not target or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return home
    path = posixpath.normpath(unquote(parts.path))
    if not (path + "/").startswith(home) or any(ord(c) < 32 or ord(c) == 127 for c in path):
        return home
    if parts.path.endswith("/") and not path.endswith("/"):
        path += "/"
    return quote(path) + (f"?{parts.query}" if parts.query else "")


@bp.post("/logout")
@any_role
def logout():
    if not ActionForm().validate_on_submit():
        flash(_("Sign-out was refused: reload the page and try again."), "error")
        return redirect(url_for("dashboard.overview"))
    record("auth.logout", current_user, details=VIA)
    # Listed until the session would have ended anyway (DASHBOARD_SESSION_MAX_HOURS).
    ends = datetime.fromtimestamp(session["signed_in_at"] + max_session_seconds(), UTC)
    revoke_id(session["sid"], "session", current_user.id, ends)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("dashboard.login"))
