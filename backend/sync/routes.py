"""Phones push their prediction history; people read it back."""

import sqlalchemy as sa
from flask import current_app, jsonify
from flask_jwt_extended import current_user

from backend import db
from backend.audit.log import record
from backend.auth.roles import any_role, deny, roles_required
from backend.errors import ApiError
from backend.models import Prediction
from backend.request_input import json_object, query_int
from backend.sync import bp
from backend.sync.ingest import ingest
from backend.sync.queries import history_query


@bp.post("/sync/predictions")
@roles_required("technician", "admin")
def push_predictions():
    records = json_object().get("predictions")
    if not isinstance(records, list):
        raise ApiError(400, "invalid_json", "'predictions' must be an array of records.")
    limit = current_app.config["SYNC_MAX_RECORDS"]
    if len(records) > limit:
        raise ApiError(413, "too_many_records", f"At most {limit} records per request.")
    results = ingest(records, current_user._get_current_object())
    counts = {s: sum(r["status"] == s for r in results) for s in _STATUSES}
    record("sync.push", current_user, details=counts)
    db.session.commit()
    return jsonify(results=results)


_STATUSES = ("created", "duplicate", "conflict", "invalid")


@bp.get("/predictions")
@any_role
def list_predictions():
    query, applied = history_query(current_user)
    page = query_int("page", 1, 1, 1_000_000)
    per_page = query_int("per_page", 50, 1, 500)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    # With a `since` cursor, oldest first so the client can walk forward; else newest first.
    order = Prediction.seq.asc() if "since" in applied else Prediction.seq.desc()
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
        raise ApiError(404, "not_found", "No such record.")
    if current_user.role == "technician" and prediction.synced_by_id != current_user.id:
        deny("another technician's record", status=404)
    record("history.read", current_user, target=prediction.id)
    db.session.commit()
    return jsonify(prediction=prediction.to_dict())
