"""A malaria slide on the phone, in Chromium: starting a slide offers its kind and that kind's
targets; the slide bar and the Slide screen show red cells of the target, parasitized and the
parasitaemia with its 95 % interval, the very numbers of the server's rule
(classifier.parasitaemia) on the same records, and list the cells not recognised for review; the
slide syncs with its kind, and the server's rule on what it stored agrees."""

import pytest

from bench import pwa_driver as pwa
from classifier.differential import Cell
from classifier.parasitaemia import parasitaemia
from tests.pwa.conftest import require_releases

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What the red-cell field mode saves, one record per red cell: (label, status) and how many.
RED_CELLS = [
    (("parasitized", "confident"), 7),
    (("parasitized", "review"), 2),
    (("uninfected", "confident"), 41),
    (("uninfected", "review"), 3),
    (("uninfected", "unfamiliar"), 2),  # wait for a person
    (("parasitized", "unfamiliar"), 1),  # the technician gives it a class below
]

PUT_RECORDS = """async ([cells, slideId]) => {
    const app = window.hematovision;
    const { newRecord } = await import('/js/data/outbox.js');
    const model = { name: 'malaria-screen', version: '1.0.0' };
    const canvas = Object.assign(document.createElement('canvas'), { width: 8, height: 8 });
    const thumbnail = await new Promise((done) => canvas.toBlob(done, 'image/jpeg'));
    const ids = [];
    for (const [label, status] of cells) {
        const other = label === 'parasitized' ? 'uninfected' : 'parasitized';
        const confidence = status === 'unfamiliar' ? 0.55 : 0.9;
        const probabilities = { [label]: confidence, [other]: 1 - confidence };
        const result = { label, status, confidence, probabilities };
        const record = newRecord(model, result, { deviceId: app.deviceId, slideId, thumbnail });
        await app.db.put('predictions', record);
        ids.push(record.id);
    }
    await app.reloadState();
    return ids;
}"""


@pytest.fixture(scope="module")
def models():
    return require_releases("wbc-differential")


@pytest.fixture
def server(models, tmp_path):
    server = pwa.serve(tmp_path / "server", models).start()
    yield server
    server.stop()


