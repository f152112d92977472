"""The PWA bundle is built once per test session (bench.pwa_driver.ensure_pwa_built), and the
session leaves nothing of it in the temporary folder."""

import tempfile

from bench import pwa_driver


def test_the_bundle_is_built_once_per_session_and_its_marker_removed_after(monkeypatch, tmp_path):
    builds = []
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(pwa_driver, "_build_pwa", lambda: builds.append(1))
    monkeypatch.setenv("HEMATOVISION_TEST_SESSION", "s1")
    pwa_driver.ensure_pwa_built()
    pwa_driver.ensure_pwa_built()
    assert builds == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hv-pwa-built-s1", "hv-pwa-built-s1.lock"]
    pwa_driver.forget_pwa_built("s1")
    assert list(tmp_path.iterdir()) == []
    pwa_driver.ensure_pwa_built()  # a new session after it builds again
    assert builds == [1, 1]
