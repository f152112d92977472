"""Debian's Chromium for the browser tests and benchmarks (Playwright cannot download browsers
here) and the launch flags that work as root in this sandbox (CHROMIUM_ARGS below)."""

import os

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
