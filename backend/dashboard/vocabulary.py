"""The fixed words the pages and the PDF show, in the reader's language: class names (from the
model card or classifier/class_names.json), statuses, roles, slide states, and the count rules'
bases and flags. The rules (classifier.differential, classifier.parasitaemia) keep printing
English in their JSON, which the phone's twins must match; here the same facts are said again
from their data, and a test checks that in English both say exactly the same."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from backend.dashboard import bp
from backend.i18n import current_language
from classifier.classify import BELOW_THRESHOLD, NO_CELL, UNFAMILIAR, VIEW_CHECK
from classifier.differential import (
    MIN_WBC_FOR_PERCENT,
    Differential,
    DifferentialRow,
    display_name,
)

STATUSES = {"confident": _l("confident"), "review": _l("review"), "unfamiliar": _l("unfamiliar")}
ROLES = {"admin": _l("admin"), "viewer": _l("viewer"), "technician": _l("technician")}
STATES = {"open": _l("open"), "paused": _l("paused"), "finished": _l("finished")}
# "%(percent)s": a bare "% o" reads as a format directive to gettext's tools
BASES = {
    "% of white cells": _l("%(percent)s of white cells", percent="%"),
    "per 100 white cells": _l("per 100 white cells"),
}
FLAGS = {"high": _l("high"), "low": _l("low")}
# Why the phone's rule did not call a record confident (classifier.classify.STATUS_REASONS), in
# the phone's words (pwa/locales/*.json "status_reason.*"); "%(percent)s" is the record's.
STATUS_REASONS = {
    BELOW_THRESHOLD: _l("confidence %(percent)s is below what this model needs to be sure"),
    VIEW_CHECK: _l("the call did not hold when the image was turned a quarter turn"),
    UNFAMILIAR: _l("this does not look like the images the model knows"),
    NO_CELL: _l("no cell was found to centre on, so the photo's centre was classified"),
}


def _word(table: dict, value: str | None) -> str:
    """A known value in the reader's language; anything else as it is (never an error)."""
    return "" if value is None else str(table.get(value, value))


@bp.app_template_global("status_name")
@bp.app_template_filter("status_name")
def status_name(status: str | None) -> str:
    return _word(STATUSES, status)


# The same, short enough for the PDF's caption under a thumbnail (about 28 characters).
SHORT_STATUS_REASONS = {
    BELOW_THRESHOLD: _l("below its threshold"),
    VIEW_CHECK: _l("did not hold when turned"),
    UNFAMILIAR: _l("unlike its training images"),
    NO_CELL: _l("no cell found"),
}


def short_status_reason(prediction) -> str:
    return _word(SHORT_STATUS_REASONS, prediction.status_reason)


@bp.app_template_filter("status_reason")
def status_reason(prediction) -> str:
    """Why the record is not confident, in words; "" when it is, or its phone did not say
    (older phones: the record shows what it showed before)."""
    text = STATUS_REASONS.get(prediction.status_reason)
    if text is None:
        return ""
    return str(text) % {"percent": f"{prediction.confidence * 100:.1f}%"}


@bp.app_template_filter("role_name")
def role_name(role: str | None) -> str:
    return _word(ROLES, role)


@bp.app_template_filter("state_name")
def state_name(state: str | None) -> str:
    return _word(STATES, state)


@bp.app_template_filter("basis_name")
def basis_name(basis: str | None) -> str:
    return _word(BASES, basis)


@bp.app_template_filter("flag_name")
def flag_name(flag: str | None) -> str:
    return _word(FLAGS, flag)


@bp.app_template_global("class_name")
@bp.app_template_filter("display_name")
def class_name(label: str | None) -> str:
    """A class as people write it in the reader's language ("Granulocyte immature", not ig)."""
    return "" if label is None else display_name(label, language=current_language())


def unconfirmed_flag(count: int) -> str:
    return ngettext(
        "%(num)s unrecognised cell is not counted until a person confirms a class.",
        "%(num)s unrecognised cells are not counted until a person confirms a class.",
        count,
    )


def _range_flag(row: DifferentialRow) -> str:
    words = {
        "label": class_name(row.label),
        "value": f"{row.percent:.1f}",  # the rule's digits, as the phone prints them
        "basis": basis_name(row.basis),
        "range": row.range_text,
    }
    if row.flag == "high":
        return _("%(label)s %(value)s %(basis)s: above the adult range %(range)s", **words)
    return _("%(label)s %(value)s %(basis)s: below the adult range %(range)s", **words)


@bp.app_template_global()
def differential_flags(diff: Differential) -> list[str]:
    """Differential.flags, item for item, in the reader's language."""
    out = [_range_flag(r) for r in diff.rows if r.flag]
    if 0 < diff.white_cells < MIN_WBC_FOR_PERCENT:
        out.append(
            _(
                "Only %(counted)s white cells counted (fewer than %(minimum)s): the percentages "
                "are imprecise.",
                counted=diff.white_cells,
                minimum=MIN_WBC_FOR_PERCENT,
            )
        )
    if diff.apart["unconfirmed"]:
        out.append(unconfirmed_flag(diff.apart["unconfirmed"]))
    return out


@bp.app_template_global()
def parasitaemia_flags(result: dict) -> list[str]:
    """classifier.parasitaemia's "flags", item for item, in the reader's language."""
    out = []
    if result["red_cells"] < result["target"]:
        out.append(
            _(
                "Only %(counted)s of %(target)s red cells counted: the interval is wide.",
                counted=result["red_cells"],
                target=result["target"],
            )
        )
    if result["unconfirmed"]:
        out.append(unconfirmed_flag(result["unconfirmed"]))
    return out
