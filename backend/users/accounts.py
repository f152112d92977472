"""Creating and changing accounts; shared by the admin API and the `flask users` commands."""

import re
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _

from backend import db
from backend.errors import ApiError
from backend.models import ROLES, User
from backend.models.user import USERNAME_PATTERN

MIN_PASSWORD = 8
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")  # its header says whence


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ApiError(
            400, "invalid_field", _("role must be one of %(roles)s.", roles=", ".join(ROLES))
        )
    return role


def check_password_strength(password: str) -> str:
    """The one rule for every way of setting a password (API, dashboard, `flask users`).
    Spaces around it do not count toward the length; it is stored as typed."""
    core = password.strip()
    if len(core) < MIN_PASSWORD:
        raise ApiError(
            400,
            "weak_password",
            _(
                "Passwords need at least %(num)s characters, not counting spaces at the start or "
                "end.",
                num=MIN_PASSWORD,
            ),
        )
    if core.lower() in _common_passwords():
        raise ApiError(
            400,
            "weak_password",
            _(
                "This password is on a list of the most common passwords, which are guessed "
                "first: choose another one."
            ),
        )
    return password


@cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def create_user(username: str, password: str, role: str) -> User:
    """Adds the account to the session (the caller commits); usernames are case-insensitive."""
    username = username.strip().lower()
    if not re.match(USERNAME_PATTERN, username):
        raise ApiError(
            400, "invalid_field", _("username: 3-64 characters of letters, digits and _ . @ -")
        )
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise ApiError(409, "username_taken", _("The username '%(name)s' is taken.", name=username))
    user = User(username=username, role=check_role(role), active=True)
    user.set_password(check_password_strength(password))
    db.session.add(user)
    db.session.flush()
    return user


def change_password(user: User, password: str) -> None:
    """The same rule as a new account's; once the caller commits, every API token and
    dashboard session of the account ends."""
    user.set_password(check_password_strength(password))
