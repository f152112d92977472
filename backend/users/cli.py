"""`flask users create USERNAME --role ROLE`, `flask users set-password USERNAME`,
`flask users list` and `flask users ensure-admin` (used by make run)."""

import os
import secrets
import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from backend import db
from backend.audit.log import record
from backend.errors import ApiError
from backend.models import ROLES, User
from backend.users.accounts import change_password, create_user

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(username: str, role: str, password_stdin: bool) -> None:
    password = _read_password(password_stdin, "Password")
    try:
        user = create_user(username, password, role)
    except ApiError as e:
        raise click.ClickException(e.message) from None
    record("user.create", None, username="cli", target=user.username, details={"role": role})
    db.session.commit()
    click.echo(f"Created {user.role} '{user.username}'.")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(username: str, password_stdin: bool) -> None:
    """Resets an account's password (an admin who lost theirs, say); audited as user.update."""
    user = db.session.scalar(sa.select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise click.ClickException(f"No account '{username}'.")
    password = _read_password(password_stdin, "New password")
    try:
        change_password(user, password)
    except ApiError as e:
        raise click.ClickException(e.message) from None
    details = {"password": "reset", "via": "cli"}
    record("user.update", None, username="cli", target=user.username, details=details)
    db.session.commit()
    click.echo(
        f"The password of '{user.username}' was reset; their API tokens and dashboard "
        "sessions have ended."
    )


def _read_password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@users_cli.command("ensure-admin")
@click.option("--username", default="admin", show_default=True)
def ensure_admin_command(username: str) -> None:
    """Creates the first admin unless an admin exists; password from
    HEMATOVISION_ADMIN_PASSWORD, else a generated one printed this once."""
    if db.session.scalar(sa.select(User.id).where(User.role == "admin")) is not None:
        click.echo("An admin account exists already.")
        return
    password = os.environ.get("HEMATOVISION_ADMIN_PASSWORD") or ""
    generated = not password
    password = password or secrets.token_urlsafe(12)
    try:
        user = create_user(username, password, "admin")
    except ApiError as e:
        raise click.ClickException(e.message) from None
    record("user.create", None, username="cli", target=user.username, details={"role": "admin"})
    db.session.commit()
    if generated:
        click.echo(f"Created admin '{user.username}' with password: {password}")
        click.echo("It is shown only this once; change it after logging in.")
    else:
        click.echo(f"Created admin '{user.username}' (password from HEMATOVISION_ADMIN_PASSWORD).")


@users_cli.command("list")
def list_command() -> None:
    for user in db.session.scalars(sa.select(User).order_by(User.username)):
        click.echo(
            f"{user.id}\t{user.username}\t{user.role}\t{'active' if user.active else 'disabled'}"
        )
