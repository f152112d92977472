"""The overview: results per day, class, status, model version, technician and device, as
charts with their numbers beside them (the same filters as the results table)."""

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from backend import db
from backend.dashboard import bp
from backend.dashboard.access import any_role
from backend.dashboard.filters import ResultFilters, effective_label, filter_options
from backend.dashboard.labels import device_name
from backend.dashboard.vocabulary import class_name, status_name
from backend.models import Prediction, User

DEFAULT_DAYS = 30


def _counts(filters: ResultFilters, key, join_users: bool = False) -> list[tuple[str, int]]:
    query = sa.select(key.label("key"), sa.func.count().label("n")).select_from(Prediction)
    if join_users:
        query = query.join(User, Prediction.synced_by_id == User.id)
    query = filters.apply(query, current_user).group_by(key).order_by(sa.desc("n"), key)
    return [(str(k), n) for k, n in db.session.execute(query)]


def _per_day(filters: ResultFilters) -> list[tuple[str, int]]:
    day = sa.func.date(Prediction.captured_at)
    query = sa.select(day.label("day"), sa.func.count()).select_from(Prediction)
    query = filters.apply(query, current_user).group_by(day).order_by(day)
    counts = {str(d)[:10]: n for d, n in db.session.execute(query)}
    if not counts:
        return []
    # every day of the range, so a quiet day shows as 0 instead of vanishing from the line
    first = filters.start.date() if filters.start else date.fromisoformat(min(counts))
    last = max(date.fromisoformat(max(counts)), min(_last_day(filters), datetime.now(UTC).date()))
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [(d.isoformat(), counts.get(d.isoformat(), 0)) for d in days]


def _last_day(filters: ResultFilters) -> date:
    return (filters.end - timedelta(days=1)).date() if filters.end else datetime.now(UTC).date()


def overview_series(filters: ResultFilters) -> list[dict]:
    model = Prediction.model_name + sa.literal(" ") + Prediction.model_version
    series = [
        ("per-day", _("Results per day (UTC)"), _("Day"), "line", _per_day(filters)),
        ("per-class", _("Results per class (a person's class where given)"), _("Class"), "bar",
         _counts(filters, effective_label())),
        ("per-status", _("Results per status"), _("Status"), "doughnut",
         _counts(filters, Prediction.status)),
        ("per-model", _("Results per model version"), _("Model version"), "bar",
         _counts(filters, model)),
        ("per-technician", _("Results per technician"), _("Technician"), "bar",
         _counts(filters, User.username, join_users=True)),
        ("per-device", _("Results per device"), _("Device"), "bar",
         _counts(filters, Prediction.device_id)),
    ]  # fmt: skip
    # People's words on the axes: "Immature granulocyte", "phone 3f2a9c1d", not ig or a uuid.
    # "keys" keep the stored values (the chart colours statuses by them, in any language).
    readable = {"per-class": class_name, "per-status": status_name, "per-device": device_name}
    return [
        {"id": key, "title": title, "dimension": dimension, "type": kind,
         "series": _("Results"), "keys": [k for k, _n in rows],
         "labels": [readable.get(key, str)(k) for k, _n in rows], "values": [n for _k, n in rows]}
        for key, title, dimension, kind, rows in series
    ]  # fmt: skip


@bp.get("/")
@any_role
def overview():
    args = request.args.copy()
    if "from" not in args and "to" not in args:
        since = datetime.now(UTC).date() - timedelta(days=DEFAULT_DAYS - 1)
        args["from"] = since.isoformat()
    filters = ResultFilters.parse(args)
    charts = [] if filters.errors else overview_series(filters)
    total = sum(charts[0]["values"]) if charts else 0
    return render_template(
        "dashboard/overview.html",
        filters=filters,
        options=filter_options(current_user),
        charts=charts,
        total=total,
    ), (400 if filters.errors else 200)
