"""A stored file (a published model, a synced cell image, a /predict upload): its bytes live in
the database, so every app server sharing the database sees every file, and a record commits
together with its image. Read it through backend.storage.blobs, never by loading the row."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from backend import db
from backend.models.types import UTCDateTime, utcnow


class Blob(db.Model):
    __tablename__ = "blobs"

    # "models/<name>/<version>/model.tflite", "cells/<hex>.jpg", "uploads/YYYY/MM/DD/<hex>.png"
    key: so.Mapped[str] = so.mapped_column(sa.String(255), primary_key=True)
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    size: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    content_type: so.Mapped[str] = so.mapped_column(sa.String(100))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # SQLite BLOB, PostgreSQL bytea; deferred: listing blobs never reads their bytes.
    data: so.Mapped[bytes] = so.mapped_column(sa.LargeBinary, deferred=True)
