"""History sync: never lose, never duplicate, one bad record never rejects the rest."""

import threading

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry, Prediction
from tests.conftest import make_record, push, statuses


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Prediction.seq)))


def test_same_batch_twice_creates_once(app, client, auth):
    batch = [make_record() for _ in range(5)]
    assert statuses(push(client, auth.headers("tech"), batch)) == ["created"] * 5
    assert statuses(push(client, auth.headers("tech"), batch)) == ["duplicate"] * 5
    assert _count(app) == 5


def test_stored_record_keeps_content_and_who_synced_it(app, client, auth):
    record = make_record(captured_at="2026-01-02T03:04:05.123456+01:00", slide_id=None)
    push(client, auth.headers("tech"), [record])
    body = client.get(f"/api/predictions/{record['id']}", headers=auth.headers("tech")).get_json()
    stored = body["prediction"]
    assert stored["captured_at"] == "2026-01-02T02:04:05.123456Z"
    assert stored["probabilities"] == record["probabilities"]
    assert (stored["label"], stored["confidence"], stored["slide_id"]) == ("neutrophil", 0.91, None)
    assert stored["synced_by"]["username"] == "tech" and stored["synced_at"].endswith("Z")


def test_partial_failure_stores_the_valid_records(app, client, auth):
    good1, good2 = make_record(), make_record()
    bad = make_record(confidence="high")
    response = push(client, auth.headers("tech"), [good1, bad, good2])
    assert statuses(response) == ["created", "invalid", "created"]
    invalid = response.get_json()["results"][1]
    assert invalid["id"] == bad["id"] and "confidence" in invalid["error"]
    assert _count(app) == 2


def test_conflict_keeps_the_first_version(app, client, auth):
    first = make_record(label="neutrophil")
    push(client, auth.headers("tech"), [first])
    changed = dict(first, label="monocyte")
    response = push(client, auth.headers("tech"), [changed])
    assert statuses(response) == ["conflict"]
    assert "different content" in response.get_json()["results"][0]["error"]
    stored = client.get(f"/api/predictions/{first['id']}", headers=auth.headers("tech")).get_json()
    assert stored["prediction"]["label"] == "neutrophil"


def test_same_id_twice_in_one_batch(app, client, auth):
    record = make_record()
    response = push(client, auth.headers("tech"), [record, record, dict(record, label="basophil")])
    assert statuses(response) == ["created", "duplicate", "conflict"]
    assert _count(app) == 1


def test_id_of_another_technician_is_a_conflict_and_reveals_nothing(app, client, auth):
    record = make_record()
    push(client, auth.headers("tech"), [record])
    response = push(client, auth.headers("tech2"), [record])
    assert statuses(response) == ["conflict"]
    with app.app_context():
        stored = db.session.scalar(sa.select(Prediction).where(Prediction.id == record["id"]))
        assert stored.synced_by.username == "tech"


def test_uuid_spelling_does_not_create_a_second_record(app, client, auth):
    record = make_record()
    push(client, auth.headers("tech"), [record])
    assert statuses(
        push(client, auth.headers("tech"), [dict(record, id=record["id"].upper())])
    ) == ["duplicate"]
    assert _count(app) == 1


def test_500_records_in_one_request(app, client, auth):
    batch = [make_record(device_id=f"phone-{i % 7}") for i in range(500)]
    assert statuses(push(client, auth.headers("tech"), batch)) == ["created"] * 500
    assert _count(app) == 500


def test_more_than_500_records_is_refused_whole(app, client, auth):
    response = push(client, auth.headers("tech"), [make_record() for _ in range(501)])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_many_records"
    assert _count(app) == 0


def test_two_clients_racing_on_the_same_ids(app, auth):
    """Four clients send the same 300 records in different orders at the same moment, for five
    rounds: every record is created exactly once, every other copy is a duplicate, no errors
    (on PostgreSQL, unordered inserts of the same ids deadlock here)."""
    headers = auth.headers("tech")
    for _ in range(5):
        batch = [make_record() for _ in range(300)]
        orders = [batch, batch[::-1], batch[150:] + batch[:150], batch[::2] + batch[1::2]]
        results = _race(app, headers, orders)
        flat = [s for r in results for s in r]
        assert len(results) == 4
        assert flat.count("created") == 300 and flat.count("duplicate") == 900
    assert _count(app) == 1500


def _race(app, headers: dict, orders: list[list[dict]]) -> list[list[str]]:
    results: list[list[str]] = []
    barrier = threading.Barrier(len(orders))

    def send(records):
        client = app.test_client()
        barrier.wait()
        results.append(statuses(push(client, headers, records)))

    threads = [threading.Thread(target=send, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_sync_is_audited_with_counts(app, client, auth):
    push(client, auth.headers("tech"), [make_record(), make_record(status="?")])
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "sync.push"))
        assert entry.username == "tech"
        assert entry.details["created"] == 1 and entry.details["invalid"] == 1


