"""Red-cell field mode for a malaria screen: declare it and measure it.

    python -m training.red_cell_release tflite_models/malaria-screen/NEW
    python -m training.red_cell_release --from tflite_models/malaria-screen/1.0.0 \
        tflite_models/malaria-screen/1.1.0

The network learned from NIH crops: single red cells segmented from the photo, background
blacked out, each crop the cell's own box. This step declares ``input.field_framing:
{"method": "rbc-segmented"}`` in the folder's model.json, so that field mode (Python, /predict
and the phone) finds every red cell of a thin-smear photo and cuts each out that very way
(classifier.cells.red_cell_field), and writes into the card and report what was measured on
malaria-fields (another site, stain and camera; bench/red_cell_fields.py): red cells found,
and how the model calls the cells it finds there. Run it on a new, unreleased folder, right
after training.train, or with ``--from`` on a released folder: its files (the very same network)
are copied into the new version folder first, which the card then says (``derived_from``). A
card that already frames field cells, or an existing target folder with --from, is refused.

``--field-colour`` also declares field colour standardisation (classifier.cells.field_colour):
the mean and spread of the cell pixels (not black) of every training crop of ``--data``
(default: the shared NIH malaria set), to which each field photo's cell colours are moved.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from bench.red_cell_fields import finder_scores, model_on_fields
from classifier.cells.field_colour import cell_statistics
from classifier.cells.model_framing import RBC_SEGMENTED, field_framing_of, framing_of
from classifier.model_card import model_card_text, read_model_card
from training.dataset import scan
from training.paths import datasets_root
from training.report import put_section

HEADING = "## Red-cell field mode (malaria-fields, another site)"


def section(card: dict) -> str:
    finder, model = card["red_cell_field"]["finder"], card["red_cell_field"]["model"]
    infected, uninfected = model["cells"]["infected"], model["cells"]["uninfected"]

    def pct(value):
        return "n/a" if value is None else f"{value:.1%}"

    return "\n".join(
        [
            HEADING,
            "",
            "Field mode finds every red cell of a thin-smear photo and cuts each out on black "
            "in its own box, as the NIH training crops were made (`input.field_framing`: "
            "`rbc-segmented`); cells cut by the photo's edge are shown and never counted."
            + (
                " Before that, the photo's cell colours are moved, one linear map per colour "
                "channel for the whole photo, to the mean and spread of the training crops' "
                "cell pixels (`input.field_framing.colour`)."
                if "colour" in card["input"]["field_framing"]
                else ""
            )
            + (
                f" The network is {card['name']} {card['derived_from']['version']}'s, unchanged; "
                "the single-cell figures above are its own."
                if "derived_from" in card
                else ""
            )
            + f" Measured on the {finder['photos']} fields of malaria-fields (BBBC041, P. vivax, "
            "another site, stain and camera than NIH; the finder was tuned on these fields, the "
            "model never saw them):",
            "",
            "| | recall | precision |",
            "|---|---|---|",
            f"| red cells found, IoU >= 0.5, counted cells (away from the edge) "
            f"| {pct(finder['counted']['recall'])} | {pct(finder['counted']['precision'])} |",
            f"| red cells found, IoU >= 0.5, all | {pct(finder['all']['recall'])} "
            f"| {pct(finder['all']['precision'])} |",
            "",
            f"Of the counted cells found that match a box: {uninfected['cells']} uninfected, "
            f"{pct(model['uninfected_called_parasitized'])} of them called parasitized "
            f"(review or confident); {infected['cells']} infected, "
            f"{pct(model['infected_called_parasitized'])} of them called parasitized and "
            f"{infected['unfamiliar']} marked `unfamiliar` (left for a person); "
            f"{pct(model['unfamiliar_share'])} of all matched cells `unfamiliar`; confident "
            f"calls {pct(model['confident_calls_right'])} right "
            f"({pct(model['confident_share'])} of cells confident). Too few parasites "
            f"({infected['cells']}) to measure sensitivity: that is scored on other photos.",
            "",
        ]
    )


def training_colour(data: Path) -> dict:
    """{"cell_mean", "cell_std"} (to 0.01) of the cell pixels of every training crop of `data`."""
    crops = [np.asarray(Image.open(s.path).convert("RGB")) for s in scan(data).splits["train"]]
    statistics = cell_statistics(crops)
    return {
        "cell_mean": [round(v, 2) for v in statistics["mean"]],
        "cell_std": [round(v, 2) for v in statistics["std"]],
        "measured_on": f"cell pixels (not black) of the {len(crops)} training crops of {data.name}",
    }


def declare(
    folder: Path, fields: list[dict] | None = None, log=print, colour: dict | None = None
) -> dict:
    """Declares red-cell field mode in `folder`'s model.json (with field colour standardisation
    to `colour`, training_colour's, when given) and writes the figures measured on `fields`
    (default: all of malaria-fields) into it and report.md; returns the card."""
    card = read_model_card(folder)
    if set(card["labels"]) != {"parasitized", "uninfected"}:
        raise ValueError(f"{folder} is not a malaria screen: labels {card['labels']}")
    if framing_of(card) is not None or field_framing_of(card) is not None:
        raise ValueError(f"{folder} already declares how field cells are framed")
    framing = {"method": RBC_SEGMENTED, **({"colour": colour} if colour else {})}
    card["input"] = {**card["input"], "field_framing": framing}
    card["client_rule"] += (
        " Field photos: find every red cell (classifier.cells.red_cell_field), cut each out on "
        "black in its own box, "
        + (
            "move its cell pixels' colours by the photo's table (classifier.cells.field_colour), "
            if colour
            else ""
        )
        + "resize that whole crop to the input and apply the same rule; "
        "a cell cut by the photo's edge is shown, never counted."
    )
    (folder / "model.json").write_text(model_card_text(card))  # read by the Classifier
    card["red_cell_field"] = {
        "finder": finder_scores(fields),
        "model": model_on_fields(folder, fields),
    }
    (folder / "model.json").write_text(model_card_text(card))
    report = folder / "report.md"
    if report.exists():
        report.write_text(put_section(report.read_text(), HEADING, section(card)))
    log(section(card))
    return card


def derive(
    source: Path, out: Path, fields: list[dict] | None = None, log=print, colour: dict | None = None
) -> dict:
    """A new release `out` (its name is the version) of `source`'s network, red-cell field
    mode declared; `out` is removed again if anything fails."""
    if out.exists():
        raise ValueError(f"{out} exists: a release folder is never overwritten")
    card = read_model_card(source)
    shutil.copytree(source, out)
    try:
        card.update(
            version=out.name,
            derived_from={
                "name": card["name"],
                "version": card["version"],
                "change": "input.field_framing rbc-segmented declared"
                + (" with field colour standardisation" if colour else "")
                + "; the network and its file are the same",
            },
        )
        (out / "model.json").write_text(model_card_text(card))
        report = out / "report.md"
        if report.exists():
            text = report.read_text().replace(
                f"# {card['name']} {source.name}", f"# {card['name']} {out.name}", 1
            )
            report.write_text(text)
        return declare(out, fields, log, colour)
    except BaseException:
        shutil.rmtree(out)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.red_cell_release")
    parser.add_argument("folder", type=Path, help="the malaria-screen folder to declare it in")
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="a released folder whose network `folder` (a new version) is to carry",
    )
    parser.add_argument(
        "--field-colour",
        action="store_true",
        help="also declare field colour standardisation to the training crops' cell colours",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="the dataset whose training crops give those colours (default: shared malaria)",
    )
    args = parser.parse_args(argv)
    try:
        colour = None
        if args.field_colour:
            colour = training_colour(args.data or datasets_root() / "malaria")
        if args.source is None:
            declare(args.folder, colour=colour)
        else:
            derive(args.source, args.folder, colour=colour)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
