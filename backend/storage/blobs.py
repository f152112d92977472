"""Files kept in the database (the `blobs` table): put, info, read, exists, and a verified
local copy for what must be a file on disk (the classifier's .tflite, a download served with
send_file).

Every app server sharing the database sees every blob the moment it is committed, and a blob
written in a request commits or rolls back with that request's rows (a synced record and its
cell image, a model version and its files). A key is written once: putting the same bytes
again changes nothing, other bytes under a stored key are refused (BlobConflict).

Reading: `read` loads one blob into memory (cell images, ~10 KB; model cards); `local_path`
copies a blob into the cache folder (BLOB_CACHE, default <instance>/cache) in 1 MiB slices
(SQL substr), hashing as it goes, and keeps it under its sha256, so a large model is never
held in memory whole; `download` answers a download from that cache or, on a server that
never saw the blob, from its bytes read in one query and checked in memory (they go into the
cache after they are sent), so the first request does not wait for a copy to disk."""

import hashlib
import io
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa
from flask import current_app

from backend import db
from backend.models import Blob
from backend.models.types import utcnow
from backend.models.upsert import insert

CHUNK = 1024 * 1024
_table = Blob.__table__
_verified: set[Path] = set()  # cache files hashed by this process
_lock = threading.Lock()


class BlobError(Exception):
    pass


class BlobConflict(BlobError):
    """Other bytes under a key that is already stored."""


class BlobMissing(BlobError):
    pass


class BlobCorrupt(BlobError):
    """The bytes do not hash to the sha256 they were stored or asked for with."""


@dataclass(frozen=True)
class BlobInfo:
    key: str
    sha256: str
    size: int
    content_type: str
    created_at: datetime


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(key: str, data: bytes, content_type: str) -> tuple[BlobInfo, bool]:
    """Stores `data` under `key` in the current transaction; (info, created). The same bytes
    again: (stored info, False). Other bytes: BlobConflict. The caller commits."""
    digest = sha256_of(data)
    row = dict(
        key=key,
        sha256=digest,
        size=len(data),
        content_type=content_type,
        created_at=utcnow(),
        data=data,
    )
    statement = insert(_table).values(row).on_conflict_do_nothing(index_elements=["key"])
    created = db.session.execute(statement.returning(_table.c.key)).first() is not None
    stored = info(key)
    if stored is None or stored.sha256 != digest:
        raise BlobConflict(f"{key} is stored with other content")
    return stored, created


def put_new(items: list[tuple[str, bytes, str]]) -> None:
    """Stores (key, data, content type) under keys the server just made (a uuid in each), in
    one statement for the lot (a sync batch's cell images); BlobConflict if a key is taken."""
    if not items:
        return
    now = utcnow()
    rows = [
        dict(key=k, sha256=sha256_of(d), size=len(d), content_type=t, created_at=now, data=d)
        for k, d, t in sorted(items)
    ]
    statement = insert(_table).on_conflict_do_nothing(index_elements=["key"])
    inserted = db.session.connection().execute(statement.returning(_table.c.key), rows)
    taken = {row["key"] for row in rows} - set(inserted.scalars())
    if taken:
        raise BlobConflict(f"already stored: {sorted(taken)[:3]}")


def info(key: str) -> BlobInfo | None:
    """What is known about a blob, without reading its bytes."""
    columns = (_table.c[name] for name in ("key", "sha256", "size", "content_type", "created_at"))
    row = db.session.execute(sa.select(*columns).where(_table.c.key == key)).first()
    return None if row is None else BlobInfo(*row)


def exists(key: str) -> bool:
    return db.session.scalar(sa.select(sa.literal(1)).where(_table.c.key == key)) is not None


def read(key: str) -> bytes | None:
    """The whole blob in memory (for small ones: cell images, model cards, uploads)."""
    return db.session.scalar(sa.select(_table.c.data).where(_table.c.key == key))


