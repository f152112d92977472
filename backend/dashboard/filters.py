"""The results filters shared by the table, its CSV export and the overview: parsed from the
query string, checked (a bad value is an error message, never silently dropped), and applied
with the viewer's rights (technicians see only the records they synced)."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from backend import db
from backend.models import Prediction, Slide, User

TEXT_FILTERS = ("label", "status", "model", "technician", "device", "slide")
# What a day filter may be: nothing captured before 2000 is stored (sync refuses it), and the
# day after the last one must still be a date ("to" is inclusive).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)
REVIEWED_CHOICES = ("", "yes", "no")
# Loaded with the rows that show who synced, reviewed and corrected them (no query per row).
WITH_PEOPLE = (
    so.selectinload(Prediction.synced_by),
    so.selectinload(Prediction.reviewed_by),
    so.selectinload(Prediction.corrected_by),
    so.selectinload(Prediction.corrections),
)


def effective_label():
    """A person's label where one was given (the reviewer's, else the technician's), else the
    model's (the differential also holds back unrecognised cells; a filter does not)."""
    return sa.func.coalesce(Prediction.reviewed_label, Prediction.corrected_label, Prediction.label)


@dataclass
class ResultFilters:
    values: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(cls, args: MultiDict) -> "ResultFilters":
        filters = cls()
        for name in (*TEXT_FILTERS, "from", "to", "reviewed"):
            value = (args.get(name) or "").strip()
            if value:
                filters.values[name] = value[:100]
        filters.start = filters._day("from")
        end_day = filters._day("to")
        filters.end = end_day + timedelta(days=1) if end_day else None  # "to" is inclusive
        if filters.values.get("reviewed", "") not in REVIEWED_CHOICES:
            filters.errors.append(_("Reviewed must be 'yes', 'no' or empty."))
        if filters.start and filters.end and filters.start >= filters.end:
            filters.errors.append(_("The 'from' date must not be after the 'to' date."))
        return filters

    def _day(self, name: str) -> datetime | None:
        raw = self.values.get(name)
        if not raw:
            return None
        try:
            return parse_day(name, raw)
        except ValueError as e:
            self.errors.append(str(e))
            return None

    def query_args(self, **extra: Any) -> dict[str, Any]:
        """The filters as query-string arguments (for links, pagination and the CSV export)."""
        return {**self.values, **extra}

    def apply(self, query: sa.Select, viewer: User) -> sa.Select:
        query = scoped(query, viewer)
        v = self.values
        if "label" in v:
            query = query.where(effective_label() == v["label"])
        for name, column in (("status", Prediction.status), ("device", Prediction.device_id)):
            if name in v:
                query = query.where(column == v[name])
        if "slide" in v:  # the sample id people read, or the slide's id (links, old phones)
            by_sample = sa.select(Slide.id).where(Slide.sample_id == v["slide"])
            query = query.where(
                sa.or_(Prediction.slide_id == v["slide"], Prediction.slide_id.in_(by_sample))
            )
        if "model" in v:
            query = query.where(_model_condition(v["model"]))
        if "technician" in v:
            technician = sa.select(User.id).where(User.username == v["technician"].lower())
            query = query.where(Prediction.synced_by_id.in_(technician.scalar_subquery()))
        if self.start:
            query = query.where(Prediction.captured_at >= self.start)
        if self.end:
            query = query.where(Prediction.captured_at < self.end)
        if v.get("reviewed") == "yes":
            query = query.where(Prediction.reviewed_at.is_not(None))
        elif v.get("reviewed") == "no":
            query = query.where(Prediction.reviewed_at.is_(None))
        return query


def parse_day(name: str, raw: str) -> datetime:
    """Midnight UTC of the day filter `name`; ValueError with the message people read."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            _("'%(name)s' must be a date like 2026-11-25, not '%(value)s'.", name=name, value=raw)
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(
            _(
                "'%(name)s' must be a date from %(first)s to %(last)s, not '%(value)s'.",
                name=name,
                first=FIRST_DAY,
                last=LAST_DAY,
                value=raw,
            )
        )
    return datetime.combine(day, time(), tzinfo=UTC)


def _model_condition(value: str):
    """'name' or 'name version' (as the model select offers them)."""
    name, _, version = value.partition(" ")
    condition = Prediction.model_name == name
    return sa.and_(condition, Prediction.model_version == version) if version else condition


def scoped(query: sa.Select, viewer: User) -> sa.Select:
    if viewer.role == "technician":
        return query.where(Prediction.synced_by_id == viewer.id)
    return query


def filter_options(viewer: User) -> dict[str, list[str]]:
    """The values the selects offer: only what exists in the records this viewer may see."""

    def distinct(column) -> list[str]:
        query = scoped(sa.select(column).select_from(Prediction).distinct(), viewer)
        return sorted(str(v) for v in db.session.scalars(query) if v is not None)

    models = scoped(sa.select(Prediction.model_name, Prediction.model_version).distinct(), viewer)
    model_values = sorted({f"{n} {v}" for n, v in db.session.execute(models)})
    technicians = scoped(
        sa.select(User.username).join(Prediction, Prediction.synced_by_id == User.id).distinct(),
        viewer,
    )
    return {
        "label": distinct(effective_label()),
        "status": distinct(Prediction.status),
        "model": sorted({m.split(" ")[0] for m in model_values}) + model_values,
        "technician": sorted(db.session.scalars(technicians)),
        "device": distinct(Prediction.device_id),
    }
