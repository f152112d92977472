"""Real tiny TFLite releases for the tests, built once and kept in pytest's cache folder."""

import io
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FORMAT = "f2"  # bump when tests/tiny_model.py changes, so cached builds are not reused


def tiny_release(
    cache_dir: Path, name: str = "cells", version: str = "1.0.0", seed: int = 1
) -> Path:
    folder = cache_dir / f"{name}-{version}-{seed}-{FORMAT}"
    if not (folder / "model.json").is_file():
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.tiny_model",
                str(folder),
                "--name",
                name,
                "--version",
                version,
                "--seed",
                str(seed),
            ],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
    return folder


def publish_folder(app, folder: Path, activate: bool = True) -> None:
    from backend.model_delivery.cli import publish_command

    result = app.test_cli_runner().invoke(
        publish_command, [str(folder), "--activate" if activate else "--no-activate"]
    )
    assert result.exit_code == 0, result.output


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
