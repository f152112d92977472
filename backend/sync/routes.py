"""Phones push their prediction history (with slides and corrections, contract 2) and pull what
the server knows; people read the history back."""

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app, jsonify
from flask_babel import gettext as _
from flask_jwt_extended import current_user

from backend import db
from backend.audit.log import record
from backend.auth.roles import any_role, deny, roles_required
from backend.errors import ApiError
from backend.models import Prediction, Slide
from backend.request_input import json_object, query_int
from backend.sync import bp
from backend.sync.corrections import ingest_corrections
from backend.sync.ingest import ingest
from backend.sync.queries import REVIEWS_PER_PULL, history_query, reviews_query
from backend.sync.slides import ingest_slides

SYNC_ROLES = ("technician", "admin")


@bp.post("/sync/predictions")
@roles_required(*SYNC_ROLES)
def push_predictions():
    body = json_object()
    contract = _contract(body)
    records = _items(body, "predictions", required=contract == 1)
    slides = _items(body, "slides")
    corrections = _items(body, "corrections")
    user = current_user._get_current_object()
    # Slides first, then records, then corrections: a correction may name a record of this
    # request. One transaction for all of it and its audit entry.
    answer: dict = {"contract": 2} if contract == 2 else {}
    if slides is not None:
        answer["slide_results"] = ingest_slides(slides, user)
    answer["results"] = ingest(records or [], user)
    if corrections is not None:
        answer["correction_results"] = ingest_corrections(corrections, user)
    record("sync.push", current_user, details=_audit_details(answer))
    db.session.commit()
    return jsonify(answer)


RECORD_STATUSES = ("created", "duplicate", "conflict", "invalid")
SLIDE_STATUSES = ("created", "applied", "stale", "duplicate", "conflict", "invalid")


def _contract(body: dict) -> int:
    """1 for the phones that know only records; 2 when the body says so or sends its keys."""
    contract = body.get("contract", 2 if body.keys() & {"slides", "corrections"} else 1)
    if isinstance(contract, bool) or contract not in (1, 2):
        raise ApiError(400, "invalid_field", _("'contract' must be 1 or 2."), {"field": "contract"})
    return contract


def _items(body: dict, key: str, required: bool = False) -> list | None:
    """The array under `key` (None when absent and not required), within the per-request cap."""
    items = body.get(key)
    if items is None and not required:
        return None
    if not isinstance(items, list):
        raise ApiError(400, "invalid_json", _("'%(key)s' must be an array.", key=key))
    limit = current_app.config["SYNC_MAX_RECORDS"]
    if len(items) > limit:
        raise ApiError(
            413,
            "too_many_records",
            _("At most %(num)s items of '%(key)s' per request.", num=limit, key=key),
        )
    return items


def _audit_details(answer: dict) -> dict:
    """Counts per status: the records' at the top (as for contract 1), then the others'."""
    details: dict = _counts(answer["results"], RECORD_STATUSES)
    if "correction_results" in answer:
        details["corrections"] = _counts(answer["correction_results"], RECORD_STATUSES)
    if "slide_results" in answer:
        details["slides"] = _counts(answer["slide_results"], SLIDE_STATUSES)
    return details


def _counts(results: list[dict], statuses: tuple[str, ...]) -> dict[str, int]:
    return {s: sum(r["status"] == s for r in results) for s in statuses}


@bp.get("/predictions")
@any_role
def list_predictions():
    query, applied = history_query(current_user)
    page = query_int("page", 1, 1, 1_000_000)
    per_page = query_int("per_page", 50, 1, 500)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    # With a `since` cursor, oldest first so the client can walk forward; else newest first.
    order = Prediction.seq.asc() if "since" in applied else Prediction.seq.desc()
    query = query.options(so.selectinload(Prediction.corrections))  # for each `correction`
    rows = db.session.scalars(query.order_by(order).limit(per_page).offset((page - 1) * per_page))
    items = [p.to_dict() for p in rows]
    record("history.read", current_user, details={"filters": applied, "count": len(items)})
    db.session.commit()
    return jsonify(
        predictions=items,
        page=page,
        per_page=per_page,
        total=total,
        next_since=max((p["seq"] for p in items), default=applied.get("since", 0)),
    )


@bp.get("/predictions/<record_id>")
@any_role
def get_prediction(record_id: str):
    prediction = db.session.scalar(sa.select(Prediction).where(Prediction.id == record_id.lower()))
    if prediction is None:
        raise ApiError(404, "not_found", _("No such record."))
    if current_user.role == "technician" and prediction.synced_by_id != current_user.id:
        deny("another technician's record", status=404)
    record("history.read", current_user, target=prediction.id)
    db.session.commit()
    return jsonify(prediction=prediction.to_dict())


# --- what the phone pulls (contract 2) ------------------------------------------------------


@bp.get("/sync/settings")
@any_role
def sync_settings():
    """What the phone needs to know before the user classifies anything."""
    config = current_app.config
    return jsonify(
        contract=2,
        cell_images=bool(config["CELL_IMAGES_ENABLED"]),
        cell_image_max_bytes=config["CELL_IMAGE_MAX_BYTES"],
        can_sync=current_user.role in SYNC_ROLES,
    )


@bp.get("/sync/reviews")
@any_role
def pull_reviews():
    """Reviews of the current user's records after the `since` cursor, oldest first."""
    since = query_int("since", 0, 0, 2**62)
    rows = db.session.execute(reviews_query(current_user, since).limit(REVIEWS_PER_PULL))
    items = [dict(r.to_dict(), id=r.id, prediction_id=record_id) for r, record_id in rows]
    details = {"of": "reviews", "since": since, "count": len(items)}
    record("history.read", current_user, details=details)
    db.session.commit()
    return jsonify(reviews=items, next_since=max((r["id"] for r in items), default=since))


@bp.get("/sync/slides")
@any_role
def pull_slides():
    """The current user's slides, so the phone takes a state changed on the dashboard."""
    query = sa.select(Slide).where(Slide.owner_id == current_user.id)
    items = [s.to_dict() for s in db.session.scalars(query.order_by(Slide.started_at, Slide.id))]
    record("history.read", current_user, details={"of": "slides", "count": len(items)})
    db.session.commit()
    return jsonify(slides=items)
