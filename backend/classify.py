"""Old name of `classifier.classify`, kept for one release so scripts keep working.

`python -m backend.classify ...` runs the same command line; `import backend.classify` gives
the very same module object. Use `classifier.classify`: this alias goes in the next release."""

import sys

from classifier import classify as _classify

if __name__ == "__main__":
    sys.exit(_classify.main())
sys.modules[__name__] = _classify
