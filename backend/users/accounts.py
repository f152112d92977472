"""Creating and changing accounts; shared by the admin API and the `flask users` commands."""

import re

import sqlalchemy as sa

from backend import db
from backend.errors import ApiError
from backend.models import ROLES, User
from backend.models.user import USERNAME_PATTERN

MIN_PASSWORD = 8


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ApiError(400, "invalid_field", f"role must be one of {', '.join(ROLES)}.")
    return role


def check_password_strength(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ApiError(400, "weak_password", f"Passwords need at least {MIN_PASSWORD} characters.")
    return password


def create_user(username: str, password: str, role: str) -> User:
    """Adds the account to the session (the caller commits); usernames are case-insensitive."""
    username = username.strip().lower()
    if not re.match(USERNAME_PATTERN, username):
        raise ApiError(
            400, "invalid_field", "username: 3-64 characters of letters, digits and _ . @ -"
        )
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise ApiError(409, "username_taken", f"The username '{username}' is taken.")
    user = User(username=username, role=check_role(role), active=True)
    user.set_password(check_password_strength(password))
    db.session.add(user)
    db.session.flush()
    return user


def change_password(user: User, password: str) -> None:
    """The same rule as a new account's; once the caller commits, every API token and
    dashboard session of the account ends."""
    user.set_password(check_password_strength(password))
