"""Accounts: one role each; passwords stored only as KDF hashes."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from backend import db
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
    # Every API token ("ver" claim) and dashboard session (in its Flask-Login id) carries the
    # value it was issued under; raising it ends them all at once. It only ever goes up, so
    # re-enabling an account cannot make a token of before valid again.
    credential_epoch: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES}", name="ck_users_role"),)

    def set_password(self, password: str) -> None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def set_role(self, role: str) -> None:
        if role != self.role:
            self.role = role
            self.end_sessions()

    def set_active(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self.end_sessions()

    def end_sessions(self) -> None:
        """Ends every API token and dashboard session issued so far (at the next flush).
        The increment runs in SQL, so two changes at once cannot both write the same value."""
        if sa.inspect(self).persistent:
            self.credential_epoch = User.credential_epoch + 1

    def get_id(self) -> str:
        """Flask-Login's session id: the epoch in it makes a session end with the epoch."""
        return f"{self.id}:{self.credential_epoch}"

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
