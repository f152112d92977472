"""Every dashboard page checked by axe-core (npm, run in the real Chromium): no serious or
critical WCAG 2 A/AA violation, at desktop and phone width, for the roles that see the page."""

import pytest

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.live_server import LiveServer
from tests.conftest import cell_record, pbc_images
from tests.dashboard.conftest import REPO, SIZES

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")
AXE = REPO / "backend" / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "accessible password"


@pytest.fixture
def server(tmp_path, releases):
    from tests.conftest import publish_folder

    users = {"admin": "admin", "tina": "technician"}
    with LiveServer(tmp_path, users=users, password=PASSWORD) as live:
        publish_folder(live.app, releases["v1"])
        token = live.api("/api/auth/login", {"username": "tina", "password": PASSWORD})
        images = pbc_images("neutrophil", 2)
        records = [
            cell_record("neutrophil", images[0], slide_id="A-1"),
            cell_record("monocyte", images[1], status="review", confidence=0.5, slide_id="A-1"),
        ]
        live.api("/api/sync/predictions", {"predictions": records}, token["access_token"])
        live.record_id = records[1]["id"]
        live.malaria_slide = _malaria_slide(live, token["access_token"], images[0])
        yield live


def _malaria_slide(live, token: str, image) -> str:
    """A malaria slide with a counted red cell, one waiting for a person (its crop shown) and
    101 uninfected cells (the folded group, two pages of it)."""
    from tests.dashboard.conftest import phone_slide

    slide = phone_slide(kind="malaria", target=1000, sample_id="M-1")
    cells = [
        cell_record("parasitized", slide_id=slide["id"]),
        cell_record("uninfected", image, status="unfamiliar", slide_id=slide["id"]),
    ] + [cell_record("uninfected", slide_id=slide["id"]) for _ in range(101)]
    body = {"contract": 2, "slides": [slide], "predictions": cells}
    answer = live.api("/api/sync/predictions", body, token)
    assert [r["status"] for r in answer["slide_results"] + answer["results"]] == ["created"] * 104
    return slide["id"]


def violations(page) -> list[str]:
    result = page.evaluate(
        """async () => await axe.run(document, {
             runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
             resultTypes: ['violations']})"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_passes_axe(server, tmp_path):
    pages = [
        "/dashboard/login",
        "/dashboard/",
        "/dashboard/results",
        f"/dashboard/results/{server.record_id}",
        "/dashboard/review",
        "/dashboard/slides",
        "/dashboard/slide?id=A-1",
        f"/dashboard/slide?id={server.malaria_slide}&other_page=2",  # its folded cells open
        "/dashboard/admin/users",
        "/dashboard/admin/models",
        "/dashboard/admin/audit",
    ]
    found: dict[str, list[str]] = {}
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        # axe is injected as an inline script, which the dashboard's CSP rightly refuses
        context = browser.new_context(bypass_csp=True, viewport=SIZES["desktop"])
        page = context.new_page()
        for path in pages:
            if path == "/dashboard/":  # sign in once the login page is checked
                page.fill("#username", "admin")
                page.fill("#password", PASSWORD)
                page.press("#password", "Enter")
                page.wait_for_url(f"{server.url}/dashboard/")
            for size in SIZES.values():
                page.set_viewport_size(size)
                page.goto(server.url + path)
                page.add_script_tag(path=str(AXE))
                if problems := violations(page):
                    found[f"{path} at {size['width']}px"] = problems
        context.close()
        browser.close()
    assert found == {}
