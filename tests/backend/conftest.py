"""Helpers for the backend's API tests (fixtures they share with other folders are in
tests/conftest.py)."""

import io
from pathlib import Path


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
