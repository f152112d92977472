"""Reading the history: filters, pagination, the `since` cursor, and the audit of each read."""

import pytest

from tests.conftest import make_record, push


@pytest.fixture
def history(client, auth):
    records = [
        make_record(
            label="neutrophil",
            status="confident",
            device_id="phone-a",
            slide_id="S1",
            captured_at="2026-01-01T08:00:00Z",
        ),
        make_record(
            label="monocyte",
            status="review",
            device_id="phone-a",
            slide_id="S2",
            captured_at="2026-01-02T08:00:00Z",
        ),
        make_record(
            label="neutrophil",
            status="unfamiliar",
            device_id="phone-b",
            slide_id=None,
            model_name="other",
            captured_at="2026-01-03T08:00:00+02:00",
        ),
    ]
    push(client, auth.headers("tech"), records)
    push(client, auth.headers("tech2"), [make_record(label="basophil", device_id="phone-z")])
    return records


def _ids(client, auth, query: str, user: str = "admin") -> list[str]:
    response = client.get(f"/api/predictions?{query}", headers=auth.headers(user))
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()["predictions"]]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("label=neutrophil", [2, 0]),
        ("status=review", [1]),
        ("model=other", [2]),
        ("device=phone-a", [1, 0]),
        ("slide=S1", [0]),
        ("user=tech", [2, 1, 0]),
        ("from=2026-01-02T00:00:00Z&to=2026-01-03T00:00:00Z", [1]),
        ("from=2026-01-03&to=2026-01-04", [2]),
        ("label=neutrophil&device=phone-b", [2]),
        ("label=eosinophil", []),
    ],
)
def test_filters(client, auth, history, query, expected):
    ids = _ids(client, auth, query)
    assert len(ids) == len(expected)  # within one batch the order is by id, not by position
    assert set(ids) == {history[i]["id"] for i in expected}


def test_the_widest_dates_a_datetime_holds_are_no_error(client, auth, history):
    assert len(_ids(client, auth, "from=0001-01-01T00:00:00Z&to=9999-12-31")) == 4


def test_pagination_newest_first_with_total(client, auth, history):
    response = client.get("/api/predictions?per_page=2&page=1", headers=auth.headers("viewer"))
    body = response.get_json()
    assert body["total"] == 4 and len(body["predictions"]) == 2
    second = client.get("/api/predictions?per_page=2&page=2", headers=auth.headers("viewer"))
    seqs = [p["seq"] for p in body["predictions"] + second.get_json()["predictions"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 4


def test_since_cursor_walks_forward_without_gaps_or_repeats(client, auth, history):
    headers = auth.headers("admin")
    seen, cursor = [], 0
    while True:
        body = client.get(f"/api/predictions?since={cursor}&per_page=1", headers=headers).get_json()
        if not body["predictions"]:
            break
        seen += [p["id"] for p in body["predictions"]]
        cursor = body["next_since"]
    assert len(seen) == len(set(seen)) == 4
    later = make_record()
    push(client, auth.headers("tech"), [later])
    body = client.get(f"/api/predictions?since={cursor}", headers=headers).get_json()
    assert [p["id"] for p in body["predictions"]] == [later["id"]]


@pytest.mark.parametrize("since", [2**31 - 1, 2**31, 2**62])
def test_a_cursor_past_every_id_finds_nothing_and_is_no_error(client, auth, history, since):
    """Found with the API description's bounds: on PostgreSQL a `since` beyond the integer
    column's range was a 500 ("integer out of range") on both cursors."""
    headers = auth.headers("tech")
    body = client.get(f"/api/predictions?since={since}", headers=headers).get_json()
    assert body["predictions"] == [] and body["next_since"] == since
    reviews = client.get(f"/api/sync/reviews?since={since}", headers=headers)
    assert reviews.status_code == 200
    assert reviews.get_json() == {"reviews": [], "next_since": since}


def test_a_technician_filter_cannot_widen_their_view(client, auth, history):
    assert _ids(client, auth, "user=tech2", user="tech") == []
    assert len(_ids(client, auth, "", user="tech2")) == 1


def test_unknown_record_is_404(client, auth):
    response = client.get(f"/api/predictions/{make_record()['id']}", headers=auth.headers("admin"))
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
