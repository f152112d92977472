"""Helpers for the backend's API tests (fixtures they share with other folders are in
tests/conftest.py)."""

import io
import subprocess
import time
from pathlib import Path

import requests
from PIL import Image


def upload(client, headers, folder: Path, meta=None, model=None, activate: bool = False):
    """POST /api/models as multipart, with the folder's files unless replaced."""
    model = model if model is not None else (folder / "model.tflite").read_bytes()
    meta = meta if meta is not None else (folder / "model.json").read_bytes()
    data = {
        "model": (io.BytesIO(model), "model.tflite"),
        "meta": (io.BytesIO(meta), "model.json"),
        "activate": "true" if activate else "false",
    }
    return client.post(
        "/api/models", data=data, headers=headers, content_type="multipart/form-data"
    )


def jpeg_with_malformed_exif() -> bytes:
    """A JPEG whose EXIF gives tag 265 (a number in Pillow's table) a text value: decoding
    works, but rewriting the EXIF for exif_transpose raised struct.error (a 500) once."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotated, so exif_transpose rewrites the block
    exif[0x010F] = "cam"  # Make, ASCII ...
    raw = exif.tobytes().replace(b"\x01\x0f\x00\x02", b"\x01\x09\x00\x02")  # ... as tag 265
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 60, 120)).save(out, format="JPEG", exif=raw)
    return out.getvalue()


def wait_until_serving(url: str, process: subprocess.Popen, log_path: Path, limit: float = 60):
    """Wait for a `backend.serve` subprocess to answer; fail with its log if it died or never
    did."""
    deadline = time.monotonic() + limit
    while True:
        try:
            if requests.get(url + "/api/models", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)
