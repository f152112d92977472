"""A released TFLite model version the phones download; one active version per name."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, iso, utcnow


class ModelVersion(db.Model):
    __tablename__ = "model_versions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100), index=True)
    version: so.Mapped[str] = so.mapped_column(sa.String(50))
    labels: so.Mapped[list[str]] = so.mapped_column(sa.JSON)
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    size_bytes: so.Mapped[int]
    meta_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    # Paths are relative to MODEL_STORE so the store can move.
    file_path: so.Mapped[str] = so.mapped_column(sa.String(255))
    meta_path: so.Mapped[str] = so.mapped_column(sa.String(255))
    active: so.Mapped[bool] = so.mapped_column(default=False)
    published_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    published_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    activated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("name", "version", name="uq_model_name_version"),
        # At most one active version per name, enforced by the database itself.
        sa.Index(
            "uq_model_one_active",
            "name",
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        ),
    )

    def to_dict(self, base_url: str = "") -> dict[str, Any]:
        prefix = f"{base_url}/api/models/{self.name}/{self.version}"
        return {
            "name": self.name,
            "version": self.version,
            "labels": self.labels,
            "sha256": self.sha256,
            "size": self.size_bytes,
            "url": f"{prefix}/model.tflite",
            "meta_url": f"{prefix}/model.json",
            "active": self.active,
            "published_at": iso(self.published_at),
            "activated_at": iso(self.activated_at),
        }
