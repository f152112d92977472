"""Sync contract 2 (docs/notes/sync-contract-2.md): slides and technician corrections pushed
with the records, reviews/slides/settings pulled; an old phone sees no difference."""

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_login import login_user

from backend import db
from backend.dashboard.review import save_review
from backend.models import AuditEntry, Prediction, Slide, TechnicianCorrection, User
from backend.sync.slides import reopen_slide
from tests.conftest import cell_record, make_record, pbc_images, push, statuses

NOW = datetime.now(UTC)


def ago(minutes: float) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def push2(client, auth, username: str = "tech", **body):
    response = client.post(
        "/api/sync/predictions", json={"contract": 2, **body}, headers=auth.headers(username)
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def of(answer: dict, key: str) -> list[str]:
    return [r["status"] for r in answer[key]]


def correction(record: dict, label: str | None, minutes_ago: float = 1, **changes) -> dict:
    event = {
        "id": str(uuid.uuid4()),
        "prediction_id": record["id"],
        "label": label,
        "previous_label": record["label"],
        "at": ago(minutes_ago),
    }
    return {**event, **changes}


def slide(**changes) -> dict:
    value = {
        "id": str(uuid.uuid4()),
        "sample_id": "PATIENT-0042 / smear A",
        "patient": None,
        "specimen": "peripheral blood",
        "note": None,
        "target": 100,
        "state": "open",
        "started_at": ago(30),
        "updated_at": ago(20),
        "finished_at": None,
        "device_id": "phone-1",
    }
    return {**value, **changes}


def stored(client, auth, record_id: str, username: str = "tech") -> dict:
    response = client.get(f"/api/predictions/{record_id}", headers=auth.headers(username))
    return response.get_json()["prediction"]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def server_slides(client, auth, username: str = "tech") -> dict[str, dict]:
    response = client.get("/api/sync/slides", headers=auth.headers(username))
    assert response.status_code == 200
    return {s["id"]: s for s in response.get_json()["slides"]}


def last_push_details(app) -> dict:
    with app.app_context():
        query = sa.select(AuditEntry).where(AuditEntry.action == "sync.push")
        return db.session.scalars(query.order_by(AuditEntry.id.desc())).first().details


# --- an old phone ----------------------------------------------------------------------------


def test_contract_1_phone_gets_exactly_the_old_answer(app, client, auth):
    record = make_record()
    response = push(client, auth.headers("tech"), [record])
    assert statuses(response) == ["created"]
    assert set(response.get_json()) == {"results"}
    assert set(response.get_json()["results"][0]) == {"id", "status"}
    assert set(last_push_details(app)) == {"created", "duplicate", "conflict", "invalid"}
    assert statuses(push(client, auth.headers("tech"), [record])) == ["duplicate"]
    assert stored(client, auth, record["id"])["correction"] is None


# --- one push with everything ----------------------------------------------------------------


def test_record_image_correction_and_slide_in_one_push(app, client, auth):
    the_slide = slide()
    record = cell_record("monocyte", pbc_images("monocyte", 1)[0], slide_id=the_slide["id"])
    fix = correction(record, "lymphocyte")
    body = {"slides": [the_slide], "predictions": [record], "corrections": [fix]}
    answer = push2(client, auth, **body)
    assert set(answer) == {"contract", "results", "correction_results", "slide_results"}
    assert answer["contract"] == 2
    assert (of(answer, "slide_results"), of(answer, "results")) == (["created"], ["created"])
    assert of(answer, "correction_results") == ["created"]
    assert last_push_details(app)["corrections"]["created"] == 1
    assert last_push_details(app)["slides"]["created"] == 1

    prediction = stored(client, auth, record["id"])
    assert prediction["label"] == "monocyte"  # the model's label stays
    assert prediction["slide_id"] == the_slide["id"]
    assert prediction["correction"] == {
        "label": "lymphocyte",
        "previous_label": "monocyte",
        "by": "tech",
        "at": datetime.fromisoformat(fix["at"]).isoformat().replace("+00:00", "Z"),
    }
    with app.app_context():
        image = db.session.scalar(sa.select(Prediction.image_path))
    assert image is not None
    assert server_slides(client, auth)[the_slide["id"]]["sample_id"] == the_slide["sample_id"]

    again = push2(client, auth, **body)  # the phone did not get the answer and sends again
    assert of(again, "slide_results") == of(again, "results") == ["duplicate"]
    assert of(again, "correction_results") == ["duplicate"]
    assert (count(app, Prediction), count(app, TechnicianCorrection), count(app, Slide)) == (
        1,
        1,
        1,
    )


def test_only_corrections_need_no_predictions_key(client, auth):
    record = make_record()
    push(client, auth.headers("tech"), [record])
    answer = push2(client, auth, corrections=[correction(record, "monocyte")])
    assert answer["results"] == [] and of(answer, "correction_results") == ["created"]
    assert "slide_results" not in answer


# --- corrections -----------------------------------------------------------------------------


def test_same_correction_twice_is_a_duplicate(app, client, auth):
    record = make_record()
    fix = correction(record, "monocyte")
    answer = push2(client, auth, predictions=[record], corrections=[fix, fix])
    assert of(answer, "correction_results") == ["created", "duplicate"]
    answer = push2(client, auth, corrections=[fix])
    assert of(answer, "correction_results") == ["duplicate"]
    assert count(app, TechnicianCorrection) == 1


def test_same_correction_id_with_other_content_is_a_conflict(app, client, auth):
    record = make_record()
    fix = correction(record, "monocyte")
    push2(client, auth, predictions=[record], corrections=[fix])
    answer = push2(client, auth, corrections=[dict(fix, label="lymphocyte")])
    assert of(answer, "correction_results") == ["conflict"]
    assert "different content" in answer["correction_results"][0]["error"]
    assert stored(client, auth, record["id"])["correction"]["label"] == "monocyte"
    inside_one_batch = correction(record, "monocyte")
    changed = dict(inside_one_batch, label="neutrophil")
    answer = push2(client, auth, corrections=[inside_one_batch, changed])
    assert of(answer, "correction_results") == ["created", "conflict"]


def test_an_older_correction_arriving_late_does_not_override_a_newer_one(client, auth):
    record = make_record()
    newer = correction(record, "lymphocyte", minutes_ago=1)
    older = correction(record, "monocyte", minutes_ago=10)
    push2(client, auth, predictions=[record], corrections=[newer])
    answer = push2(client, auth, corrections=[older])
    assert of(answer, "correction_results") == ["created"]  # kept in the history all the same
    fixed = stored(client, auth, record["id"])["correction"]
    assert (fixed["label"], fixed["previous_label"]) == ("lymphocyte", "neutrophil")


def test_many_events_of_one_record_in_one_batch_in_any_order(client, auth):
    record = make_record()
    events = [correction(record, label, minutes_ago=m + 1) for m, label in enumerate(LABELS)]
    # Two events at the same moment: the larger id decides, on every database alike.
    tie = [correction(record, label, minutes_ago=0.5) for label in ("monocyte", "lymphocyte")]
    events += tie
    expected = max(tie, key=lambda e: e["id"])["label"]
    random.Random(13).shuffle(events)
    answer = push2(client, auth, predictions=[record], corrections=events)
    assert of(answer, "correction_results") == ["created"] * len(events)
    assert stored(client, auth, record["id"])["correction"]["label"] == expected


LABELS = ["artefact", "lymphocyte", "other", "monocyte", "neutrophil"]


def test_phones_racing_with_corrections_of_one_record(app, client, auth):
    """Four batches of 100 corrections of the same record at the same moment, five rounds: the
    record ends with the latest event every time. Each batch must see the events committed
    before it; without the sync lock the last batch to commit won here on PostgreSQL."""
    headers = auth.headers("tech")
    for round_ in range(5):
        record = make_record()
        push(client, headers, [record])
        events = [correction(record, LABELS[i % 5], minutes_ago=i + 1) for i in range(400)]
        random.Random(round_).shuffle(events)
        answers = _race(app, headers, [events[k::4] for k in range(4)])
        assert sorted(s for a in answers for s in of(a, "correction_results")) == ["created"] * 400
        latest = min(events, key=lambda e: NOW - datetime.fromisoformat(e["at"]))
        assert stored(client, auth, record["id"])["correction"]["label"] == latest["label"]


def _race(app, headers: dict, batches: list[list[dict]]) -> list[dict]:
    answers: list[dict] = []
    barrier = threading.Barrier(len(batches))

    def send(events):
        client = app.test_client()
        barrier.wait()
        body = {"contract": 2, "corrections": events}
        answers.append(client.post("/api/sync/predictions", json=body, headers=headers).get_json())

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def test_back_to_the_models_label(client, auth):
    record = make_record(label="neutrophil")
    push2(client, auth, predictions=[record], corrections=[correction(record, "monocyte", 5)])
    back = correction(record, None, 1, previous_label="monocyte")
    assert of(push2(client, auth, corrections=[back]), "correction_results") == ["created"]
    fixed = stored(client, auth, record["id"])["correction"]
    assert fixed["label"] is None and fixed["previous_label"] == "monocyte"
    assert fixed["by"] == "tech" and fixed["at"].endswith("Z")


def test_unknown_record_is_invalid_and_the_rest_of_the_batch_is_stored(app, client, auth):
    record = make_record()
    unknown = correction(make_record(), "monocyte")  # its record was never synced
    good = correction(record, "monocyte")
    answer = push2(client, auth, predictions=[record], corrections=[unknown, good])
    assert of(answer, "results") == ["created"]
    assert of(answer, "correction_results") == ["invalid", "created"]
    assert answer["correction_results"][0] == {
        "id": unknown["id"],
        "status": "invalid",
        "code": "unknown_record",  # what the phone decides by; the words are for people
        "error": "unknown record: sync the record first",
    }
    assert count(app, TechnicianCorrection) == 1


@pytest.mark.parametrize("label", ["artefact", "other", "monocyte", "neutrophil"])
def test_labels_a_technician_may_choose(client, auth, label):
    record = make_record()  # classes: neutrophil, lymphocyte, monocyte
    answer = push2(client, auth, predictions=[record], corrections=[correction(record, label)])
    assert of(answer, "correction_results") == ["created"]
    assert stored(client, auth, record["id"])["correction"]["label"] == label


def test_label_outside_the_records_classes_is_invalid(app, client, auth):
    record = make_record()
    answer = push2(client, auth, predictions=[record], corrections=[correction(record, "basophil")])
    assert of(answer, "correction_results") == ["invalid"]
    assert "not one of the record's classes" in answer["correction_results"][0]["error"]
    assert stored(client, auth, record["id"])["correction"] is None


def test_correcting_another_technicians_record_is_a_conflict(app, client, auth):
    record = make_record()
    push(client, auth.headers("tech"), [record])
    answer = push2(client, auth, "tech2", corrections=[correction(record, "monocyte")])
    assert of(answer, "correction_results") == ["conflict"]
    assert answer["correction_results"][0]["error"] == "another account's record"
    assert count(app, TechnicianCorrection) == 0


def test_correcting_never_turns_the_record_into_a_conflict(app, client, auth):
    record = make_record()
    push2(client, auth, predictions=[record], corrections=[correction(record, "monocyte")])
    # The phone re-sends the record after the correction, even with its local fields.
    resent = dict(record, corrected_label="monocyte", correction={"label": "monocyte"})
    answer = push2(client, auth, predictions=[resent, record])
    assert of(answer, "results") == ["duplicate", "duplicate"]
    assert count(app, Prediction) == 1


BAD_CORRECTIONS = [
    ("not an object", "must be a JSON object"),
    ({"prediction_id": "x"}, "'id' must be a UUID"),
    ("id", "'id' is not a valid UUID"),
    ("prediction_id", "'prediction_id' is not a valid UUID"),
    ("label-number", "'label' must be a string"),
    ("label-empty", "'label' must not be empty"),
    ("label-long", "longer than 100"),
    ("previous-long", "'previous_label' is longer than 100"),
    ("at-missing", "'at' must be an ISO-8601"),
    ("at-naive", "'at' needs a time zone"),
    ("at-future", "'at' lies in the future"),
    ("at-year-1", "'at' is out of range"),
    ("label-surrogate", "'label' is not valid Unicode text"),
    ("previous-nul", "'previous_label' contains a NUL"),
]


def _bad_correction(record: dict, kind) -> object:
    event = correction(record, "monocyte")
    changes = {
        "id": {"id": "../../etc/passwd"},
        "prediction_id": {"prediction_id": "not-a-uuid"},
        "label-number": {"label": 3},
        "label-empty": {"label": "  "},
        "label-long": {"label": "x" * 101},
        "previous-long": {"previous_label": "x" * 101},
        "at-missing": {"at": None},
        "at-naive": {"at": "2026-11-30T10:00:00"},
        "at-future": {"at": "2999-01-01T00:00:00Z"},
        "at-year-1": {"at": "0001-01-01T00:00:00+01:00"},
        "label-surrogate": {"label": "mono\ud800cyte"},
        "previous-nul": {"previous_label": "\x00"},
    }
    if isinstance(kind, str) and kind in changes:
        return {**event, **changes[kind]}
    return kind


@pytest.mark.parametrize("kind,message", BAD_CORRECTIONS)
def test_bad_corrections_are_invalid_and_the_good_one_is_stored(app, client, auth, kind, message):
    record = make_record()
    good = correction(record, "lymphocyte")
    bad = _bad_correction(record, kind)
    answer = push2(client, auth, predictions=[record], corrections=[bad, good])
    assert of(answer, "correction_results") == ["invalid", "created"]
    assert message in answer["correction_results"][0]["error"]
    assert count(app, TechnicianCorrection) == 1


# --- slides ----------------------------------------------------------------------------------


def test_slide_created_then_applied_then_finished_by_the_server_side_user(app, client, auth):
    mine = slide()
    assert of(push2(client, auth, slides=[mine]), "slide_results") == ["created"]
    paused = dict(mine, state="paused", note="lunch", updated_at=ago(10))
    assert of(push2(client, auth, slides=[paused]), "slide_results") == ["applied"]
    assert server_slides(client, auth)[mine["id"]]["state"] == "paused"
    done = dict(paused, state="finished", updated_at=ago(5), finished_at=ago(5))
    answer = push2(client, auth, slides=[dict(done, finished_by="somebody else")])
    assert of(answer, "slide_results") == ["applied"]
    kept = server_slides(client, auth)[mine["id"]]
    assert (kept["state"], kept["note"], kept["finished_by"]) == ("finished", "lunch", "tech")
    assert kept["finished_at"].endswith("Z") and kept["owner"] == "tech"


def test_an_older_slide_state_is_stale_and_the_answer_carries_the_servers(client, auth):
    mine = slide(updated_at=ago(5), state="paused")
    push2(client, auth, slides=[mine])
    older = dict(mine, state="open", updated_at=ago(15))
    answer = push2(client, auth, slides=[older])
    assert of(answer, "slide_results") == ["stale"]
    assert answer["slide_results"][0]["slide"]["state"] == "paused"
    assert answer["slide_results"][0]["slide"]["id"] == mine["id"]
    assert server_slides(client, auth)[mine["id"]]["state"] == "paused"


def test_the_same_slide_again_is_a_duplicate(client, auth):
    mine = slide(state="finished", finished_at=ago(19))
    push2(client, auth, slides=[mine])
    answer = push2(client, auth, slides=[mine, mine])
    assert of(answer, "slide_results") == ["duplicate", "duplicate"]
    assert server_slides(client, auth)[mine["id"]]["finished_by"] == "tech"


def test_another_accounts_slide_is_a_conflict_and_stays_as_it_was(client, auth):
    mine = slide()
    push2(client, auth, slides=[mine])
    answer = push2(client, auth, "tech2", slides=[dict(mine, state="finished", updated_at=ago(1))])
    assert of(answer, "slide_results") == ["conflict"]
    assert answer["slide_results"][0]["error"] == "another account's slide"
    assert server_slides(client, auth)[mine["id"]]["state"] == "open"
    assert server_slides(client, auth, "tech2") == {}


def test_a_malaria_slide_keeps_its_kind_and_an_old_phone_s_slide_counts_white_cells(client, auth):
    malaria = slide(kind="malaria", target=2000)
    old_phone = slide()  # sends no kind
    answer = push2(client, auth, slides=[malaria, old_phone])
    assert of(answer, "slide_results") == ["created", "created"]
    kept = server_slides(client, auth)
    assert (kept[malaria["id"]]["kind"], kept[malaria["id"]]["target"]) == ("malaria", 2000)
    assert kept[old_phone["id"]]["kind"] == "wbc-differential"
    again = push2(client, auth, slides=[old_phone, dict(old_phone, kind="wbc-differential")])
    assert of(again, "slide_results") == ["duplicate", "duplicate"]


def test_a_bad_kind_or_target_is_invalid_and_the_stored_slide_is_unchanged(client, auth):
    malaria = slide(kind="malaria", target=1000)
    push2(client, auth, slides=[malaria])
    before = server_slides(client, auth)[malaria["id"]]
    later = dict(malaria, state="paused", updated_at=ago(1))
    bad = [dict(later, target=200), dict(later, kind="wbc-differential"), dict(later, kind="")]
    answer = push2(client, auth, slides=bad)
    assert of(answer, "slide_results") == ["invalid"] * 3
    errors = [r["error"] for r in answer["slide_results"]]
    assert errors[0] == "'target' must be one of 500, 1000, 2000, 5000 for a malaria slide"
    assert errors[1] == "'target' must be one of 100, 200 for a white-cell differential slide"
    assert errors[2] == "'kind' must be one of wbc-differential, malaria"
    assert server_slides(client, auth)[malaria["id"]] == before


def test_a_reviewers_reopen_reaches_the_phone_and_is_not_overwritten(app, client, auth):
    mine = slide(state="finished", updated_at=ago(10), finished_at=ago(10))
    push2(client, auth, slides=[mine])
    with app.app_context():
        viewer = db.session.scalar(sa.select(User).where(User.username == "viewer"))
        assert reopen_slide(db.session.get(Slide, mine["id"]), viewer)
        db.session.commit()
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "slide.reopen"))
        assert entry.username == "viewer" and entry.details["finished_by"] == "tech"
    # The phone had not heard of it yet and sends its finished slide again.
    answer = push2(client, auth, slides=[mine])
    assert of(answer, "slide_results") == ["stale"]
    carried = answer["slide_results"][0]["slide"]
    assert (carried["state"], carried["reopened_by"]) == ("open", "viewer")
    assert carried["finished_at"] is None and carried["reopened_at"].endswith("Z")
    assert server_slides(client, auth)[mine["id"]] == carried


