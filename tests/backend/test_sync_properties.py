"""Properties of sync, whatever a phone (or anyone with a technician's token) sends: the server
never answers 5xx, and every valid record, correction and slide of a batch mixed with hostile
ones (odd Unicode, lone surrogates, NULs, huge or non-finite numbers, dates at the ends of the
calendar, nested values, wrong types) is stored. Issue 14 found each of these turning a whole
batch into a 500; the examples are generated, so this also covers what nobody listed."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend import db
from backend.models import Prediction, Slide, TechnicianCorrection

# One app (and database) serves every example of a test, so each valid item gets a fresh uuid4
# and examples never collide. On SQLite only: the examples are the breadth, and the plain
# regression tests (test_sync.py, test_sync_contract2.py) run on both databases.
pytestmark = pytest.mark.sqlite_only
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what a phone really sends ----------------------------------------------------------------

TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")  # storable text


def words(max_size: int):
    return st.text(TEXT, min_size=1, max_size=max_size).filter(str.strip)


UNIT = st.floats(0, 1) | st.sampled_from([0, 1])
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
LATEST = datetime.now() - timedelta(days=2)
MOMENTS = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime(2000, 1, 3), max_value=LATEST),
    OFFSETS | st.just(UTC),
)


@st.composite
def valid_records(draw) -> dict:
    labels = draw(st.lists(words(100), min_size=1, max_size=4, unique=True))
    return {
        "id": str(uuid.uuid4()),
        "model_name": draw(words(100)),
        "model_version": draw(words(50)),
        "label": draw(st.sampled_from(labels)),
        "confidence": draw(UNIT),
        "status": draw(st.from_regex(r"[a-z][a-z_]{0,31}", fullmatch=True)),
        "probabilities": {label: draw(UNIT) for label in labels},
        "captured_at": draw(MOMENTS),
        "device_id": draw(words(100)),
        "slide_id": draw(st.none() | words(100)),
        "note": draw(st.none() | st.text(TEXT, max_size=300)),
    }


@st.composite
def valid_slides(draw) -> dict:
    started = draw(MOMENTS)
    return {
        "id": str(uuid.uuid4()),
        "sample_id": draw(words(120)),
        "patient": draw(st.none() | st.text(TEXT, max_size=200)),
        "specimen": draw(st.none() | st.text(TEXT, max_size=200)),
        "note": draw(st.none() | st.text(TEXT, max_size=300)),
        "target": draw(st.sampled_from([100, 200])),
        "state": draw(st.sampled_from(["open", "paused", "finished"])),
        "started_at": started,
        "updated_at": draw(MOMENTS),
        "finished_at": draw(st.none() | MOMENTS),
        "device_id": draw(words(100)),
    }


def valid_correction(draw, record: dict) -> dict:
    label = st.sampled_from([*record["probabilities"], "artefact", "other"]) | st.none()
    return {
        "id": str(uuid.uuid4()),
        "prediction_id": record["id"],
        "label": draw(label),
        "previous_label": draw(st.none() | st.just(record["label"])),
        "at": draw(MOMENTS),
    }


# --- what an attacker sends -------------------------------------------------------------------

# NUL, lone surrogates, a right-to-left override, a BOM, the last code point
ODD_CHARACTERS = ["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\U0010ffff"]
HOSTILE_TEXT = st.text(st.characters() | st.sampled_from(ODD_CHARACTERS), max_size=120)
NUMBERS = (
    st.integers()
    | st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1])
    | st.floats(allow_nan=True, allow_infinity=True)
)
DATES = (
    st.builds(
        lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
        st.datetimes(),  # from year 1 to 9999: with an offset, beyond what UTC can hold
        st.none() | OFFSETS,
    )
    | st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-02-30"])
    | HOSTILE_TEXT
)
IMAGES = st.binary(max_size=200).map(lambda data: base64.b64encode(b"\xff\xd8\xff" + data).decode())
ANY_JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=12,
)
HOSTILE_VALUES = ANY_JSON | HOSTILE_TEXT | NUMBERS | DATES | IMAGES
HOSTILE_PROBABILITIES = st.dictionaries(HOSTILE_TEXT, NUMBERS | ANY_JSON, max_size=5)


@st.composite
def hostile(draw, valid) -> object:
    """A valid item with one to three fields removed or replaced; now and then not an object."""
    if draw(st.integers(0, 9)) == 0:
        return draw(ANY_JSON)
    item = draw(valid)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*item, "image", "unknown"]))
        if draw(st.booleans()):
            item.pop(key, None)
        else:
            odd = HOSTILE_PROBABILITIES if key == "probabilities" else HOSTILE_VALUES
            item[key] = draw(odd)
    return item


@st.composite
def mixed_bodies(draw) -> tuple[dict, dict[str, list[str]]]:
    """A contract-2 body with valid and hostile items in any order, and the valid ids."""
    records = draw(st.lists(valid_records(), max_size=4))
    corrections = [valid_correction(draw, r) for r in records if draw(st.booleans())]
    slides = draw(st.lists(valid_slides(), max_size=2))
    valid = {
        "predictions": [r["id"] for r in records],
        "corrections": [c["id"] for c in corrections],
        "slides": [s["id"] for s in slides],
    }
    # Hostile corrections of a valid record, or of one the server does not know.
    targets = [*records, draw(valid_records())]
    for _ in range(draw(st.integers(0, 2))):
        event = valid_correction(draw, draw(st.sampled_from(targets)))
        corrections.append(draw(hostile(st.just(event))))
    records += draw(st.lists(hostile(valid_records()), min_size=1, max_size=4))
    slides += draw(st.lists(hostile(valid_slides()), max_size=2))
    body = {
        "contract": 2,
        "predictions": draw(st.permutations(records)),
        "corrections": draw(st.permutations(corrections)),
        "slides": draw(st.permutations(slides)),
    }
    return body, valid


def _post(client, headers, body) -> object:
    # json.dumps as a client writes it: lone surrogates escaped, NaN and 400-digit ints as is.
    return client.post(
        "/api/sync/predictions",
        data=json.dumps(body),
        headers=dict(headers, **{"Content-Type": "application/json"}),
    )


def _stored(model, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(model.id).where(model.id.in_(ids))))


RESULTS = {
    "results": {"created", "duplicate", "conflict", "invalid"},
    "correction_results": {"created", "duplicate", "conflict", "invalid"},
    "slide_results": {"created", "applied", "stale", "duplicate", "conflict", "invalid"},
}


def test_a_mixed_batch_never_fails_and_stores_every_valid_item(app, client, auth):
    headers = auth.headers("tech")

    @PROPERTY
    @given(mixed_bodies())
    def check(example):
        body, valid = example
        response = _post(client, headers, body)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        answer = response.get_json()
        for key, statuses in RESULTS.items():
            sent = body["predictions" if key == "results" else key.split("_")[0] + "s"]
            assert len(answer[key]) == len(sent)  # one result per item, in order
            for result in answer[key]:
                assert result["status"] in statuses
                if result["status"] == "invalid":
                    assert isinstance(result["error"], str) and result["error"]
        for key, sent in (
            ("results", "predictions"),
            ("correction_results", "corrections"),
            ("slide_results", "slides"),
        ):
            status = {r["id"]: r["status"] for r in answer[key]}
            assert all(status[i] == "created" for i in valid[sent]), answer[key]
        with app.app_context():
            assert _stored(Prediction, valid["predictions"]) == set(valid["predictions"])
            assert _stored(TechnicianCorrection, valid["corrections"]) == set(valid["corrections"])
            assert _stored(Slide, valid["slides"]) == set(valid["slides"])

    check()


def test_any_json_body_is_answered_without_a_5xx(client, auth):
    headers = auth.headers("tech")

    @PROPERTY
    @given(
        ANY_JSON
        | st.dictionaries(
            st.sampled_from(["contract", "predictions", "corrections", "slides"]),
            ANY_JSON,
        )
    )
    def check(body):
        response = _post(client, headers, body)
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        assert response.status_code == 200 or "error" in response.get_json()

    check()
