"""Admins read the audit log: filters (user, action, outcome, dates), pages and CSV export."""

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, render_template, request
from flask_login import current_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import roles_required
from backend.dashboard.exports import csv_text, download
from backend.dashboard.filters import parse_day
from backend.dashboard.paging import paginate
from backend.models import AuditEntry
from backend.models.types import iso

AUDIT_COLUMNS = ("at", "username", "action", "outcome", "target", "ip", "user_agent", "details")


def audit_filters() -> tuple[dict[str, str], list[str], sa.Select]:
    values = {k: (request.args.get(k) or "").strip()[:100] for k in
              ("user", "action", "outcome", "from", "to")}  # fmt: skip
    values = {k: v for k, v in values.items() if v}
    errors: list[str] = []
    query = sa.select(AuditEntry)
    for name, column in (
        ("user", AuditEntry.username),
        ("action", AuditEntry.action),
        ("outcome", AuditEntry.outcome),
    ):
        if name in values:
            query = query.where(column == values[name].lower())
    for name, op in (("from", "ge"), ("to", "lt")):
        if name in values:
            try:
                day = parse_day(name, values[name])
            except ValueError as e:
                errors.append(str(e))
                continue
            if op == "ge":
                query = query.where(AuditEntry.at >= day)
            else:
                query = query.where(AuditEntry.at < day + timedelta(days=1))
    return values, errors, query


def _options() -> dict[str, list[str]]:
    def distinct(column) -> list[str]:
        return sorted(v for v in db.session.scalars(sa.select(column).distinct()) if v)

    return {"action": distinct(AuditEntry.action), "outcome": distinct(AuditEntry.outcome)}


@bp.get("/admin/audit")
@roles_required("admin")
def admin_audit():
    values, errors, query = audit_filters()
    page = None if errors else paginate(query.order_by(AuditEntry.id.desc()), 50)
    return render_template(
        "dashboard/admin_audit.html", values=values, errors=errors, page=page, options=_options()
    ), (400 if errors else 200)


@bp.get("/admin/audit.csv")
@roles_required("admin")
def admin_audit_csv():
    values, errors, query = audit_filters()
    if errors:
        abort(400, description=" ".join(errors))
    entries = db.session.scalars(query.order_by(AuditEntry.id)).all()
    rows = (
        [iso(e.at), e.username, e.action, e.outcome, e.target, e.ip, e.user_agent,
         "" if e.details is None else _json(e.details)]
        for e in entries
    )  # fmt: skip
    body = csv_text(AUDIT_COLUMNS, rows)
    record("audit.export", current_user, details={"filters": values, "rows": len(entries)})
    db.session.commit()
    return download(body, "text/csv", "hematovision-audit.csv")


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
