"""The whole loop of issue 13 in one real Chromium, as a technician and a doctor live it: the
technician starts a slide with a sample id on the phone, classifies cells offline, corrects one,
comes online, finishes the slide; the doctor sees every cell's image, the correction and the
sample id on the dashboard and in the PDF, and reviews one cell; the phone shows the review after
its next sync. The phone's and the dashboard's differential agree to the decimal before and after
the review, and a junk photo never enters the count. The map of why the model made a call, made
on the phone, is the one the dashboard draws over the synced crop."""

import io
import re

import numpy as np
import pytest
from PIL import Image

from backend.dashboard.why_overlay import why_png
from bench import pwa_driver as pwa
from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.inputs import dataset_images
from classifier.differential import display_name
from tests.dashboard.conftest import pdf_text
from tests.pwa.conftest import require_releases
from tests.pwa.test_malaria_loop import awaiting_on_dashboard, awaiting_on_phone

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SAMPLE = "PATIENT-0042 / smear A"
CLASSES = ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "platelet"]
ALL_SYNCED = "() => window.hematovision.state.records.every(r => r.syncState === 'synced')"


@pytest.fixture
def server(tmp_path):
    models = require_releases("wbc-differential")
    server = pwa.serve(tmp_path / "server", models).start()
    yield server
    server.stop()


def sync_now(page) -> None:
    page.click("#tab-history")
    page.click("#sync-now")
    page.wait_for_function(ALL_SYNCED, timeout=30_000)
    page.wait_for_function("() => document.querySelector('#sync-badge').dataset.state === 'synced'")


def phone_differential(page) -> dict[str, tuple[str, str]]:
    """{class name: (count, value)} of the phone's Slide screen: the % column of the white
    cells, and the erythroblasts' "N per 100 white cells"."""
    page.click("#tab-slide")
    rows = page.eval_on_selector_all(
        "#slide-table tbody tr", "trs => trs.map(tr => [...tr.cells].map(td => td.textContent))"
    )
    out = {}
    for name, count, percent, note in rows:
        per_100 = re.match(r"([\d.]+) per 100 white cells", note)
        if percent or per_100:
            out[name] = (count, percent or per_100.group(1))
    return out


def dashboard_differential(doctor, url: str) -> dict[str, tuple[str, str]]:
    rows = doctor.eval_on_selector_all(
        "table.differential tbody tr",
        "trs => trs.map(tr => [tr.cells[0].textContent, tr.cells[1].textContent,"
        " tr.cells[2].textContent])",
    )
    return {name.strip(): (count, value) for name, count, value in rows if value != "–"}


def sign_in(doctor, url: str) -> None:
    doctor.goto(f"{url}/dashboard/login")
    doctor.get_by_label("Username").fill("viewer")
    doctor.get_by_label("Password").fill(pwa.PASSWORD)
    doctor.get_by_label("Password").press("Enter")
    doctor.wait_for_url(f"{url}/dashboard/")