@pytest.fixture
def page(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context, page = pwa.open_logged_in(p, server, tmp_path / "profile")
        yield page
        context.close()


def phone_cells(page, slide_id: str) -> list[Cell]:
    records = [r for r in pwa.all_records(page) if r["slide_id"] == slide_id]
    records.sort(key=lambda r: (r["captured_at"], r["id"]))
    return [
        Cell(r["label"], r["status"], r.get("corrected_label"), r.get("reviewed_label"), id=r["id"])
        for r in records
    ]


def expected_bar(rule: dict) -> str:
    low, high = rule["ci95"]
    return (
        f"{rule['red_cells']} / {rule['target']} red cells · parasitized {rule['parasitized']}"
        f" · parasitaemia {rule['parasitaemia']:.2f} % (95 % CI {low:.2f}–{high:.2f} %)"
    )


def test_a_malaria_slide_counts_red_cells_by_the_servers_rule_and_syncs_its_kind(page, server):
    page.click("#tab-slide")
    assert page.eval_on_selector_all("#slide-target option", "os => os.map(o => o.value)") == [
        "100",
        "200",
    ]
    page.select_option("#slide-kind", "malaria")
    targets = page.eval_on_selector_all("#slide-target option", "os => os.map(o => o.value)")
    assert targets == ["500", "1000", "2000", "5000"]
    assert page.input_value("#slide-target") == "1000"  # the default red-cell target
    assert page.inner_text("#slide-target-label") == "Target (red cells)"
    page.fill("#slide-sample", "MAL-0007 / thin smear")
    page.select_option("#slide-target", "500")
    page.click("#slide-form button[type=submit]")
    page.wait_for_function("() => window.hematovision.activeSlide() !== null")
    slide = page.evaluate("window.hematovision.activeSlide()")
    assert (slide["kind"], slide["target"]) == ("malaria", 500)
    # A white-cell target never passes for a malaria slide's, nor an unknown kind for a kind.
    checked = page.evaluate(
        """async () => {
            const { newSlide } = await import('/js/data/slides.js');
            const made = newSlide({ sampleId: 'X', kind: 'malaria', target: '200' }, 'phone');
            let refused = '';
            try { newSlide({ sampleId: 'X', kind: 'babesia', target: '500' }, 'phone'); }
            catch (e) { refused = e.message; }
            return [made.target, refused];
        }"""
    )
    assert checked == [1000, "Unknown kind of slide: babesia."]

    cells = [spec for spec, n in RED_CELLS for _ in range(n)]
    ids = page.evaluate(PUT_RECORDS, [cells, slide["id"]])
    white = page.evaluate(  # a white cell photographed on the same slide: kept apart
        PUT_RECORDS.replace("'malaria-screen'", "'wbc-differential'"),
        [[["lymphocyte", "confident"]], slide["id"]],
    )
    # The technician names one unrecognised cell: it joins the count, the other two wait.
    page.evaluate("([id]) => window.hematovision.saveCorrection(id, 'parasitized')", [ids[-1]])
    page.evaluate("([id]) => window.hematovision.saveCorrection(id, 'artefact')", [ids[0]])

    rule = parasitaemia(phone_cells(page, slide["id"]), 500)
    assert (rule["red_cells"], rule["parasitized"], rule["unconfirmed"]) == (53, 9, 2)
    assert rule["other_classes"] == {"lymphocyte": 1} and rule["apart"]["artefact"] == 1
    page.click("#tab-classify")
    bar = page.inner_text("#slide-bar-text")
    assert expected_bar(rule) in bar and "2 not recognised — review" in bar

    page.click("#tab-slide")
    assert "MAL-0007 / thin smear · malaria · " in page.inner_text("#slide-select")
    progress = page.inner_text("#slide-progress")
    low, high = rule["ci95"]
    assert progress == (
        f"53 of 500 red cells counted. Parasitized 9: parasitaemia {rule['parasitaemia']:.2f} %"
        f" (95 % CI {low:.2f}–{high:.2f} %)."
    )
    assert "Only 53 of 500 red cells counted: the interval is wide." in page.inner_text(
        "#slide-flags"
    )
    row = page.locator("#slide-table tbody tr[data-label='parasitized'] td")
    assert [row.nth(i).inner_text() for i in range(3)][1:] == ["9", f"{rule['parasitaemia']:.2f}"]
    assert page.inner_text("#slide-review-title") == "2 not recognised — review"
    listed = page.eval_on_selector_all("#slide-review-list li", "ls => ls.map(l => l.dataset.id)")
    assert sorted(listed) == sorted(rule["unconfirmed_ids"]) and len(listed) == 2
    assert page.locator("#slide-review-list li img").count() == 2
    assert page.get_attribute("#slide-meter", "max") == "500"
    csv_lines = page.evaluate(
        """async () => {
            const app = window.hematovision;
            const { slideTable } = await import('/js/ui/slide-panel.js');
            const { countsCsv } = await import('/js/data/csv.js');
            const slide = app.activeSlide();
            const own = app.state.records.filter((r) => r.slide_id === slide.id);
            return countsCsv(slide.sample_id, slideTable(own, slide.target, null, slide.kind));
        }"""
    ).splitlines()
    assert csv_lines[1] == (
        f"MAL-0007 / thin smear,parasitized,9,{rule['parasitaemia']:.2f},"
        f"95 % CI {low:.2f}–{high:.2f} %"
    )
    assert csv_lines[-1] == "MAL-0007 / thin smear,total,53,,red cells counted of 500"
    table = page.locator("#slide-table").bounding_box()
    assert table["x"] >= 0 and table["x"] + table["width"] <= 360  # no sideways scrolling
    page.locator("#slide-review").scroll_into_view_if_needed()
    pwa.screenshot(page, "phone-360x640-malaria-slide")

    # Synced with its kind; the server's rule on what it stored gives the same numbers.
    before = page.evaluate("document.body.dataset.syncDone || ''")
    page.click("#tab-history")
    page.click("#sync-now")
    page.wait_for_function(
        "([b]) => (document.body.dataset.syncDone || '') !== b", arg=[before], timeout=30_000
    )
    page.wait_for_function(
        "() => window.hematovision.state.slides.every(s => s.syncState === 'synced') && "
        "window.hematovision.state.records.every(r => r.syncState === 'synced')",
        timeout=30_000,
    )
    sent = [s for b in server.sync_bodies for s in b.get("slides", [])]
    assert {(s["kind"], s["target"]) for s in sent} == {("malaria", 500)}
    on_server = server_rule(server, slide["id"])
    assert sorted(on_server.pop("unconfirmed_ids")) == sorted(rule.pop("unconfirmed_ids"))
    assert on_server == rule
    assert len(ids) + len(white) == rule["total"]


def server_rule(server, slide_id: str) -> dict:
    """What the dashboard shows for the slide: the rule on the stored records and corrections."""
    import sqlalchemy as sa

    from backend import db
    from backend.dashboard.slides import build_slide
    from backend.models import Prediction, Slide

    with server.app.app_context():
        stored = db.session.get(Slide, slide_id)
        assert (stored.kind, stored.target, stored.sample_id) == (
            "malaria",
            500,
            "MAL-0007 / thin smear",
        )
        query = sa.select(Prediction).where(Prediction.slide_id == slide_id)
        cells = list(db.session.scalars(query.order_by(Prediction.captured_at, Prediction.id)))
        return build_slide(slide_id, cells, stored).parasitaemia


def test_a_malaria_slide_of_1500_red_cells_shows_counts_and_only_the_cells_to_review(page):
    """The Slide screen of a big malaria slide: the counts (a few rows) and, of its cells, only
    those waiting for a person, at most REVIEW_SHOWN (50) rows with a line for the rest."""
    page.click("#tab-slide")
    page.select_option("#slide-kind", "malaria")
    page.fill("#slide-sample", "MAL-BIG")
    page.select_option("#slide-target", "2000")
    page.click("#slide-form button[type=submit]")
    page.wait_for_function("() => window.hematovision.activeSlide() !== null")
    slide = page.evaluate("window.hematovision.activeSlide()")
    spec = [(("uninfected", "confident"), 1400), (("parasitized", "confident"), 40)]
    spec.append((("uninfected", "unfamiliar"), 60))
    page.evaluate(PUT_RECORDS, [[s for s, n in spec for _ in range(n)], slide["id"]])
    rule = parasitaemia(phone_cells(page, slide["id"]), 2000)
    assert (rule["red_cells"], rule["parasitized"], rule["unconfirmed"]) == (1440, 40, 60)
    page.click("#tab-classify")
    page.click("#tab-slide")
    assert page.inner_text("#slide-progress").startswith("1440 of 2000 red cells counted.")
    assert page.locator("#slide-table tbody tr").count() <= 4
    assert page.inner_text("#slide-review-title") == "60 not recognised — review"
    assert page.locator("#slide-review-list li[data-id]").count() == 50
    assert page.locator("#slide-review-list img").count() == 50
    more = page.inner_text("#slide-review-list li.slide-review-more")
    assert more == "… and 10 more not recognised (History lists them)."
    assert page.locator("#view-slide img").count() == 50
