"""`python -m classifier.find_cells IMAGE...`: the cells found in each photo, one JSON line each.

Each line is {"image": PATH, "cells": [{"box": [x0, y0, x1, y1], "type": "wbc"|"platelet"|"rbc",
"score": S}]} in pixels of the original photo (after its EXIF orientation is applied, as a
browser shows it; x1 and y1 exclusive). A photo that cannot be read or searched gives
{"image": PATH, "error": MESSAGE} instead, the others are still done, and the exit status is 1.
"""

import argparse
import json
import sys

import numpy as np

from classifier.cells.finder import FinderError, find_cells
from classifier.classify import UnreadableImageError
from classifier.classify import load_photo as load_upright_photo


def load_photo(path: str) -> np.ndarray:
    """An RGB uint8 array of the photo at `path`, upright; FinderError when it cannot be."""
    try:
        return load_upright_photo(path)
    except UnreadableImageError as error:
        raise FinderError(str(error)) from error


def find_in_file(path: str) -> dict:
    try:
        return {"image": path, "cells": find_cells(load_photo(path))}
    except FinderError as error:
        return {"image": path, "error": str(error)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m classifier.find_cells",
        description="Find white cells, platelets and red cells in smear photos (JSON lines).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    args = parser.parse_args(argv)
    failed = False
    for path in args.images:
        result = find_in_file(path)
        failed = failed or "error" in result
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
