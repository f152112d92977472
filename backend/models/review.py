"""One review of a synced prediction by a doctor (viewer) or admin; every review is kept, the
latest one is also copied onto the prediction (reviewed_label/by/at) for filtering."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, iso, utcnow


class Review(db.Model):
    __tablename__ = "prediction_reviews"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    prediction_seq: so.Mapped[int] = so.mapped_column(sa.ForeignKey("predictions.seq"), index=True)
    # The model's label stays on the prediction; this is the label the reviewer settled on.
    label: so.Mapped[str] = so.mapped_column(sa.String(100))
    previous_label: so.Mapped[str] = so.mapped_column(sa.String(100))
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    reviewer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    reviewer: so.Mapped["User"] = so.relationship()  # noqa: F821

    @property
    def confirms(self) -> bool:
        return self.label == self.previous_label

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "previous_label": self.previous_label,
            "note": self.note,
            "by": self.reviewer.username,
            "at": iso(self.at),
        }
