"""The dashboard end to end in a real Chromium: an admin creates a technician and a viewer;
the technician syncs records with cell images through the API; the viewer filters, opens a
result, corrects it, opens the slide and downloads the PDF and the CSV; the technician is
refused the admin pages; a form post without the CSRF token is refused. Screenshots of every
page at 1280x800 and 390x844 go to test-artifacts/dashboard/."""

import csv
import io
import re

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry, Prediction
from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.live_server import LiveServer
from tests.conftest import cell_record, pbc_images, publish_folder
from tests.dashboard.conftest import SIZES, pdf_text, shoot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")

ADMIN_PASSWORD = "admin password 1"
TECH_PASSWORD = "technician pw 22"
VIEWER_PASSWORD = "viewer password 3"


@pytest.fixture
def server(tmp_path):
    with LiveServer(tmp_path, users={"admin": "admin"}, password=ADMIN_PASSWORD) as live:
        yield live


@pytest.fixture
def page(tmp_path):
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=SIZES["desktop"],
            accept_downloads=True,
            timezone_id="Europe/Paris",  # local-time.js shows times in the reader's zone
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        yield page
        context.close()


def sign_in(page, url: str, username: str, password: str) -> None:
    """With the keyboard only: the first Tab reaches the skip link, then the form."""
    page.goto(f"{url}/dashboard/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{url}/dashboard/")