def chunks(key: str, size: int) -> Iterator[bytes]:
    """The blob in CHUNK-sized slices, one query each (SQL substr counts from 1)."""
    for start in range(0, size, CHUNK):
        piece = db.session.scalar(
            sa.select(sa.func.substr(_table.c.data, start + 1, CHUNK)).where(_table.c.key == key)
        )
        if piece is None:
            raise BlobMissing(key)
        yield bytes(piece)


def cache_root() -> Path:
    configured = current_app.config.get("BLOB_CACHE")
    return Path(configured or Path(current_app.instance_path) / "cache")


def _cache_file(sha256: str) -> Path:
    return cache_root() / "blobs" / sha256[:2] / sha256


def _checked_cache_file(sha256: str) -> Path | None:
    """The cache file of these bytes if it is there and holds them (hashed once per process)."""
    path = _cache_file(sha256)
    if path in _verified and path.is_file():
        return path
    if path.is_file() and _file_sha256(path) == sha256:
        _verified.add(path)
        return path
    return None


def cached() -> list[str]:
    """The sha256s this process holds checked cache files of: a query that reads blobs for a
    download can leave these out (store.download)."""
    folder = cache_root() / "blobs"
    return [path.name for path in tuple(_verified) if path.parent.parent == folder]


def download(
    key: str, sha256: str, row: tuple[str | None, bytes | None] | None = None
) -> Path | bytes:
    """What a download sends: the checked cache file, or else the blob's bytes read in one
    query and checked against `sha256` in memory, for the caller to send as a CachedOnClose:
    the first request does not wait for the disk. `row`: the blob's (sha256, bytes) when the
    caller's own query read them (store.download): bytes None where it left them out because
    `cached()` listed them, (None, None) where there is no blob."""
    if row is None or (row[0] is not None and row[1] is None):
        if (cached_file := _checked_cache_file(sha256)) is not None:
            return cached_file
        row = _fetch(key)  # not read, or left out and the cache file gone since
    if row is None or row[0] is None:
        raise BlobMissing(f"no blob {key}")
    stored_sha256, data = row
    if stored_sha256 != sha256:
        raise BlobCorrupt(f"{key} is stored with sha256 {stored_sha256}, not {sha256}")
    if sha256_of(data) != sha256:
        raise BlobCorrupt(f"{key}: the stored bytes do not hash to {sha256}")
    return data


class CachedOnClose(io.BytesIO):
    """Bytes already checked against `sha256` (`download`'s), to send as a file; closing it
    (the WSGI server does, once they are sent) puts them into the cache: a file written whole
    and renamed into place, so a reader never sees half of one. Needs no app context then."""

    def __init__(self, sha256: str, data: bytes) -> None:
        super().__init__(data)
        self._data, self._path = data, _cache_file(sha256)

    def getbuffer(self) -> memoryview:
        """The bytes given, not BytesIO's copy of them, which it makes when asked for its buffer
        (send_file asks, for the size): 1.4-1.8 ms for a 1.46 MB model in a fresh process."""
        return memoryview(self._data)

    def close(self) -> None:
        if not self.closed:
            try:
                with self.getbuffer() as view:
                    _fill(self._path, [view])
            except OSError:  # the answer is sent; a later request reads the database again
                logging.getLogger("hematovision").exception("could not cache %s", self._path)
        super().close()