BAD_SLIDES = [
    ({"sample_id": None}, "'sample_id' is required"),
    ({"sample_id": " "}, "'sample_id' must not be empty"),
    ({"sample_id": "s" * 121}, "'sample_id' is longer than 120"),
    ({"target": 150}, "'target' must be one of 100, 200"),
    ({"target": "100"}, "'target' must be one of 100, 200"),
    ({"state": "closed"}, "'state' must be one of open, paused, finished"),
    ({"patient": "p" * 201}, "'patient' is longer than 200"),
    ({"note": "n" * 2001}, "'note' is longer than 2000"),
    ({"updated_at": "yesterday"}, "'updated_at' is not an ISO-8601"),
    ({"started_at": None}, "'started_at' must be an ISO-8601"),
    ({"id": "S-001"}, "'id' is not a valid UUID"),
    ({"device_id": None}, "'device_id' is required"),
    ({"updated_at": "9999-12-31T23:59:59-01:00"}, "'updated_at' is out of range"),
    ({"sample_id": "\udc80"}, "'sample_id' is not valid Unicode text"),
    ({"patient": "a\x00b"}, "'patient' contains a NUL"),
    ({"target": 10**400}, "'target' must be one of 100, 200"),
    ({"target": 1000}, "'target' must be one of 100, 200 for a white-cell differential slide"),
    ({"kind": "malaria", "target": 100}, "'target' must be one of 500, 1000, 2000, 5000 for a"),
    ({"kind": "malaria", "target": "1000"}, "'target' must be one of 500, 1000, 2000, 5000"),
    ({"kind": "babesia"}, "'kind' must be one of wbc-differential, malaria"),
    ({"kind": None}, "'kind' must be one of wbc-differential, malaria"),
]


