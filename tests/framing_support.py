"""A real released model declared as framed: the unframed wbc-differential file, unchanged, with
``input.framing`` added to its model.json (the sha256 of the .tflite still matches). It checks
the mechanism (classifier.classify and the PWA frame alike); it is not a model trained on frames."""

import json
import shutil
from pathlib import Path

from tests import pwa_support as pwa

FRAMING = {"method": "wbc-canonical", "fill": 0.6}


def base_release() -> Path:
    """The newest wbc-differential release trained on whole images (no input.framing)."""
    folders = sorted(pwa.MODELS_ROOT.glob("wbc-differential/*/model.json"))
    unframed = [m.parent for m in folders if "framing" not in json.loads(m.read_text())["input"]]
    assert unframed, f"no unframed wbc-differential release under {pwa.MODELS_ROOT}"
    return max(unframed, key=lambda folder: pwa.version_key(folder.name))


def framed_release(tmp: Path, framing: dict | None = FRAMING) -> Path:
    source = base_release()
    folder = tmp / "wbc-differential" / "framed"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "model.tflite", folder / "model.tflite")
    meta = json.loads((source / "model.json").read_text())
    # A framed model frames field cells by its framing: the whole-image field framing goes.
    meta["input"] = {k: v for k, v in meta["input"].items() if k != "field_framing"}
    meta["input"]["framing"] = framing
    (folder / "model.json").write_text(json.dumps(meta))
    return folder
