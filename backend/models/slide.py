"""A slide as the phone counts it: a sample id, its kind (a white-cell differential, or a malaria
slide counting red cells for parasitaemia), a target number of cells of that kind and a state.
The phone's uuid4 is its identity; the account that first synced it owns it."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, iso, utcnow
from classifier import differential, parasitaemia

SLIDE_STATES = ("open", "paused", "finished")
WBC_DIFFERENTIAL = "wbc-differential"  # every slide before malaria slides, and an old phone's
MALARIA = "malaria"
# Each kind counts toward its own targets: white cells, or red cells.
SLIDE_TARGETS = {WBC_DIFFERENTIAL: differential.TARGETS, MALARIA: parasitaemia.TARGETS}
SLIDE_KINDS = tuple(SLIDE_TARGETS)
TARGET_PER_KIND = " OR ".join(
    f"(kind = '{kind}' AND target IN {targets})" for kind, targets in SLIDE_TARGETS.items()
)


class Slide(db.Model):
    __tablename__ = "slides"

    id: so.Mapped[str] = so.mapped_column(sa.String(36), primary_key=True)
    sample_id: so.Mapped[str] = so.mapped_column(sa.String(120), index=True)
    patient: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    specimen: so.Mapped[str | None] = so.mapped_column(sa.String(200))
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    kind: so.Mapped[str] = so.mapped_column(
        sa.String(32), default=WBC_DIFFERENTIAL, server_default=WBC_DIFFERENTIAL
    )
    target: so.Mapped[int]
    state: so.Mapped[str] = so.mapped_column(sa.String(16))
    # Phone times (started/updated/finished); updated_at decides which side's state wins.
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    finished_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    reopened_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)
    reopened_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id"), index=True)
    device_id: so.Mapped[str] = so.mapped_column(sa.String(100))
    # Server times: first stored, and last changed by a phone's push.
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    synced_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    owner: so.Mapped["User"] = so.relationship(foreign_keys=[owner_id])  # noqa: F821
    finished_by: so.Mapped["User | None"] = so.relationship(  # noqa: F821
        foreign_keys=[finished_by_id]
    )
    reopened_by: so.Mapped["User | None"] = so.relationship(  # noqa: F821
        foreign_keys=[reopened_by_id]
    )

    __table_args__ = (
        sa.CheckConstraint(f"state IN {SLIDE_STATES}", name="ck_slides_state"),
        sa.CheckConstraint(f"kind IN {SLIDE_KINDS}", name="ck_slides_kind"),
        sa.CheckConstraint(TARGET_PER_KIND, name="ck_slides_target"),
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sample_id": self.sample_id,
            "patient": self.patient,
            "specimen": self.specimen,
            "note": self.note,
            "kind": self.kind,
            "target": self.target,
            "state": self.state,
            "started_at": iso(self.started_at),
            "updated_at": iso(self.updated_at),
            "finished_at": iso(self.finished_at),
            "finished_by": self.finished_by.username if self.finished_by else None,
            "reopened_at": iso(self.reopened_at),
            "reopened_by": self.reopened_by.username if self.reopened_by else None,
            "device_id": self.device_id,
            "owner": self.owner.username,
            "created_at": iso(self.created_at),
            "synced_at": iso(self.synced_at),
        }

    @property
    def is_malaria(self) -> bool:
        return self.kind == MALARIA
