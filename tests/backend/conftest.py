"""Helpers for the backend's API tests (fixtures they share with other folders are in
tests/conftest.py)."""

import io
from pathlib import Path

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
