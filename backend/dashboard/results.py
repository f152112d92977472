"""The results table (filters, pages), one result's detail view, its cell image and that image
with the model's map of its call over it ("Show why")."""

import io

import sqlalchemy as sa
from flask import abort, render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import REVIEWERS, any_role, log_denied
from backend.dashboard.filters import WITH_PEOPLE, ResultFilters, filter_options
from backend.dashboard.forms import ReviewForm
from backend.dashboard.labels import slide_records, slide_title
from backend.dashboard.paging import paginate
from backend.dashboard.vocabulary import class_name
from backend.dashboard.why_overlay import why_png
from backend.models import Prediction, Review
from backend.sync import cell_images
from classifier.differential import PERSON_ONLY_LABELS


@bp.get("/results")
@any_role
def results():
    filters = ResultFilters.parse(request.args)
    page = None
    if not filters.errors:
        query = filters.apply(sa.select(Prediction).options(*WITH_PEOPLE), current_user)
        page = paginate(query.order_by(Prediction.captured_at.desc(), Prediction.seq.desc()))
    html = render_template(
        "dashboard/results.html",
        filters=filters,
        options=filter_options(current_user),
        page=page,
        slides=slide_records(p.slide_id for p in page.items) if page else {},
        slide_title=slide_title,
    )
    if page is not None:
        # Committed after rendering: a commit expires the loaded rows, and rendering them
        # afterwards would reload each one with a query of its own.
        details = {"filters": filters.values, "via": "dashboard"}
        record("history.read", current_user, details=details)
        db.session.commit()
    return html, (400 if filters.errors else 200)


def visible_prediction(record_id: str) -> Prediction:
    """The record, if this user may see it; another technician's record is simply not found."""
    prediction = db.session.scalar(sa.select(Prediction).where(Prediction.id == record_id.lower()))
    if prediction is not None and (
        current_user.role == "technician" and prediction.synced_by_id != current_user.id
    ):
        log_denied("another technician's result")
        prediction = None
    if prediction is None:
        abort(404, description=_("No such result (or not one you may see)."))
    return prediction


def review_history(prediction: Prediction) -> list[Review]:
    query = (
        sa.select(Review)
        .where(Review.prediction_seq == prediction.seq)
        .order_by(Review.at.desc(), Review.id.desc())
    )
    return list(db.session.scalars(query))


def review_form_for(prediction: Prediction) -> ReviewForm:
    """Every class of the model, then the two a person may choose besides them."""
    form = ReviewForm()
    labels = sorted(set(prediction.probabilities) | {prediction.label}) + list(PERSON_ONLY_LABELS)
    form.label.choices = [SelectChoice(label, class_name(label)) for label in labels]
    person = prediction.reviewed_label or prediction.corrected_label
    if not person and prediction.status == "unfamiliar":
        # No class is put forward for a cell the model did not recognise.
        form.label.choices.insert(0, SelectChoice("", _("Choose the class…")))
    if not form.is_submitted():
        form.label.data = person or ("" if prediction.status == "unfamiliar" else prediction.label)
    return form


@bp.get("/results/<record_id>")
@any_role
def result_detail(record_id: str):
    prediction = visible_prediction(record_id)
    response = render_detail(prediction, review_form_for(prediction))
    record("history.read", current_user, target=prediction.id, details={"via": "dashboard"})
    db.session.commit()
    return response


def shows_why(prediction: Prediction) -> bool:
    """A map of a call the model puts forward: none for an unfamiliar result (no class is put
    forward), none from a model that makes no map or an older phone."""
    return prediction.cam is not None and prediction.status != "unfamiliar"


def render_detail(prediction: Prediction, form: ReviewForm, status: int = 200):
    has_image = prediction.image_path is not None and cell_images.exists(prediction.image_path)
    probabilities = sorted(prediction.probabilities.items(), key=lambda kv: -kv[1])
    return render_template(
        "dashboard/result_detail.html",
        p=prediction,
        probabilities=probabilities,
        history=review_history(prediction),
        form=form if current_user.role in REVIEWERS else None,
        has_image=has_image,
        has_why=has_image and shows_why(prediction),
        queue_next=request.args.get("queue") == "1",
        slide_record=slide_records([prediction.slide_id]).get(prediction.slide_id),
        slide_title=slide_title,
    ), status


@bp.get("/results/<record_id>/image.jpg")
@any_role
def result_image(record_id: str):
    prediction = visible_prediction(record_id)
    jpeg = cell_images.read(prediction.image_path) if prediction.image_path else None
    if jpeg is None:
        abort(404, description=_("This result has no cell image."))
    return send_file(io.BytesIO(jpeg), mimetype="image/jpeg", max_age=0)


@bp.get("/results/<record_id>/why.png")
@any_role
def result_why(record_id: str):
    prediction = visible_prediction(record_id)
    jpeg = cell_images.read(prediction.image_path) if prediction.image_path else None
    if jpeg is None or not shows_why(prediction):
        abort(404, description=_("This result has no map of why the model made its call."))
    return send_file(io.BytesIO(why_png(jpeg, prediction.cam)), mimetype="image/png", max_age=0)
