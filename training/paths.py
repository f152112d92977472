"""Where the project finds what lives beside the checkout, never inside it: the shared datasets
and the ImageNet weights (`../shared/` by default; the Makefile exports both variables)."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def datasets_root() -> Path:
    return Path(os.environ.get("HEMATOVISION_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))


def weights_root() -> Path:
    return Path(os.environ.get("HEMATOVISION_WEIGHTS", REPO_ROOT.parent / "shared" / "weights"))