@pytest.mark.parametrize("changes,message", BAD_SLIDES)
def test_bad_slides_are_invalid_and_the_rest_is_stored(app, client, auth, changes, message):
    record, good = make_record(), slide()
    answer = push2(client, auth, slides=[slide(**changes), good], predictions=[record])
    assert of(answer, "slide_results") == ["invalid", "created"]
    assert message in answer["slide_results"][0]["error"]
    assert of(answer, "results") == ["created"]
    assert list(server_slides(client, auth)) == [good["id"]]


def test_an_item_that_breaks_the_checks_is_invalid_and_the_rest_is_stored(
    app, client, auth, monkeypatch
):
    """The backstop for corrections and slides too: an unforeseen failure in checking one item
    is that item's `invalid`; every other item of the request is stored."""
    import backend.sync.validation as validation

    real = validation._text

    def unforeseen(raw, key, *args, **kwargs):
        if raw.get(key) == "explodes":
            raise RuntimeError("a case the checks do not know")
        return real(raw, key, *args, **kwargs)

    monkeypatch.setattr(validation, "_text", unforeseen)
    record = make_record()
    answer = push2(
        client,
        auth,
        slides=[slide(note="explodes"), slide()],
        predictions=[record],
        corrections=[correction(record, "lymphocyte", previous_label="explodes"),
                     correction(record, "monocyte")],
    )  # fmt: skip
    assert of(answer, "slide_results") == ["invalid", "created"]
    assert of(answer, "correction_results") == ["invalid", "created"]
    assert of(answer, "results") == ["created"]
    for key in ("slide_results", "correction_results"):
        assert "could not check" in answer[key][0]["error"]
    assert count(app, Slide) == 1 and count(app, TechnicianCorrection) == 1


