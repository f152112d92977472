"""Idempotent storage of a batch of synced predictions.

Each record is inserted with ON CONFLICT DO NOTHING on its uuid and the database reports which
rows it really inserted; every other valid record is compared with the stored one by content
hash. So a re-sent record is a `duplicate`, a different record under a known id is a `conflict`
(the first one stays), and two clients racing on the same ids cannot both create one."""

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from backend import db
from backend.models import Prediction, User
from backend.models.types import utcnow
from backend.models.upsert import insert_new
from backend.sync import cell_images
from backend.sync.cell_images import CellImage, take_image
from backend.sync.item_results import (
    CONFLICT_DIFFERENT_CONTENT,
    CONFLICT_OTHER_ACCOUNT,
    refused,
)
from backend.sync.validation import CleanRecord, checked, clean_record, content_hash

OTHER_ACCOUNT = _l("this id was already synced by another account")
DIFFERENT_CONTENT = _l("this id was already synced with different content; the first is kept")


def ingest(raw_records: list[Any], user: User) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    first: dict[str, CleanRecord] = {}
    cleaned: list[CleanRecord | None] = []
    images: dict[str, CellImage] = {}
    for raw in raw_records:
        item = checked(_clean, raw)
        if isinstance(item, dict):
            cleaned.append(None)
            results.append(item)
            continue
        record, image = item
        cleaned.append(record)
        results.append({"id": record.id, "status": None})
        if record.id not in first:
            first[record.id] = record
            if image is not None:
                images[record.id] = image
    created = _insert_new(list(first.values()), user)
    cell_images.store([images[record_id] for record_id in created & images.keys()])
    repeated = len(first) != sum(r is not None for r in cleaned)
    stored = _stored([i for i in first if i not in created or repeated])
    for result, record in zip(results, cleaned, strict=True):
        if record is not None:
            _settle(result, record, created, stored.get(record.id), user)
    return results


def _clean(raw: Any) -> tuple[CleanRecord, CellImage | None]:
    record, image = clean_record(raw), take_image(raw)
    return (record if image is None else _with_image(record, image)), image


def _with_image(record: CleanRecord, image: CellImage) -> CleanRecord:
    """The image's hash joins the content hash: the same record with the same image is a
    duplicate, with another image a conflict. Records without an image hash as before."""
    digest = content_hash(record.id, dict(record.fields, image_sha256=image.sha256))
    return CleanRecord(record.id, dict(record.fields, image_path=image.name), digest)


def _settle(result: dict, record: CleanRecord, created: set, stored: sa.Row | None, user) -> None:
    if record.id in created:
        created.discard(record.id)  # a second copy in the same batch is a duplicate
        result["status"] = "created"
    elif stored.synced_by_id != user.id:
        result.update(refused(record.id, "conflict", CONFLICT_OTHER_ACCOUNT, OTHER_ACCOUNT))
    elif stored.content_hash == record.content_hash:
        result["status"] = "duplicate"
    else:
        result.update(refused(record.id, "conflict", CONFLICT_DIFFERENT_CONTENT, DIFFERENT_CONTENT))


def _insert_new(records: list[CleanRecord], user: User) -> set[str]:
    if not records:
        return set()
    now = utcnow()
    rows = [
        dict(
            r.fields,
            image_path=r.fields.get("image_path"),  # every parameter set needs the same keys
            cam=r.fields.get("cam"),
            status_reason=r.fields.get("status_reason"),
            id=r.id,
            content_hash=r.content_hash,
            synced_by_id=user.id,
            synced_at=now,
        )
        for r in records
    ]
    # Batches run side by side: the `since` cursor is kept exact by its readers (sync/horizon.py).
    return insert_new(Prediction.__table__, rows)


def _stored(ids: list[str]) -> dict[str, sa.Row]:
    """id -> (content_hash, synced_by_id) of records this request did not create."""
    if not ids:
        return {}
    query = sa.select(Prediction.id, Prediction.content_hash, Prediction.synced_by_id).where(
        Prediction.id.in_(ids)
    )
    return {row.id: row for row in db.session.execute(query)}
