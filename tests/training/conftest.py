"""Helpers for the training tests: small real datasets built from ../shared/datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

from training.paths import datasets_root

PBC = datasets_root() / "pbc"
MALARIA = datasets_root() / "malaria"


def real_images(dataset: Path, split: str, label: str, n: int) -> list[Path]:
    images = sorted((dataset / split / label).iterdir())[:n]
    assert len(images) == n, f"need {n} images in {dataset / split / label}; is ../shared there?"
    return images


def copy_images(images: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image in images:
        shutil.copyfile(image, folder / image.name)


def make_dataset(
    root: Path, splits=("train", "val", "test"), labels=("basophil", "platelet"), per_class: int = 3
) -> Path:
    """``root/<split>/<label>/`` with distinct real PBC images in every split and class."""
    for label in labels:
        images = real_images(PBC, "train", label, per_class * len(splits))
        for k, split in enumerate(splits):
            copy_images(images[k * per_class : (k + 1) * per_class], root / split / label)
    return root
