"""Training on pbc plus other laboratories, measured leave-one-lab-out (LOLO).

`other-labs/<lab>/<class>/<image>` (datasets README) has no splits. For a held-out lab the
training labs' crops are split into train and val by a seeded hash of their content, so
validation also sees every training lab; the held-out lab's crops are only scored, never
trained or tuned on. pbc keeps its own splits, and its test split stays the test split.
Classes the other labs lack (ig, erythroblast, platelet) are learned from pbc alone.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.dataset import (
    DatasetError,
    DatasetIndex,
    Sample,
    check_leakage,
    class_folders,
    file_sha256,
)

PBC = "pbc"
# The datasets README: "the tecom and cellavision-blog labels were partly assigned by the
# dataset's authors without expert review ... expect some label noise".
UNREVIEWED_LABS = frozenset({"tecom", "cellavision-blog"})
LAB_VAL_FRACTION = 0.15
SETS = ("train", "val", "test", "score")


@dataclass
class LabSample(Sample):
    lab: str = PBC


def lab_names(root: Path) -> list[str]:
    if not root.is_dir():
        raise DatasetError(f"other-labs folder {root} does not exist")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_lab(folder: Path, labels: list[str], max_per_class: int | None = None) -> list[LabSample]:
    """One lab's crops, labelled with pbc's label list; at most max_per_class per class."""
    samples = []
    for name, paths in class_folders(folder).items():
        if name not in labels:
            raise DatasetError(
                f"class folder '{name}' of lab {folder.name} ({folder / name}) is not one of "
                f"pbc's labels {labels}; rename or remove it"
            )
        for path in paths[:max_per_class]:
            samples.append(LabSample(path, labels.index(name), file_sha256(path), folder.name))
    return samples


def read_labs(
    root: Path, labels: list[str], max_per_class: int | None = None
) -> dict[str, list[LabSample]]:
    """lab -> its crops, for every lab folder under `root`."""
    return {lab: read_lab(root / lab, labels, max_per_class) for lab in lab_names(root)}


def goes_to_val(sha256: str, seed: int, fraction: float = LAB_VAL_FRACTION) -> bool:
    # By content, so a copy of an image always lands on the same side; seeded, so the cut can
    # differ from the one dataset.scan makes for a Kaggle-layout validation split.
    digest = hashlib.sha256(f"{seed}:{sha256}".encode()).hexdigest()
    return int(digest[:8], 16) % 10_000 < fraction * 10_000


@dataclass
class LabSplit:
    """train/val/test for training and `score` (the held-out lab's crops; empty if none)."""

    root: Path
    labels: list[str]
    held_out: str | None
    sets: dict[str, list[LabSample]]

    def counts(self) -> dict[str, dict[str, int]]:
        """set -> lab -> images: what the model card records of each lab."""
        return {
            name: dict(sorted(Counter(s.lab for s in samples).items()))
            for name, samples in self.sets.items()
        }

    def training_index(self, notes: list[str]) -> DatasetIndex:
        """train/val/test as the training pipeline reads them (training.dataset.load_split)."""
        splits = {name: list(self.sets[name]) for name in ("train", "val", "test")}
        return DatasetIndex(self.root, self.labels, splits, "splits+other-labs", notes)

    def score_index(self) -> DatasetIndex:
        return DatasetIndex(self.root, self.labels, {"score": list(self.sets["score"])}, "lab")


def _as_lab_samples(samples: list[Sample]) -> list[LabSample]:
    return [LabSample(s.path, s.label, s.sha256, PBC) for s in samples]


def lolo_split(
    pbc: DatasetIndex,
    labs: dict[str, list[LabSample]],
    held_out: str | None,
    seed: int = 0,
    val_fraction: float = LAB_VAL_FRACTION,
) -> LabSplit:
    """The split that holds `held_out` out (None: every lab trains, the final release's split).

    Raises DatasetError for an unknown lab and LeakageError when an image is in two sets."""
    if held_out is not None and held_out not in labs:
        raise DatasetError(f"unknown lab '{held_out}': the other labs are {sorted(labs)}")
    sets = {name: _as_lab_samples(pbc.splits[name]) for name in ("train", "val", "test")}
    sets["score"] = list(labs.get(held_out, []))
    for lab, samples in labs.items():
        if lab == held_out:
            continue
        for sample in samples:
            side = "val" if goes_to_val(sample.sha256, seed, val_fraction) else "train"
            sets[side].append(sample)
    check_leakage(DatasetIndex(pbc.root, pbc.labels, sets, "lolo"))
    return LabSplit(pbc.root, pbc.labels, held_out, sets)


def lab_share_repeats(labs: list[str], share: float) -> np.ndarray:
    """How many times each training image goes into an epoch so that the other labs' crops
    make up at least `share` of it: pbc's images once, every other lab's crop r times."""
    labs = np.asarray(labs)
    other = labs != PBC
    repeats = np.ones(len(labs), dtype=np.int64)
    n_other, n_pbc = int(other.sum()), int((~other).sum())
    if share > 0 and n_other and n_other < share * len(labs):
        repeats[other] = int(np.ceil(share * n_pbc / ((1 - share) * n_other)))
    return repeats


def label_smoothing_of(labs: list[str], smoothing: float) -> np.ndarray:
    """Per-image label smoothing: `smoothing` for crops of UNREVIEWED_LABS, 0 for the rest."""
    return np.array([smoothing if lab in UNREVIEWED_LABS else 0.0 for lab in labs], np.float32)
