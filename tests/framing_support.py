"""A real released model declared as framed: the wbc-differential file, unchanged, with
``input.framing`` added to its model.json (the sha256 of the .tflite still matches). It checks
the mechanism (backend.classify and the PWA frame alike); it is not a model trained on frames."""

import json
import shutil
from pathlib import Path

from tests import pwa_support as pwa

FRAMING = {"method": "wbc-canonical", "fill": 0.6}


def base_release() -> Path:
    found = pwa.released_models()
    assert "wbc-differential" in found, f"no wbc-differential release under {pwa.MODELS_ROOT}"
    return found["wbc-differential"]


def framed_release(tmp: Path, framing: dict | None = FRAMING) -> Path:
    source = base_release()
    folder = tmp / "wbc-differential" / "framed"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "model.tflite", folder / "model.tflite")
    meta = json.loads((source / "model.json").read_text())
    meta["input"] = {**meta["input"], "framing": framing}
    (folder / "model.json").write_text(json.dumps(meta))
    return folder
