"""Put the leave-one-lab-out table into a release's model card.

A release trained on every laboratory cannot say how a laboratory it never saw would fare; the
leave-one-lab-out runs can: each trained with the release's recipe on pbc and all other labs but
one, and scored that one (training.labs, ``train.py --hold-out-lab``). This collects their
scores into the release's model.json (``leave_one_lab_out.runs``) and report.md.

    python -m training.lolo_table RELEASE_DIR RUN_DIR [RUN_DIR ...]

A run trained with another recipe than the release (any hyper-parameter other than the seed)
is refused: its score would describe a different model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from classifier.model_card import ModelCardError, model_card_text, read_model_card
from training.report import put_section

HEADING = "## Leave-one-lab-out: laboratories never trained on"


class LoloTableError(ValueError):
    """The runs cannot describe the release; the message says why."""


def collect(card: dict, runs: list[dict]) -> dict:
    """model.json's `leave_one_lab_out` for the release: one entry per held-out lab."""
    entries = []
    for run in runs:
        lolo = run.get("leave_one_lab_out")
        where = f"{run.get('name')} {run.get('version')}"
        if not lolo or "held_out" not in lolo:
            raise LoloTableError(f"{where} held no lab out (trained without --hold-out-lab)")
        different = {
            key: (value, run["hparams"].get(key))
            for key, value in card["hparams"].items()
            if key != "seed" and run["hparams"].get(key) != value
        }
        if different:
            shown = ", ".join(f"{k}: release {a!r}, run {b!r}" for k, (a, b) in different.items())
            raise LoloTableError(f"{where} was trained with another recipe ({shown})")
        entries.append({**lolo, "run": where})
    held = [e["held_out"] for e in entries]
    if len(set(held)) != len(held):
        raise LoloTableError(f"a lab is held out by two runs: {sorted(held)}")
    return {"runs": sorted(entries, key=lambda e: e["held_out"])}


def section(lolo: dict) -> str:
    rows = [
        HEADING,
        "",
        "Each lab scored by a run with this release's recipe that never trained or tuned on it "
        "(pbc and the other labs only); the released model itself trained on every lab. "
        "Single-cell mode (the whole crop), the shipped file through the client's status rule.",
        "",
        "| held-out lab | crops | right | wrong calls marked confident | confident calls right "
        "| confident share | ECE | trained on (training images) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in lolo["runs"]:
        s = e["score"]
        rows.append(
            f"| {e['held_out']} | {s['n']} | {_pct(s['accuracy'])} "
            f"| {_pct(s['wrong_calls_confident'])} | {_pct(s['confident_accuracy'])} "
            f"| {_pct(s['confident_share'])} | {_pct(s.get('ece'))} "
            f"| {_trained_on(e['train_labs'])} |"
        )
    return "\n".join(rows) + "\n"


def _trained_on(train_labs: dict) -> str:
    # The runs may train on a share of pbc (make lolo: LOLO_PBC_PER_CLASS): say how much.
    return ", ".join(f"{lab} {n['train']}" for lab, n in train_labs.items())


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def write(release: Path, run_dirs: list[Path]) -> dict:
    card = read_model_card(release)
    lolo = collect(card, [read_model_card(d) for d in run_dirs])
    (release / "model.json").write_text(model_card_text({**card, "leave_one_lab_out": lolo}))
    report = release / "report.md"
    report.write_text(put_section(report.read_text(), HEADING, section(lolo)))
    return lolo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.lolo_table", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("release", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        lolo = write(args.release, args.runs)
    except (LoloTableError, ModelCardError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(lolo, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