def _fetch(key: str) -> tuple[str, bytes] | None:
    """(sha256, bytes) of a blob in one query."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        row = connection.execute(
            sa.select(_table.c.sha256, _table.c.data).where(_table.c.key == key)
        ).first()
        return None if row is None else (row.sha256, bytes(row.data))
    row = read_row("SELECT sha256, data FROM blobs WHERE key = %s", (key,))
    return None if row is None else (row[0], bytes(row[1]))


def warm_new_connections(engine: sa.Engine) -> None:
    """Every connection `engine` opens to PostgreSQL reads one byte of a model at once: the
    database process opens the TOAST table that holds large values on its first read of one,
    which a server's first download of a model otherwise waits for: the first read of a
    1.46 MB model on a fresh connection took 13.4 ms without this, 9.8 ms after it (medians of
    8 fresh processes each, 2026-12-02). Well under a millisecond per new connection; one
    byte, so no model is held in memory and a server's cache stays cold."""
    if engine.dialect.name != "postgresql":
        return

    @sa.event.listens_for(engine, "connect")
    def _open_toast(dbapi_connection, _record) -> None:
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.execute(
                "SELECT length(substr(data, 1, 1)) FROM blobs WHERE key >= %s AND key < %s LIMIT 1",
                ("models/", "models0"),  # the keys under models/, by the primary key's index
            ).fetchone()
        except psycopg.Error:  # no blobs table yet (not migrated): nothing to ready
            pass
        finally:
            dbapi_connection.autocommit = False


def read_row(sql: str, params: tuple) -> tuple | None:
    """The first row of `sql` on PostgreSQL, in binary: a bytea comes as text (hex, twice its
    size) otherwise, measured 10-14 ms against 2.3 ms for a 1.46 MB model. Outside a
    transaction when the request has not begun one: a read needs none, and BEGIN and the
    ROLLBACK at the request's end are two more round trips before a download is sent."""
    raw = db.session.connection().connection.driver_connection
    idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if idle:
        raw.autocommit = True
    try:
        with raw.cursor(binary=True) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    finally:
        if idle and not raw.closed:
            raw.autocommit = False


def _fill(path: Path, pieces, sha256: str | None = None) -> None:
    """Writes `pieces` to `path` through a temporary file renamed into place; with `sha256`,
    hashes them on the way and keeps nothing unless they match."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fetch-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                if sha256 is not None:
                    digest.update(piece)
                f.write(piece)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise BlobCorrupt(f"{path.name}: the stored bytes do not hash to {sha256}")
        os.replace(tmp, path)  # atomic: another process never sees half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _verified.add(path)


def local_path(key: str, sha256: str) -> Path:
    """A local file with the blob's bytes, checked against `sha256` (the hash the caller
    expects: a model version's, say). Copied from the database on first use, then reused:
    files under the cache are named by their hash, so two keys with the same bytes share one."""
    path = _cache_file(sha256)
    if path in _verified and path.is_file():
        return path
    with _lock:
        if _checked_cache_file(sha256) is not None:
            return path
        stored = info(key)
        if stored is None:
            raise BlobMissing(f"no blob {key}")
        if stored.sha256 != sha256:
            raise BlobCorrupt(f"{key} is stored with sha256 {stored.sha256}, not {sha256}")
        _fill(path, chunks(key, stored.size), sha256)
        return path


def local_folder(name: str, files: dict[str, tuple[str, str]]) -> Path:
    """A cache folder `name` holding file name -> (key, sha256) blobs, e.g. a model's
    model.tflite and model.json side by side as the classifier loads them. `name` must change
    when the content does (build it from the hashes)."""
    folder = cache_root() / "folders" / name
    sources = {file: local_path(key, sha) for file, (key, sha) in files.items()}
    if folder.is_dir() and all(_same(folder / f, sources[f], files[f][1]) for f in files):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".build-"))
    for file, source in sources.items():
        try:
            os.link(source, tmp / file)
        except OSError:
            shutil.copyfile(source, tmp / file)
    if folder.exists():  # left incomplete or altered: replaced
        shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rename(tmp, folder)
    except OSError:  # another thread or process built it first
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _same(path: Path, source: Path, sha256: str) -> bool:
    """`path` holds the checked `source`'s bytes: the same file (a hard link) or the same hash."""
    if not path.is_file():
        return False
    return os.path.samefile(path, source) or _file_sha256(path) == sha256


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(CHUNK):
            digest.update(piece)
    return digest.hexdigest()
