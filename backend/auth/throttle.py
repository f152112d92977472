"""Login throttling: too many failures for one username or one address inside a window lock
that username/address for a while. Counters live in the database so every worker sees them."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from backend import db
from backend.models import LoginThrottle
from backend.models.types import utcnow


def _limits() -> dict[str, int]:
    cfg = current_app.config
    return {"user": cfg["LOGIN_MAX_FAILURES_USER"], "ip": cfg["LOGIN_MAX_FAILURES_IP"]}


def _row(kind: str, key: str) -> LoginThrottle | None:
    query = sa.select(LoginThrottle).where(LoginThrottle.kind == kind, LoginThrottle.key == key)
    return db.session.scalar(query)


def seconds_locked(username: str, ip: str) -> int:
    """Seconds until a login for this username from this address may be tried again (0: now)."""
    now = utcnow()
    waits = [0]
    for kind, key in (("user", username), ("ip", ip)):
        row = _row(kind, key)
        if row is not None and row.locked_until is not None and row.locked_until > now:
            waits.append(int((row.locked_until - now).total_seconds()) + 1)
    return max(waits)


def register_failure(username: str, ip: str) -> bool:
    """Counts a failed login; True when that failure locked the username or the address."""
    locked = False
    for kind, key in (("user", username), ("ip", ip)):
        locked |= _count_failure(kind, key, _limits()[kind], utcnow())
    return locked


def _count_failure(kind: str, key: str, limit: int, now: datetime) -> bool:
    row = _row(kind, key) or _insert(kind, key, now)
    window = timedelta(seconds=current_app.config["LOGIN_WINDOW_SECONDS"])
    if now - row.window_start > window:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures >= limit:
        row.locked_until = now + timedelta(seconds=current_app.config["LOGIN_LOCK_SECONDS"])
        return True
    return False


def _insert(kind: str, key: str, now: datetime) -> LoginThrottle:
    try:
        with db.session.begin_nested():
            row = LoginThrottle(kind=kind, key=key, failures=0, window_start=now)
            db.session.add(row)
        return row
    except IntegrityError:  # another worker inserted it first
        return _row(kind, key)


def register_success(username: str) -> None:
    row = _row("user", username)
    if row is not None:
        row.failures, row.locked_until = 0, None
