"""The real inputs that the tests and the benchmarks share: the released models under
``tflite_models/<name>/<version>/`` (``HEMATOVISION_PWA_MODELS`` may point at another folder of
releases), the images of the datasets, and a cell photo shrunk as the phone sends it."""

import base64
import io
import os
from pathlib import Path

from PIL import Image

from training.paths import datasets_root

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS = datasets_root()
MODELS_ROOT = Path(os.environ.get("HEMATOVISION_PWA_MODELS", REPO_ROOT / "tflite_models"))


def released_models() -> dict[str, Path]:
    """{name: folder} of the newest released version of each model."""
    found: dict[str, Path] = {}
    for card in sorted(MODELS_ROOT.glob("*/*/model.json")):
        folder = card.parent
        name = folder.parent.name
        if name not in found or version_key(folder.name) > version_key(found[name].name):
            found[name] = folder
    return found


def malaria_release(red_cells: bool) -> Path:
    """The newest malaria-screen release that declares red-cell field mode (``input.field_framing``
    rbc-segmented: 1.1.0 on), or the newest that does not (1.0.0)."""
    import json

    folders = [
        card.parent
        for card in MODELS_ROOT.glob("malaria-screen/*/model.json")
        if ((json.loads(card.read_text())["input"].get("field_framing") or {}).get("method")
            == "rbc-segmented") == red_cells
    ]  # fmt: skip
    if not folders:
        raise FileNotFoundError(f"no such malaria-screen release under {MODELS_ROOT}")
    return max(folders, key=lambda folder: version_key(folder.name))


def version_key(version: str) -> tuple:
    parts = version.replace("-", ".").replace("+", ".").split(".")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def dataset_images(
    dataset: str, per_class: int, split: str = "test", classes: list[str] | None = None
) -> list[Path]:
    """The first `per_class` images of each class (or of `classes`) of a dataset split."""
    root = DATASETS / dataset / split
    images = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if classes is not None and folder.name not in classes:
            continue
        images += sorted(folder.iterdir())[:per_class]
    assert images, f"no images under {root}"
    return images


def cell_jpeg_b64(path: Path, size: int = 96) -> str:
    """A real cell photo, shrunk as the phone would, as base64 JPEG."""
    with Image.open(path) as image:
        small = image.convert("RGB").resize((size, size))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=85)
    return base64.b64encode(out.getvalue()).decode()
