"""Slides: the list, and one slide's differential count with its cells."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import abort, render_template, request
from flask_login import current_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import any_role, log_denied
from backend.dashboard.filters import WITH_PEOPLE, scoped
from backend.dashboard.paging import Page, int_arg
from backend.dashboard.review import QUEUE_STATUSES
from backend.models import Prediction
from classifier.differential import Cell, Differential, differential


@dataclass(frozen=True)
class Slide:
    slide_id: str
    cells: list[Prediction]
    differential: Differential

    @property
    def first_capture(self) -> datetime:
        return min(c.captured_at for c in self.cells)

    @property
    def last_capture(self) -> datetime:
        return max(c.captured_at for c in self.cells)

    def _names(self, values) -> str:
        return ", ".join(sorted({v for v in values if v})) or "none"

    @property
    def technicians(self) -> str:
        return self._names(c.synced_by.username for c in self.cells)

    @property
    def reviewers(self) -> str:
        return self._names(c.reviewed_by.username for c in self.cells if c.reviewed_by)

    @property
    def models(self) -> str:
        return self._names(f"{c.model_name} {c.model_version}" for c in self.cells)

    @property
    def devices(self) -> str:
        return self._names(c.device_id for c in self.cells)

    @property
    def needing_review(self) -> list[Prediction]:
        return [c for c in self.cells if c.status in QUEUE_STATUSES]

    @property
    def unreviewed(self) -> int:
        return sum(1 for c in self.needing_review if c.reviewed_at is None)


def as_cell(prediction: Prediction) -> Cell:
    return Cell(prediction.label, prediction.status, reviewed_label=prediction.reviewed_label)


def load_slide(slide_id: str) -> Slide:
    query = scoped(sa.select(Prediction).options(*WITH_PEOPLE), current_user)
    query = query.where(Prediction.slide_id == slide_id)
    cells = list(db.session.scalars(query.order_by(Prediction.captured_at, Prediction.seq)))
    if not cells:
        exists = sa.select(Prediction.seq).where(Prediction.slide_id == slide_id).limit(1)
        if db.session.scalar(exists) is not None:
            log_denied("another technician's slide")
        abort(404, description="No such slide (or none of its cells are yours to see).")
    return Slide(slide_id, cells, differential([as_cell(c) for c in cells]))


def slide_id_arg() -> str:
    slide_id = (request.args.get("id") or "").strip()
    if not slide_id:
        abort(400, description="Say which slide: ?id=<slide id>.")
    return slide_id


@bp.get("/slides")
@any_role
def slides():
    queue = sa.case(
        (sa.and_(Prediction.status.in_(QUEUE_STATUSES), Prediction.reviewed_at.is_(None)), 1),
        else_=0,
    )
    query = scoped(
        sa.select(
            Prediction.slide_id,
            sa.func.count().label("cells"),
            sa.func.min(Prediction.captured_at).label("first"),
            sa.func.max(Prediction.captured_at).label("last"),
            sa.func.sum(queue).label("to_review"),
        ),
        current_user,
    ).where(Prediction.slide_id.is_not(None))
    query = query.group_by(Prediction.slide_id)
    number, per_page = int_arg("page", 1, 1_000_000), 25
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.order_by(sa.desc("last")).limit(per_page).offset((number - 1) * per_page)
    ).all()
    return render_template("dashboard/slides.html", page=Page(rows, number, per_page, total))


@bp.get("/slide")
@any_role
def slide():
    slide = load_slide(slide_id_arg())
    html = render_template("dashboard/slide.html", slide=slide)  # before the commit expires it
    record("slide.read", current_user, target=slide.slide_id, details={"via": "dashboard"})
    db.session.commit()
    return html