def test_what_the_phone_saw_is_what_the_doctor_sees_and_signs(server, tmp_path):
    from playwright.sync_api import sync_playwright

    cells = [dataset_images("pbc", 1, classes=[c])[0] for c in CLASSES]
    junk = tmp_path / "uniform-pink.png"
    Image.fromarray(np.full((480, 640, 3), (232, 180, 200), np.uint8)).save(junk)
    with sync_playwright() as p:
        phone_context, phone = pwa.open_logged_in(p, server, tmp_path / "phone")
        # 1. The technician: a slide with a sample id, cells classified offline, one corrected.
        pwa.start_slide(phone, SAMPLE, specimen="peripheral blood, EDTA")
        phone_context.set_offline(True)
        made = pwa.classify_files(phone, cells)
        corrected = made[-1]  # the last result is still on the card: corrected there
        new_label = next(c for c in CLASSES[:4] if c != corrected["label"])
        phone.click("#tab-classify")
        phone.select_option("#result-correct", new_label)
        phone.wait_for_function(
            "([id, l]) => window.hematovision.state.records.find(r => r.id === id)"
            ".corrected_label === l",
            arg=[corrected["id"], new_label],
        )
        (junk_record,) = pwa.classify_files(phone, [junk])
        phone_context.set_offline(False)
        sync_now(phone)
        on_phone = phone_differential(phone)
        pwa.finish_slide(phone)
        sync_now(phone)
        slide_id = corrected["slide_id"]
        assert slide_id and all(r["slide_id"] == slide_id for r in made)

        # 2. The doctor, on the dashboard of the same server.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        doctor_context = browser.new_context(viewport=pwa.DESKTOP, accept_downloads=True)
        doctor = doctor_context.new_page()
        sign_in(doctor, server.url)
        doctor.goto(f"{server.url}/dashboard/slides")
        doctor.get_by_role("link", name=SAMPLE).click()
        doctor.wait_for_url(re.compile(r".*/dashboard/slide\?id="))
        page = doctor.content()
        assert SAMPLE in doctor.title() and "peripheral blood, EDTA" in page
        assert re.search(r"finished by tech", doctor.inner_text("main"))
        tiles = doctor.locator(".cell-tile")
        assert tiles.count() == len(made) + 1
        assert doctor.locator(".cell-tile img").count() == len(made) + 1  # every crop synced
        correction = f"{display_name(corrected['label'])} → {display_name(new_label)} by tech"
        assert correction in doctor.inner_text("main")  # the correction: from, to, who
        on_dashboard = dashboard_differential(doctor, server.url)
        assert on_dashboard == on_phone and on_dashboard  # to the decimal
        # The pink photo was not recognised: shown for review, never counted.
        assert junk_record["status"] == "unfamiliar"
        assert re.search(r"Not recognised, awaiting a person\s*1", doctor.inner_text("main"))
        white = sum(int(n) for name, (n, _) in on_phone.items() if not name.startswith("Eryth"))
        counted = [r["label"] for r in made[:-1] if r["status"] != "unfamiliar"] + [new_label]
        assert white == sum(label in CLASSES[:4] for label in counted)

        pdf = doctor_context.request.get(f"{server.url}/dashboard/slide/report.pdf?id={slide_id}")
        text = pdf_text(pdf.body())
        assert SAMPLE in text and "tech" in text

        # Why this call: the map kept on the phone is the one the dashboard draws over the crop.
        shown = next(r for r in made[:-1] if r["status"] != "unfamiliar")
        cam = shown["cam"]
        assert cam["label"] == shown["label"] and len(cam["values"]) == cam["rows"] * cam["cols"]
        doctor.goto(f"{server.url}/dashboard/results/{shown['id']}")
        doctor.click("label[for=why-toggle]")
        doctor.wait_for_function(
            "() => { const i = document.querySelector('img.why-image');"
            " return i.complete && i.naturalWidth > 0 && i.offsetWidth > 0; }"
        )
        assert doctor.locator("img.cell-image").is_hidden()
        legend = f"Where the model saw evidence for {display_name(shown['label'])}"
        assert legend in doctor.inner_text("main")
        result_url = f"{server.url}/dashboard/results/{shown['id']}"
        jpeg = doctor_context.request.get(f"{result_url}/image.jpg").body()
        drawn = Image.open(io.BytesIO(doctor_context.request.get(f"{result_url}/why.png").body()))
        expected = Image.open(io.BytesIO(why_png(jpeg, cam)))
        assert np.array_equal(np.asarray(drawn), np.asarray(expected))

        # 3. The doctor reviews one cell; the phone sees it after its next sync.
        reviewed = made[0]
        doctor.goto(f"{server.url}/dashboard/results/{reviewed['id']}")
        assert doctor.locator("img.cell-image").count() == 1
        review_label = next(c for c in CLASSES[:4] if c != reviewed["label"])
        doctor.locator("select#label").select_option(review_label)
        doctor.get_by_role("button", name=re.compile("^Save review")).click()
        doctor.wait_for_load_state()
        sync_now(phone)
        phone.wait_for_function(
            "([id]) => !!(window.hematovision.state.records.find(r => r.id === id) || {}).review",
            arg=[reviewed["id"]],
            timeout=30_000,
        )
        phone.click("#tab-history")
        item = phone.inner_text(f"#history-list li[data-id='{reviewed['id']}']")
        assert "Reviewed by viewer" in item
        doctor.goto(f"{server.url}/dashboard/slide?id={slide_id}")
        assert dashboard_differential(doctor, server.url) == phone_differential(phone)
        # the reviewer's queue: the same two numbers on the phone and on the slide page, the
        # corrected cell and the pink photo among them
        queue = awaiting_on_phone(phone)
        assert awaiting_on_dashboard(doctor, server.url, slide_id) == queue
        assert int(queue[1]) >= 2
        doctor_context.close()
        browser.close()
        phone_context.close()