# --- pulls -----------------------------------------------------------------------------------


def _review(app, record_id: str, label: str, reviewer: str = "viewer") -> None:
    """A review saved the way the dashboard saves it."""
    with app.test_request_context():
        login_user(db.session.scalar(sa.select(User).where(User.username == reviewer)))
        prediction = db.session.scalar(sa.select(Prediction).where(Prediction.id == record_id))
        save_review(prediction, label, "looked again")
        db.session.commit()


def _pull_reviews(client, auth, username: str, since: int | None = None) -> dict:
    query = "" if since is None else f"?since={since}"
    response = client.get(f"/api/sync/reviews{query}", headers=auth.headers(username))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_reviews_pull_walks_a_cursor_over_the_users_own_records(app, client, auth):
    mine, theirs = make_record(), make_record()
    push(client, auth.headers("tech"), [mine])
    push(client, auth.headers("tech2"), [theirs])
    _review(app, mine["id"], "monocyte")
    _review(app, theirs["id"], "lymphocyte")
    first = _pull_reviews(client, auth, "tech")
    assert [r["prediction_id"] for r in first["reviews"]] == [mine["id"]]
    review = first["reviews"][0]
    assert (review["label"], review["previous_label"], review["by"]) == (
        "monocyte",
        "neutrophil",
        "viewer",
    )
    assert review["note"] == "looked again" and review["at"].endswith("Z")
    assert first["next_since"] == review["id"]
    nothing_new = _pull_reviews(client, auth, "tech", first["next_since"])
    assert nothing_new == {"reviews": [], "next_since": first["next_since"]}
    _review(app, mine["id"], "lymphocyte", reviewer="admin")
    later = _pull_reviews(client, auth, "tech", first["next_since"])
    assert [(r["label"], r["previous_label"], r["by"]) for r in later["reviews"]] == [
        ("lymphocyte", "monocyte", "admin")
    ]
    assert [r["prediction_id"] for r in _pull_reviews(client, auth, "tech2")["reviews"]] == [
        theirs["id"]
    ]
    with app.app_context():
        reads = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "history.read")
        ).all()
        assert [e.details["of"] for e in reads] == ["reviews"] * 4


