"""Old name of `classifier.find_cells`, kept for one release so scripts keep working.

`python -m backend.find_cells ...` runs the same command line; `import backend.find_cells`
gives the very same module object. Use `classifier.find_cells`: this alias goes in the next
release."""

import sys

from classifier import find_cells as _find_cells

if __name__ == "__main__":
    sys.exit(_find_cells.main())
sys.modules[__name__] = _find_cells
