"""What the pages and the PDF call a cell, a slide and a phone: the class a cell counts under
and whose it is, the slide's sample id (the phone's uuid only for slides of older apps) and a
readable device name."""

import re
from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _
from markupsafe import Markup, escape

from backend import db
from backend.dashboard import bp
from backend.dashboard.navigation import format_when
from backend.dashboard.vocabulary import class_name, state_name
from backend.models import Prediction, Slide
from classifier.differential import Cell, counted_label

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def as_cell(prediction: Prediction) -> Cell:
    return Cell(
        prediction.label,
        prediction.status,
        corrected_label=prediction.corrected_label,
        reviewed_label=prediction.reviewed_label,
        id=prediction.id,
    )


@bp.app_template_global()
def label_source(prediction: Prediction) -> str | None:
    """Whose class the cell counts under: the reviewer's, the technician's, the model's, or
    nobody's yet (an unrecognised cell waiting for a person)."""
    if prediction.reviewed_label:
        return "reviewer"
    if prediction.corrected_label:
        return "technician"
    return None if prediction.status == "unfamiliar" else "model"


@bp.app_template_filter("counted_label")
def effective_label(prediction: Prediction) -> str | None:
    return counted_label(as_cell(prediction))


@bp.app_template_global()
def correction_text(prediction: Prediction, arrow: str = "→") -> str:
    """'Monocyte → Lymphocyte by tina' (the phone's latest correction), or '', in the reader's
    language."""
    if prediction.corrected_at is None:
        return ""
    latest = prediction.corrections[-1] if prediction.corrections else None
    before = (latest.previous_label if latest else None) or prediction.label
    after = prediction.corrected_label
    model = class_name(prediction.label)
    to = class_name(after) if after else _("back to the model's %(label)s", label=model)
    who = prediction.corrected_by.username if prediction.corrected_by else "?"
    return _(
        "%(before)s %(arrow)s %(after)s by %(name)s",
        before=class_name(before),
        arrow=arrow,
        after=to,
        name=who,
    )


def short_id(slide_id: str) -> str:
    return slide_id if len(slide_id) <= 12 else f"{slide_id[:4]}…"


def slide_title(slide_id: str, record: Slide | None) -> str:
    if record is not None:
        return record.sample_id
    return _("Slide %(id)s (no sample id: synced by an older app)", id=short_id(slide_id))


def slide_records(slide_ids: Iterable[str | None]) -> dict[str, Slide]:
    """The slides table's rows for these ids, in one query."""
    ids = {i for i in slide_ids if i}
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(sa.select(Slide).where(Slide.id.in_(ids)))}


@bp.app_template_filter("device_name")
def device_name(device_id: str, username: str | None = None) -> str:
    """'phone 3f2a9c1d (tina)': a phone's uuid is unreadable, its first 8 digits are enough."""
    name = _("phone %(id)s", id=device_id[:8]) if UUID.match(device_id) else device_id
    return f"{name} ({username})" if username else name


@bp.app_template_global()
def slide_state(slide: Slide) -> Markup:
    """'finished by tina, <time>', 'open (re-opened by dr.x, <time>)' or 'paused'."""
    when = format_when(slide.finished_at if slide.state == "finished" else slide.reopened_at)
    if slide.state == "finished" and slide.finished_by:
        text = _(
            "finished by %(name)s, %(when)s", name=escape(slide.finished_by.username), when=when
        )
    elif slide.state == "finished":
        text = _("finished, %(when)s", when=when)
    elif slide.reopened_at is not None:
        who = escape(slide.reopened_by.username) if slide.reopened_by else "?"
        state = escape(state_name(slide.state))
        text = _("%(state)s (re-opened by %(name)s, %(when)s)", state=state, name=who, when=when)
    else:
        return escape(state_name(slide.state))
    return Markup(text)  # every part above is escaped or already HTML


@bp.app_template_global()
def parasitaemia_text(result: dict) -> str:
    """'1.20 %' (the rule already rounded it), or '–' while no red cell is counted."""
    value = result["parasitaemia"]
    return "–" if value is None else f"{value:.2f} %"


@bp.app_template_global()
def interval_text(result: dict, dash: str = "–") -> str:
    """'0.69–2.09 %', the parasitaemia's 95 % interval, or '–' while no red cell is counted."""
    if result["ci95"] is None:
        return dash
    low, high = result["ci95"]
    return f"{low:.2f}{dash}{high:.2f} %"
