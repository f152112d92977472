"""The cell finder on real annotated smear photos (bccd-fields) and on bad input."""

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.cells.finder import FinderError, _finer_factor, find_cells
from tests.conftest import low_magnification_mosaics
from training.annotations import bccd_photos, match_counts, read_voc_boxes
from training.paths import datasets_root

ROOT = Path(__file__).resolve().parents[2]


def load(photo: Path) -> np.ndarray:
    return np.asarray(Image.open(photo).convert("RGB"))


def white_cell_counts(photos, transform=lambda rgb: (rgb, 1.0)):
    """Summed (hits, found, annotated) of white cells at IoU >= 0.5."""
    total = np.zeros(3, dtype=int)
    for photo in photos:
        rgb, scale = transform(load(photo))
        truth = [
            [round(v * scale) for v in cell["box"]]
            for cell in read_voc_boxes(photo)
            if cell["type"] == "wbc"
        ]
        found = [cell["box"] for cell in find_cells(rgb) if cell["type"] == "wbc"]
        total += match_counts(found, truth)
    return total


@functools.cache
def finder_on_part(part: str):
    """(found cells, annotated cells) of every photo of a part, computed once per session."""
    return [(find_cells(load(photo)), read_voc_boxes(photo)) for photo in bccd_photos(part)]


def counts_on_part(part: str, kind: str, iou: float = 0.5):
    total = np.zeros(3, dtype=int)
    for found, truth in finder_on_part(part):
        total += match_counts(
            [c["box"] for c in found if c["type"] == kind],
            [c["box"] for c in truth if c["type"] == kind],
            iou,
        )
    return total


@pytest.mark.slow
@pytest.mark.parametrize(
    ("part", "min_recall", "min_precision"),
    # Measured: dev 0.977 / 0.970, held-out 0.973 / 0.973 (see docs/benchmarks.md).
    [("dev", 0.97, 0.93), ("held-out", 0.97, 0.90)],
)
def test_white_cells_found_on_annotated_photos(part, min_recall, min_precision):
    hits, found, annotated = counts_on_part(part, "wbc")
    assert hits / annotated >= min_recall, (hits, found, annotated)
    assert hits / found >= min_precision, (hits, found, annotated)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "min_recall", "min_precision"),
    # No targets for these; floors just under what was measured on all 162 photos
    # (red cells 0.587 / 0.463 -- many red cells are not annotated --, platelets 0.703 / 0.615).
    [("rbc", 0.55, 0.42), ("platelet", 0.6, 0.55)],
)
def test_red_cells_and_platelets_found_on_annotated_photos(kind, min_recall, min_precision):
    hits, found, annotated = counts_on_part("dev", kind) + counts_on_part("held-out", kind)
    assert hits / annotated >= min_recall, (hits, found, annotated)
    assert hits / found >= min_precision, (hits, found, annotated)


def _resized(factor):
    def transform(rgb):
        height, width = rgb.shape[:2]
        size = (round(width * factor), round(height * factor))
        return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)), factor

    return transform


def _restained(rgb):
    # Another lab's stain and lamp: weaker red, a warmer background, less contrast.
    gains = np.array([0.85, 0.95, 0.8])
    return np.clip(rgb * gains + 20, 0, 255).astype(np.uint8), 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "transform",
    [_resized(0.5), _resized(1.6), _restained],
    ids=["half-magnification", "1.6x-magnification", "other-stain"],
)
def test_white_cells_found_at_other_magnifications_and_stains(transform):
    photos = bccd_photos("held-out")[::3]
    hits, found, annotated = white_cell_counts(photos, transform)
    assert hits / annotated >= 0.9, (hits, found, annotated)
    assert hits / found >= 0.85, (hits, found, annotated)


