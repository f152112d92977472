"""The `since` cursors (records: GET /api/predictions, reviews: GET /api/sync/reviews) stay
exact while writers are not serialised (issue 16, backend/sync/horizon.py): a transaction that
took a lower value and commits after one with a higher value is still handed out, once.

PostgreSQL only: SQLite runs one writer at a time, so there the order of values is the order
of commits and nothing can be out of order."""

import random
import threading
import time

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import Prediction, Review, User
from backend.sync import horizon
from backend.sync.validation import clean_record
from tests.conftest import make_record, push, statuses

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def pg(app, monkeypatch):
    monkeypatch.setattr(horizon, "WAIT_S", 0.2)  # what a read waits for older transactions
    return app


def _user_id(name: str) -> int:
    return db.session.scalar(sa.select(User.id).where(User.username == name))


def _insert_record(conn, user_id: int) -> int:
    """One record inserted through `conn` as the sync does (the column default takes seq)."""
    clean = clean_record(make_record())
    row = dict(clean.fields, id=clean.id, content_hash=clean.content_hash, synced_by_id=user_id)
    table = Prediction.__table__
    return conn.execute(sa.insert(table).values(row).returning(table.c.seq)).scalar_one()


def _insert_review(conn, prediction_seq: int, reviewer_id: int) -> int:
    table = Review.__table__
    row = dict(prediction_seq=prediction_seq, label="lymphocyte", previous_label="neutrophil")
    row.update(reviewer_id=reviewer_id)
    return conn.execute(sa.insert(table).values(row).returning(table.c.id)).scalar_one()


CURSORS = {
    # name: (URL, key of the items, the item's cursor value, who reads)
    "records": ("/api/predictions?per_page=1&since=", "predictions", "seq", "admin"),
    "reviews": ("/api/sync/reviews?since=", "reviews", "id", "tech"),
}


def _walk(client, headers: dict, cursor: str, since: int) -> tuple[list[int], int]:
    """Every value the cursor hands out from `since` until it answers nothing new."""
    url, key, field, _ = CURSORS[cursor]
    seen = []
    while True:
        body = client.get(f"{url}{since}", headers=headers).get_json()
        seen += [item[field] for item in body[key]]
        if body["next_since"] == since:
            return seen, since
        since = body["next_since"]


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_value_committed_late_is_not_skipped(pg, client, auth, cursor):
    """Two connections: `slow` takes the lower value and stays open while `fast` takes the
    higher one and commits. A reader walking meanwhile must not move past the lower one; once
    `slow` commits, the walk gets both, each once. (With seq > since alone, the reader got the
    higher value, moved its cursor there and never saw the lower one.)"""
    headers = auth.headers(CURSORS[cursor][3])
    with pg.app_context():
        tech, admin = _user_id("tech"), _user_id("admin")
        with db.engine.begin() as conn:
            record = _insert_record(conn, tech)
        insert = {
            "records": lambda conn: _insert_record(conn, tech),
            "reviews": lambda conn: _insert_review(conn, record, admin),
        }[cursor]
        start = _walk(client, headers, cursor, 0)[1]  # past what is already there
        slow = db.engine.connect()
        slow_transaction = slow.begin()
        try:
            low = insert(slow)
            with db.engine.begin() as fast:
                high = insert(fast)
            assert low < high
            seen, since = _walk(client, headers, cursor, start)
            assert seen == []  # `high` is committed but handing it out would pass `low`
            slow_transaction.commit()
        finally:
            slow.close()
        later, _ = _walk(client, headers, cursor, since)
    assert seen + later == [low, high]


def test_racing_writers_and_a_reader_walking_meanwhile(pg, client, auth):
    """Four writers, each committing after a random pause so that commits come out of seq
    order; a reader walks the cursor the whole time. It gets every committed record once."""
    headers = auth.headers("admin")
    with pg.app_context():
        tech = _user_id("tech")
        rng = random.Random(16)
        pauses = [[rng.uniform(0, 0.03) for _ in range(12)] for _ in range(4)]
        committed: list[int] = []
        engine = db.engine  # the threads have no app context

        def write(pauses: list[float]) -> None:
            for pause in pauses:
                with engine.begin() as conn:
                    values = [_insert_record(conn, tech) for _ in range(3)]
                    time.sleep(pause)
                committed.extend(values)

        writers = [threading.Thread(target=write, args=(p,)) for p in pauses]
        for writer in writers:
            writer.start()
        seen, since = [], 0
        while any(w.is_alive() for w in writers):
            more, since = _walk(client, headers, "records", since)
            seen += more
        for writer in writers:
            writer.join()
        seen += _walk(client, headers, "records", since)[0]
    assert len(committed) == 4 * 12 * 3
    assert sorted(seen) == sorted(committed)  # none skipped, none twice
    assert seen == sorted(seen)  # handed out in seq order


def test_a_batch_does_not_wait_for_another_batch_in_flight(pg, client, auth):
    """The advisory lock that used to keep the cursor exact made every batch wait for the one
    before it to commit. Now one batch held open does not hold up another."""
    headers = auth.headers("tech")
    held_open = [make_record() for _ in range(3)]
    with pg.app_context():
        from backend.sync.ingest import ingest

        user = db.session.get(User, _user_id("tech"))
        assert [r["status"] for r in ingest(held_open, user)] == ["created"] * 3
        answer: list = []
        other = threading.Thread(
            target=lambda: answer.append(push(client, headers, [make_record()]))
        )
        other.start()
        other.join(timeout=10)
        finished = not other.is_alive()
        db.session.rollback()  # lets the other batch go on if it was waiting
        other.join()
    assert finished
    assert statuses(answer[0]) == ["created"]


def test_two_batches_correcting_one_record_leave_the_latest_correction(pg, client, auth):
    """Batch A (the later correction) is held open; batch B (an earlier one) of the same record
    arrives meanwhile. B waits for A's lock on the record, then sees A's event: the record
    keeps A's label. (With neither the old lock nor the record's, B copied its own, older
    correction over A's.)"""
    from tests.backend.test_sync_contract2 import correction

    headers = auth.headers("tech")
    record = make_record()
    assert statuses(push(client, headers, [record])) == ["created"]
    later, earlier = correction(record, "lymphocyte", 1), correction(record, "monocyte", 5)
    body = {"contract": 2, "corrections": [earlier]}
    with pg.app_context():
        from backend.sync.corrections import ingest_corrections

        user = db.session.get(User, _user_id("tech"))
        assert [r["status"] for r in ingest_corrections([later], user)] == ["created"]
        answer: list = []
        other = threading.Thread(
            target=lambda: answer.append(
                client.post("/api/sync/predictions", json=body, headers=headers)
            )
        )
        other.start()
        other.join(timeout=0.5)
        waited = other.is_alive()
        db.session.commit()
        other.join()
    assert waited
    assert answer[0].get_json()["correction_results"][0]["status"] == "created"
    stored = client.get(f"/api/predictions/{record['id']}", headers=headers).get_json()
    assert stored["prediction"]["correction"]["label"] == "lymphocyte"
