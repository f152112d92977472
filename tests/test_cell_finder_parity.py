"""Python-browser parity: the JS finder in Chromium finds the boxes Python finds (within 2 px)."""

import glob
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.cells.annotations import bccd_photos
from backend.cells.finder import find_cells
from backend.find_cells import load_photo
from backend.paths import datasets_root
from tests.finder_support import low_magnification_mosaics

pytestmark = [pytest.mark.slow, pytest.mark.browser]
TOLERANCE = 2


def parity_photos() -> list[Path]:
    """16 field photos spread over bccd-fields and 4 single-cell close-ups from pbc."""
    fields = bccd_photos("all")
    chosen = fields[:: len(fields) // 16][:16]
    pbc = Path(datasets_root()) / "pbc" / "val"
    for name in ("basophil", "lymphocyte", "neutrophil", "platelet"):
        chosen.append(Path(sorted(glob.glob(str(pbc / name / "*")))[0]))
    return chosen


def unmatched(python_cells, browser_cells):
    """Python cells with no browser cell of the same type within TOLERANCE px, and leftovers."""
    left = list(browser_cells)
    missing = []
    for cell in python_cells:
        twin = next(
            (
                other
                for other in left
                if other["type"] == cell["type"]
                and max(abs(a - b) for a, b in zip(cell["box"], other["box"], strict=True))
                <= TOLERANCE
            ),
            None,
        )
        if twin is None:
            missing.append(cell)
        else:
            left.remove(twin)
    return missing, left


@pytest.fixture(scope="module")
def browser_results(tmp_path_factory):
    """The browser's results for the 20 photos, plus a black photo under the key 'black'."""
    from backend.cells.browser_harness import browser_finder

    folder = tmp_path_factory.mktemp("photos")
    black = folder / "black.png"
    Image.fromarray(np.zeros((480, 640, 3), dtype=np.uint8)).save(black)
    big = folder / "big.jpg"
    Image.open(bccd_photos("held-out")[0]).resize((6000, 4000)).save(big, quality=90)
    mosaic = folder / "low-magnification.png"  # lossless: the same pixels in both
    Image.fromarray(next(low_magnification_mosaics("held-out"))[0]).save(mosaic)
    # A phone photo stored sideways with EXIF orientation 6: both must search it upright.
    upright = Image.open(bccd_photos("held-out")[1]).convert("RGB")
    sideways = folder / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(sideways, quality=95, exif=exif.tobytes())
    photos = parity_photos()
    with browser_finder([*photos, black, big, mosaic, sideways]) as find:
        results = {photo: find(photo) for photo in photos}
        results["black"] = find(black)
        results["big"] = (big, find(big))
        results["low magnification"] = (mosaic, find(mosaic))
        results["exif sideways"] = (sideways, find(sideways))
        results["tiny error"] = find.page.evaluate("window.errorForTinyImage()")
        yield results


def test_twenty_photos_are_compared(browser_results):
    fields = [r for key, r in browser_results.items() if isinstance(key, Path)]
    assert len(fields) == 20
    assert sum(any(c["type"] == "wbc" for c in r["cells"]) for r in fields) >= 18


@pytest.mark.parametrize("index", range(20))
def test_browser_boxes_match_python_boxes(browser_results, index):
    photo = parity_photos()[index]
    rgb = load_photo(str(photo))
    result = browser_results[photo]
    assert (result["height"], result["width"]) == rgb.shape[:2]
    missing, extra = unmatched(find_cells(rgb), result["cells"])
    assert not missing and not extra, f"{photo.name}: python-only {missing}, browser-only {extra}"


def test_browser_finds_nothing_in_a_black_photo(browser_results):
    assert browser_results["black"]["cells"] == []


@pytest.mark.parametrize("key", ["big", "low magnification", "exif sideways"])
def test_browser_searches_other_photos_like_python(browser_results, key):
    # 6000x4000 (shrunk 19x), a 1280x960 low-magnification photo (searched again at 2x) and
    # a photo stored sideways whose EXIF orientation says how to show it.
    path, result = browser_results[key]
    rgb = load_photo(str(path))
    assert (result["height"], result["width"]) == rgb.shape[:2]
    python_cells = find_cells(rgb)
    assert any(c["type"] == "wbc" for c in python_cells)
    missing, extra = unmatched(python_cells, result["cells"])
    assert not missing and not extra, f"python-only {missing}, browser-only {extra}"


def test_browser_gives_a_clear_error_for_a_tiny_image(browser_results):
    assert browser_results["tiny error"] == "FinderError: image of 4x4 pixels is too small"
