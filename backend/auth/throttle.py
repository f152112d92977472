"""Login throttling that an attacker cannot turn against someone else.

Three counters, each one row of `login_throttle`, every change a single atomic statement:
- "pair" (username + client address): LOGIN_MAX_FAILURES failures lock that pair, for
  LOGIN_LOCK_SECONDS, doubling with every further failure (up to LOGIN_LOCK_MAX_SECONDS). It is
  the one that stops guessing, and it locks only the guesser's own address out of the account.
- "ip" (client address, any username): LOGIN_MAX_FAILURES_IP, generous, against one address
  spraying many usernames; a NAT or a proxy (PROXY_COUNT=0) shares one address, hence generous.
- "user" (username, any address): LOGIN_MAX_FAILURES_USERNAME, a much higher ceiling against
  guessing spread over many addresses.
A counter forgets after LOGIN_WINDOW_SECONDS without failures once its lock is over.

A password check is reserved before it runs and counted as a failure until it succeeds, so
parallel attempts can never run more checks than the limit allows."""

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from backend import db
from backend.models import LoginThrottle
from backend.models.types import utcnow
from backend.models.upsert import insert


def _counters(username: str, ip: str) -> list[tuple[str, str, int]]:
    cfg = current_app.config
    return [
        ("pair", f"{username} {ip}"[:128], cfg["LOGIN_MAX_FAILURES"]),
        ("ip", ip[:128], cfg["LOGIN_MAX_FAILURES_IP"]),
        ("user", username, cfg["LOGIN_MAX_FAILURES_USERNAME"]),
    ]


def begin_attempt(username: str, ip: str) -> int:
    """Reserves one password check; 0 when it may run, else the seconds to wait. Commits, so
    other workers see the reservation before the (slow) check runs."""
    taken: list[tuple[str, str, int]] = []
    for kind, key, limit in _counters(username, ip):
        wait = _take(kind, key, limit, utcnow())
        if wait:
            for counter in taken:
                _give_back(*counter)
            db.session.commit()
            return wait
        taken.append((kind, key, limit))
    db.session.commit()
    return 0


def succeeded(username: str, ip: str) -> None:
    """The reserved check found the right password: the pair starts afresh, and the address
    and username counters take back the failure they were charged (the caller commits)."""
    for kind, key, limit in _counters(username, ip):
        if kind == "pair":
            reset = sa.update(LoginThrottle).values(failures=0, locked_until=None)
            db.session.execute(reset.where(LoginThrottle.kind == kind, LoginThrottle.key == key))
        else:
            _give_back(kind, key, limit)


def _take(kind: str, key: str, limit: int, now: datetime) -> int:
    """Counts one attempt unless the counter is locked; returns the seconds to wait (0: go)."""
    cfg = current_app.config
    quiet_since = now - timedelta(seconds=cfg["LOGIN_WINDOW_SECONDS"])
    forgotten = sa.and_(
        LoginThrottle.last_attempt_at < quiet_since,
        sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < quiet_since),
    )
    statement = insert(LoginThrottle).values(
        kind=kind, key=key, failures=1, last_attempt_at=now, locked_until=None
    )
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={
            "failures": sa.case((forgotten, 1), else_=LoginThrottle.failures + 1),
            "last_attempt_at": now,
        },
        # A locked counter is not touched: waiting out a lock never makes it longer.
        where=sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
    )
    failures = db.session.scalar(statement.returning(LoginThrottle.failures))
    if failures is None:
        return _seconds_locked(kind, key, now)
    if failures >= limit:  # this attempt may run; the next ones wait
        until = now + timedelta(seconds=_lock_seconds(kind, failures - limit))
        lock = sa.update(LoginThrottle).values(locked_until=until)
        db.session.execute(lock.where(LoginThrottle.kind == kind, LoginThrottle.key == key))
    return 0


def _lock_seconds(kind: str, beyond_limit: int) -> int:
    cfg = current_app.config
    base = cfg["LOGIN_LOCK_SECONDS"]
    if kind != "pair":
        return base
    return min(base * 2 ** min(beyond_limit, 20), cfg["LOGIN_LOCK_MAX_SECONDS"])


def _seconds_locked(kind: str, key: str, now: datetime) -> int:
    query = sa.select(LoginThrottle.locked_until).where(
        LoginThrottle.kind == kind, LoginThrottle.key == key
    )
    until = db.session.scalar(query)
    return max(int((until - now).total_seconds()) + 1, 1) if until is not None else 1


def _give_back(kind: str, key: str, limit: int) -> None:
    """Takes back one counted attempt, and the lock it may have set."""
    statement = (
        sa.update(LoginThrottle)
        .where(LoginThrottle.kind == kind, LoginThrottle.key == key, LoginThrottle.failures > 0)
        .values(
            failures=LoginThrottle.failures - 1,
            locked_until=sa.case(
                (LoginThrottle.failures <= limit, sa.null()), else_=LoginThrottle.locked_until
            ),
        )
    )
    db.session.execute(statement)