def test_result_shape_and_order_on_a_real_photo():
    photo = bccd_photos("dev")[0]
    cells = find_cells(load(photo))
    assert {cell["type"] for cell in cells} <= {"wbc", "platelet", "rbc"}
    assert cells[0]["type"] == "wbc"
    height, width = load(photo).shape[:2]
    for cell in cells:
        x0, y0, x1, y1 = cell["box"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert all(isinstance(v, int) for v in cell["box"])
        assert 0.0 < cell["score"] <= 1.0
    red_cells = [cell for cell in cells if cell["type"] == "rbc"]
    assert red_cells, "a field photo full of red cells gave none"


def test_black_photo_gives_no_cells():
    assert find_cells(np.zeros((480, 640, 3), dtype=np.uint8)) == []


def test_photo_without_cells_gives_no_cells():
    rng = np.random.default_rng(6)
    blank = np.full((480, 640, 3), (228, 226, 234)) + rng.integers(-6, 7, (480, 640, 3))
    assert find_cells(blank.astype(np.uint8)) == []


def test_6000x4000_photo_is_searched_and_boxes_scale():
    photo = bccd_photos("held-out")[0]
    small = load(photo)
    big = np.asarray(Image.fromarray(small).resize((6000, 4000), Image.Resampling.BILINEAR))
    sx, sy = 6000 / small.shape[1], 4000 / small.shape[0]
    truth = [
        [round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)]
        for x0, y0, x1, y1 in (c["box"] for c in read_voc_boxes(photo) if c["type"] == "wbc")
    ]
    found = [c["box"] for c in find_cells(big) if c["type"] == "wbc"]
    hits, _, annotated = match_counts(found, truth)
    assert hits == annotated


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((480, 640), dtype=np.uint8), "RGB"),
        (np.zeros((480, 640, 4), dtype=np.uint8), "RGB"),
        (np.zeros((480, 640, 3), dtype=np.float32), "uint8"),
        (np.zeros((8, 640, 3), dtype=np.uint8), "too small"),
    ],
)
def test_unusable_arrays_get_a_clear_error(array, message):
    with pytest.raises(FinderError, match=message):
        find_cells(array)


def test_too_many_pixels_get_a_clear_error(monkeypatch):
    monkeypatch.setattr("classifier.cells.finder.MAX_PIXELS", 640 * 480 - 1)
    with pytest.raises(FinderError, match="larger than"):
        find_cells(np.zeros((480, 640, 3), dtype=np.uint8))


def run_cli(*paths):
    return subprocess.run(
        [sys.executable, "-m", "classifier.find_cells", *map(str, paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_prints_one_json_line_per_photo(tmp_path):
    photo = bccd_photos("dev")[0]
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((480, 640, 3), dtype=np.uint8)).save(black)
    result = run_cli(photo, black)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(photo), str(black)]
    assert lines[0]["cells"] == find_cells(load(photo))
    assert lines[1]["cells"] == []


def test_cli_reports_unreadable_files_and_goes_on(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    photo = bccd_photos("dev")[0]
    result = run_cli(broken, tmp_path / "missing.jpg", photo)
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "cannot read" in lines[0]["error"]
    assert "cannot read" in lines[1]["error"]
    assert lines[2]["cells"], "the good photo after two bad ones was not searched"
    assert "Traceback" not in result.stderr


def test_small_red_cells_are_searched_at_a_finer_scale():
    # 1280x960 shrinks 4x; red cells 12 working px wide -> shrink 2x instead (D = 24).
    assert _finer_factor((960, 1280), 4, 12.0) == 2
    assert _finer_factor((960, 1280), 2, 48.0) == 2  # big enough: unchanged
    assert _finer_factor((4000, 6000), 19, 6.0) == 5  # never more than MAX_WORK_PIXELS
    assert _finer_factor((480, 640), 2, None) == 2  # nothing found: nothing to refine


@pytest.mark.slow
def test_white_cells_found_in_large_low_magnification_photos():
    total = np.zeros(3, dtype=int)
    for rgb, truth in low_magnification_mosaics("held-out"):
        total += match_counts([c["box"] for c in find_cells(rgb) if c["type"] == "wbc"], truth)
    hits, found, annotated = total
    # Measured 0.906 / 0.906 on these 32 cells (0.934 / 0.929 on all 167 of 'all').
    assert hits / annotated >= 0.85 and hits / found >= 0.85, total


def test_no_white_cell_in_real_photos_without_one():
    # Single red cells on black (NIH malaria crops, another camera and stain): nothing to frame.
    malaria = sorted((datasets_root() / "malaria" / "val").glob("*/*"))[::8]
    assert len(malaria) >= 15
    for path in malaria:
        cells = find_cells(load(path))
        assert not [c for c in cells if c["type"] == "wbc"], path.name
