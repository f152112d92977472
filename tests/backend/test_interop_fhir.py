"""The FHIR export of a slide: GET /api/slides/<id>/fhir and the dashboard's download of the same
Bundle. Every slide of the test data (a reviewed white-cell slide with a correction, a malaria
slide, a slide synced without cells, an older app's slide without a sample id) must validate with
fhir.resources and carry the rule's numbers."""

import json
import re

import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle

from backend import db
from backend.dashboard.labels import as_cell
from backend.interop.fhir import resource_url
from backend.models import AuditEntry, Prediction
from classifier.differential import differential
from classifier.parasitaemia import parasitaemia
from tests.conftest import make_record, sync
from tests.dashboard.conftest import (
    days_ago,
    pdf_text,
    phone_correction,
    phone_slide,
    post_form,
    sign_in,
    slide_cells,
    sync_slide,
)

URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# The required value sets of the elements written (fhir.resources checks structure and types).
STATUSES = {
    "DiagnosticReport": {"registered", "partial", "preliminary", "final"},
    "Observation": {"registered", "preliminary", "final"},
}


def fhir(client, auth, slide_id: str, user: str | None = "viewer"):
    return client.get(f"/api/slides/{slide_id}/fhir", headers=auth.headers(user))


def valid_bundle(response) -> dict:
    """The answer's Bundle, after fhir.resources has parsed every resource in it and the rules
    it leaves to the caller hold: ids, references inside the Bundle, status codes, obs-6."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    Bundle.model_validate_json(response.get_data())  # raises on any validation error
    bundle = response.get_json(force=True)
    assert bundle["type"] == "collection"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls) and all(URN.match(u) for u in urls)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        assert resource["meta"]["lastUpdated"].endswith("Z")
        for ref in re.findall(r'"reference": "([^"]+)"', json.dumps(resource)):
            assert ref in urls, f"{ref} is not in the Bundle"
        kind = resource["resourceType"]
        if kind in STATUSES:
            assert resource["status"] in STATUSES[kind]
        if kind == "Observation":  # obs-6: a value or why there is none, never both
            has_value = any(k.startswith("value") for k in resource)
            assert has_value != ("dataAbsentReason" in resource)
    return bundle


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_text(bundle: dict) -> dict[str, dict]:
    return {o["code"]["text"]: o for o in resources(bundle, "Observation")}


def entry(bundle: dict, slide_id: str, role: str) -> dict:
    url = resource_url(slide_id, role)
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == url)


def stored(app, slide_id: str) -> list[Prediction]:
    with app.app_context():
        query = sa.select(Prediction).where(Prediction.slide_id == slide_id)
        return [as_cell(p) for p in db.session.scalars(query)]


def audit(app, action: str) -> list[tuple]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action))
        return [(e.username, e.target, e.details) for e in rows]


def reviewed_white_cell_slide(client, auth) -> tuple[dict, dict]:
    """Finished a day ago: a (neutrophil, corrected to lymphocyte on the phone), b (neutrophil,
    unsure: reviewed as monocyte), c (unrecognised: reviewed as lymphocyte), d (monocyte)."""
    slide = phone_slide(patient="Jane Roe", specimen="EDTA blood", state="finished")
    slide["finished_at"] = slide["updated_at"] = days_ago(1).isoformat()
    cells = slide_cells(slide["id"])
    fix = phone_correction(cells["a"], "lymphocyte", previous="neutrophil")
    sync_slide(client, auth, slide, list(cells.values()), [fix])
    sign_in(client, "viewer")
    for key, label in (("b", "monocyte"), ("c", "lymphocyte")):
        record_id = cells[key]["id"]
        page, action = f"/dashboard/results/{record_id}", f"/dashboard/results/{record_id}/review"
        post_form(client, page, action, {"label": label})
    return slide, cells


def test_a_reviewed_white_cell_slide_exports_the_rules_numbers_codes_and_people(app, client, auth):
    slide, cells = reviewed_white_cell_slide(client, auth)
    bundle = valid_bundle(fhir(client, auth, slide["id"]))
    [report] = resources(bundle, "DiagnosticReport")
    # a's correction is not reviewed yet: the slide is finished but not settled
    assert report["status"] == "preliminary"
    assert "1 counted cell(s) still wait for a person or a review." in report["conclusion"]
    assert report["code"]["coding"] == [
        {
            "system": "http://loinc.org",
            "code": "24318-8",
            "display": "Manual Differential panel - Blood",
        }
    ]
    assert {c["coding"][0]["code"] for c in report["category"]} == {"HM", "LAB"}
    assert report["subject"] == {"type": "Patient", "display": "Jane Roe"}
    assert report["identifier"][0] == {
        "system": "urn:ietf:rfc:3986",
        "value": f"urn:uuid:{slide['id']}",
    }
    assert [p["display"] for p in report["performer"]] == ["tech"]
    assert [p["display"] for p in report["resultsInterpreter"]] == ["viewer"]
    [specimen] = resources(bundle, "Specimen")
    assert specimen["accessionIdentifier"]["value"] == "PATIENT-0042 / smear A"
    assert specimen["type"]["text"] == "EDTA blood"
    [device] = resources(bundle, "Device")
    assert (device["deviceName"][0]["name"], device["version"][0]["value"]) == ("cells", "1.0.0")
    people = {p["identifier"][0]["value"] for p in resources(bundle, "Practitioner")}
    assert people == {"tech", "viewer"}

    rule = differential(stored(app, slide["id"]), 100)
    observations = by_text(bundle)
    assert len(observations) == len(rule.rows) == 7  # six white-cell classes + nucleated red
    device_url = resource_url(slide["id"], "device/cells/1.0.0")
    for row in rule.rows:
        obs = entry(bundle, slide["id"], f"observation/{row.label}")
        assert obs["valueQuantity"]["value"] == row.percent
        assert [c["valueInteger"] for c in obs["component"]] == [row.count, rule.white_cells]
        low, high = obs["referenceRange"][0]["low"], obs["referenceRange"][0]["high"]
        assert (low["value"], high["value"]) == (row.low, row.high)
        flag = {"high": "H", "low": "L", None: "N"}[row.flag]
        assert obs["interpretation"][0]["coding"][0]["code"] == flag
        assert obs["device"]["reference"] == device_url
        assert [p["display"] for p in obs["performer"]] == ["viewer"]
    lymphocytes = observations["Lymphocyte % of white cells"]
    assert lymphocytes["code"]["coding"][0]["code"] == "26478-8"
    assert lymphocytes["valueQuantity"] == {
        "value": 50.0,
        "unit": "%",
        "system": "http://unitsofmeasure.org",
        "code": "%",
    }
    assert "coding" not in entry(bundle, slide["id"], "observation/ig")["code"]
    nrbc = entry(bundle, slide["id"], "observation/erythroblast")
    assert "coding" not in nrbc["code"] and nrbc["valueQuantity"]["code"] == "/100{WBCs}"
    for flag in rule.flags:
        assert flag in report["conclusion"]
    # The PDF prints the same digits.
    text = pdf_text(client.get(f"/dashboard/slide/report.pdf?id={slide['id']}").data)
    lines = text.splitlines()
    at = lines.index("Lymphocyte")
    assert lines[at + 1 : at + 3] == ["2", "50.0"]

    # Once the correction is reviewed every counted cell is settled: final.
    a = cells["a"]["id"]
    post_form(
        client, f"/dashboard/results/{a}", f"/dashboard/results/{a}/review", {"label": "lymphocyte"}
    )
    again = valid_bundle(fhir(client, auth, slide["id"]))
    [report] = resources(again, "DiagnosticReport")
    assert report["status"] == "final" and "Not final" not in report["conclusion"]
    assert {o["status"] for o in resources(again, "Observation")} == {"final"}
    assert report["id"] == resources(bundle, "DiagnosticReport")[0]["id"]  # same slide, same ids
    assert audit(app, "slide.fhir_export") == [
        ("viewer", slide["id"], {"via": "api", "status": s, "entries": n})
        for s, n in (("preliminary", len(bundle["entry"])), ("final", len(again["entry"])))
    ]


def test_a_malaria_slide_exports_parasitaemia_its_interval_and_counts(app, client, auth):
    slide = phone_slide(kind="malaria", target=500, sample_id="MAL-7")
    records = [
        make_record(
            model_name="malaria-screen",
            model_version="2.0.0",
            label=label,
            status=status,
            captured_at=days_ago(1).isoformat(),
            slide_id=slide["id"],
        )
        for label, status in [("parasitized", "confident")] * 3
        + [("uninfected", "confident")] * 6
        + [("uninfected", "unfamiliar")]
    ]
    records[0]["model_version"] = "1.0.0"  # an older release classified one cell
    sync_slide(client, auth, slide, records)
    bundle = valid_bundle(fhir(client, auth, slide["id"], "tech"))
    rule = parasitaemia(stored(app, slide["id"]), 500)
    [report] = resources(bundle, "DiagnosticReport")
    assert report["status"] == "preliminary" and "coding" not in report["code"]
    assert "subject" not in report  # no patient was given: none is invented
    obs = by_text(bundle)
    p = obs["Parasitaemia: parasitized red cells per 100 red cells counted"]
    assert p["valueQuantity"]["value"] == rule["parasitaemia"] == 33.33
    interval = p["component"][0]["valueRange"]
    assert [interval["low"]["value"], interval["high"]["value"]] == rule["ci95"]
    assert [c["valueInteger"] for c in p["component"][1:]] == [3, 9]
    assert obs["Parasitized red cells counted"]["valueInteger"] == rule["parasitized"]
    assert obs["Uninfected red cells counted"]["valueInteger"] == rule["uninfected"] == 6
    assert "malaria-screen 1.0.0 (1 cells)" in p["note"][0]["text"]
    assert len(resources(bundle, "Device")) == 2
    for flag in rule["flags"]:
        assert flag in report["conclusion"]


def test_an_empty_slide_and_an_older_apps_slide_export_without_invented_data(app, client, auth):
    empty = phone_slide(sample_id="EMPTY-1")
    answer = client.post(
        "/api/sync/predictions",
        json={"contract": 2, "slides": [empty]},
        headers=auth.headers("tech"),
    )
    assert answer.status_code == 200
    bundle = valid_bundle(fhir(client, auth, empty["id"], "tech"))
    [report] = resources(bundle, "DiagnosticReport")
    assert report["status"] == "registered" and "result" not in report
    assert "effectivePeriod" not in report and not resources(bundle, "Observation")
    # another technician's slide is hidden (404) and the attempt logged
    assert fhir(client, auth, empty["id"], "tech2").status_code == 404
    assert [(u, t) for u, t, _ in audit(app, "authz.denied")] == [
        ("tech2", f"GET /api/slides/{empty['id']}/fhir")
    ]
    # an older app: records with a slide id and no slide record
    old = [
        make_record(slide_id="S/9", label=label, captured_at=days_ago(2).isoformat())
        for label in ("neutrophil", "neutrophil", "monocyte")
    ]
    assert set(sync(client, auth, "tech", old)) == {"created"}
    bundle = valid_bundle(fhir(client, auth, "S/9"))
    [report] = resources(bundle, "DiagnosticReport")
    assert report["identifier"] == [{"type": {"text": "Hematovision slide id"}, "value": "S/9"}]
    assert "specimen" not in report and not resources(bundle, "Specimen")
    assert "an older app" in report["conclusion"]
    assert by_text(bundle)["Neutrophil % of white cells"]["valueQuantity"]["value"] == 66.7


def test_who_may_export_a_slide_and_an_unknown_one(client, auth):
    slide = phone_slide()
    sync_slide(client, auth, slide, [make_record(slide_id=slide["id"])])
    for user, status in (
        (None, 401),
        ("viewer", 200),
        ("admin", 200),
        ("tech", 200),
        ("tech2", 404),
    ):
        response = fhir(client, auth, slide["id"], user)
        assert response.status_code == status, user
        if status != 200:
            assert set(response.get_json()["error"]) >= {"code", "message"}
    response = fhir(client, auth, "no-such-slide")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_slide_page_downloads_the_same_bundle(app, client, auth):
    slide = phone_slide(sample_id="LAB/42 é")
    sync_slide(client, auth, slide, [make_record(slide_id=slide["id"])])
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/slide?id={slide['id']}").get_data(as_text=True)
    link = f"/dashboard/slide/fhir.json?id={slide['id']}"
    assert f'href="{link}"' in page and "Download as FHIR (JSON): preliminary" in page
    download = client.get(link)
    assert download.mimetype == "application/fhir+json"
    disposition = download.headers["Content-Disposition"]
    assert 'attachment; filename="hematovision-slide-LAB_42__.fhir.json"' in disposition
    assert "filename*=UTF-8''hematovision-slide-LAB_42%20%C3%A9.fhir.json" in disposition
    api = valid_bundle(fhir(client, auth, slide["id"]))
    file = valid_bundle(download)
    assert {**file, "timestamp": None} == {**api, "timestamp": None}
    assert [d["via"] for _, _, d in audit(app, "slide.fhir_export")] == ["dashboard", "api"]
    assert client.get("/dashboard/slide/fhir.json?id=nope").status_code == 404
