"""Helpers for the dashboard tests: signing in through the real form (with its CSRF token),
synced records with real cell images from the PBC dataset, and reading a PDF's text."""

import base64
import io
import os
import re
import zlib
from pathlib import Path

from PIL import Image

from tests.conftest import PASSWORD
from tests.sync_support import make_record, push

REPO = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("HEMATOVISION_DATASETS", REPO.parent / "shared" / "datasets"))
CSRF_PATTERN = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
CSRF_PATTERN_ALT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_PATTERN.search(html) or CSRF_PATTERN_ALT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    """Signs in through the form exactly as a browser does; returns the POST response."""
    page = client.get("/dashboard/login")
    token = csrf_token(page.get_data(as_text=True))
    url = "/dashboard/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def post_form(client, page_url: str, action: str, data: dict, **kwargs):
    """Posts a form the way a browser does: the CSRF token is taken from the page first."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data}, **kwargs)


def pbc_images(label: str, count: int) -> list[Path]:
    folder = DATASETS / "pbc" / "test" / label
    files = sorted(folder.glob("*.jpg"))[:count]
    assert len(files) == count, f"need {count} images in {folder}"
    return files


def cell_jpeg_b64(path: Path, size: int = 96) -> str:
    """A real cell photo, shrunk as the phone would, as base64 JPEG."""
    with Image.open(path) as image:
        small = image.convert("RGB").resize((size, size))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=85)
    return base64.b64encode(out.getvalue()).decode()


def cell_record(label: str, image_path: Path | None = None, **changes) -> dict:
    others = {"neutrophil", "lymphocyte", "monocyte"} - {label}
    rest = (1 - changes.get("confidence", 0.9)) / len(others)
    probabilities = {label: changes.get("confidence", 0.9), **{o: rest for o in others}}
    record = make_record(
        label=label,
        confidence=changes.pop("confidence", 0.9),
        status=changes.pop("status", "confident"),
        probabilities=probabilities,
        **changes,
    )
    if image_path is not None:
        record["image"] = cell_jpeg_b64(image_path)
    return record


def sync(client, auth, username: str, records: list[dict]) -> list[str]:
    response = push(client, auth.headers(username), records)
    assert response.status_code == 200, response.get_json()
    return [r["status"] for r in response.get_json()["results"]]


def pdf_text(data: bytes) -> str:
    """The text drawn by a PDF's content streams (fpdf2 writes Flate-compressed Tj strings)."""
    texts = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        for s in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", content, re.S):
            texts.append(s.replace(rb"\(", b"(").replace(rb"\)", b")").decode("latin-1"))
    return "\n".join(texts)
