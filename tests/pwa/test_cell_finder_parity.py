"""Python-browser parity: the JS finder in Chromium finds the boxes Python finds (within 2 px)
and the very same red-cell diameter D; its frameSquare gives Python's frame_square, pixel for
pixel."""

import functools
import glob
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier.cells.finder import survey
from classifier.cells.framing import central_cell, frame_square
from classifier.find_cells import load_photo
from tests.conftest import low_magnification_mosaics
from training.annotations import bccd_photos
from training.paths import datasets_root

pytestmark = [pytest.mark.slow, pytest.mark.browser]
TOLERANCE = 2


OTHER_LABS = ("cellavision-blog", "lisc", "tecom")
OTHER_LAB_CLASSES = ("lymphocyte", "neutrophil")
PHOTOS = 16 + 4 + len(OTHER_LABS) * len(OTHER_LAB_CLASSES)


def parity_photos() -> list[Path]:
    """16 field photos spread over bccd-fields, 4 single-cell close-ups from pbc, and the
    first lymphocyte and neutrophil crop of each other lab (other stains, backgrounds and
    framings: tecom's yellow background, lisc's blue-grey red cells)."""
    fields = bccd_photos("all")
    chosen = fields[:: len(fields) // 16][:16]
    pbc = Path(datasets_root()) / "pbc" / "val"
    for name in ("basophil", "lymphocyte", "neutrophil", "platelet"):
        chosen.append(Path(sorted(glob.glob(str(pbc / name / "*")))[0]))
    for lab in OTHER_LABS:
        for name in OTHER_LAB_CLASSES:
            folder = Path(datasets_root()) / "other-labs" / lab / name
            chosen.append(sorted(folder.iterdir())[0])
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
    """The browser's results for the PHOTOS photos, plus a black photo under the key 'black'."""
    from bench.browser_harness import browser_finder

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
        results["frames"] = (mosaic, [find.frame(mosaic, *square) for square in squares(mosaic)])
        yield results


def test_all_parity_photos_are_compared(browser_results):
    fields = [r for key, r in browser_results.items() if isinstance(key, Path)]
    assert len(fields) == PHOTOS
    assert sum(any(c["type"] == "wbc" for c in r["cells"]) for r in fields) >= PHOTOS - 2


@functools.cache
def squares(photo: Path) -> list[tuple]:
    """Frames to compare: the rbc-scaled frame of the central white cell (3.5 D), a wide one
    reduced by block means, and one reaching beyond the photo's corner (edge pixels repeated)."""
    rgb = load_photo(str(photo))
    cells, diameter = survey(rgb)
    x0, y0, x1, y1 = central_cell(cells, rgb.shape, "wbc")["box"]
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    return [
        (*centre, 3.5 * diameter, 64),
        (640.5, 480.0, 999.9, 96),
        (10.25, 5.0, 3.5 * diameter, 48),
    ]


@pytest.mark.parametrize("index", range(PHOTOS))
def test_browser_boxes_and_diameter_match_python(browser_results, index):
    photo = parity_photos()[index]
    rgb = load_photo(str(photo))
    result = browser_results[photo]
    assert (result["height"], result["width"]) == rgb.shape[:2]
    cells, diameter = survey(rgb)
    missing, extra = unmatched(cells, result["cells"])
    assert not missing and not extra, f"{photo.name}: python-only {missing}, browser-only {extra}"
    assert result["diameter"] == diameter, photo.name


def test_browser_finds_nothing_in_a_black_photo(browser_results):
    assert browser_results["black"]["cells"] == []
    assert browser_results["black"]["diameter"] is None


def test_browser_frames_squares_like_python_pixel_for_pixel(browser_results):
    # the lossless mosaic: both frame the very same pixels
    photo, frames = browser_results["frames"]
    rgb = load_photo(str(photo))
    for square, got in zip(squares(photo), frames, strict=True):
        size = square[3]
        browser = np.asarray(got, dtype=np.uint8).reshape(size, size, 4)
        assert (browser[..., 3] == 255).all()
        assert np.array_equal(browser[..., :3], frame_square(rgb, *square)), square


@pytest.mark.parametrize("key", ["big", "low magnification", "exif sideways"])
def test_browser_searches_other_photos_like_python(browser_results, key):
    # 6000x4000 (shrunk 19x), a 1280x960 low-magnification photo (searched again at 2x) and
    # a photo stored sideways whose EXIF orientation says how to show it.
    path, result = browser_results[key]
    rgb = load_photo(str(path))
    assert (result["height"], result["width"]) == rgb.shape[:2]
    python_cells, diameter = survey(rgb)
    assert any(c["type"] == "wbc" for c in python_cells)
    missing, extra = unmatched(python_cells, result["cells"])
    assert not missing and not extra, f"python-only {missing}, browser-only {extra}"
    assert result["diameter"] == diameter


def test_browser_gives_a_clear_error_for_a_tiny_image(browser_results):
    assert browser_results["tiny error"] == "FinderError: image of 4x4 pixels is too small"
