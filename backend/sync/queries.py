"""The filtered, paginated prediction history behind GET /api/predictions, and the reviews a
phone pulls."""

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import request

from backend.models import Prediction, Review, User
from backend.models.types import MAX_ID
from backend.request_input import query_int, query_moment
from backend.sync.horizon import final_bound

REVIEWS_PER_PULL = 500

TEXT_FILTERS = {
    "label": Prediction.label,
    "status": Prediction.status,
    "model": Prediction.model_name,
    "model_version": Prediction.model_version,
    "device": Prediction.device_id,
    "slide": Prediction.slide_id,
}


def history_query(viewer: User) -> tuple[sa.Select, dict[str, Any]]:
    """The query for the current request's filters, seen with `viewer`'s rights."""
    query = sa.select(Prediction)
    if viewer.role == "technician":
        query = query.where(Prediction.synced_by_id == viewer.id)
    applied: dict[str, Any] = {}
    for name, column in TEXT_FILTERS.items():
        if (value := request.args.get(name)) is not None:
            query = query.where(column == value)
            applied[name] = value
    if (username := request.args.get("user")) is not None:
        query = query.join(User, Prediction.synced_by_id == User.id).where(
            User.username == username.lower()
        )
        applied["user"] = username
    query = _date_range(query, applied)
    if "since" in request.args:  # since=0 starts a walk from the first record
        since = query_int("since", 0, 0, 2**62)
        # A cursor past every id the column holds finds nothing, as it would in the column.
        query = query.where(Prediction.seq > min(since, MAX_ID))
        if (bound := final_bound("predictions_seq_seq")) is not None:
            query = query.where(Prediction.seq <= bound)  # never past a row still to come
        applied["since"] = since
    return query, applied


def _date_range(query: sa.Select, applied: dict[str, Any]) -> sa.Select:
    if (start := query_moment("from")) is not None:
        query = query.where(Prediction.captured_at >= start)
        applied["from"] = start.isoformat()
    if (end := query_moment("to")) is not None:
        query = query.where(Prediction.captured_at < end)
        applied["to"] = end.isoformat()
    return query


def reviews_query(user: User, since: int) -> sa.Select:
    """(Review, the record's uuid) of the records `user` synced, after review id `since`."""
    query = (
        sa.select(Review, Prediction.id)
        .join(Prediction, Review.prediction_seq == Prediction.seq)
        .where(Prediction.synced_by_id == user.id, Review.id > min(since, MAX_ID))
        .options(so.joinedload(Review.reviewer))
        .order_by(Review.id)
    )
    if (bound := final_bound("prediction_reviews_id_seq")) is not None:
        query = query.where(Review.id <= bound)  # never past a review still to come
    return query
