"""Slides: the differential count against adult ranges, its page and its PDF report."""

import csv
import io
import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry
from backend.models.types import iso
from tests.conftest import DATASETS, cell_jpeg_b64, cell_record, make_record, sync
from tests.dashboard.conftest import (
    days_ago,
    pdf_text,
    phone_correction,
    phone_slide,
    post_form,
    seed_results,
    sign_in,
    slide_cells,
    sync_slide,
)


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
    assert "Lame-Ω-7é" in text
    assert "... and 5 more (see the dashboard)." in text
    assert len(re.findall(rb"/Type\s*/Page\b", response.data)) >= 2
    assert len(re.findall(rb"/Subtype\s*/Image", response.data)) >= 1


@pytest.mark.parametrize(
    "slide_id,label,who",
    [
        ("Πλακίδιο-7", "λεμφοκύτταρο", "Greek"),
        ("Мазок-12", "нейтрофил", "Cyrillic"),
        ("標本-3", "好中球", "CJK"),
    ],
)
def test_labels_and_slide_ids_in_any_script_render_in_the_pdf_and_its_name(
    client, auth, slide_id, label, who
):
    """A label or id outside Latin-1 was a 500 (then a '?'); now the report embeds a Unicode
    font (DejaVu Sans; CJK from the system fallback font) and names the file in UTF-8."""
    from tests.conftest import cell_record, pbc_images, sync

    image = pbc_images("monocyte", 1)[0]
    records = [
        cell_record(label, image, status="review", confidence=0.5, slide_id=slide_id),
        cell_record("neutrophil", slide_id=slide_id, note=f"{who}: {label}"),
    ]
    assert sync(client, auth, "tech", records) == ["created", "created"]
    sign_in(client, "viewer")
    response = client.get("/dashboard/slide/report.pdf", query_string={"id": slide_id})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert slide_id in text and label in text
    assert f"{label} (review)" in text  # the thumbnail's caption
    assert b"DejaVuSans" in response.data
    if who == "CJK":
        assert b"DroidSansFallback" in response.data  # drawn, not left blank
    disposition = response.headers["Content-Disposition"]
    fallback = "hematovision-slide-" + re.sub(r"[^A-Za-z0-9-]", "_", slide_id) + ".pdf"
    assert disposition.startswith(f'attachment; filename="{fallback}"; ')
    encoded = quote(f"hematovision-slide-{slide_id}.pdf", safe="")
    assert disposition.endswith(f"; filename*=UTF-8''{encoded}")


def test_without_a_cjk_font_installed_the_report_still_renders(client, auth, monkeypatch):
    from backend.dashboard import report_pdf

    monkeypatch.setattr(report_pdf, "CJK_FALLBACKS", ())
    assert sync(client, auth, "tech", [cell_record("好中球", slide_id="標本-9")]) == ["created"]
    sign_in(client, "viewer")
    response = client.get("/dashboard/slide/report.pdf", query_string={"id": "標本-9"})
    assert response.status_code == 200 and b"DroidSansFallback" not in response.data
    assert "Cells classified" in pdf_text(response.data)


def test_a_sample_id_in_any_script_names_the_file_and_heads_the_report(client, auth):
    slide = phone_slide(sample_id="患者-42 / Мазок «A»", patient="Ελένη Π.")
    sync_slide(client, auth, slide, [cell_record("neutrophil", slide_id=slide["id"])])
    sign_in(client, "viewer")
    response = client.get("/dashboard/slide/report.pdf", query_string={"id": slide["id"]})
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert "患者-42 / Мазок «A»" in text and "Ελένη Π." in text
    disposition = response.headers["Content-Disposition"]
    assert 'filename="hematovision-slide-__-42__________A_.pdf"' in disposition
    name = quote("hematovision-slide-患者-42 _ Мазок «A».pdf", safe="")  # "/" is never sent
    assert f"filename*=UTF-8''{name}" in disposition


def _counts(page: str) -> dict[str, str]:
    return dict(re.findall(r'<th scope="row">([\w ]+)</th>\s*<td class="num">(\d+)</td>', page))


