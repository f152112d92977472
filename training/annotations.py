"""Boxes of the annotated field photos (bccd-fields, malaria-fields) and the IoU matching used
to score the finders."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from training.paths import datasets_root

VOC_TYPES = {"WBC": "wbc", "RBC": "rbc", "Platelets": "platelet"}
# Photos whose number is >= this are held out: never looked at while tuning the finder.
HELD_OUT_FROM = 330


def bccd_root() -> Path:
    return datasets_root() / "bccd-fields"


def photo_number(path: Path) -> int:
    return int(Path(path).stem.rsplit("_", 1)[-1])


def bccd_photos(part: str = "all") -> list[Path]:
    """Photos of bccd-fields, sorted; part is 'all', 'dev' (tuning) or 'held-out'."""
    photos = sorted((bccd_root() / "images").glob("*.jpg"))
    if not photos:
        raise FileNotFoundError(f"no bccd-fields photos under {bccd_root()}")
    if part == "dev":
        return [p for p in photos if photo_number(p) < HELD_OUT_FROM]
    if part == "held-out":
        return [p for p in photos if photo_number(p) >= HELD_OUT_FROM]
    if part != "all":
        raise ValueError(f"unknown part {part!r}: use all, dev or held-out")
    return photos


def read_voc_boxes(photo: Path) -> list[dict]:
    """Annotated cells of one photo; degenerate (zero-area) boxes are dropped."""
    xml_path = Path(photo).parent.parent / "annotations" / (Path(photo).stem + ".xml")
    cells = []
    for obj in ET.parse(xml_path).getroot().iter("object"):
        box = [round(float(obj.find(f"bndbox/{k}").text)) for k in ("xmin", "ymin", "xmax", "ymax")]
        if box[2] > box[0] and box[3] > box[1]:
            cells.append({"type": VOC_TYPES[obj.find("name").text], "box": box})
    return cells


def iou(a: list[int], b: list[int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def matched_pairs(found: list[list[int]], truth: list[list[int]], threshold: float = 0.5):
    """Greedy one-to-one matching by IoU, best pairs first: [(found index, truth index)]."""
    pairs = sorted(
        ((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)),
        reverse=True,
    )
    used_f, used_t, out = set(), set(), []
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def match_counts(found: list[list[int]], truth: list[list[int]], threshold: float = 0.5):
    """Greedy one-to-one matching by IoU: returns (true positives, found, annotated)."""
    return len(matched_pairs(found, truth, threshold)), len(found), len(truth)


# malaria-fields/bbbc041: every red cell boxed, infected ones by the parasite's stage.
PARASITE_STAGES = ("ring", "trophozoite", "schizont", "gametocyte")


def malaria_fields() -> list[dict]:
    """The thin-smear fields of malaria-fields/bbbc041, sorted by file name: [{"photo": Path,
    "cells": [{"box", "infected": bool}]}]. Red cells only: the leukocyte is left out."""
    root = datasets_root() / "malaria-fields" / "bbbc041"
    path = root / "annotations.json"
    if not path.is_file():
        raise FileNotFoundError(f"no malaria-fields annotations at {path}")
    fields = []
    for entry in sorted(json.loads(path.read_text()), key=lambda e: e["image"]):
        cells = [
            {"box": [int(v) for v in o["box"]], "infected": o["type"] in PARASITE_STAGES}
            for o in entry["objects"]
            if o["type"] == "red blood cell" or o["type"] in PARASITE_STAGES
        ]
        fields.append({"photo": root / "images" / entry["image"], "cells": cells})
    return fields
