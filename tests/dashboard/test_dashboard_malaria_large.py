"""A malaria slide of 2,000 red cells, synced through the sync API as a phone sends them (500 a
request), stays usable: its page shows the numbers of the one parasitaemia rule, then the cells a
doctor must verify (not recognised, parasitized) and the other cells folded away, every group
paged on the server (100 a page, the links keep the other arguments), never thousands of
images; the PDF report lists only the cells to verify with their crops, and the counts."""

import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa

from backend import db
from tests.conftest import DATASETS, cell_jpeg_b64, make_record
from tests.dashboard.conftest import days_ago, pdf_text, phone_slide, sign_in

pytestmark = pytest.mark.slow  # 2,000 records with images synced, on each database: ~12 s

WAITING, PARASITIZED, UNINFECTED = 20, 150, 1830  # 2,000 red cells


def _sync_large_slide(client, auth) -> dict:
    slide = phone_slide(kind="malaria", target=2000, sample_id="MAL-BIG / thin smear")
    image = cell_jpeg_b64(sorted((DATASETS / "malaria" / "test" / "uninfected").glob("*.png"))[0])
    spec = (
        [("uninfected", "unfamiliar", 0.55)] * WAITING
        + [("parasitized", "confident", 0.97)] * PARASITIZED
        + [("uninfected", "confident", 0.98)] * UNINFECTED
    )
    start = days_ago(1)
    records = []
    for i, (label, status, confidence) in enumerate(spec):
        other = "uninfected" if label == "parasitized" else "parasitized"
        records.append(
            make_record(
                model_name="malaria-screen",
                model_version="1.1.0",
                label=label,
                confidence=confidence,
                status=status,
                probabilities={label: confidence, other: round(1 - confidence, 2)},
                captured_at=(start + timedelta(seconds=i)).isoformat(),
                slide_id=slide["id"],
                device_id=slide["device_id"],
                note=None,
                image=image,
            )
        )
    for n in range(0, len(records), 500):  # SYNC_MAX_RECORDS a request
        body = {"contract": 2, "slides": [slide], "predictions": records[n : n + 500]}
        response = client.post("/api/sync/predictions", json=body, headers=auth.headers("tech"))
        assert response.status_code == 200, response.get_json()
        assert {r["status"] for r in response.get_json()["results"]} == {"created"}
    return slide


def _rule_on(app, slide_id: str) -> dict:
    from backend.dashboard.labels import as_cell
    from backend.models import Prediction
    from classifier.parasitaemia import parasitaemia

    with app.app_context():
        query = sa.select(Prediction).where(Prediction.slide_id == slide_id)
        return parasitaemia([as_cell(p) for p in db.session.scalars(query)], 2000)


def _grid(page: str, name: str) -> str:
    return page.split(f'class="cell-grid {name}"')[1].split("</ul>")[0]


def _links(page: str, rel: str) -> list[dict]:
    hrefs = re.findall(rf'<a href="([^"]+)" rel="{rel}">', page)
    return [parse_qs(urlsplit(unquote(h.replace("&amp;", "&"))).query) for h in hrefs]


def test_a_slide_of_2000_red_cells_shows_its_numbers_and_pages_its_cells(app, client, auth):
    slide = _sync_large_slide(client, auth)
    rule = _rule_on(app, slide["id"])
    assert (rule["red_cells"], rule["parasitized"], rule["unconfirmed"]) == (1980, 150, 20)
    sign_in(client, "viewer")
    started = time.perf_counter()
    response = client.get(f"/dashboard/slide?id={slide['id']}")
    page_s = time.perf_counter() - started
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>([^<]*)</dd>", page))
    assert facts["Red cells counted"] == "1980 / 2000"
    assert (facts["Parasitized"], facts["Uninfected"]) == ("150", "1830")
    assert facts["Parasitaemia"] == f"{rule['parasitaemia']:.2f} %"
    low, high = rule["ci95"]
    assert facts["95 % confidence interval (Wilson)"] == f"{low:.2f}–{high:.2f} %"
    assert facts["Not recognised, awaiting a person"] == "20"
    # The numbers first, then the cells to verify, then the rest folded away.
    assert page.index("Parasitaemia</dt>") < page.index("Not recognised — review (20)")
    assert page.index("Not recognised — review (20)") < page.index("Parasitized — verify (150)")
    assert page.index("Parasitized — verify (150)") < page.index('<details class="other-cells"')
    assert '<details class="other-cells" id="h-other">' in page  # closed
    # Bounded: 20 + 100 + 100 images of 2,000.
    assert page.count("<img") == 220
    assert _grid(page, "awaiting").count("<img") == 20
    assert _grid(page, "parasitized").count("<img") == 100
    assert _grid(page, "other").count("<img") == 100
    assert "Page 1 of 2 (1–100 of 150)" in page and "Page 1 of 19 (1–100 of 1830)" in page

    # The next page of one group keeps the others' pages and the slide.
    url = f"/dashboard/slide?id={slide['id']}&other_page=19"
    page = client.get(url).get_data(as_text=True)
    assert '<details class="other-cells" id="h-other" open>' in page
    assert _grid(page, "other").count("<img") == 30  # 1830 - 18 * 100
    (following,) = _links(page, "next")  # the parasitized group's; "other" is on its last page
    assert following == {"id": [slide["id"]], "other_page": ["19"], "parasitized_page": ["2"]}
    page = client.get(f"/dashboard/slide?id={slide['id']}&other_page=19&parasitized_page=2")
    page = page.get_data(as_text=True)
    assert _grid(page, "parasitized").count("<img") == 50
    assert _grid(page, "other").count("<img") == 30
    assert client.get(f"/dashboard/slide?id={slide['id']}&other_page=x").status_code == 400

    started = time.perf_counter()
    response = client.get(f"/dashboard/slide/report.pdf?id={slide['id']}")
    pdf_s = time.perf_counter() - started
    assert response.status_code == 200
    text = pdf_text(response.data)
    lines = text.splitlines()
    assert "Parasitaemia (1980 of 2000 red cells)" in text
    assert lines[lines.index("Parasitaemia") + 1] == f"{rule['parasitaemia']:.2f} %"
    assert lines[lines.index("95 % confidence interval (Wilson)") + 1] == f"{low:.2f}-{high:.2f} %"
    assert "Not recognised, awaiting a person (20)" in text
    assert "Parasitized, to verify (150)" in text
    assert "... and 110 more (see the dashboard)." in text  # 40 crops of the 150
    assert "Other cells, not shown here (on the dashboard): 1830." in lines
    pages = max(int(n) for n in re.findall(r"page \d+/(\d+)", text))
    assert pages <= 6, pages
    print(f"\n2,000 red cells: slide page {page_s:.2f} s, PDF {pdf_s:.2f} s ({pages} pages)")
