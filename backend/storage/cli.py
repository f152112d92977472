"""`flask storage import-files [--delete]`: moves the files an older installation kept on disk
(published models under MODEL_STORE, synced cell images under CELL_IMAGE_FOLDER or
UPLOAD_FOLDER/cells, /predict uploads under UPLOAD_FOLDER) into the database's blobs.

Idempotent, one commit per file: run it again after an interruption and what was committed is
found ("already stored"), the rest is imported; nothing is imported twice (a key is written
once). Files stay on disk unless --delete, which removes a file only after its blob is
committed and its bytes hash to the stored sha256. A file whose key holds other bytes, or a
model file that does not hash to its version's sha256, is reported and left alone."""

import hashlib
from collections import Counter
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from backend import db
from backend.model_delivery import store as model_store
from backend.models import ModelVersion, Prediction
from backend.storage import blobs
from backend.sync import cell_images

storage_cli = AppGroup("storage", help="The files kept in the database.")

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
CONTENT_TYPES[".webp"] = "image/webp"


class Importer:
    def __init__(self, delete: bool) -> None:
        self.delete = delete
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []

    def file(self, path: Path, key: str, content_type: str, sha256: str | None = None) -> None:
        """One file -> one blob, committed on its own. `sha256`: what the file must hash to."""
        stored = blobs.info(key)
        if stored is not None and not self.delete:  # the cheap check: no file read
            same = stored.size == path.stat().st_size and stored.sha256 == (sha256 or stored.sha256)
            if same:
                self.counts["already stored"] += 1
            else:
                self.problem(path, f"{key} is stored with other content; file kept")
            return
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if sha256 is not None and digest != sha256:
            self.problem(path, f"hashes to {digest}, not {sha256} as published; not imported")
            return
        if stored is None:
            try:
                _, created = blobs.put(key, data, content_type)
                db.session.commit()
            except blobs.BlobConflict:  # another process stored other bytes meanwhile
                db.session.rollback()
                self.problem(path, f"{key} is stored with other content; file kept")
                return
            self.counts["imported" if created else "already stored"] += 1
        elif stored.sha256 != digest:
            self.problem(path, f"{key} is stored with other content; file kept")
            return
        else:
            self.counts["already stored"] += 1
        if self.delete:  # only now: its bytes are committed in the database
            path.unlink()
            self.counts["deleted"] += 1

    def problem(self, path: Path, message: str) -> None:
        self.counts["problems"] += 1
        self.problems.append(f"{path}: {message}")


def import_models(importer: Importer) -> None:
    root = model_store.store_root()
    for version in db.session.scalars(sa.select(ModelVersion).order_by(ModelVersion.id)):
        files = (
            (version.file_path, version.sha256, "application/octet-stream"),
            (version.meta_path, version.meta_sha256, "application/json"),
        )
        for relative, sha256, content_type in files:
            key = model_store.blob_key(relative)
            path = root / relative
            if path.is_file():
                importer.file(path, key, content_type, sha256)
            elif not blobs.exists(key):
                message = f"missing, and {version.name} {version.version} has no blob"
                importer.problem(path, message)


def import_cell_images(importer: Importer) -> None:
    folder = cell_images.image_folder()
    for path in _files(folder):
        if path.parent != folder:
            continue
        referenced = sa.select(Prediction.id).where(Prediction.image_path == path.name).limit(1)
        if db.session.scalar(referenced) is None:
            # written by a sync whose transaction then failed: no record shows it
            importer.counts["cell images no record names (left on disk)"] += 1
            continue
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "image/jpeg")
        importer.file(path, cell_images.blob_key(path.name), content_type)


def import_uploads(importer: Importer, root: Path) -> None:
    cells = cell_images.image_folder().resolve()
    for path in _files(root):
        if path.resolve().is_relative_to(cells):
            continue
        relative = path.relative_to(root).as_posix()
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        importer.file(path, "uploads/" + relative, content_type)


def _files(root: Path) -> list[Path]:
    """Plain files under root, sorted; hidden ones (half-written temp files) left out."""
    if not root.is_dir():
        return []
    found = (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return sorted(p for p in found if not any(part.startswith(".") for part in p.parts))


@storage_cli.command("import-files")
@click.option("--delete", is_flag=True, help="Remove each file once its blob is committed.")
def import_files_command(delete: bool) -> None:
    """Moves models, cell images and /predict uploads from disk into the database."""
    from flask import current_app

    importer = Importer(delete)
    import_models(importer)
    import_cell_images(importer)
    import_uploads(importer, Path(current_app.config["UPLOAD_FOLDER"]))
    for problem in importer.problems:
        click.echo(f"warning: {problem}", err=True)
    summary = ", ".join(f"{n} {what}" for what, n in sorted(importer.counts.items()))
    click.echo(f"storage import-files: {summary or 'no files on disk'}")
