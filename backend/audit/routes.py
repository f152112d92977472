"""Admins read the audit log: GET /api/audit?action=&user=&outcome=&from=&to=&page=&per_page="""

import sqlalchemy as sa
from flask import jsonify, request

from backend import db
from backend.audit import bp
from backend.auth.roles import roles_required
from backend.models import AuditEntry
from backend.request_input import query_int, query_moment


@bp.get("")
@roles_required("admin")
def list_audit():
    query = sa.select(AuditEntry)
    for name, column in (
        ("action", AuditEntry.action),
        ("outcome", AuditEntry.outcome),
        ("user", AuditEntry.username),
        ("target", AuditEntry.target),
    ):
        if (value := request.args.get(name)) is not None:
            query = query.where(column == value)
    if (start := query_moment("from")) is not None:
        query = query.where(AuditEntry.at >= start)
    if (end := query_moment("to")) is not None:
        query = query.where(AuditEntry.at < end)
    page = query_int("page", 1, 1, 1_000_000)
    per_page = query_int("per_page", 100, 1, 1000)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    query = query.order_by(AuditEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    entries = [e.to_dict() for e in db.session.scalars(query)]
    return jsonify(entries=entries, page=page, per_page=per_page, total=total)
