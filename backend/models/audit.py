"""Append-only record of who did what, when (UTC) and from where."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, iso, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_log"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)
    # The username is copied so the entry stays readable if the account is renamed or gone.
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    username: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    action: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(16), default="success")
    target: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    user_agent: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    details: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "user_id": self.user_id,
            "username": self.username,
            "action": self.action,
            "outcome": self.outcome,
            "target": self.target,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "details": self.details,
        }
