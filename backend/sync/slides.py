"""Slides: the phone's pushes (contract 2) and the server-side changes of a slide's state.

A push is an upsert decided by `updated_at`: a phone's later state is `applied`, an earlier or
equal one is `stale` and the answer carries the server's slide, so a re-open on the dashboard
(updated_at = now) reaches the phone instead of being overwritten by it. The update itself is
conditional on the stored updated_at, so a re-open committed meanwhile is never lost either.
The helpers below change nothing but the session: the caller commits."""

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from backend import db
from backend.audit.log import record
from backend.models import Slide, User
from backend.models.types import iso, utcnow
from backend.models.upsert import insert_new
from backend.sync.item_results import CONFLICT_OTHER_ACCOUNT, refused
from backend.sync.validation import CleanSlide, checked, clean_slide


def ingest_slides(raw_slides: list[Any], user: User) -> list[dict[str, Any]]:
    cleaned = [checked(clean_slide, raw) for raw in raw_slides]  # a slide, or `invalid`
    first = {s.id: s for s in reversed(cleaned) if isinstance(s, CleanSlide)}
    created = _insert_new(list(first.values()), user)
    stored = _load(list(first))
    results = []
    for slide in cleaned:
        if isinstance(slide, dict):
            results.append(slide)
        elif slide.id in created:
            created.discard(slide.id)  # a later copy in this batch is compared like any push
            results.append({"id": slide.id, "status": "created"})
        else:
            results.append(_upsert(stored[slide.id], slide, user))
    return results


def _insert_new(slides: list[CleanSlide], user: User) -> set[str]:
    if not slides:
        return set()
    now = utcnow()
    rows = [
        dict(
            s.fields,
            id=s.id,
            owner_id=user.id,
            finished_by_id=user.id if s.fields["state"] == "finished" else None,
            created_at=now,
            synced_at=now,
        )
        for s in slides
    ]
    return insert_new(Slide.__table__, rows)


def _load(ids: list[str]) -> dict[str, Slide]:
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(sa.select(Slide).where(Slide.id.in_(ids)))}


def _upsert(slide: Slide, incoming: CleanSlide, user: User) -> dict[str, Any]:
    if slide.owner_id != user.id:
        return refused(slide.id, "conflict", CONFLICT_OTHER_ACCOUNT, _("another account's slide"))
    if {key: getattr(slide, key) for key in incoming.fields} == incoming.fields:
        return {"id": slide.id, "status": "duplicate"}
    if incoming.fields["updated_at"] > slide.updated_at and _apply(slide, incoming, user):
        return {"id": slide.id, "status": "applied"}
    return {"id": slide.id, "status": "stale", "slide": slide.to_dict()}


def _apply(slide: Slide, incoming: CleanSlide, user: User) -> bool:
    """Writes the phone's state unless a newer one was stored meanwhile; reloads `slide`."""
    becomes_finished = incoming.fields["state"] == "finished"
    if not becomes_finished:
        finisher = None
    elif slide.state == "finished" and slide.finished_by_id is not None:
        finisher = slide.finished_by_id  # still finished: who finished it stays
    else:
        finisher = user.id
    statement = (
        sa.update(Slide)
        .where(Slide.id == slide.id, Slide.updated_at < incoming.fields["updated_at"])
        .values(**incoming.fields, finished_by_id=finisher, synced_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = db.session.execute(statement).rowcount == 1
    db.session.refresh(slide)
    return changed


def reopen_slide(slide: Slide, user: User) -> bool:
    """A reviewer re-opens a slide: the phone learns it from GET /api/sync/slides (its
    updated_at is now, later than the phone's). The finish is cleared, so cells counted after
    the re-open are not "added after the slide was finished"; the audit entry keeps it."""
    if slide.state == "open":
        return False
    details = {
        "from": slide.state,
        "finished_at": iso(slide.finished_at),
        "finished_by": slide.finished_by.username if slide.finished_by else None,
    }
    now = utcnow()
    slide.state, slide.updated_at = "open", now
    slide.reopened_at, slide.reopened_by = now, user
    slide.finished_at, slide.finished_by = None, None
    record("slide.reopen", user, target=slide.id, details=details)
    return True
