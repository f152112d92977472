"""Class folders -> labelled, leakage-checked image arrays.

Two layouts are read: ``<root>/<split>/<class>/*`` with splits train/val/test (this project's
datasets) and the Kaggle "Blood Cell Images" one, ``<root>/TRAIN|TEST/<CLASS>/*``, whose missing
validation split is carved out of TRAIN. Labels are the class folder names, lower-cased, sorted.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier.classify import UnreadableImageError, frame_photo, load_image

NO_WHITE_CELL = "no white cell found in"

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


class DatasetError(ValueError):
    """The folder does not hold a usable dataset; the message says what to fix."""


class LeakageError(DatasetError):
    """The same image (by content) is in two splits."""


@dataclass
class Sample:
    path: Path
    label: int
    sha256: str


@dataclass
class DatasetIndex:
    root: Path
    labels: list[str]
    splits: dict[str, list[Sample]]
    layout: str
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            split: {self.labels[i]: n for i, n in sorted(Counter(s.label for s in samples).items())}
            for split, samples in self.splits.items()
        }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _split_folders(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    folders = {}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        split = SPLIT_NAMES.get(child.name.lower())
        if split and split not in folders:
            folders[split] = child
    if "train" not in folders or "test" not in folders:
        found = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
        raise DatasetError(
            f"{root} is not a dataset: expected <root>/<split>/<class>/<image> with splits "
            f"train, val (optional) and test (or the Kaggle TRAIN/TEST/<CLASS>/ layout); "
            f"found {found[:10] or 'nothing'}"
        )
    return folders


def class_folders(split_dir: Path) -> dict[str, list[Path]]:
    classes = {}
    for child in sorted(p for p in split_dir.iterdir() if not p.name.startswith(".")):
        if child.is_file() and child.suffix.lower() in IMAGE_SUFFIXES:
            raise DatasetError(
                f"{split_dir} holds images directly ({child.name}); put each class in its own "
                f"folder: {split_dir}/<class>/<image>"
            )
        if child.is_dir():
            images = sorted(
                p for p in child.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not images:
                raise DatasetError(f"class folder {child} is empty: it holds no images")
            classes[child.name.lower()] = images
    if not classes:
        raise DatasetError(f"split folder {split_dir} holds no class folders")
    return classes


def _carve_validation(train: list[Sample], fraction: float) -> tuple[list, list]:
    # Chosen by content hash, so copies of one image always land on the same side.
    cut = int(fraction * 10_000)
    val = [s for s in train if int(s.sha256[:8], 16) % 10_000 < cut]
    rest = [s for s in train if int(s.sha256[:8], 16) % 10_000 >= cut]
    return rest, val


def scan(root: str | Path, val_fraction: float = 0.1) -> DatasetIndex:
    """Index a dataset folder; raises DatasetError with a clear message when it is unusable."""
    root = Path(root)
    folders = _split_folders(root)
    per_split = {split: class_folders(folder) for split, folder in folders.items()}
    labels = sorted(per_split["train"])
    for split, classes in per_split.items():
        if sorted(classes) != labels:
            raise DatasetError(
                f"split '{split}' has classes {sorted(classes)} but train has {labels}; "
                f"every split needs the same class folders"
            )
    splits = {
        split: [
            Sample(path, labels.index(name), file_sha256(path))
            for name, paths in classes.items()
            for path in paths
        ]
        for split, classes in per_split.items()
    }
    layout, notes = "splits", []
    if "val" not in splits:
        splits["train"], splits["val"] = _carve_validation(splits["train"], val_fraction)
        layout = "kaggle"
        notes.append(f"no validation split: {len(splits['val'])} training images held out")
    index = DatasetIndex(root, labels, splits, layout, notes)
    check_leakage(index)
    return index


def check_leakage(index: DatasetIndex) -> None:
    """Refuse a dataset in which an identical image (sha256 of the file) is in two splits."""
    seen: dict[str, tuple[str, Path]] = {}
    clashes = []
    for split, samples in index.splits.items():
        for sample in samples:
            first = seen.setdefault(sample.sha256, (split, sample.path))
            if first[0] != split:
                clashes.append(f"{first[1]} ({first[0]}) = {sample.path} ({split})")
    if clashes:
        shown = "\n  ".join(clashes[:5])
        raise LeakageError(
            f"{len(clashes)} image(s) appear in two splits, which would inflate test scores; "
            f"remove the copies first:\n  {shown}"
        )


def load_split(
    index: DatasetIndex,
    split: str,
    size: int,
    cache_dir: Path | None = None,
    framing: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode one split to (images uint8 [N,size,size,3], labels int [N], skipped messages).

    Unreadable images are skipped and reported, never fatal. With `framing` (a model.json
    input.framing) each image is the frame a client will feed the model
    (classifier.classify.frame_photo); an image with nothing to frame is skipped with a message
    starting NO_WHITE_CELL. Decoded arrays are cached by the content
    hashes (and the framing), so a second run on the same files does not decode them again.
    """
    x, y, _, skipped = load_samples(index, split, size, cache_dir, framing)
    return x, y, skipped


def load_samples(
    index: DatasetIndex,
    split: str,
    size: int,
    cache_dir: Path | None = None,
    framing: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, list[Sample], list[str]]:
    """load_split, plus the samples the images came from (in order, the skipped ones left out),
    for a caller that needs more of each image than its label (training.labs: its lab)."""
    samples = index.splits[split]
    tag = f"{size}" if framing is None else "-".join(str(v) for v in (size, *framing.values()))
    key = hashlib.sha256(f"{tag}:{','.join(s.sha256 for s in samples)}".encode()).hexdigest()
    cache = cache_dir / f"{split}-{tag}-{key[:16]}.npz" if cache_dir else None
    if cache and cache.exists():
        data = np.load(cache)
        if "kept" in data:  # caches written before load_samples lack it: decode again
            kept = [samples[i] for i in data["kept"]]
            return data["x"], data["y"], kept, list(data["skipped"])
    images, labels, kept, skipped = [], [], [], []
    for position, sample in enumerate(samples):
        try:
            if framing is None:
                images.append(load_image(sample.path, size))
            else:
                framed = frame_photo(sample.path, framing, size)
                if framed["frame"] is None:
                    skipped.append(f"{NO_WHITE_CELL} {sample.path}")
                    continue
                images.append(framed["frame"])
            labels.append(sample.label)
            kept.append(position)
        except UnreadableImageError as error:
            skipped.append(str(error))
    x = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    y = np.asarray(labels, dtype=np.int64)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            cache, x=x, y=y, kept=np.asarray(kept, np.int64), skipped=np.asarray(skipped, dtype=str)
        )
    return x, y, [samples[i] for i in kept], skipped