def test_the_slide_shows_its_sample_id_the_phones_correction_and_images(client, auth, seeded):
    """A phone syncs a slide, its cells with their images and a correction (a, a neutrophil,
    corrected to lymphocyte), all in one request."""
    slide = phone_slide(patient="Jane Roe", specimen="EDTA blood", target=200)
    cells = slide_cells(slide["id"])
    fix = phone_correction(cells["a"], "lymphocyte", previous="neutrophil")
    sync_slide(client, auth, slide, list(cells.values()), [fix])
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/slide?id={slide['id']}").get_data(as_text=True)
    assert "<h1>PATIENT-0042 / smear A</h1>" in page
    assert "Jane Roe" in page and "EDTA blood" in page
    assert "corrected: Neutrophil → Lymphocyte by tech" in page
    counts = _counts(page)
    assert (counts["Neutrophil"], counts["Lymphocyte"], counts["Monocyte"]) == ("1", "1", "1")
    assert "3 of 200 white cells counted" in page  # the slide's target
    assert page.count("/image.jpg") == 3
    assert "phone 3f2a9c1d (tech)" in page
    # Lists name the sample; a slide of an older app says why it has none.
    slides = client.get("/dashboard/slides").get_data(as_text=True)
    assert "PATIENT-0042 / smear A" in slides and "Jane Roe · EDTA blood" in slides
    assert "Slide S-2 (no sample id: synced by an older app)" in slides
    results = client.get("/dashboard/results").get_data(as_text=True)
    assert results.count(">PATIENT-0042 / smear A</a>") == 4
    assert "phone: Neutrophil → Lymphocyte by tech" in results
    assert results.count('class="thumb"') == 3 + 3  # this slide's images and S-1's
    by_sample = client.get("/dashboard/results", query_string={"slide": "PATIENT-0042 / smear A"})
    assert by_sample.get_data(as_text=True).count(">PATIENT-0042 / smear A</a>") == 4
    export = client.get(f"/dashboard/results.csv?slide={slide['id']}").text
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(export))}
    assert {r["sample_id"] for r in rows.values()} == {"PATIENT-0042 / smear A"}
    a = rows[cells["a"]["id"]]
    assert (a["label"], a["corrected_label"], a["corrected_by"]) == (
        "neutrophil",
        "lymphocyte",
        "tech",
    )
    detail = client.get(f"/dashboard/results/{cells['a']['id']}").get_data(as_text=True)
    assert '<h1 id="h-result">Result: Lymphocyte</h1>' in detail
    assert "Corrected on the phone by tech" in detail and "(model said Neutrophil)" in detail

    response = client.get(f"/dashboard/slide/report.pdf?id={slide['id']}")
    disposition = response.headers["Content-Disposition"]
    assert 'filename="hematovision-slide-PATIENT-0042___smear_A.pdf"' in disposition
    text = pdf_text(response.data)
    assert "PATIENT-0042 / smear A" in text and "Jane Roe" in text and "EDTA blood" in text
    assert "Differential count (3 of 200 white cells)" in text
    assert "- Neutrophil -> Lymphocyte by tech, " in text
    # a (corrected), b (review) and c (unfamiliar), each with the phone's image
    assert "Cells needing review (3; 3 not yet reviewed)" in text
    assert "tech: lymphocyte" in text
    assert len(re.findall(rb"/Subtype\s*/Image", response.data)) == 3


def _finished_slide(client, auth) -> str:
    """Finished 4 days ago at noon: a (5 days ago) and b (4 days, 10:00) before, c and d
    (3 days ago) after."""
    slide = phone_slide(state="finished", finished_at=days_ago(4, hour=12).isoformat())
    slide["updated_at"] = slide["finished_at"]
    sync_slide(client, auth, slide, list(slide_cells(slide["id"]).values()))
    return slide["id"]


def test_cells_captured_after_the_slide_was_finished_are_listed_not_counted(client, auth):
    slide_id = _finished_slide(client, auth)
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/slide?id={slide_id}").get_data(as_text=True)
    assert "finished by tech, <time" in page
    assert "2 cells added after the slide was finished are listed below but not counted" in page
    assert page.count("added after the slide was finished: not counted") == 2
    assert page.count('class="cell-tile') == 4
    assert _counts(page)["Neutrophil"] == "2" and _counts(page)["Monocyte"] == "0"
    assert "2 of 100 white cells counted, among 2 classified cells" in page
    text = pdf_text(client.get(f"/dashboard/slide/report.pdf?id={slide_id}").data)
    assert "2 cells added after the slide was finished are not counted" in text
    assert "Differential count (2 of 100 white cells)" in text


def _reopen(client, slide_id: str, data: dict):
    url = f"/dashboard/slide/reopen?id={slide_id}"
    return post_form(client, f"/dashboard/slide?id={slide_id}", url, data)


def _phone_view(client, auth, slide_id: str) -> dict:
    slides = client.get("/api/sync/slides", headers=auth.headers("tech")).get_json()["slides"]
    return next(s for s in slides if s["id"] == slide_id)


