"""Doctors (viewers) and admins confirm or correct a result; unclear results are queued first."""

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import REVIEWERS, roles_required
from backend.dashboard.filters import WITH_PEOPLE
from backend.dashboard.forms import first_error
from backend.dashboard.labels import slide_records, slide_title
from backend.dashboard.paging import paginate
from backend.dashboard.results import render_detail, review_form_for, visible_prediction
from backend.dashboard.vocabulary import class_name
from backend.models import Prediction, Review
from backend.models.types import utcnow

QUEUE_STATUSES = ("unfamiliar", "review")


def queue_query() -> sa.Select:
    """Unreviewed `unfamiliar` results first (the model has not seen their like), then
    `review` ones; oldest first inside each, so nothing waits forever."""
    order = sa.case((Prediction.status == "unfamiliar", 0), else_=1)
    return (
        sa.select(Prediction)
        .options(*WITH_PEOPLE)
        .where(Prediction.status.in_(QUEUE_STATUSES), Prediction.reviewed_at.is_(None))
        .order_by(order, Prediction.captured_at, Prediction.seq)
    )


@bp.get("/review")
@roles_required(*REVIEWERS)
def review_queue():
    page = paginate(queue_query())
    return render_template(
        "dashboard/review_queue.html",
        page=page,
        slides=slide_records(p.slide_id for p in page.items),
        slide_title=slide_title,
    )


@bp.post("/results/<record_id>/review")
@roles_required(*REVIEWERS)
def review_result(record_id: str):
    prediction = visible_prediction(record_id)
    form = review_form_for(prediction)
    if not form.validate_on_submit():
        flash(_("The review was not saved. %(why)s", why=first_error(form)), "error")
        return render_detail(prediction, form, status=400)
    review = save_review(prediction, form.label.data, (form.note.data or "").strip() or None)
    db.session.commit()
    label = class_name(review.label)
    if review.confirms:
        flash(_("Result confirmed as '%(label)s'.", label=label), "success")
    else:
        flash(_("Result corrected as '%(label)s'.", label=label), "success")
    next_item = db.session.scalars(queue_query().limit(1)).first()  # the queue walks on
    if next_item is not None and request.form.get("queue") == "1":
        return redirect(url_for("dashboard.result_detail", record_id=next_item.id, queue=1))
    return redirect(url_for("dashboard.result_detail", record_id=prediction.id))


def save_review(prediction: Prediction, label: str, note: str | None) -> Review:
    """Keeps the model's label; the review and who/when go beside it and into the history.
    What it changes is the class the cell counted under (the technician's, if corrected)."""
    # No lock: the phones' `since` cursor over review ids (GET /api/sync/reviews) stays exact
    # through its reader (sync/horizon.py), however reviews commit.
    now = utcnow()
    previous = prediction.reviewed_label or prediction.corrected_label or prediction.label
    review = Review(
        prediction_seq=prediction.seq,
        label=label,
        previous_label=previous,
        note=note,
        reviewer_id=current_user.id,
        at=now,
    )
    db.session.add(review)
    prediction.reviewed_label, prediction.reviewed_by_id = label, current_user.id
    prediction.reviewed_at, prediction.review_note = now, note
    record(
        "prediction.review",
        current_user,
        target=prediction.id,
        details={"model_label": prediction.label, "from": previous, "to": label},
    )
    return review