def test_settings_tell_the_phone_what_it_may_do(app, client, auth):
    def settings(username):
        response = client.get("/api/sync/settings", headers=auth.headers(username))
        assert response.status_code == 200
        return response.get_json()

    tech = settings("tech")
    assert tech == {
        "contract": 2,
        "cell_images": True,
        "cell_image_max_bytes": app.config["CELL_IMAGE_MAX_BYTES"],
        "can_sync": True,
    }
    assert settings("viewer")["can_sync"] is False and settings("admin")["can_sync"] is True
    app.config["CELL_IMAGES_ENABLED"] = False
    assert settings("tech")["cell_images"] is False


# --- bad requests lose nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"contract": 3, "predictions": []}, 400, "invalid_field"),
        ({"contract": "2", "predictions": []}, 400, "invalid_field"),
        (
            {"contract": 2, "predictions": [make_record()], "corrections": {"id": 1}},
            400,
            "invalid_json",
        ),
        ({"contract": 2, "slides": "S-001"}, 400, "invalid_json"),
        ({"contract": 2, "predictions": "all"}, 400, "invalid_json"),
        ({"contract": 1, "slides": []}, 400, "invalid_json"),
        ({"contract": 2, "corrections": [{}] * 501}, 413, "too_many_records"),
        ({"contract": 2, "slides": [{}] * 501}, 413, "too_many_records"),
    ],
)
def test_bad_bodies_are_refused_whole_and_lose_nothing(app, client, auth, body, status, code):
    record, mine = make_record(), slide()
    push2(client, auth, predictions=[record], slides=[mine], corrections=[correction(record, None)])
    before = stored(client, auth, record["id"]), server_slides(client, auth)
    response = client.post("/api/sync/predictions", json=body, headers=auth.headers("tech"))
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert (count(app, Prediction), count(app, Slide), count(app, TechnicianCorrection)) == (
        1,
        1,
        1,
    )
    assert (stored(client, auth, record["id"]), server_slides(client, auth)) == before


def test_bad_cursor_is_a_clear_400(client, auth):
    response = client.get("/api/sync/reviews?since=-1", headers=auth.headers("tech"))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_query"
