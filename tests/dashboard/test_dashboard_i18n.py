"""The dashboard, its PDF and the API's messages in English, French, Spanish and Portuguese:
the browser's language by default, a switch remembered in a cookie, and nothing left in
English on a translated page."""

import re

import pytest

from backend.i18n import COOKIE
from tests.dashboard.conftest import csrf_token, pdf_text, seed_results, sign_in

pytestmark = pytest.mark.sqlite_only  # the language of a page does not depend on the database

# Texts each page shows in each language (from the catalogues, written out so that a wrong
# translation fails too), and English sentences none of the translated pages may still show.
EXPECTED = {
    "fr": ["Vue d'ensemble", "Formule leucocytaire", "Non reconnu", "Se déconnecter", "Relecteur"],
    "es": ["Resumen", "Recuento diferencial", "No reconocido", "Cerrar sesión", "Revisor"],
    "pt": ["Visão geral", "Contagem diferencial", "Não reconhecido", "Sair", "Revisor"],
}
LOGIN = {"fr": "Se connecter", "es": "Iniciar sesión", "pt": "Entrar"}
ENGLISH_SENTINELS = (
    "Overview",
    "Sign out",
    "Sign in",
    "Differential count",
    "Decision support",
    "Apply filters",
    "Not recognised",
    "Probabilities",
    "Review history",
    "white cells counted",
    "Download the PDF report",
    "Skip to main content",
    "Adult range",
    "Awaiting review",
    "Technician",
    "Results per",
    " of white cells",
    "unrecognised cell",
    "confident<",
    "unfamiliar<",
)


@pytest.fixture
def seeded(client, auth):
    return seed_results(client, auth)


def choose(client, language: str, next_url: str = "/dashboard/"):
    """The switch as a browser without JavaScript uses it: the header form, its CSRF token."""
    page = client.get("/dashboard/login", follow_redirects=True)  # the overview once signed in
    token = csrf_token(page.get_data(as_text=True))
    return client.post(
        "/dashboard/language", data={"lang": language, "next": next_url, "csrf_token": token}
    )


