"""Technician corrections synced as events (contract 2).

A correction is never part of its record: each is an event with its own uuid, stored with
ON CONFLICT DO NOTHING and compared by content hash like a record (same id and content:
`duplicate`; same id, other content: `conflict`). The prediction keeps the model's label; its
corrected_label/by/at are recomputed from every stored event of that record, so events that
arrive late, twice or in any order still leave the latest one (by at, then id) there."""

from typing import Any

import sqlalchemy as sa
from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from backend import db
from backend.models import Prediction, TechnicianCorrection, User
from backend.models.types import utcnow
from backend.models.upsert import insert_new
from backend.sync.item_results import (
    CONFLICT_DIFFERENT_CONTENT,
    CONFLICT_OTHER_ACCOUNT,
    INVALID_FIELD,
    UNKNOWN_RECORD,
    refused,
)
from backend.sync.validation import CleanCorrection, checked, clean_correction
from classifier.differential import PERSON_ONLY_LABELS

# Phones from before the `code` matched "unknown record" in this text: they get it in English
# unless their browser asks for another language (then the correction is "failed", with Retry).
NOT_SYNCED_YET = _l("unknown record: sync the record first")


def ingest_corrections(raw_events: list[Any], user: User) -> list[dict[str, Any]]:
    cleaned = [checked(clean_correction, raw) for raw in raw_events]  # an event, or `invalid`
    records = _records({e.prediction_id for e in cleaned if isinstance(e, CleanCorrection)})
    results = [_refusal(event, records, user) for event in cleaned]
    accepted = [event if r is None else None for event, r in zip(cleaned, results, strict=True)]
    first = {e.id: e for e in reversed(accepted) if e is not None}  # the first copy of each id
    created = _insert_new(list(first.values()), records, user)
    # Hashes to compare with: the stored events', and this batch's first copy of a new one.
    hashes = _stored_hashes([i for i in first if i not in created])
    hashes.update({i: first[i].content_hash for i in created})
    _copy_latest({records[first[i].prediction_id].seq for i in created})
    unsettled = set(created)
    for i, event in enumerate(accepted):
        if event is not None:
            results[i] = _settle(event, unsettled, hashes[event.id])
    return results


def _refusal(event, records: dict[str, sa.Row], user: User) -> dict[str, Any] | None:
    """The result of an event that cannot be stored, or None."""
    if isinstance(event, dict):
        return event
    record = records.get(event.prediction_id)
    if record is None:
        return refused(event.id, "invalid", UNKNOWN_RECORD, NOT_SYNCED_YET)
    if record.synced_by_id != user.id:
        return refused(event.id, "conflict", CONFLICT_OTHER_ACCOUNT, _("another account's record"))
    if event.label is not None and event.label not in (*record.probabilities, *PERSON_ONLY_LABELS):
        error = _(
            "'label' %(label)s is not one of the record's classes, %(person_only)s "
            "(or null: back to the model's label)",
            label=repr(event.label[:40]),
            person_only=format_list(PERSON_ONLY_LABELS, style="or", locale=get_locale()),
        )
        return refused(event.id, "invalid", INVALID_FIELD, error)
    return None


def _records(prediction_ids: set[str]) -> dict[str, sa.Row]:
    """Stored records (this request's included) by id: seq, owner and classes. Locked until
    commit, in seq order (two batches cannot deadlock): a batch correcting the same record
    waits, then _copy_latest sees this batch's events. Batches on other records run freely."""
    if not prediction_ids:
        return {}
    query = (
        sa.select(Prediction.id, Prediction.seq, Prediction.synced_by_id, Prediction.probabilities)
        .where(Prediction.id.in_(prediction_ids))
        .order_by(Prediction.seq)
        .with_for_update(of=Prediction)
    )
    return {row.id: row for row in db.session.execute(query)}


def _insert_new(events: list[CleanCorrection], records: dict, user: User) -> set[str]:
    if not events:
        return set()
    now = utcnow()
    rows = [
        {
            "id": e.id,
            "prediction_seq": records[e.prediction_id].seq,
            "label": e.label,
            "previous_label": e.previous_label,
            "corrected_by_id": user.id,
            "at": e.at,
            "content_hash": e.content_hash,
            "synced_at": now,
        }
        for e in events
    ]
    return insert_new(TechnicianCorrection.__table__, rows)


def _stored_hashes(ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    query = sa.select(TechnicianCorrection.id, TechnicianCorrection.content_hash).where(
        TechnicianCorrection.id.in_(ids)
    )
    return {row.id: row.content_hash for row in db.session.execute(query)}


def _settle(event: CleanCorrection, created: set[str], known_hash: str) -> dict[str, Any]:
    if event.id in created:
        created.discard(event.id)  # a second copy in the same batch is a duplicate
        return {"id": event.id, "status": "created"}
    if known_hash == event.content_hash:
        return {"id": event.id, "status": "duplicate"}
    error = _("this correction id was already synced with different content; the first is kept")
    return refused(event.id, "conflict", CONFLICT_DIFFERENT_CONTENT, error)


def _copy_latest(seqs: set[int]) -> None:
    """Copies each record's latest correction by (at, id) onto it."""
    if not seqs:
        return
    query = sa.select(
        TechnicianCorrection.prediction_seq,
        TechnicianCorrection.label,
        TechnicianCorrection.corrected_by_id,
        TechnicianCorrection.at,
    ).where(TechnicianCorrection.prediction_seq.in_(seqs))
    # Ascending, so the last row of each record wins.
    latest = {
        row.prediction_seq: row
        for row in db.session.execute(
            query.order_by(TechnicianCorrection.at, TechnicianCorrection.id)
        )
    }
    db.session.execute(
        sa.update(Prediction),
        [
            {
                "seq": seq,
                "corrected_label": row.label,
                "corrected_by_id": row.corrected_by_id,
                "corrected_at": row.at,
            }
            for seq, row in sorted(latest.items())
        ],
    )
