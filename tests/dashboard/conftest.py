"""Helpers for the dashboard tests: signing in through the real form (with its CSRF token),
seeded results with real cell images, reading a PDF's text, and screenshots of the browser
tests at desktop and phone size."""

import re
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import PASSWORD, cell_record, pbc_images, sync

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
CSRF_PATTERN = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
PHONE = "3f2a9c1d-0b4e-4c2a-9d1e-5f6a7b8c9d0e"  # a phone's device id (a uuid)
CSRF_PATTERN_ALT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_PATTERN.search(html) or CSRF_PATTERN_ALT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    """Signs in through the form exactly as a browser does; returns the POST response.
    Any earlier session of this client is dropped first (as a new browser would)."""
    client.delete_cookie("session")
    page = client.get("/dashboard/login")
    token = csrf_token(page.get_data(as_text=True))
    url = "/dashboard/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def post_form(client, page_url: str, action: str, data: dict, **kwargs):
    """Posts a form the way a browser does: the CSRF token is taken from the page first."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **data}, **kwargs)


def pdf_text(data: bytes) -> str:
    """The text a PDF draws, one line per text object (BT ... ET: fpdf2 writes one per cell or
    line). The report embeds TrueType fonts, so its strings are 2-byte glyph codes, read back
    through each font's ToUnicode map; strings in a font without one are Latin-1."""
    objects = _pdf_objects(data)
    fonts = {}
    for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", data):
        to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", objects[int(ref)][0])
        cmap = objects[int(to_unicode.group(1))][1] if to_unicode else b""
        pairs = re.findall(
            rb"<([0-9A-F]{4})>\s*<([0-9A-F]+)>", cmap.split(b"endcodespacerange")[-1]
        )
        fonts[name] = {
            int(code, 16): bytes.fromhex(u.decode()).decode("utf-16-be") for code, u in pairs
        }
    lines, font = [], {}
    for _, content in objects.values():
        blocks = re.findall(rb"(?:^|\s)BT\s(.*?)\sET(?=\s|$)", content, re.S)
        for block in blocks if b" Tj" in content else []:
            line = ""
            for name, string in re.findall(
                rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) ?Tj", block, re.S
            ):
                if name:
                    font = fonts.get(name, {})
                    continue
                raw = re.sub(rb"\\([0-7]{1,3}|.)", _unescape, string, flags=re.S)
                if font:
                    codes = (int.from_bytes(raw[i : i + 2]) for i in range(0, len(raw), 2))
                    line += "".join(font.get(code, "?") for code in codes)
                else:
                    line += raw.decode("latin-1")
            if line:
                lines.append(line)
    return "\n".join(lines)


def _pdf_objects(data: bytes) -> dict[int, tuple[bytes, bytes]]:
    """{number: (dictionary, decompressed stream)}, found through the xref table and each
    stream's /Length, so bytes of an image never pass for PDF syntax."""
    objects = {}
    xref = data[data.rindex(b"\nxref") :]
    for offset in re.findall(rb"(\d{10}) \d{5} n", xref):
        head = re.match(rb"\s*(\d+) 0 obj(.*?)(stream\r?\n|endobj)", data[int(offset) :], re.S)
        number, dictionary, stream = int(head.group(1)), head.group(2), b""
        if head.group(3).startswith(b"stream"):
            begin = int(offset) + head.end()
            stream = data[begin : begin + int(re.search(rb"/Length (\d+)", dictionary).group(1))]
            try:
                stream = zlib.decompress(stream)
            except zlib.error:
                pass
        objects[number] = (dictionary, stream)
    return objects