def nav(page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/dashboard/login$"))


def create_account(page, username: str, password: str, role: str) -> None:
    form = page.locator("form.inline-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(password)
    form.get_by_label("Role").select_option(role)
    form.get_by_role("button", name="Create account").click()
    page.get_by_text(f"Created {role} '{username}'.").wait_for()


def sync_as_technician(server) -> list[dict]:
    token = server.api("/api/auth/login", {"username": "tina", "password": TECH_PASSWORD})[
        "access_token"
    ]
    neutrophils, lymphocytes = pbc_images("neutrophil", 4), pbc_images("lymphocyte", 2)
    records = [cell_record("neutrophil", path, slide_id="SMEAR-7") for path in neutrophils[:3]]
    records.append(
        cell_record(
            "neutrophil", neutrophils[3], status="review", confidence=0.58, slide_id="SMEAR-7"
        )
    )
    records += [
        cell_record("lymphocyte", lymphocytes[0], slide_id="SMEAR-7"),
        cell_record(
            "lymphocyte", lymphocytes[1], status="unfamiliar", confidence=0.41, slide_id="SMEAR-7"
        ),
        cell_record("monocyte", None, slide_id="SMEAR-8", device_id="phone-2"),
    ]
    results = server.api("/api/sync/predictions", {"predictions": records}, token)["results"]
    assert [r["status"] for r in results] == ["created"] * len(records)
    return records


def test_dashboard_end_to_end(server, page, releases):
    url = server.url
    publish_folder(server.app, releases["v1"])

    # The admin creates a technician and a viewer.
    page.goto(f"{url}/dashboard/results")
    page.wait_for_url(re.compile(r".*/dashboard/login\?next=.*"))
    shoot(page, "01-sign-in")
    sign_in(page, url, "admin", ADMIN_PASSWORD)
    nav(page, "Users").click()
    create_account(page, "tina", TECH_PASSWORD, "technician")
    create_account(page, "dr.vera", VIEWER_PASSWORD, "viewer")
    shoot(page, "02-admin-users")
    nav(page, "Models").click()
    page.get_by_text("active since").wait_for()
    shoot(page, "03-admin-models")
    sign_out(page)

    # The technician syncs records with images through the API.
    records = sync_as_technician(server)
    corrected = records[3]

    # The viewer signs in, sees the overview, filters, opens a result and corrects it.
    sign_in(page, url, "dr.vera", VIEWER_PASSWORD)
    page.wait_for_function("() => document.body.dataset.chartsDrawn === '6'")
    assert page.locator("canvas").count() == 6
    shoot(page, "04-overview")
    nav(page, "Results").click()
    page.get_by_label("Status").select_option("review")
    page.get_by_label("Slide").fill("SMEAR-7")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*status=review.*"))
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 1
    # Times: UTC in the HTML, the reader's zone (Paris here) on screen, UTC as the tooltip.
    page.wait_for_function("() => document.body.dataset.localTimes === 'done'")
    captured = rows.first.locator("time")
    utc_text, local_text = captured.get_attribute("title"), captured.inner_text()
    assert utc_text.endswith(" UTC") and local_text.endswith(("GMT+1", "CET"))
    assert utc_text[:10] <= local_text[:10] and utc_text[11:16] != local_text[11:16]
    shoot(page, "05-results-filtered")
    rows.first.get_by_role("link").first.click()
    page.wait_for_url(f"{url}/dashboard/results/{corrected['id']}")
    image = page.get_by_role("img", name="The cell the model classified as Neutrophil")
    assert page.evaluate("img => img.naturalWidth", image.element_handle()) == 96
    shoot(page, "06-result-detail")
    page.get_by_label("Reviewed class").select_option("monocyte")
    page.get_by_label("Note (optional)").fill("kidney-shaped nucleus")
    page.get_by_role("button", name="Save review").click()
    page.get_by_text("Result corrected as 'Monocyte'.").wait_for()
    assert "changed Neutrophil to Monocyte" in page.locator("ol.history").inner_text()
    nav(page, "Review queue").click()
    page.wait_for_url(f"{url}/dashboard/review")  # and its load: count() does not wait
    assert page.locator("table tbody tr").count() == 1  # only the unfamiliar one is left
    shoot(page, "07-review-queue")

    # The slide: differential count, then the PDF and the CSV.
    nav(page, "Slides").click()
    page.wait_for_url(f"{url}/dashboard/slides")
    shoot(page, "08-slides")
    page.get_by_role("link", name="SMEAR-7").click()
    page.wait_for_url(re.compile(r".*/dashboard/slide\?.*"))
    counts = dict(
        (row.locator("th").inner_text(), row.locator("td").first.inner_text())
        for row in page.locator("table.differential tbody tr").all()
    )
    # the unfamiliar lymphocyte waits for a person: not counted
    assert (counts["Neutrophil"], counts["Lymphocyte"], counts["Monocyte"]) == ("3", "1", "1")
    shoot(page, "09-slide")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the PDF report").click()
    pdf = open(download_info.value.path(), "rb").read()
    assert pdf.startswith(b"%PDF-")
    lines = pdf_text(pdf).splitlines()
    for label, count, percent in (("Neutrophil", "3", "60.0"), ("Lymphocyte", "1", "20.0"),
                                  ("Monocyte", "1", "20.0")):  # fmt: skip
        at = lines.index(label)
        assert lines[at + 1 : at + 3] == [count, percent]
    assert "Slide SMEAR-7 (no sample id: synced by an older app)" in lines
    assert "dr.vera" in lines and "tina" in lines
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download its cells as CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download_info.value.path()).read())))
    assert len(rows) == 6 and {r["slide_id"] for r in rows} == {"SMEAR-7"}
    row = next(r for r in rows if r["id"] == corrected["id"])
    assert (row["label"], row["reviewed_label"], row["reviewed_by"]) == (
        "neutrophil",
        "monocyte",
        "dr.vera",
    )
    # A form post without the CSRF token, from the signed-in browser itself, is refused.
    review_url = f"/dashboard/results/{corrected['id']}/review"
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: 'POST',
             body: new URLSearchParams({label: 'lymphocyte'})})).status""",
        review_url,
    )
    assert status == 400
    sign_out(page)

    # The technician cannot open admin pages: the 403 page, and an audit entry.
    sign_in(page, url, "tina", TECH_PASSWORD)
    assert nav(page, "Users").count() == 0
    response = page.goto(f"{url}/dashboard/admin/users")
    assert response.status == 403
    page.get_by_role("heading", name="Access denied").wait_for()
    shoot(page, "10-access-denied")
    sign_out(page)

    sign_in(page, url, "admin", ADMIN_PASSWORD)
    nav(page, "Audit log").click()
    page.get_by_label("Action").select_option("authz.denied")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*action=authz\.denied.*"))
    assert "GET /dashboard/admin/users" in page.locator("table.audit").inner_text()
    shoot(page, "11-admin-audit")

    with server.app.app_context():
        denied = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "authz.denied")
        ).all()
        assert [(e.username, e.target) for e in denied] == [("tina", "GET /dashboard/admin/users")]
        stored = db.session.scalar(sa.select(Prediction).where(Prediction.id == corrected["id"]))
        assert (stored.label, stored.reviewed_label) == ("neutrophil", "monocyte")
    expected = {  # the refused CSRF-less post and the 403 page this test provoked
        "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)",
        "Failed to load resource: the server responded with a status of 403 (FORBIDDEN)",
    }
    # no script error and no Content-Security-Policy violation on any page
    assert [e for e in page.errors if e not in expected] == []
