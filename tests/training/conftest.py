"""Helpers for the training tests: small real datasets built from ../shared/datasets."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.file_lock import locked
from training.paths import datasets_root

PBC = datasets_root() / "pbc"
MALARIA = datasets_root() / "malaria"
TINY_RUN_PER_CLASS = 5


@pytest.fixture(scope="session")
def tiny_lolo_release(tmp_path_factory) -> Path:
    """One real, tiny training run of the release recipe's kind: pbc plus the other labs with
    tecom held out and scored. The end-to-end and leave-one-lab-out tests read the same run (one
    export costs about a minute here), also when parallel workers run them (`make test`)."""
    from training.train import main as train_main

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder the session's workers share
    out = root / "tiny-lolo" / "models" / "tiny" / "0.1.0"
    with locked(root / "tiny-lolo.lock"):
        if not (out / "report.md").is_file():  # written last
            args = ["--data", str(PBC), "--out", str(out),
                    "--max-per-class", str(TINY_RUN_PER_CLASS), "--image-size", "48",
                    "--head-epochs", "1", "--fine-tune-epochs", "1",
                    "--representative-images", "16",
                    "--cache-dir", str(root / "tiny-lolo" / "cache"),
                    "--other-labs", "--hold-out-lab", "tecom",
                    "--lab-share", "0.3", "--noisy-label-smoothing", "0.1"]  # fmt: skip
            shutil.rmtree(out, ignore_errors=True)  # a run of a worker that failed
            assert train_main(args) == 0
    return out


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