def _unescape(match) -> bytes:
    code = match.group(1)
    if code[:1].isdigit():
        return bytes([int(code, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(code, code)


def days_ago(n: int, hour: int = 10) -> datetime:
    moment = datetime.now(UTC) - timedelta(days=n)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


def seed_results(client, auth) -> dict[str, dict]:
    """Six results from two technicians on two slides, over four days, three with images."""
    n, ly, mo = pbc_images("neutrophil", 2), pbc_images("lymphocyte", 1), None
    spec = {
        "a": ("tech", "neutrophil", "confident", 0.95, 5, "S-1", "phone-1", "1.0.0", n[0]),
        "b": ("tech", "neutrophil", "review", 0.60, 4, "S-1", "phone-1", "1.0.0", n[1]),
        "c": ("tech", "lymphocyte", "unfamiliar", 0.40, 3, "S-1", "phone-1", "1.0.0", ly[0]),
        "d": ("tech", "monocyte", "confident", 0.90, 3, "S-1", "phone-1", "1.0.0", mo),
        "e": ("tech2", "neutrophil", "review", 0.55, 2, "S-2", "phone-2", "2.0.0", None),
        "f": ("tech2", "lymphocyte", "confident", 0.93, 2, "S-2", "phone-2", "2.0.0", None),
    }
    records: dict[str, dict] = {}
    for key, (user, label, status, conf, age, slide, device, version, image) in spec.items():
        records[key] = cell_record(
            label,
            image,
            status=status,
            confidence=conf,
            captured_at=days_ago(age).isoformat(),
            slide_id=slide,
            device_id=device,
            model_version=version,
        )
        records[key]["user"] = user
    records["d"]["note"] = '=HYPERLINK("http://evil.example","click")'
    for user in ("tech", "tech2"):
        batch = [
            {k: v for k, v in r.items() if k != "user"}
            for r in records.values()
            if r["user"] == user
        ]
        assert set(sync(client, auth, user, batch)) == {"created"}
    return records


def phone_slide(**changes) -> dict:
    """A slide as a sync-contract-2 phone sends it."""
    slide = {
        "id": str(uuid.uuid4()),
        "sample_id": "PATIENT-0042 / smear A",
        "patient": None,
        "specimen": None,
        "note": None,
        "target": 100,
        "state": "open",
        "started_at": days_ago(6).isoformat(),
        "updated_at": days_ago(6).isoformat(),
        "finished_at": None,
        "device_id": PHONE,
    }
    return {**slide, **changes}


def phone_correction(record: dict, label: str | None, previous: str | None = None) -> dict:
    at = datetime.fromisoformat(record["captured_at"]) + timedelta(minutes=1)
    return {
        "id": str(uuid.uuid4()),
        "prediction_id": record["id"],
        "label": label,
        "previous_label": previous,
        "at": at.isoformat(),
    }


def sync_slide(client, auth, slide: dict, records: list[dict], corrections=(), user="tech"):
    """Pushes a slide, its records and corrections in one contract-2 request, as a phone does."""
    body = {"contract": 2, "slides": [slide], "predictions": records}
    if corrections:
        body["corrections"] = list(corrections)
    response = client.post("/api/sync/predictions", json=body, headers=auth.headers(user))
    answer = response.get_json()
    assert response.status_code == 200, answer
    assert [r["status"] for r in answer["slide_results"]] == ["created"], answer
    assert {r["status"] for r in answer["results"]} == {"created"}, answer
    if corrections:
        assert {r["status"] for r in answer["correction_results"]} == {"created"}, answer


def slide_cells(slide_id: str) -> dict[str, dict]:
    """Four cells of one slide from a phone with a uuid: a confident neutrophil, a `review`
    neutrophil, an `unfamiliar` lymphocyte (images) and a confident monocyte (no image),
    captured 5, 4, 3 and 3 days ago."""
    n, ly = pbc_images("neutrophil", 2), pbc_images("lymphocyte", 1)
    spec = {
        "a": ("neutrophil", "confident", 0.95, 5, n[0]),
        "b": ("neutrophil", "review", 0.60, 4, n[1]),
        "c": ("lymphocyte", "unfamiliar", 0.40, 3, ly[0]),
        "d": ("monocyte", "confident", 0.90, 3, None),
    }
    return {
        key: cell_record(
            label,
            image,
            status=status,
            confidence=conf,
            captured_at=days_ago(age).isoformat(),
            slide_id=slide_id,
            device_id=PHONE,
        )
        for key, (label, status, conf, age, image) in spec.items()
    }


def shoot(page, name: str) -> None:
    """Screenshots at desktop and phone size; at phone size the page must not scroll sideways
    (wide tables scroll inside their own region instead)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size_name, size in SIZES.items():
        page.set_viewport_size(size)
        # two frames: charts redraw for the new size on a ResizeObserver callback
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size_name}.png"), full_page=True)
        if size_name == "phone":
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a phone"
    page.set_viewport_size(SIZES["desktop"])