def test_a_reviewer_reopens_a_finished_slide_after_confirming(app, client, auth):
    slide_id = _finished_slide(client, auth)
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/slide?id={slide_id}").get_data(as_text=True)
    assert "Re-open slide" in page and 'name="confirm"' in page
    # Not confirmed: nothing changes.
    response = _reopen(client, slide_id, {})
    assert response.status_code == 400 and "Tick the box to confirm" in response.text
    assert _phone_view(client, auth, slide_id)["state"] == "finished"
    assert _reopen(client, slide_id, {"confirm": "y"}).status_code == 302
    # The phone's pull sees the server's newer state.
    pulled = _phone_view(client, auth, slide_id)
    assert (pulled["state"], pulled["reopened_by"]) == ("open", "viewer")
    assert pulled["updated_at"] == pulled["reopened_at"] > iso(days_ago(1))
    page = client.get(f"/dashboard/slide?id={slide_id}").get_data(as_text=True)
    assert "open (re-opened by viewer, <time" in page and "Re-open slide" not in page
    # Open again: every cell counts.
    assert "added after the slide was finished" not in page
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "slide.reopen"))
        assert (entry.username, entry.target) == ("viewer", slide_id)


def test_a_technician_may_not_reopen_a_slide(app, client, auth):
    slide_id = _finished_slide(client, auth)
    sign_in(client, "tech")
    page = client.get(f"/dashboard/slide?id={slide_id}").get_data(as_text=True)
    assert "Re-open slide" not in page
    response = _reopen(client, slide_id, {"confirm": "y"})
    assert response.status_code == 403
    assert _phone_view(client, auth, slide_id)["state"] == "finished"
    with app.app_context():
        denied = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "authz.denied")
        ).all()
        targets = [(e.username, e.target) for e in denied]
        assert targets == [("tech", "POST /dashboard/slide/reopen")]


# --- a malaria slide: red cells and parasitaemia by classifier.parasitaemia -------------------


def _malaria_cells(slide_id: str) -> dict[str, dict]:
    """Red cells of one thin-smear slide as the malaria screen saves them: 3 parasitized,
    5 uninfected (one the technician corrects to parasitized), one the model did not recognise,
    one the technician marks an artefact, one a reviewer cannot tell, and a white cell the
    white-cell model classified on the same slide."""
    image = cell_jpeg_b64(sorted((DATASETS / "malaria" / "test" / "parasitized").glob("*.png"))[0])
    spec = {f"p{i}": ("parasitized", "confident") for i in range(3)}
    spec |= {f"u{i}": ("uninfected", "confident") for i in range(5)}
    spec |= {"waits": ("uninfected", "unfamiliar"), "junk": ("uninfected", "review")}
    spec |= {"unsure": ("uninfected", "review"), "white": ("lymphocyte", "confident")}
    cells = {}
    for key, (label, status) in spec.items():
        confidence = 0.55 if status == "unfamiliar" else 0.9
        other = {"parasitized": "uninfected", "lymphocyte": "neutrophil"}.get(label, "parasitized")
        cells[key] = make_record(
            model_name="wbc-differential" if label == "lymphocyte" else "malaria-screen",
            label=label,
            confidence=confidence,
            status=status,
            probabilities={label: confidence, other: round(1 - confidence, 2)},
            captured_at=days_ago(1).isoformat(),
            slide_id=slide_id,
        )
        if key in ("p0", "waits"):
            cells[key]["image"] = image
    return cells


def _malaria_slide(client, auth) -> tuple[dict, dict[str, dict]]:
    slide = phone_slide(kind="malaria", target=500, sample_id="MAL-7 / thin smear")
    cells = _malaria_cells(slide["id"])
    fixes = [
        phone_correction(cells["u0"], "parasitized", previous="uninfected"),
        phone_correction(cells["junk"], "artefact", previous="uninfected"),
    ]
    sync_slide(client, auth, slide, list(cells.values()), fixes)
    sign_in(client, "viewer")
    unsure = cells["unsure"]["id"]
    review = f"/dashboard/results/{unsure}/review"
    post_form(client, f"/dashboard/results/{unsure}", review, {"label": "other"})
    return slide, cells


def _rule_on(app, slide_id: str) -> dict:
    """The parasitaemia rule on the slide's stored cells, as the dashboard reads them."""
    from backend.dashboard.labels import as_cell
    from backend.models import Prediction
    from classifier.parasitaemia import parasitaemia

    with app.app_context():
        stored = db.session.scalars(sa.select(Prediction).where(Prediction.slide_id == slide_id))
        return parasitaemia([as_cell(p) for p in stored], 500)


