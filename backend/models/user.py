"""Accounts: one role each; passwords stored only as KDF hashes."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from backend import db, login
from backend.models.types import UTCDateTime, iso, utcnow

ROLES = ("admin", "technician", "viewer")
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{3,64}$"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True, index=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(16))
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES}", name="ck_users_role"),)

    def set_password(self, password: str) -> None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sessions of disabled accounts
        return self.active

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "active": self.active,
            "created_at": iso(self.created_at),
        }

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


@login.user_loader
def load_session_user(user_id: str) -> User | None:
    """Flask-Login's loader for the browser pages (dashboard)."""
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None