def visible_text(html: str) -> str:
    """The page without its markup and the language switch (whose names stay native)."""
    html = re.sub(r'<form class="language".*?</form>', "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def pages(client, seeded) -> dict[str, str]:
    unrecognised = seeded["c"]["id"]
    urls = {
        "overview": "/dashboard/",
        "slide": "/dashboard/slide?id=S-1",
        "result": f"/dashboard/results/{unrecognised}",
    }
    out = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        out[name] = response.get_data(as_text=True)
    return out


@pytest.mark.parametrize("language", ["fr", "es", "pt"])
def test_each_page_speaks_the_chosen_language_and_no_english(client, seeded, language):
    login = client.get("/dashboard/login", headers={"Accept-Language": language})
    login_html = login.get_data(as_text=True)
    assert f'<html lang="{language}">' in login_html and LOGIN[language] in login_html
    sign_in(client, "viewer")
    response = choose(client, language, "/dashboard/slide?id=S-1")
    assert response.status_code == 303 and response.location.endswith("/dashboard/slide?id=S-1")
    assert f"{COOKIE}={language}" in response.headers["Set-Cookie"]
    html = pages(client, seeded)
    everything = " ".join(visible_text(h) for h in html.values())
    for expected in EXPECTED[language]:
        assert expected in everything, expected
    for name, page in html.items():
        assert f'<html lang="{language}">' in page
        text = visible_text(page)
        left = [s for s in ENGLISH_SENTINELS if s in text]
        assert not left, f"{name} still shows English: {left}"


def test_the_browser_language_is_the_default_and_english_the_fallback(client):
    def lang(headers: dict) -> str:
        html = client.get("/dashboard/login", headers=headers).get_data(as_text=True)
        return re.search(r'<html lang="(\w+)">', html).group(1)

    assert lang({}) == "en"
    assert lang({"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}) == "es"
    assert lang({"Accept-Language": "pt-BR"}) == "pt"
    assert lang({"Accept-Language": "de-DE,de;q=0.9"}) == "en"
    assert lang({"Accept-Language": "de, fr;q=0.4"}) == "fr"
    signed_out = client.get("/dashboard/results", headers={"Accept-Language": "fr"})
    follow = client.get(signed_out.location, headers={"Accept-Language": "fr"})
    assert "Veuillez vous connecter pour accéder à cette page." in follow.get_data(as_text=True)


def test_the_choice_is_remembered_over_the_browser_language(client):
    assert choose(client, "pt").status_code == 303
    html = client.get("/dashboard/login", headers={"Accept-Language": "fr"}).get_data(True)
    assert '<html lang="pt">' in html and "Entrar" in html
    assert 'lang="pt" class="secondary" aria-current="true"' in html
    choose(client, "en")
    html = client.get("/dashboard/login", headers={"Accept-Language": "fr"}).get_data(True)
    assert '<html lang="en">' in html and "Sign in" in html


def test_a_bad_language_or_target_is_refused_and_a_bad_cookie_ignored(client):
    refused = choose(client, "xx")
    assert refused.status_code == 400 and COOKIE not in refused.headers.get("Set-Cookie", "")
    assert "Unknown language" in refused.get_data(as_text=True)
    elsewhere = choose(client, "fr", "https://evil.example/")
    assert elsewhere.status_code == 303 and elsewhere.location == "/dashboard/"
    client.set_cookie(COOKIE, "../../etc", path="/dashboard")
    html = client.get("/dashboard/login", headers={"Accept-Language": "es"}).get_data(True)
    assert '<html lang="es">' in html  # the nonsense cookie is ignored, never an error
    no_token = client.post("/dashboard/language", data={"lang": "fr", "next": "/dashboard/"})
    assert no_token.status_code == 400 and COOKIE not in no_token.headers.get("Set-Cookie", "")


def test_the_pdf_report_is_in_the_language_of_who_downloads_it(client, seeded):
    sign_in(client, "viewer")
    choose(client, "fr")
    response = client.get("/dashboard/slide/report.pdf?id=S-1")
    assert response.status_code == 200
    text = pdf_text(response.data)
    for french in (
        "Hematovision - rapport de formule leucocytaire",
        "Échantillon",
        "Formule leucocytaire (3 sur 100 leucocytes)",
        "Alertes",
        "Aide à la décision, pas un diagnostic",
        "Cellules à relire",
        "Neutrophile",
    ):
        assert french in text, french
    # the rule's digits as the phone prints them, the words around them in French
    flag = "- Monocyte 33.3 % des leucocytes : au-dessus de l'intervalle de référence adulte 2-10"
    assert flag in text
    for english in ("Differential count", "Flags", "Decision support", "Sample id"):
        assert english not in text


def test_an_api_error_speaks_the_clients_language_with_the_same_code(client):
    bad = {"username": "viewer", "password": "wrong password"}
    english = client.post("/api/auth/login", json=bad).get_json()["error"]
    french = client.post("/api/auth/login", json=bad, headers={"Accept-Language": "fr-FR"})
    error = french.get_json()["error"]
    assert french.status_code == 401 and error["code"] == english["code"] == "invalid_credentials"
    assert english["message"] == "Wrong username or password."
    assert error["message"] == "Nom d'utilisateur ou mot de passe incorrect."
    missing = client.get("/api/no-such-thing", headers={"Accept-Language": "es"}).get_json()
    assert missing["error"] == {
        "code": "not_found",
        "message": "No existe esa página ni ese registro.",
    }
    page = client.get("/no-such-page", headers={"Accept-Language": "fr", "Accept": "text/html"})
    assert page.status_code == 404 and "Introuvable" in page.get_data(as_text=True)
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    token = client.get("/api/sync/reviews", headers={"Accept-Language": "pt"}).get_json()
    assert token["error"]["code"] == "missing_token"
    assert token["error"]["message"].startswith("Autenticação necessária")


def test_the_pages_flags_say_in_english_what_the_rules_say(app):
    """The rules' English flags (compared with the phone's) are said again per language from
    their data: in English both say the same, except that the page names the plural right."""
    from backend.dashboard.vocabulary import differential_flags, parasitaemia_flags
    from classifier.differential import Cell, differential
    from classifier.parasitaemia import parasitaemia

    cells = [Cell("monocyte", "confident")] * 3 + [Cell("neutrophil", "unfamiliar")] * 2
    diff = differential(cells)
    malaria = parasitaemia([Cell("parasitized", "confident"), Cell("uninfected", "unfamiliar")])
    with app.test_request_context("/dashboard/"):
        assert differential_flags(diff) == [f.replace("cell(s)", "cells") for f in diff.flags]
        assert parasitaemia_flags(malaria) == [
            f.replace("cell(s) are", "cell is") for f in malaria["flags"]
        ]
    with app.test_request_context("/dashboard/", headers={"Accept-Language": "es"}):
        spanish = differential_flags(diff)
    above = "Monocito 100.0 % de leucocitos: por encima del intervalo de referencia adulto 2-10"
    assert above in spanish
    assert spanish[-1].startswith("2 células no reconocidas no se cuentan")
    assert len(spanish) == len(diff.flags)


def test_a_malaria_slide_and_its_report_in_spanish(client, auth):
    from tests.dashboard.test_dashboard_slides import _malaria_slide

    slide, _cells = _malaria_slide(client, auth)  # signs the viewer in
    choose(client, "es")
    page = client.get(f"/dashboard/slide?id={slide['id']}").get_data(as_text=True)
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd[^>]*>([^<]*)</dd>", page))
    assert facts["Hematíes contados"] == "8 / 500" and facts["Parasitemia"] == "50.00 %"
    assert facts["Intervalo de confianza del 95 % (Wilson)"] == "21.52–78.48 %"
    assert facts["Linfocito (no es una clase de hematíe)"] == "1"
    assert "Solo 8 de 500 hematíes contados: el intervalo es amplio." in page
    text = visible_text(page)
    for english in ("red cells", "Parasitized", "Uninfected", "Flags", "awaiting a person"):
        assert english not in text, english
    report = pdf_text(client.get(f"/dashboard/slide/report.pdf?id={slide['id']}").data)
    assert "Hematovision - informe de parasitemia" in report
    assert "Parasitemia (8 de 500 hematíes)" in report
    assert "- Solo 8 de 500 hematíes contados: el intervalo es amplio." in report.splitlines()