def test_a_malaria_slide_shows_parasitaemia_its_interval_and_the_cells_awaiting_a_person(
    app, client, auth
):
    slide, cells = _malaria_slide(client, auth)
    rule = _rule_on(app, slide["id"])
    assert (rule["red_cells"], rule["parasitized"], rule["parasitaemia"]) == (8, 4, 50.0)
    assert rule["ci95"] == [21.52, 78.48]  # worked by hand in tests/core/test_parasitaemia.py
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/slide?id={slide['id']}").get_data(as_text=True)
    assert "8 of 500 red cells counted, among 12 classified cells" in page
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>([^<]*)</dd>", page))
    assert facts["Red cells counted"] == "8 / 500"
    assert (facts["Parasitized"], facts["Uninfected"]) == ("4", "4")
    assert facts["Parasitaemia"] == "50.00 %"
    assert facts["95 % confidence interval (Wilson)"] == "21.52–78.48 %"
    assert facts["Not a cell / artefact"] == "1" and facts["Other / cannot tell"] == "1"
    assert facts["Lymphocyte (not a red-cell class)"] == "1"
    assert facts["Not recognised, awaiting a person"] == "1"
    assert "Only 8 of 500 red cells counted: the interval is wide." in page
    assert "Not recognised — review (1)" in page
    awaiting = page.split('class="cell-grid awaiting"')[1].split("</ul>")[0]
    assert f"/dashboard/results/{cells['waits']['id']}" in awaiting
    assert awaiting.count("/image.jpg") == 1
    assert "Differential count" not in page and "white cells counted" not in page
    slides = client.get("/dashboard/slides").get_data(as_text=True)
    assert 'MAL-7 / thin smear</a> <span class="slide-kind">(malaria)</span>' in slides

    export = client.get(f"/dashboard/slide/parasitaemia.csv?id={slide['id']}")
    row = next(csv.DictReader(io.StringIO(export.text)))
    assert (row["red_cells"], row["parasitized"], row["uninfected"]) == ("8", "4", "4")
    assert (row["parasitaemia_percent"], row["ci95_low_percent"]) == ("50.00", "21.52")
    assert (row["ci95_high_percent"], row["not_recognised"]) == ("78.48", "1")
    assert row["sample_id"] == "MAL-7 / thin smear" and row["other_classes"] == "lymphocyte: 1"

    response = client.get(f"/dashboard/slide/report.pdf?id={slide['id']}")
    text = pdf_text(response.data)
    lines = text.splitlines()
    assert "Hematovision - parasitaemia report" in text
    assert "Parasitaemia (8 of 500 red cells)" in text
    assert lines[lines.index("Parasitaemia") + 1] == "50.00 %"
    assert lines[lines.index("95 % confidence interval (Wilson)") + 1] == "21.52-78.48 %"
    assert "- Only 8 of 500 red cells counted: the interval is wide." in lines
    assert "Differential count" not in text


def test_a_reviewed_unrecognised_red_cell_joins_the_count(app, client, auth):
    slide, cells = _malaria_slide(client, auth)
    sign_in(client, "viewer")
    waits = cells["waits"]["id"]
    post_form(
        client,
        f"/dashboard/results/{waits}",
        f"/dashboard/results/{waits}/review",
        {"label": "parasitized"},
    )
    rule = _rule_on(app, slide["id"])
    assert (rule["red_cells"], rule["parasitized"], rule["unconfirmed"]) == (9, 5, 0)
    page = client.get(f"/dashboard/slide?id={slide['id']}").get_data(as_text=True)
    assert "9 of 500 red cells counted" in page and "Not recognised — review" not in page
    assert f'<dd class="parasitaemia-value">{rule["parasitaemia"]:.2f} %</dd>' in page


def test_a_white_cell_slide_has_no_parasitaemia_csv(client, auth):
    slide = phone_slide()
    sync_slide(client, auth, slide, [cell_record("neutrophil", slide_id=slide["id"])])
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/slide?id={slide['id']}").get_data(as_text=True)
    assert "1 of 100 white cells counted" in page and "Parasitaemia" not in page
    assert client.get(f"/dashboard/slide/parasitaemia.csv?id={slide['id']}").status_code == 404


def test_red_cells_added_after_a_malaria_slide_was_finished_are_listed_not_counted(
    app, client, auth
):
    slide = phone_slide(kind="malaria", target=1000, state="finished")
    slide["finished_at"] = slide["updated_at"] = days_ago(2).isoformat()
    cells = _malaria_cells(slide["id"])
    late = {key: dict(cells[key], captured_at=days_ago(1).isoformat()) for key in ("p0", "u0")}
    for record in [cells["p1"], cells["u1"]]:
        record["captured_at"] = days_ago(3).isoformat()
    sync_slide(client, auth, slide, [cells["p1"], cells["u1"], *late.values()])
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/slide?id={slide['id']}").get_data(as_text=True)
    assert "2 of 1000 red cells counted, among 2 classified cells" in page
    assert "2 cells added after the slide was finished are listed below but not counted" in page
    assert page.count("added after the slide was finished: not counted") == 2
    text = pdf_text(client.get(f"/dashboard/slide/report.pdf?id={slide['id']}").data)
    assert "Parasitaemia (2 of 1000 red cells)" in text
    assert "2 cells added after the slide was finished are not counted" in text
