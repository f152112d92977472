"""The app-shell blueprint: the PWA, its service worker, manifest and runtime, as served by
create_app (no browser). Revalidation, precompressed WASM, no path escapes."""

import json

import pytest

from backend import create_app
from backend.config import TestConfig
from bench import pwa_driver as pwa


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    pwa.ensure_pwa_built()
    tmp = tmp_path_factory.mktemp("shell")

    class Config(TestConfig):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp / 'shell.sqlite3'}"
        MODEL_STORE = str(tmp / "models")

    return create_app(Config).test_client()


def test_index_and_scripts_are_revalidated(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'<link rel="manifest" href="/manifest.json">' in page.data
    assert page.headers["Cache-Control"] == "no-cache"
    again = client.get("/", headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    script = client.get("/js/app.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"


def test_service_worker_is_served_at_the_root_with_its_scope(client):
    response = client.get("/sw.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    version = json.loads((pwa.PWA_DIR / "vendor" / "version.json").read_text())
    assert version["appVersion"].encode() in response.data
    for url in version["shellFiles"]:
        assert client.get(url).status_code == 200, url


def test_the_shell_is_cross_origin_isolated_so_the_model_runs_on_threads(client):
    """COOP + COEP on every file of the shell (page, service worker, inference worker, runtime):
    SharedArrayBuffer, which LiteRT.js's threaded build needs, exists only then."""
    version = json.loads((pwa.PWA_DIR / "vendor" / "version.json").read_text())
    threaded = "/vendor/wasm/litert_wasm_threaded_internal"
    for url in ["/sw.js", *version["shellFiles"], threaded + ".js", threaded + ".wasm"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", url
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp", url


def test_manifest_makes_the_app_installable(client):
    response = client.get("/manifest.json")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/") and manifest["scope"] == "/"
    assert manifest["name"] and manifest["short_name"] and manifest["theme_color"]
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png", icon["src"]


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_wasm_runtime_is_served_precompressed(client, encoding):
    url = "/vendor/wasm/litert_wasm_internal.wasm"
    plain = (pwa.PWA_DIR / "vendor" / "wasm" / "litert_wasm_internal.wasm").stat().st_size
    response = client.get(url, headers={"Accept-Encoding": f"{encoding}, identity"})
    assert response.status_code == 200 and response.mimetype == "application/wasm"
    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(response.data) < plain / 2
    identity = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in identity.headers and len(identity.data) == plain


@pytest.mark.parametrize(
    "url",
    [
        "/js/../../backend/config.py",
        "/js/%2e%2e/%2e%2e/backend/config.py",
        "/vendor/../package.json",
        "/vendor/wasm/litert_wasm_internal.wasm.br",
        "/node_modules/@litertjs/core/package.json",
        "/js/missing.js",
        "/pwa/index.html",
        "/js/" + "a" * 300 + ".js",  # a name the OS refuses: once a 500
        "/vendor/" + "a/" * 3000 + "x.js",
    ],
)
def test_nothing_outside_the_shell_is_served(client, url):
    assert client.get(url).status_code == 404


def test_a_nul_in_a_shell_path_is_a_400_not_a_500(client):
    assert client.get("/js/app%00.js").status_code == 400
    assert client.get("/vendor/sw.js%00.br", headers={"Accept-Encoding": "br"}).status_code == 400


def test_api_stays_json(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.is_json


@pytest.mark.parametrize(
    "url", ["/", "/sw.js", "/js/app.js", "/vendor/inference-worker.js", "/manifest.json"]
)
def test_shell_has_a_strict_csp_and_cannot_be_framed(client, url):
    response = client.get(url)
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self' 'wasm-unsafe-eval'"  # LiteRT.js WASM, no JS eval
    assert policy["worker-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
