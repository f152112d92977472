"""Benchmarks (`make bench-*`: scripts that print figures, never tests) and the browser tooling
they share with the tests: the system Chromium's launch flags and the cell-finder harness."""
