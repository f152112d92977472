"""The results table: filters, pages, technicians' scope, the detail view, images and CSV."""

import csv
import html
import io
import json
import re

import pytest
import sqlalchemy as sa

from backend import db
from backend.dashboard.exports import safe_cell
from backend.models import AuditEntry
from tests.dashboard.conftest import days_ago, seed_results, sign_in
from tests.dashboard.csv_cases import FORMULA_CELLS, PLAIN_CELLS


@pytest.fixture
def seeded(client, auth):
    return seed_results(client, auth)


def _shown_ids(html: str) -> set[str]:
    return set(re.findall(r'href="/dashboard/results/([0-9a-f-]{36})"', html))


def _ids(records, keys: str) -> set[str]:
    return {records[k]["id"] for k in keys}


@pytest.mark.parametrize(
    "query,expected",
    [
        ("", "abcdef"),
        ("label=neutrophil", "abe"),
        ("status=review", "be"),
        ("model=cells+2.0.0", "ef"),
        ("model=cells", "abcdef"),
        ("technician=tech2", "ef"),
        ("device=phone-1", "abcd"),
        ("slide=S-2", "ef"),
        ("reviewed=no", "abcdef"),
        ("reviewed=yes", ""),
        ("from={d3}", "cdef"),
        ("from={d4}&to={d3}", "bcd"),
        ("label=lymphocyte&technician=tech", "c"),
    ],
)
def test_filters(client, seeded, query, expected):
    sign_in(client, "viewer")
    query = query.format(d3=days_ago(3).date(), d4=days_ago(4).date())
    response = client.get(f"/dashboard/results?{query}")
    assert response.status_code == 200
    assert _shown_ids(response.get_data(as_text=True)) == _ids(seeded, expected)


@pytest.mark.parametrize(
    "query,message",
    [
        ("from=yesterday", "'from' must be a date like"),
        ("to=2026-13-45", "'to' must be a date like"),
        ("from=2026-11-20&to=2026-11-10", "must not be after"),
        ("reviewed=maybe", "Reviewed must be"),
        ("to=9999-12-31", "'to' must be a date from 2000-01-01 to 2999-12-31"),  # once a 500
        ("from=0001-01-01", "'from' must be a date from 2000-01-01"),
    ],
)
def test_bad_filters_say_what_is_wrong_and_show_nothing(client, seeded, query, message):
    sign_in(client, "viewer")
    response = client.get(f"/dashboard/results?{query}")
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert message in page and _shown_ids(page) == set()
    assert client.get(f"/dashboard/results.csv?{query}").status_code == 400


def test_pages_of_results(client, seeded):
    sign_in(client, "viewer")
    seen = set()
    for number in (1, 2, 3):
        page = client.get(f"/dashboard/results?per_page=2&page={number}").get_data(as_text=True)
        ids = _shown_ids(page)
        assert len(ids) == 2 and not ids & seen
        seen |= ids
        assert f"Page {number} of 3" in page
    assert seen == _ids(seeded, "abcdef")
    assert client.get("/dashboard/results?page=zero").status_code == 400


def test_technicians_see_only_their_own_results(app, client, seeded):
    sign_in(client, "tech2")
    assert _shown_ids(client.get("/dashboard/results").get_data(as_text=True)) == _ids(seeded, "ef")
    other = seeded["a"]["id"]
    assert client.get(f"/dashboard/results/{other}").status_code == 404
    assert client.get(f"/dashboard/results/{other}/image.jpg").status_code == 404
    assert client.get("/dashboard/slide?id=S-1").status_code == 404
    rows = list(csv.DictReader(io.StringIO(client.get("/dashboard/results.csv").text)))
    assert {r["id"] for r in rows} == _ids(seeded, "ef")
    with app.app_context():
        denied = db.session.scalars(
            sa.select(AuditEntry.target).where(AuditEntry.action == "authz.denied")
        ).all()
    assert denied == [
        f"GET /dashboard/results/{other}",
        f"GET /dashboard/results/{other}/image.jpg",
        "GET /dashboard/slide",
    ]


def test_the_detail_view_shows_image_probabilities_and_record(client, seeded):
    sign_in(client, "viewer")
    record = seeded["b"]
    page = client.get(f"/dashboard/results/{record['id']}").get_data(as_text=True)
    assert f"/dashboard/results/{record['id']}/image.jpg" in page
    assert "60.0%" in page and "Probabilities" in page
    assert "phone-1" in page and "S-1" in page and "Not reviewed yet." in page
    image = client.get(f"/dashboard/results/{record['id']}/image.jpg")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.data[:3] == b"\xff\xd8\xff"
    no_image = seeded["d"]["id"]
    assert "No image was synced" in client.get(f"/dashboard/results/{no_image}").text
    assert client.get(f"/dashboard/results/{no_image}/image.jpg").status_code == 404
    assert client.get("/dashboard/results/not-a-record").status_code == 404


