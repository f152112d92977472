"""What a white-cell release can state about other laboratories: a model-card section.

Accuracy in a lab a release never saw is measured only by leave-one-lab-out runs
(training.lolo_table); a release trained on every lab at hand has no unseen lab of its own, and
one trained on pbc alone states none here. `bccd-fields` (another lab, camera and stain than
pbc) has white-cell boxes without subtypes, on purpose: it is never used to train or tune. It
still shows how a release behaves on another lab's white cells found by the finder: which labels
and statuses it gives them. Every found cell is a white cell (7 of the 173 found are not
annotated ones), so a `platelet` or `erythroblast` call there is wrong, and a confident one is
the failure to avoid.

    python -m training.other_labs RELEASE_DIR [--write]

prints the figures as JSON; --write also stores them in the release's model.json
(`other_labs`) and report.md. Run by `training.train --other-labs-check` at release time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from classifier.classify import Classifier
from classifier.model_card import model_card_text, read_model_card
from training.annotations import bccd_photos
from training.report import put_section

NOT_WHITE_CELLS = ("platelet", "erythroblast")
HEADING = "## Other laboratories (what is known)"


def field_check(model_dir: Path) -> dict:
    """Labels and statuses the release gives every white cell found in bccd-fields."""
    classifier = Classifier(model_dir, num_threads=2)
    photos = bccd_photos()
    cells = [c for photo in photos for c in classifier.classify_field(str(photo))["cells"]]
    wrong = [c for c in cells if c["label"] in NOT_WHITE_CELLS]
    return {
        "dataset": "bccd-fields (another lab; white-cell boxes, no subtypes: never tuned on)",
        "photos": len(photos),
        "white_cells_found": len(cells),
        "labels": dict(Counter(c["label"] for c in cells).most_common()),
        "statuses": dict(Counter(c["status"] for c in cells).most_common()),
        "called_platelet_or_erythroblast": len(wrong),
        "of_those_confident": sum(c["status"] == "confident" for c in wrong),
        "accuracy": "not measurable on bccd-fields: its white cells have no subtype labels",
    }


def section(card: dict, check: dict) -> str:
    framing = card["input"].get("framing")
    how = (
        f"framed `{framing['method']}` ({json.dumps(framing)}): "
        + (
            "each cell is cut out centred and scaled by the red cells of its own photo, so "
            "magnification and the cell's position in the photo matter less, and a cell keeps "
            "its size relative to the red cells"
            if framing["method"] == "rbc-scaled"
            else "each cell is cut out centred, its box a fixed share of the frame"
        )
        if framing
        else "unframed: the whole image is resized, so another lab's magnification and "
        "cropping reach the model unchanged"
    )
    field = card["input"].get("field_framing")
    if field:
        how += (
            f"; in field mode each found white cell is cut out {field['span']} red-cell "
            f"diameters wide, as wide as the training photos"
        )
    labs = sorted(set(card.get("dataset", {}).get("labs", {}).get("train", {})) - {"pbc"})
    accuracy = (
        f"- Accuracy in a lab it never saw: this release trained on pbc and {', '.join(labs)}, "
        "so its figures there describe labs it knows; a lab it never saw is scored by the "
        "leave-one-lab-out runs (their section of this card, where run: `make lolo`)."
        if labs
        else "- Accuracy in another lab is **not measured** in this card: the release trained "
        "on one lab (pbc)."
    )
    labels = ", ".join(f"{k} {v}" for k, v in check["labels"].items())
    statuses = ", ".join(f"{k} {v}" for k, v in check["statuses"].items())
    return "\n".join(
        [
            HEADING,
            "",
            accuracy + " Treat every result from a new lab as needing review until that lab "
            "has checked the model on its own slides.",
            f"- Input: {how}. Training augments stain, exposure, zoom, blur, noise and JPEG.",
            f"- {check['white_cells_found']} white cells found by the cell finder in "
            f"{check['photos']} bccd-fields photos (another lab, stain and camera; no subtype "
            f"labels; never used for tuning): labels {labels}; statuses {statuses}. "
            f"{check['called_platelet_or_erythroblast']} were called platelet or erythroblast "
            f"(wrong: they are white cells), {check['of_those_confident']} of them confident.",
            "",
        ]
    )


def write(model_dir: Path, check: dict) -> None:
    card_path, report_path = model_dir / "model.json", model_dir / "report.md"
    card = read_model_card(model_dir)
    card["other_labs"] = check
    card_path.write_text(model_card_text(card))
    report_path.write_text(put_section(report_path.read_text(), HEADING, section(card, check)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.other_labs", description=__doc__)
    parser.add_argument("model_dir", type=Path, help="a white-cell release folder")
    parser.add_argument("--write", action="store_true", help="store it in model.json/report.md")
    args = parser.parse_args(argv)
    check = field_check(args.model_dir)
    print(json.dumps(check, indent=2))
    if args.write:
        write(args.model_dir, check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