BAD_RECORDS = [
    ("not an object", "must be a JSON object"),
    ({"id": 5}, "UUID"),
    (make_record(id="../../etc/passwd"), "UUID"),
    (make_record(confidence=True), "confidence"),
    (make_record(confidence=1.5), "between 0 and 1"),
    (make_record(confidence=float("nan")), "confidence"),
    (make_record(label=None), "'label' is required"),
    (make_record(label=""), "must not be empty"),
    (make_record(label=["neutrophil"]), "'label' must be a string"),
    (make_record(label="x" * 101), "longer than 100"),
    (make_record(note="n" * 2001), "longer than 2000"),
    (make_record(model_name="m" * 10_000), "longer than 100"),
    (make_record(status="OK; DROP TABLE"), "status"),
    (make_record(probabilities=[0.9, 0.1]), "probabilities"),
    (make_record(probabilities={}), "probabilities"),
    (make_record(probabilities={f"c{i}": 0.0 for i in range(101)}), "more than 100"),
    (make_record(probabilities={"a": "0.5"}), "must be a number"),
    (make_record(captured_at="yesterday"), "ISO-8601"),
    (make_record(captured_at="2026-01-01T10:00:00"), "time zone"),
    (make_record(captured_at="2999-01-01T00:00:00Z"), "future"),
    (make_record(captured_at=1700000000), "ISO-8601"),
    (make_record(device_id=None), "device_id"),
    # Each of these once turned the whole batch into a 500 (issue 14).
    (make_record(captured_at="0001-01-01T00:00:00+01:00"), "'captured_at' is out of range"),
    (make_record(captured_at="9999-12-31T23:59:59-01:00"), "'captured_at' is out of range"),
    (make_record(note="\ud800"), "'note' is not valid Unicode text"),
    (make_record(label="neutro\udfffphil"), "'label' is not valid Unicode text"),
    (make_record(probabilities={"\ud800": 0.5}), "'probabilities' is not valid Unicode"),
    (make_record(device_id="phone\x00"), "'device_id' contains a NUL"),
    (make_record(confidence=10**400), "'confidence' must be between 0 and 1"),
    (make_record(probabilities={"a": -(10**400)}), "must be between 0 and 1"),
    (make_record(confidence=float("inf")), "'confidence' must be between 0 and 1"),
]


@pytest.mark.parametrize("record,message", BAD_RECORDS)
def test_bad_records_are_invalid_and_not_stored(app, client, auth, record, message):
    good = make_record()
    response = push(client, auth.headers("tech"), [record, good])
    assert statuses(response) == ["invalid", "created"]
    assert message in response.get_json()["results"][0]["error"]
    assert _count(app) == 1


@pytest.mark.parametrize(
    "body,content_type,code",
    [
        ("{not json", "application/json", "invalid_json"),
        ("[]", "application/json", "invalid_json"),
        ('{"predictions": {"id": 1}}', "application/json", "invalid_json"),
        ('{"records": []}', "application/json", "invalid_json"),
        ("predictions=1", "application/x-www-form-urlencoded", "invalid_json"),
    ],
)
def test_malformed_bodies_are_400(app, client, auth, body, content_type, code):
    headers = dict(auth.headers("tech"), **{"Content-Type": content_type})
    response = client.post("/api/sync/predictions", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert _count(app) == 0


def test_json_nested_too_deeply_is_a_400_and_stores_nothing(app, client, auth):
    headers = dict(auth.headers("tech"), **{"Content-Type": "application/json"})
    deep = '{"predictions": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post("/api/sync/predictions", data=deep, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert _count(app) == 0


def test_a_record_that_breaks_the_checks_is_invalid_and_the_rest_is_stored(
    app, client, auth, monkeypatch, caplog
):
    """The backstop: a failure nobody foresaw in checking one record is that record's
    `invalid`, logged, never the batch's 500."""
    import backend.sync.validation as validation

    real = validation._status

    def unforeseen(value):
        if value == "explodes":
            raise RuntimeError("a case the checks do not know")
        return real(value)

    monkeypatch.setattr(validation, "_status", unforeseen)
    good1, bad, good2 = make_record(), make_record(status="explodes"), make_record()
    response = push(client, auth.headers("tech"), [good1, bad, good2])
    assert statuses(response) == ["created", "invalid", "created"]
    result = response.get_json()["results"][1]
    assert result["id"] == bad["id"] and "could not check" in result["error"]
    assert "a case the checks do not know" not in response.get_data(as_text=True)
    assert any("RuntimeError" in (r.exc_text or "") for r in caplog.records)
    assert _count(app) == 2


def test_huge_body_is_413(app, client, auth):
    app.config["MAX_CONTENT_LENGTH"] = 100_000
    records = [make_record(note="x" * 1900) for _ in range(100)]
    response = push(client, auth.headers("tech"), records)
    assert response.status_code == 413 and "error" in response.get_json()
    assert _count(app) == 0
