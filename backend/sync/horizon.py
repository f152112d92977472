"""How far a `since` cursor may go without ever passing a row that can still appear, with
writers committing concurrently and unserialised (issue 16).

A sequence hands out values in time order, but transactions commit in any order: a record with
seq 5 may commit after one with seq 6, and a reader that saw 6 and moved its cursor there
would never get 5. SQLite runs one writer at a time, so there seq order is commit order and
every visible row may be handed out.

On PostgreSQL the cursor's sequences are only read after their transaction has its xid: the
column defaults are `hv_nextval_after_xid(...)` (migration e5b9d2c7a1f3). So, with L = the
sequence's last value, read first, every value <= L was taken by a transaction that had its xid
before L was read. Every transaction with an xid holds the lock on its own xid until it ends
(`pg_locks`), so M = the newest xid in flight, read after L, bounds them all: any of them not yet
finished is <= M, and a transaction that gets its xid later gets a larger one. Once no
transaction with an xid <= M is in flight, each row with a value <= L has committed or never
will: L is final, and rows up to it can be handed out for good (nothing in flight: at once). A
reader waits a little for that (the batches in flight are short); past WAIT_S it hands out up to
the newest bound already proven final (a later read proves its own), so a long transaction
delays readers but never makes them skip. (A snapshot's xmax cannot stand in for M: it is one
past the newest *finished* xid, and a transaction still in flight above it is in no snapshot's
list. The first version used it, and a reader could skip the first batches of racing writers.)
The cursor stays the integer it always was."""

import threading
import time

import sqlalchemy as sa
from flask import current_app

from backend import db

WAIT_S = 1.0  # the longest a read waits for the transactions older than it to finish
POLL_S = 0.005

_LAST_VALUE = sa.text("SELECT coalesce(pg_sequence_last_value(CAST(:sequence AS regclass)), 0)")
# The xids of the transactions in flight other than this one, newest and oldest: each holds
# the ExclusiveLock on its own xid until it commits or rolls back.
_IN_FLIGHT = sa.text(
    "SELECT max(transactionid::text::bigint), min(transactionid::text::bigint) FROM pg_locks"
    " WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted"
    " AND pid <> pg_backend_pid()"
)


class _Horizon:
    """One sequence's newest proven-final value and the candidates still waiting for proof."""

    def __init__(self) -> None:
        self.final = 0
        self.pending: list[tuple[int, int]] = []  # (L, M)
        self.lock = threading.Lock()

    def prove(self, oldest_in_flight: int | None) -> None:
        """Every candidate whose transactions (xid <= M) have all finished becomes final."""
        with self.lock:
            done = [c for c in self.pending if oldest_in_flight is None or c[1] < oldest_in_flight]
            self.pending = [c for c in self.pending if c not in done][-64:]
            self.final = max([self.final, *(v for v, _ in done)])

    def add(self, value: int, newest_in_flight: int) -> None:
        with self.lock:
            self.pending.append((value, newest_in_flight))


def final_bound(sequence: str) -> int | None:
    """The largest value of `sequence` (e.g. "predictions_seq_seq") below which no row can still
    appear; None when every visible row can be handed out (SQLite)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    horizons = current_app.extensions.setdefault("sync_horizons", {})
    horizon = horizons.setdefault(sequence, _Horizon())
    value = db.session.scalar(_LAST_VALUE, {"sequence": sequence})
    newest, oldest = db.session.execute(_IN_FLIGHT).one()  # a later statement: M after L
    horizon.add(value, int(newest or 0))  # nothing in flight: every value <= L is final now
    deadline = time.monotonic() + WAIT_S
    while True:
        horizon.prove(None if oldest is None else int(oldest))
        if horizon.final >= value or time.monotonic() > deadline:
            return horizon.final
        time.sleep(POLL_S)
        oldest = db.session.execute(_IN_FLIGHT).one()[1]