def test_csv_export_holds_the_filtered_rows_and_defuses_formulas(client, seeded):
    sign_in(client, "viewer")
    response = client.get("/dashboard/results.csv?device=phone-1")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["id"] for r in rows} == _ids(seeded, "abcd")
    by_id = {r["id"]: r for r in rows}
    b = by_id[seeded["b"]["id"]]
    assert (b["label"], b["status"], b["confidence"], b["technician"], b["slide_id"]) == (
        "neutrophil",
        "review",
        "0.6000",
        "tech",
        "S-1",
    )
    assert by_id[seeded["d"]["id"]]["note"].startswith("'=HYPERLINK")


@pytest.mark.parametrize("text", FORMULA_CELLS)
def test_csv_cells_a_spreadsheet_would_run_get_a_leading_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", PLAIN_CELLS + [None])
def test_csv_cells_without_a_formula_are_left_as_they_are(text):
    assert safe_cell(text) == ("" if text is None else text)


def test_the_overview_counts_match_the_records(client, seeded):
    sign_in(client, "viewer")
    response = client.get(f"/dashboard/?from={days_ago(10).date()}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "6 results match" in page
    assert re.search(r"<th scope=\"row\">Neutrophil</th><td class=\"num\">3</td>", page)
    assert re.search(r"<th scope=\"row\">phone-2</th><td class=\"num\">2</td>", page)
    assert re.search(r"<th scope=\"row\">tech2</th><td class=\"num\">2</td>", page)
    assert re.search(r"<th scope=\"row\">cells 2.0.0</th><td class=\"num\">2</td>", page)
    assert re.search(r"<th scope=\"row\">review</th><td class=\"num\">2</td>", page)
    assert 'id="overview-data"' in page and "chart.umd.min.js" in page
    sign_in_tech = client.get(f"/dashboard/?from={days_ago(10).date()}&technician=tech")
    assert "4 results match" in sign_in_tech.get_data(as_text=True)


def test_chart_library_is_served_by_the_app(client):
    sign_in(client, "viewer")
    response = client.get("/dashboard/vendor/chart.umd.min.js")
    assert response.status_code == 200 and b"Chart" in response.data[:5000]
    assert client.get("/dashboard/vendor/other.js").status_code == 404


def test_the_per_day_series_has_every_day_of_the_range(client, seeded):
    sign_in(client, "viewer")
    start, end = days_ago(6).date(), days_ago(1).date()
    page = client.get(f"/dashboard/?from={start}&to={end}").get_data(as_text=True)
    data = json.loads(re.search(r'id="overview-data">(.*?)</script>', page, re.S).group(1))
    per_day = next(c for c in data if c["id"] == "per-day")
    assert per_day["labels"] == [str(days_ago(n).date()) for n in range(6, 0, -1)]
    assert per_day["values"] == [0, 1, 1, 2, 2, 0]


def test_a_crash_shows_an_error_page_without_a_trace(client, seeded, monkeypatch):
    import backend.dashboard.slides as slides

    def broken(_labels):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(slides, "differential", broken)
    sign_in(client, "viewer")
    response = client.get("/dashboard/slide?id=S-1")
    assert response.status_code == 500 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "secret internal detail" not in page
    assert "Traceback" not in page
    assert client.get("/dashboard/logout").status_code == 405  # a page too, not JSON


def test_times_are_utc_time_elements_that_a_same_origin_script_localises(client, seeded):
    sign_in(client, "viewer")
    page = client.get("/dashboard/results").get_data(as_text=True)
    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', page)
    assert len(times) == 6
    for stamp, text in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
        assert text == f"{stamp[:10]} {stamp[11:16]} UTC"
    assert '<script src="/dashboard/static/local-time.js" defer></script>' in page
    script = client.get("/dashboard/static/local-time.js")
    assert script.status_code == 200 and "time[datetime]" in script.text


def test_devices_are_shown_by_a_readable_name(client, seeded):
    from backend.dashboard.labels import device_name

    phone = "3f2a9c1d-0b4e-4c2a-9d1e-5f6a7b8c9d0e"
    assert device_name(phone, "tina") == "phone 3f2a9c1d (tina)"
    assert device_name("bench-scope-2") == "bench-scope-2"  # not a uuid: shown as it is
    sign_in(client, "viewer")
    page = client.get("/dashboard/results").text
    assert (
        page.count("<td>phone-1 (tech)</td>") == 4 and page.count("<td>phone-2 (tech2)</td>") == 2
    )
