"""Slides: the differential count against adult ranges, its page and its PDF report."""

import re

import pytest

from tests.dashboard.conftest import pdf_text, post_form, seed_results, sign_in


@pytest.fixture
def seeded(client, auth):
    return seed_results(client, auth)


def test_the_slide_page_counts_reviewed_labels_and_lists_its_cells(client, seeded):
    sign_in(client, "viewer")
    b = seeded["b"]["id"]
    post_form(
        client, f"/dashboard/results/{b}", f"/dashboard/results/{b}/review", {"label": "monocyte"}
    )
    page = client.get("/dashboard/slide?id=S-1").get_data(as_text=True)
    counts = dict(re.findall(r'<th scope="row">([\w ]+)</th>\s*<td class="num">(\d+)</td>', page))
    # c is `unfamiliar` and nobody confirmed it: it waits, uncounted
    assert counts["Neutrophil"] == "1" and counts["Monocyte"] == "2" and counts["Lymphocyte"] == "0"
    assert "3 of 100 white cells counted, among 4 classified cells" in page
    assert re.search(r"Not recognised, awaiting a person</dt><dd>1</dd>", page)
    assert page.count('class="cell-tile') == 4
    assert page.count("/image.jpg") == 3  # d was synced without an image
    assert "Monocyte 66.7 % of white cells: above the adult range 2-10" in page
    assert "viewer" in page  # the reviewer
    slides = client.get("/dashboard/slides").get_data(as_text=True)
    assert "S-1" in slides and "S-2" in slides
    assert client.get("/dashboard/slide").status_code == 400
    assert client.get("/dashboard/slide?id=nope").status_code == 404


def test_the_pdf_report_holds_header_counts_flags_thumbnails_and_the_disclaimer(client, seeded):
    sign_in(client, "viewer")
    c = seeded["c"]["id"]
    post_form(
        client, f"/dashboard/results/{c}", f"/dashboard/results/{c}/review", {"label": "lymphocyte"}
    )
    response = client.get("/dashboard/slide/report.pdf?id=S-1")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert 'filename="hematovision-slide-S-1.pdf"' in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    for expected in ("S-1", "tech", "viewer", "cells 1.0.0", "Decision support, not a diagnosis"):
        assert expected in text
    lines = text.splitlines()
    neutrophil = lines.index("Neutrophil")
    assert lines[neutrophil + 1 : neutrophil + 3] == ["2", "50.0"]
    monocyte = lines.index("Monocyte")
    assert lines[monocyte + 1 : monocyte + 3] == ["1", "25.0"]
    assert "- Monocyte 25.0 % of white cells: above the adult range 2-10" in lines
    assert "Cells needing review (2; 1 not yet reviewed)" in text
    # b and c need review and both have images: two thumbnails embedded
    assert len(re.findall(rb"/Subtype\s*/Image", response.data)) == 2


def test_a_long_slide_with_any_characters_still_makes_a_report(client, auth):
    """45 unclear cells (more thumbnails than the report shows) on a slide whose id is not
    Latin-1: the report spans pages, names what it left out, and the id stays readable."""
    from tests.conftest import cell_record, pbc_images, sync

    image = pbc_images("monocyte", 1)[0]
    records = [
        cell_record("monocyte", image, status="review", confidence=0.5, slide_id="Lame-Ω-7é")
        for _ in range(45)
    ]
    assert set(sync(client, auth, "tech", records)) == {"created"}
    sign_in(client, "viewer")
    response = client.get("/dashboard/slide/report.pdf", query_string={"id": "Lame-Ω-7é"})
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert "Lame-?-7é" in text  # Ω is outside the PDF fonts, é is not
    assert "... and 5 more (see the dashboard)." in text
    assert len(re.findall(rb"/Type\s*/Page\b", response.data)) >= 2
    assert len(re.findall(rb"/Subtype\s*/Image", response.data)) >= 1
