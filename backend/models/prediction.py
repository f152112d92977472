"""A classification made on a phone and synced here; the phone's uuid4 is its identity."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, iso, utcnow


class Prediction(db.Model):
    __tablename__ = "predictions"

    # seq orders records by arrival and is the `since` cursor; id is the phone's uuid.
    seq: so.Mapped[int] = so.mapped_column(primary_key=True)
    id: so.Mapped[str] = so.mapped_column(sa.String(36), unique=True)
    model_name: so.Mapped[str] = so.mapped_column(sa.String(100), index=True)
    model_version: so.Mapped[str] = so.mapped_column(sa.String(50))
    label: so.Mapped[str] = so.mapped_column(sa.String(100), index=True)
    confidence: so.Mapped[float]
    status: so.Mapped[str] = so.mapped_column(sa.String(32), index=True)
    # Why the phone's rule did not call it confident (classifier.classify.STATUS_REASONS, checked
    # by sync/validation.py); None when it did, and from phones older than the reason.
    status_reason: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    probabilities: so.Mapped[dict[str, float]] = so.mapped_column(sa.JSON)
    captured_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
    device_id: so.Mapped[str] = so.mapped_column(sa.String(100), index=True)
    slide_id: so.Mapped[str | None] = so.mapped_column(sa.String(100), index=True)
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # sha256 of the canonical record: tells a harmless re-send from a conflicting one.
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    synced_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    synced_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # Review by a doctor/admin (dashboard) and an optional stored cell image.
    reviewed_label: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    reviewed_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    review_note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    image_path: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    # Why the model made its call: {label, rows, cols, values 0..255}, the map over the cell
    # image (sync/validation.py::_cam); None from a model that makes none or an older phone.
    cam: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON(none_as_null=True))
    # The technician's latest correction (technician_corrections); a None label with a time
    # means "back to the model's label".
    corrected_label: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    corrected_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    corrected_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    synced_by: so.Mapped["User"] = so.relationship(foreign_keys=[synced_by_id])  # noqa: F821
    reviewed_by: so.Mapped["User | None"] = so.relationship(  # noqa: F821
        foreign_keys=[reviewed_by_id]
    )
    corrected_by: so.Mapped["User | None"] = so.relationship(  # noqa: F821
        foreign_keys=[corrected_by_id]
    )
    corrections: so.Mapped[list["TechnicianCorrection"]] = so.relationship(  # noqa: F821
        order_by="(TechnicianCorrection.at, TechnicianCorrection.id)", viewonly=True
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "label": self.label,
            "confidence": self.confidence,
            "status": self.status,
            "status_reason": self.status_reason,
            "probabilities": self.probabilities,
            "captured_at": iso(self.captured_at),
            "device_id": self.device_id,
            "slide_id": self.slide_id,
            "note": self.note,
            "cam": self.cam,
            "synced_by": {"id": self.synced_by_id, "username": self.synced_by.username},
            "synced_at": iso(self.synced_at),
            "review": self._review_dict(),
            "correction": self._correction_dict(),
        }

    def _correction_dict(self) -> dict[str, Any] | None:
        if self.corrected_at is None:
            return None
        latest = self.corrections[-1] if self.corrections else None  # by (at, id), as copied
        return {
            "label": self.corrected_label,
            "previous_label": latest.previous_label if latest else None,
            "by": self.corrected_by.username if self.corrected_by else None,
            "at": iso(self.corrected_at),
        }

    def _review_dict(self) -> dict[str, Any] | None:
        if self.reviewed_at is None:
            return None
        return {
            "label": self.reviewed_label,
            "by": self.reviewed_by.username if self.reviewed_by else None,
            "at": iso(self.reviewed_at),
            "note": self.review_note,
        }
