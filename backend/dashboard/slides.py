"""Slides: the list, one slide's count with its cells (a white-cell slide's differential, a
malaria slide's parasitaemia), and re-opening a finished slide so its technician can add cells
again."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import REVIEWERS, any_role, log_denied, roles_required
from backend.dashboard.filters import WITH_PEOPLE, scoped
from backend.dashboard.forms import ConfirmForm, first_error
from backend.dashboard.labels import (
    as_cell,
    device_name,
    effective_label,
    slide_records,
    slide_title,
)
from backend.dashboard.paging import Page, int_arg
from backend.dashboard.review import QUEUE_STATUSES
from backend.models import Prediction
from backend.models import Slide as SlideRecord
from backend.sync import slides as sync_slides
from classifier.differential import TARGETS, Differential, differential
from classifier.parasitaemia import PARASITIZED, parasitaemia

__all__ = ["Slide", "as_cell", "load_slide"]

# A malaria slide holds 500 to 5000 red cells: its page shows them in groups, each paged on the
# server (never thousands of images at once): the cells a doctor must verify (not recognised,
# parasitized), then the rest (uninfected, apart, added late) folded away.
CELLS_PER_PAGE = 100
MALARIA_GROUPS = ("unrecognised", "parasitized", "other")


@dataclass(frozen=True)
class Slide:
    slide_id: str
    cells: list[Prediction]
    differential: Differential | None  # a white-cell slide's
    record: SlideRecord | None = None  # None: synced by an app older than sync contract 2
    parasitaemia: dict | None = None  # a malaria slide's (classifier.parasitaemia)

    @property
    def title(self) -> str:
        return slide_title(self.slide_id, self.record)

    @property
    def finished(self) -> bool:
        return self.record is not None and self.record.state == "finished"

    def is_late(self, cell: Prediction) -> bool:
        return captured_after_finish(cell, self.record)

    @property
    def late_cells(self) -> list[Prediction]:
        return [c for c in self.cells if self.is_late(c)]

    @property
    def first_capture(self) -> datetime:
        return min(c.captured_at for c in self.cells)

    @property
    def last_capture(self) -> datetime:
        return max(c.captured_at for c in self.cells)

    def _names(self, values) -> str:
        return ", ".join(sorted({v for v in values if v})) or _("none")

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
        return self._names(device_name(c.device_id, c.synced_by.username) for c in self.cells)

    def malaria_groups(self) -> dict[str, list[Prediction]]:
        """A malaria slide's cells by what a doctor does with them: "unrecognised" (not counted
        until a person gives a class), "parasitized" (counted as such: verify), "other"
        (uninfected, artefacts, other classes, and cells added after the slide was finished)."""
        waiting = set(self.parasitaemia["unconfirmed_ids"]) if self.parasitaemia else set()
        groups: dict[str, list[Prediction]] = {name: [] for name in MALARIA_GROUPS}
        for c in self.cells:
            if self.is_late(c):
                groups["other"].append(c)
            elif c.id in waiting:
                groups["unrecognised"].append(c)
            elif effective_label(c) == PARASITIZED:
                groups["parasitized"].append(c)
            else:
                groups["other"].append(c)
        return groups

    @property
    def needing_review(self) -> list[Prediction]:
        """Unclear to the model, or corrected on the phone: a doctor looks at these."""
        return [c for c in self.cells if c.status in QUEUE_STATUSES or c.corrected_at]

    @property
    def unreviewed(self) -> int:
        return sum(1 for c in self.needing_review if c.reviewed_at is None)


def captured_after_finish(cell: Prediction, record: SlideRecord | None) -> bool:
    """A cell of a finished slide captured after its finish: listed, never counted."""
    if record is None or record.state != "finished" or record.finished_at is None:
        return False
    return cell.captured_at > record.finished_at


def build_slide(slide_id: str, cells: list[Prediction], record: SlideRecord | None) -> Slide:
    counted = [as_cell(c) for c in cells if not captured_after_finish(c, record)]
    if record is not None and record.is_malaria:
        return Slide(slide_id, cells, None, record, parasitaemia(counted, record.target))
    target = record.target if record is not None else TARGETS[0]
    return Slide(slide_id, cells, differential(counted, target), record)


def slide_cells(slide_id: str, viewer) -> list[Prediction]:
    """The slide's cells this viewer may see (a technician: the ones they synced)."""
    query = scoped(sa.select(Prediction).options(*WITH_PEOPLE), viewer)
    query = query.where(Prediction.slide_id == slide_id)
    return list(db.session.scalars(query.order_by(Prediction.captured_at, Prediction.seq)))


def has_cells(slide_id: str) -> bool:
    exists = sa.select(Prediction.seq).where(Prediction.slide_id == slide_id).limit(1)
    return db.session.scalar(exists) is not None


def load_slide(slide_id: str) -> Slide:
    cells = slide_cells(slide_id, current_user)
    if not cells:
        if has_cells(slide_id):
            log_denied("another technician's slide")
        abort(404, description=_("No such slide (or none of its cells are yours to see)."))
    return build_slide(slide_id, cells, db.session.get(SlideRecord, slide_id))


def slide_id_arg() -> str:
    slide_id = (request.values.get("id") or "").strip()
    if not slide_id:
        abort(400, description=_("Say which slide: ?id=<slide id>."))
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
    return render_template(
        "dashboard/slides.html",
        page=Page(rows, number, per_page, total),
        records=slide_records(r.slide_id for r in rows),
        slide_title=slide_title,
    )


def cell_pages(slide: Slide) -> dict[str, Page] | None:
    """A malaria slide's groups of cells, each paged by its own query argument
    (`unrecognised_page`, `parasitized_page`, `other_page`; past the end: the last page)."""
    if not slide.parasitaemia:
        return None
    pages = {}
    for name, cells in slide.malaria_groups().items():
        total = len(cells)
        last = max(1, -(-total // CELLS_PER_PAGE))
        number = min(int_arg(f"{name}_page", 1, 1_000_000), last)
        start = (number - 1) * CELLS_PER_PAGE
        pages[name] = Page(cells[start : start + CELLS_PER_PAGE], number, CELLS_PER_PAGE, total)
    return pages


def render_slide(slide: Slide, form: ConfirmForm | None = None, status: int = 200):
    if form is None and current_user.role in REVIEWERS and slide.finished:
        form = ConfirmForm(formdata=None)
    html = render_template(
        "dashboard/slide.html", slide=slide, reopen_form=form, cell_pages=cell_pages(slide)
    )
    return html, status


@bp.get("/slide")
@any_role
def slide():
    slide = load_slide(slide_id_arg())
    html = render_slide(slide)  # before the commit expires it
    record("slide.read", current_user, target=slide.slide_id, details={"via": "dashboard"})
    db.session.commit()
    return html


@bp.post("/slide/reopen")
@roles_required(*REVIEWERS)
def reopen_slide():
    slide = load_slide(slide_id_arg())
    if not slide.finished:
        flash(_("This slide is not finished: there is nothing to re-open."), "info")
        return redirect(url_for("dashboard.slide", id=slide.slide_id))
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The slide was not re-opened. %(why)s", why=first_error(form)), "error")
        return render_slide(slide, form, 400)
    sync_slides.reopen_slide(slide.record, current_user)  # audited there (slide.reopen)
    db.session.commit()
    flash(_("Re-opened: the phone offers it for more cells when it next syncs."), "success")
    return redirect(url_for("dashboard.slide", id=slide.slide_id))
