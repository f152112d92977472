"""What the steps that make a new release of an already released network share
(training.cam_release, training.batch_release): the command line's OUT and --from, the exit
status of a refusal, and the source's report.md carried over with a section of its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from classifier.model_card import read_model_card
from training.report import derived_report


def parser(prog: str, doc: str, example: str) -> argparse.ArgumentParser:
    """OUT (the new version folder, `example` its name in the help) and --from SOURCE."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("out", type=Path, help=f"the new release folder, e.g. .../{example}")
    parser.add_argument(
        "--from", dest="source", type=Path, required=True, help="the released folder it is of"
    )
    return parser


def run(derive: Callable[[Callable[[str], None]], object]) -> int:
    """`derive(log)`; a refusal (ValueError, OSError) is printed and exits 2."""
    try:
        derive(lambda message: print(message, file=sys.stderr))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def write_report(folder: Path, source: Path, card: dict, heading: str, section: str) -> None:
    """`folder`'s report.md (the source's, copied there) for the new version, with `section`."""
    path = folder / "report.md"
    if path.exists():
        old = read_model_card(source)
        path.write_text(derived_report(path.read_text(), old, card, heading, section))
