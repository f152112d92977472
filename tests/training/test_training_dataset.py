"""Dataset loading: both layouts, sorted labels, clear errors, corrupt images, leakage guard."""

import shutil

import numpy as np
import pytest

from tests.training.conftest import PBC, copy_images, make_dataset, real_images
from training.dataset import DatasetError, LeakageError, load_split, scan
from training.train import main as train_main


def test_split_layout_gives_sorted_lowercase_labels(tmp_path):
    make_dataset(tmp_path, labels=("platelet", "basophil", "ig"))
    for split in ("train", "val", "test"):
        (tmp_path / split / "basophil").rename(tmp_path / split / "Basophil")
    index = scan(tmp_path)
    assert index.labels == ["basophil", "ig", "platelet"]
    assert index.layout == "splits"
    assert index.counts()["test"] == {"basophil": 3, "ig": 3, "platelet": 3}


def test_kaggle_layout_carves_validation_from_train(tmp_path):
    for label in ("NEUTROPHIL", "EOSINOPHIL"):
        images = real_images(PBC, "train", label.lower(), 24)
        copy_images(images[:20], tmp_path / "TRAIN" / label)
        copy_images(images[20:], tmp_path / "TEST" / label)
    index = scan(tmp_path, val_fraction=0.3)
    assert index.labels == ["eosinophil", "neutrophil"]
    assert index.layout == "kaggle"
    train, val = index.splits["train"], index.splits["val"]
    assert val and len(train) + len(val) == 40
    assert not {s.path for s in train} & {s.path for s in val}


def _images_in_split_root(root):
    copy_images(real_images(PBC, "train", "ig", 2), root / "train")
    copy_images(real_images(PBC, "test", "ig", 2), root / "test" / "ig")


def _empty_class(root):
    make_dataset(root)
    shutil.rmtree(root / "val" / "platelet")
    (root / "val" / "platelet").mkdir()


def _class_folders_without_splits(root):
    copy_images(real_images(PBC, "train", "ig", 2), root / "ig")


def _class_missing_in_test(root):
    make_dataset(root)
    shutil.rmtree(root / "test" / "platelet")


@pytest.mark.parametrize(
    "build, message",
    [
        (None, "does not exist"),
        (_images_in_split_root, "holds images directly"),
        (_empty_class, "is empty"),
        (_class_folders_without_splits, "is not a dataset"),
        (_class_missing_in_test, "same class folders"),
    ],
)
def test_bad_layouts_give_clear_messages(tmp_path, build, message):
    root = tmp_path / "data"
    if build:
        root.mkdir()
        build(root)
    with pytest.raises(DatasetError, match=message):
        scan(root)


def test_corrupt_images_are_skipped_and_counted(tmp_path):
    make_dataset(tmp_path)
    (tmp_path / "train" / "basophil" / "garbage.jpg").write_bytes(b"not an image at all")
    good = real_images(PBC, "train", "platelet", 1)[0].read_bytes()
    (tmp_path / "train" / "platelet" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    x, y, skipped = load_split(scan(tmp_path), "train", 32)
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert len(skipped) == 2
    assert any("garbage.jpg" in m for m in skipped) and any("truncated.jpg" in m for m in skipped)


def test_identical_image_in_two_splits_is_refused(tmp_path):
    make_dataset(tmp_path)
    leaked = next((tmp_path / "train" / "platelet").iterdir())
    shutil.copyfile(leaked, tmp_path / "test" / "platelet" / "renamed-copy.jpg")
    with pytest.raises(LeakageError, match="renamed-copy.jpg") as error:
        scan(tmp_path)
    assert leaked.name in str(error.value)


def test_train_command_reports_a_bad_dataset_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "release" / "1.0.0"
    assert train_main(["--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not out.exists()
