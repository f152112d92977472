"""`flask auth purge`: drop revoked tokens that have expired anyway and stale login counters."""

from datetime import timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from backend import db
from backend.models import LoginThrottle, TokenBlocklist
from backend.models.types import utcnow

auth_cli = AppGroup("auth", help="Token and login-throttling maintenance.")


@auth_cli.command("purge")
def purge_command() -> None:
    now = utcnow()
    window = timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    tokens = db.session.execute(sa.delete(TokenBlocklist).where(TokenBlocklist.expires_at < now))
    counters = db.session.execute(
        sa.delete(LoginThrottle).where(
            LoginThrottle.last_attempt_at < now - window,
            sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now - window),
        )
    )
    db.session.commit()
    click.echo(
        f"Removed {tokens.rowcount} expired revoked tokens, {counters.rowcount} login counters."
    )
