"""Publishing, activating and rolling back model versions. A version's model.tflite and
model.json are blobs in the database (backend/storage/blobs.py) under "models/" + the
version's file_path / meta_path, committed with the version row: every server sharing the
database serves and classifies with it at once."""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from backend import db
from backend.errors import ApiError
from backend.model_delivery.release import Release
from backend.models import ModelVersion, User
from backend.models.types import utcnow
from backend.storage import blobs

KEY_PREFIX = "models/"
# Every server on PostgreSQL listens here (backend.serve): a version published or activated
# through one server is copied into the others' caches at once, not at their next check.
CHANNEL = "hematovision_models"


def store_root() -> Path:
    """Where an older installation kept published models on disk (`flask storage
    import-files` reads it); nothing is written there any more."""
    return Path(current_app.config["MODEL_STORE"])


def blob_key(relative: str) -> str:
    """The blob of a version's file_path or meta_path."""
    return KEY_PREFIX + Path(relative).as_posix()


def model_file(version: ModelVersion) -> Path:
    """A local copy of the version's model.tflite, checked against its sha256."""
    return blobs.local_path(blob_key(version.file_path), version.sha256)


def card_file(version: ModelVersion) -> Path:
    return blobs.local_path(blob_key(version.meta_path), version.meta_sha256)


@dataclass(frozen=True)
class Download:
    """A GET of a version's model.tflite or model.json: its sha256 (the ETag), when it was
    published (Last-Modified), and what to send (blobs.download)."""

    sha256: str
    published_at: datetime
    content: Path | bytes


# file name -> the version's columns of its sha256 and its path
FILES = {"model.tflite": ("sha256", "file_path"), "model.json": ("meta_sha256", "meta_path")}

# The version and its file's blob in one query: a first download waits for one round trip,
# not one for the version and one for the bytes. The bytes are left out when this server's
# cache holds them (the sha256s in the second parameter, blobs.cached()).
_DOWNLOAD_SQL = {
    file: f"""SELECT %s || v.{path}, v.{sha}, v.published_at, b.sha256,
        CASE WHEN v.{sha} = ANY(%s) THEN NULL ELSE b.data END
        FROM {ModelVersion.__tablename__} v LEFT JOIN blobs b ON b.key = %s || v.{path}
        WHERE v.name = %s AND v.version = %s"""
    for file, (sha, path) in FILES.items()
}


def download(name: str, version: str, file: str) -> Download | None:
    """What a GET of the version's `file` sends; None if no such version is published."""
    sha_column, path_column = FILES[file]
    if db.session.get_bind().dialect.name != "postgresql":
        found = find(name, version)
        if found is None:
            return None
        sha256 = getattr(found, sha_column)
        content = blobs.download(blob_key(getattr(found, path_column)), sha256)
        return Download(sha256, found.published_at, content)
    params = (KEY_PREFIX, blobs.cached(), KEY_PREFIX, name, version)
    row = blobs.read_row(_DOWNLOAD_SQL[file], params)
    if row is None:
        return None
    key, sha256, published_at, stored_sha256, data = row
    content = blobs.download(key, sha256, (stored_sha256, data))
    return Download(sha256, published_at.replace(tzinfo=UTC), content)


def card_bytes(version: ModelVersion) -> bytes | None:
    return blobs.read(blob_key(version.meta_path))


def local_folder(version: ModelVersion) -> Path:
    """model.tflite and model.json side by side on local disk, as the classifier loads them;
    named by their hashes, so a version's folder never goes stale."""
    return blobs.local_folder(
        f"{version.sha256}-{version.meta_sha256}",
        {
            "model.tflite": (blob_key(version.file_path), version.sha256),
            "model.json": (blob_key(version.meta_path), version.meta_sha256),
        },
    )


def warm_cache() -> int:
    """Copies the files of every published version into this server's cache, as downloads use
    them, and the active versions' folders as the classifier loads them; returns how many
    versions. backend.serve runs it at start-up, every --warm-every seconds and whenever
    another server announces a version (announce), so the first phone to fetch a model from
    a fresh or restarted server, or a version just published or rolled back to, does not wait
    for the copy out of the database (measured: 2-3x a download from local disk, once per
    version). A few MB per version; each later check of a cached version is a file test."""
    query = sa.select(ModelVersion).order_by(
        ModelVersion.active.desc(), ModelVersion.published_at.desc()
    )  # what phones fetch first: the active versions, then the newest
    versions = db.session.scalars(query).all()
    for version in versions:
        model_file(version)
        card_file(version)
        if version.active:
            local_folder(version)
    if versions:  # a download's code and query once, before a phone's first GET (a cache hit)
        download(versions[0].name, versions[0].version, "model.tflite")
    return len(versions)


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
            _(
                "%(name)s %(version)s is published with other content; publish it under a new "
                "version.",
                name=release.name,
                version=release.version,
            ),
        )
    folder = Path(release.name) / release.version
    _write(folder / "model.tflite", release.model_bytes, "application/octet-stream")
    _write(folder / "model.json", release.card_bytes, "application/json")
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
    announce()
    return version, True


def announce() -> None:
    """Tells the servers listening on CHANNEL that the published versions changed. PostgreSQL
    delivers it when the caller's transaction commits (never if it rolls back); SQLite has no
    other servers to tell."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text(f"NOTIFY {CHANNEL}"))


def _write(relative: Path, content: bytes, content_type: str) -> None:
    """In the caller's transaction: a version is never listed without its files, nor the
    files kept without their version."""
    try:
        blobs.put(blob_key(relative.as_posix()), content, content_type)
    except blobs.BlobConflict:
        raise ApiError(
            409,
            "version_exists",
            _(
                "%(folder)s has other files stored; publish it under a new version.",
                folder=relative.parent,
            ),
        ) from None


def activate(version: ModelVersion) -> None:
    db.session.execute(
        sa.update(ModelVersion)
        .where(ModelVersion.name == version.name, ModelVersion.id != version.id)
        .values(active=False)
    )
    version.active, version.activated_at = True, utcnow()
    db.session.flush()
    announce()  # the others lay out its folder for their classifier


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
        raise ApiError(
            409, "no_previous_version", _("%(name)s has no earlier active version.", name=name)
        )
    activate(previous)
    return previous
