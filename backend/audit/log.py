"""Writing audit entries. The entry joins the caller's transaction, so an action and its
entry are committed (or rolled back) together; `record_now` commits at once, for failures
where nothing else will be committed."""

from typing import Any

from flask import has_request_context, request

from backend import db
from backend.models import AuditEntry, User


def record(
    action: str,
    user: User | None = None,
    *,
    outcome: str = "success",
    target: str | None = None,
    details: dict[str, Any] | None = None,
    username: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        action=action,
        outcome=outcome,
        user_id=user.id if user else None,
        username=user.username if user else (username[:64] if username else None),
        target=target[:255] if target else None,
        details=details,
    )
    if has_request_context():
        entry.ip = (request.remote_addr or "")[:64] or None
        entry.user_agent = (request.headers.get("User-Agent") or "")[:255] or None
    db.session.add(entry)
    return entry


def record_now(action: str, user: User | None = None, **kwargs: Any) -> None:
    record(action, user, **kwargs)
    db.session.commit()
