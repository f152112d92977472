"""An exclusive lock held on a file while a block runs: what the test session's parallel workers
(pytest-xdist, `make test`) build once for all of them (the PWA bundle, tiny releases) is built
under it, so no worker reads a half-written file and none builds it twice."""

import fcntl
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield
