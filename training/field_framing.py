"""Field mode for a whole-image white-cell release: a new version of it that declares how a cell
found in a field photo is cut out for it (``input.field_framing``).

A whole-image model learned from photos of one cell each, and those photos are all about the
same number of red-cell diameters wide (pbc: a median of 4.3 D). Without a declaration, field
mode cuts each found white cell out with its box spanning CELL_FILL of the frame; box sizes vary
with how much cytoplasm the finder joins, so cells reach the model at sizes it never saw. With
``{"method": "rbc-scaled", "span": N}`` each cell is cut out N diameters wide, N measured on the
model's own training photos (never on test photos), so it comes out the size the model learned.

    python -m training.field_framing tflite_models/wbc-differential/1.0.0 \\
        tflite_models/wbc-differential/1.1.0

copies the release (the very same .tflite: the network is unchanged), declares the field framing
in model.json under the new version, scores field mode on the test photos with the old and the
new framing, and writes both, and the other-labs check, into the model card.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from classifier.cells.finder import survey
from classifier.cells.framing import CELL_FILL, central_cell
from classifier.cells.model_framing import RBC_SCALED, field_framing_of, framing_of
from classifier.classify import Classifier, load_photo
from classifier.model_card import model_card_text, read_model_card
from training import other_labs
from training.dataset import scan
from training.evaluate import confident_threshold
from training.labs import lolo_split, read_labs
from training.paths import datasets_root
from training.report import put_section

HEADING = "## Field mode (cells found in a field photo)"
COPIED = ("model.tflite", "model.keras", "report.json", "report.md", "confusion_matrix.png",
          "reliability.png")  # fmt: skip


def training_span(index) -> dict:
    """How many red-cell diameters wide the training photos are: the median over the training
    split of the photo's long side over its D (photos where D cannot be measured are left out)."""
    spans = []
    for sample in index.splits["train"]:
        rgb = load_photo(sample.path)
        diameter = survey(rgb)[1]
        if diameter:
            spans.append(max(rgb.shape[:2]) / diameter)
    if not spans:
        raise ValueError("no training photo has red cells to measure D on")
    return {
        "span": round(statistics.median(spans), 1),
        "photos": len(index.splits["train"]),
        "measured": len(spans),
    }


def field_metrics(classifier: Classifier, index, split: str = "test") -> dict:
    """Field mode on a split's photos, each holding one labelled cell: the found white cell
    nearest the photo's centre is the one scored. A photo where no white cell is found (most
    platelet photos: field mode counts white cells) counts as not correct in `accuracy`."""
    found, statuses, right, confident_wrong = 0, Counter(), 0, 0
    samples = index.splits[split]
    for sample in samples:
        field = classifier.classify_field(sample.path)
        if not field["cells"]:
            continue
        cell = central_cell(field["cells"], (field["height"], field["width"]), None)
        correct = cell["label"] == index.labels[sample.label]
        found += 1
        right += correct
        statuses[cell["status"]] += 1
        confident_wrong += cell["status"] == "confident" and not correct
    return {
        "photos": len(samples),
        "white_cell_found": found,
        "accuracy": round(right / len(samples), 4),
        "accuracy_of_found": round(right / found, 4) if found else None,
        "confident_wrong": confident_wrong,
        "statuses": dict(statuses.most_common()),
    }


def validation_photos(card: dict, index) -> list:
    """The release's validation photos: pbc's val split and, for a release trained with other
    labs, their validation crops (training.labs cuts them by content, seeded as training was)."""
    samples = list(index.splits["val"])
    if "labs" in card["dataset"]:
        labs = read_labs(datasets_root() / "other-labs", index.labels)
        held = card.get("leave_one_lab_out", {}).get("held_out")
        split = lolo_split(index, labs, held, card["hparams"]["seed"])
        samples = split.sets["val"]
    return samples


def field_decision(classifier: Classifier, card: dict, index) -> dict:
    """model.json decision.field: the confident threshold chosen on field-mode frames of the
    validation photos (the found white cell nearest each photo's centre) for the same
    precision the close-up threshold was chosen for. Cells cut out of a field photo are framed
    otherwise than close-ups, and a model can be surer of them than it should be."""
    probabilities, truth = [], []
    samples = validation_photos(card, index)
    for sample in samples:
        field = classifier.classify_field(sample.path)
        if field["cells"]:
            cell = central_cell(field["cells"], (field["height"], field["width"]), None)
            probabilities.append([cell["probabilities"][name] for name in index.labels])
            truth.append(sample.label)
    precision = card["hparams"]["confident_precision"]
    threshold = confident_threshold(np.array(probabilities), np.array(truth), precision)
    return {
        "confident_at_or_above": round(threshold, 4),
        "chosen_on": f"field-mode frames of {len(truth)} of {len(samples)} validation photos "
        f"(a white cell found), for {precision:.0%} precision",
    }


def section(card: dict) -> str:
    field = card["field_mode"]
    rows = [
        f"| {name} | {m['accuracy']:.1%} | {m['accuracy_of_found']:.1%} | {m['confident_wrong']} "
        f"| {', '.join(f'{k} {v}' for k, v in m['statuses'].items())} |"
        for name, m in field["test"].items()
    ]
    return "\n".join(
        [
            HEADING,
            "",
            f"Each white cell the finder finds in a field photo is cut out "
            f"{field['span']['span']} red-cell diameters wide (`input.field_framing`): as wide "
            f"as the training photos are (median over {field['span']['measured']} training "
            f"photos). The network is {card['derived_from']['name']} "
            f"{card['derived_from']['version']}'s, unchanged; single-cell figures above are "
            f"its own.",
            "",
            f"Field cells are marked `confident` from a top probability of "
            f"{card['decision']['field']['confident_at_or_above']} (close-ups: "
            f"{card['decision']['confident_at_or_above']}), chosen on "
            f"{card['decision']['field']['chosen_on']} (`decision.field`).",
            "",
            f"Field mode on the {next(iter(field['test'].values()))['photos']} test "
            f"photos (the found white cell nearest the centre is scored; a photo with none "
            f"found, e.g. most platelet photos, counts as not correct):",
            "",
            "| field framing | right, all photos | right, of found | confident and wrong "
            "| statuses of found |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )


def derive(source: Path, out: Path, data: Path | None = None, log=print) -> dict:
    """The new release folder `out` (its name is the version); returns its model.json.
    It declares the field framing and the field rule's own confident threshold."""
    card = read_model_card(source)
    if framing_of(card) is not None or field_framing_of(card) is not None:
        raise ValueError(f"{source} already frames the cells of a field photo")
    if out.exists():
        raise ValueError(f"{out} exists: a release folder is never overwritten")
    index = scan(data or datasets_root() / card["dataset"]["name"])
    span = training_span(index)
    log(f"training photos are {span['span']} red-cell diameters wide (median)")
    before = field_metrics(Classifier(source), index)
    out.mkdir(parents=True)
    try:
        for name in COPIED:
            if (source / name).exists():
                shutil.copy2(source / name, out / name)
        framing = {"method": RBC_SCALED, "span": span["span"]}
        card = {
            **card,
            "version": out.name,
            "input": {**card["input"], "field_framing": framing},
            "client_rule": card["client_rule"]
            + " Field photos (every white cell found, or one marked by hand): cut each cell out "
            "as input.field_framing says (classifier.cells.model_framing.frame_box) and apply the "
            "same rule to that frame.",
            "derived_from": {
                "name": card["name"],
                "version": card["version"],
                "change": "input.field_framing declared; the network and its file are the same",
            },
        }
        (out / "model.json").write_text(model_card_text(card))  # read by Classifier
        field_rule = field_decision(Classifier(out), card, index)
        log(f"field-mode confident threshold {field_rule['confident_at_or_above']} "
            f"(close-ups: {card['decision']['confident_at_or_above']})")  # fmt: skip
        card["decision"] = {**card["decision"], "field": field_rule}
        (out / "model.json").write_text(model_card_text(card))
        after = field_metrics(Classifier(out), index)
        card["field_mode"] = {
            "span": span,
            "test": {
                f"none: box spanning {CELL_FILL} ({source.name})": before,
                f"rbc-scaled, {span['span']} D ({out.name})": after,
            },
        }
        (out / "model.json").write_text(model_card_text(card))
        report = (out / "report.md").read_text()
        report = report.replace(f"# {card['name']} {card['derived_from']['version']}",
                                f"# {card['name']} {card['version']}", 1)  # fmt: skip
        (out / "report.md").write_text(put_section(report, HEADING, section(card)))
        other_labs.write(out, other_labs.field_check(out))
    except BaseException:
        shutil.rmtree(out)
        raise
    log(f"released {card['name']} {card['version']} in {out}")
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.field_framing", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("source", type=Path, help="a whole-image white-cell release folder")
    parser.add_argument("out", type=Path, help="the new release folder, e.g. .../1.1.0")
    parser.add_argument("--data", type=Path, help="its dataset folder (default: model.json's)")
    args = parser.parse_args(argv)
    try:
        card = derive(args.source, args.out, args.data, log=lambda m: print(m, file=sys.stderr))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(card["field_mode"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
