"""A record's status reason (why the phone's rule did not call it confident: below_threshold,
view_check, unfamiliar, no_cell): synced with the record, checked (a bad one makes only its
record invalid, with the reason said), stored, and said on the dashboard where the status is;
a record without one (an older phone, a confident call) shows what it showed before."""

import pytest

from tests.conftest import cell_record, make_record, push, statuses
from tests.dashboard.conftest import pdf_text, sign_in

TURNED = "the call did not hold when the image was turned a quarter turn"
BELOW = "confidence 62.0% is below what this model needs to be sure"
UNSURE = "The model is not sure (62.0%)"  # what a record without a reason says


def test_a_reason_travels_with_its_record_and_a_record_without_one_is_as_before(client, auth):
    headers = auth.headers("tech")
    turned = make_record(status="review", status_reason="view_check")
    old_phone = make_record(status="review")
    confident = make_record(status="confident", status_reason=None)
    got = statuses(push(client, headers, [turned, old_phone, confident]))
    assert got == ["created"] * 3
    for record, reason in ((turned, "view_check"), (old_phone, None), (confident, None)):
        stored = client.get(f"/api/predictions/{record['id']}", headers=headers).get_json()
        assert stored["prediction"]["status_reason"] == reason
    # A re-send is a duplicate (null and absent are one record); another reason is a conflict.
    again = [turned, {**old_phone, "status_reason": None}, confident]
    assert statuses(push(client, headers, again)) == ["duplicate"] * 3
    other = {**turned, "status_reason": "below_threshold"}
    assert statuses(push(client, headers, [other])) == ["conflict"]
    stored = client.get(f"/api/predictions/{turned['id']}", headers=headers).get_json()
    assert stored["prediction"]["status_reason"] == "view_check"


BAD_REASONS = [
    ("turned", "review", "'status_reason' must be one of below_threshold, view_check, "),
    ("View_Check", "review", "'status_reason' must be one of"),
    (1, "review", "'status_reason' must be one of"),
    (["view_check"], "review", "'status_reason' must be one of"),
    ("view_check", "confident", "view_check explains the status 'review', not 'confident'"),
    ("below_threshold", "unfamiliar", "explains the status 'review', not 'unfamiliar'"),
    ("unfamiliar", "review", "unfamiliar explains the status 'unfamiliar', not 'review'"),
    ("no_cell", "ok", "no_cell explains the status 'unfamiliar', not 'ok'"),
]


def test_a_bad_reason_makes_only_its_record_invalid_and_says_why(client, auth):
    headers = auth.headers("tech")
    good = [make_record(status="review", status_reason="below_threshold"), make_record()]
    bad = [make_record(status=status, status_reason=reason) for reason, status, _ in BAD_REASONS]
    response = push(client, headers, [good[0], *bad, good[1]])
    results = response.get_json()["results"]
    assert statuses(response) == ["created"] + ["invalid"] * len(bad) + ["created"]
    for result, (_, _, message) in zip(results[1:-1], BAD_REASONS, strict=True):
        assert message in result["error"], result
    for record in good:
        assert client.get(f"/api/predictions/{record['id']}", headers=headers).status_code == 200
    for record in bad:
        assert client.get(f"/api/predictions/{record['id']}", headers=headers).status_code == 404


@pytest.fixture
def reasoned_records(client, auth):
    """On one slide: a view-check review, a below-threshold review, an older phone's review
    (no reason), an unfamiliar record of a framing with no cell, and a confident one."""
    review = {"status": "review"}
    records = [
        cell_record("neutrophil", **review, status_reason="view_check", confidence=0.993),
        cell_record("neutrophil", **review, status_reason="below_threshold", confidence=0.62),
        cell_record("neutrophil", **review, confidence=0.62),
        cell_record("neutrophil", status="unfamiliar", status_reason="no_cell"),
        cell_record("neutrophil", status_reason=None),
    ]
    assert statuses(push(client, auth.headers("tech"), records)) == ["created"] * 5
    sign_in(client, "viewer")
    return [r["id"] for r in records]


def test_the_result_page_says_why_a_call_is_not_confident(client, reasoned_records):
    turned, below, old_phone, no_cell, confident = (
        client.get(f"/dashboard/results/{i}").get_data(as_text=True) for i in reasoned_records
    )
    assert f"Review: {TURNED}. A specialist should confirm" in turned
    assert "The model is not sure" not in turned  # 99.3% on the image itself: not unsure
    assert f"Review: {BELOW}. A specialist should confirm" in below
    assert UNSURE in old_phone and "status-reason" not in old_phone
    assert "Unfamiliar: no cell was found to centre on" in no_cell
    assert "status-reason" not in confident


def test_the_lists_say_why_beside_the_status(client, reasoned_records):
    results = client.get("/dashboard/results").get_data(as_text=True)
    queue = client.get("/dashboard/review").get_data(as_text=True)
    for page in (results, queue):
        assert TURNED in page and BELOW in page
        assert page.count('class="status-reason"') == 3  # not for the older phone's record
    slide = client.get("/dashboard/slide?id=S-001").get_data(as_text=True)
    assert TURNED in slide and BELOW in slide


def test_the_reason_is_said_in_the_readers_language(client, reasoned_records):
    url = f"/dashboard/results/{reasoned_records[0]}"
    page = client.get(url, headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "quart de tour" in page and TURNED not in page


def test_the_pdf_says_why_under_each_thumbnail(client, reasoned_records):
    response = client.get("/dashboard/slide/report.pdf", query_string={"id": "S-001"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    lines = pdf_text(response.data).splitlines()
    for short in ("did not hold when turned", "below its threshold", "no cell found"):
        assert lines.count(short) == 1, short
