"""What the steps that make a new release of an already released network share
(training.cam_release, training.batch_release, training.view_check_release,
training.view_mean_release, training.site_release): the command line's OUT and --from, the
refusal of a target that exists or a source that is not float16, the exit status of a
refusal, and the folder's last steps
(the source's report and plots carried over, report.md with a section of its own)."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from classifier.model_card import model_card_text, read_model_card
from training.report import derived_report


def parser(prog: str, doc: str, example: str) -> argparse.ArgumentParser:
    """OUT (the new version folder, `example` its name in the help) and --from SOURCE."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("out", type=Path, help=f"the new release folder, e.g. .../{example}")
    parser.add_argument(
        "--from", dest="source", type=Path, required=True, help="the released folder it is of"
    )
    return parser


def refuse_target(source: Path, card: dict, out: Path) -> None:
    """ValueError unless `out` is new and `source` (its model.json `card`) ships float16: an
    int8 file would need new calibration ranges, so the outputs would not be the same."""
    if out.exists():
        raise ValueError(f"{out} exists: a release folder is never overwritten")
    if card["format"] != "float16":
        raise ValueError(f"{source} ships {card['format']}; only float16 releases are handled")


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


CARRIED = ("report.json", "report.md", "confusion_matrix.png", "reliability.png")


def finish(work: Path, out: Path, source: Path, card: dict, heading: str, section: str,
           keras_model=None, log=print) -> None:  # fmt: skip
    """The rest of the new release written into `work` (which holds its model.tflite): the
    source's report and plots, the Keras model (the source's own file when None), model.json and
    report.md with `section`; then `work` becomes `out`."""
    for name in CARRIED:
        if (source / name).exists():
            shutil.copy2(source / name, work / name)
    if keras_model is None:
        shutil.copy2(source / "model.keras", work / "model.keras")
    else:
        keras_model.save(work / "model.keras")
    (work / "model.json").write_text(model_card_text(card))
    write_report(work, source, card, heading, section)
    work.chmod(0o755)  # a temporary folder is private; a release folder is not
    work.rename(out)
    log(f"released {card['name']} {card['version']} in {out}")
