"""Publishing, activating and rolling back model versions; files live under MODEL_STORE."""

import os
import tempfile
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from backend import db
from backend.errors import ApiError
from backend.model_delivery.release import Release
from backend.models import ModelVersion, User
from backend.models.types import utcnow


def store_root() -> Path:
    return Path(current_app.config["MODEL_STORE"])


def find(name: str, version: str) -> ModelVersion | None:
    query = sa.select(ModelVersion).where(
        ModelVersion.name == name, ModelVersion.version == version
    )
    return db.session.scalar(query)


def active_version(name: str) -> ModelVersion | None:
    query = sa.select(ModelVersion).where(ModelVersion.name == name, ModelVersion.active)
    return db.session.scalar(query)


def publish(release: Release, user: User | None) -> tuple[ModelVersion, bool]:
    """Stores a checked release; publishing the same release again changes nothing."""
    card_sha = release.card_sha256
    existing = find(release.name, release.version)
    if existing is not None:
        if existing.sha256 == release.sha256 and existing.meta_sha256 == card_sha:
            return existing, False
        raise ApiError(
            409,
            "version_exists",
            f"{release.name} {release.version} is published with other content; "
            "publish it under a new version.",
        )
    folder = Path(release.name) / release.version
    _write(folder / "model.tflite", release.model_bytes)
    _write(folder / "model.json", release.card_bytes)
    version = ModelVersion(
        name=release.name,
        version=release.version,
        labels=release.card["labels"],
        sha256=release.sha256,
        size_bytes=len(release.model_bytes),
        meta_sha256=card_sha,
        file_path=str(folder / "model.tflite"),
        meta_path=str(folder / "model.json"),
        published_by_id=user.id if user else None,
    )
    db.session.add(version)
    db.session.flush()
    return version, True


def _write(relative: Path, content: bytes) -> None:
    """Atomic write: a crash never leaves a half-written model where phones can fetch it."""
    target = store_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(tmp, target)


def activate(version: ModelVersion) -> None:
    db.session.execute(
        sa.update(ModelVersion)
        .where(ModelVersion.name == version.name, ModelVersion.id != version.id)
        .values(active=False)
    )
    version.active, version.activated_at = True, utcnow()
    db.session.flush()


def rollback(name: str) -> ModelVersion:
    """Re-activates the version that was active before the current one."""
    current = active_version(name)
    query = (
        sa.select(ModelVersion)
        .where(ModelVersion.name == name, ModelVersion.activated_at.is_not(None))
        .order_by(ModelVersion.activated_at.desc())
    )
    if current is not None:
        query = query.where(ModelVersion.id != current.id)
    previous = db.session.scalars(query).first()
    if previous is None:
        raise ApiError(409, "no_previous_version", f"{name} has no earlier active version.")
    activate(previous)
    return previous
