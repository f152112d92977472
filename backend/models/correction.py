"""A technician's correction of a synced prediction, made on the phone. Every event is kept;
the latest by (at, id) is also copied onto the prediction (corrected_label/by/at)."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, iso, utcnow

# Labels a technician may choose besides the model's classes.
EXTRA_LABELS = ("artefact", "other")


class TechnicianCorrection(db.Model):
    __tablename__ = "technician_corrections"

    id: so.Mapped[str] = so.mapped_column(sa.String(36), primary_key=True)  # the phone's uuid4
    prediction_seq: so.Mapped[int] = so.mapped_column(sa.ForeignKey("predictions.seq"), index=True)
    # None: back to the model's label.
    label: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    previous_label: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    corrected_by_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)  # phone time
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    synced_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    corrected_by: so.Mapped["User"] = so.relationship()  # noqa: F821

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "previous_label": self.previous_label,
            "by": self.corrected_by.username,
            "at": iso(self.at),
        }
