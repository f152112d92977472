"""Helpers for the PWA's browser tests. Driving the app (launch, log in, classify) lives in
bench/pwa_driver.py and the server in bench/live_server.py: the benchmarks use them too."""

from pathlib import Path

import pytest

from bench.inputs import MODELS_ROOT, released_models
from bench.pwa_driver import ensure_pwa_built


def require_releases(*names: str) -> dict[str, Path]:
    """{name: folder} of the named releases, with the app built; a missing one fails the test
    (it never skips: the browser tests are the PWA's proof)."""
    found = released_models()
    missing = set(names) - set(found)
    if missing:
        pytest.fail(f"no released {sorted(missing)} model under {MODELS_ROOT}")
    ensure_pwa_built()
    return {name: found[name] for name in names}
