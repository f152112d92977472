"""State behind authentication: revoked JWTs and login-failure counters."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, utcnow


class TokenBlocklist(db.Model):
    __tablename__ = "token_blocklist"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    jti: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    token_type: so.Mapped[str] = so.mapped_column(sa.String(16))
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    revoked_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # Kept until the token would have expired anyway; then the row may be purged.
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)


class LoginThrottle(db.Model):
    """Failed logins per username and client address ("pair"), per address ("ip") or per
    username ("user"); see backend/auth/throttle.py."""

    __tablename__ = "login_throttle"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(8))
    key: so.Mapped[str] = so.mapped_column(sa.String(128))
    failures: so.Mapped[int] = so.mapped_column(default=0)
    last_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    locked_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("kind", "key", name="uq_login_throttle_kind_key"),)
