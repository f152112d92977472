"""model.json, the model card of a released model: one parser for everyone who reads it.

Training writes it (through `model_card_text`, which checks it first), the server
refuses an upload whose card does not parse (backend.model_delivery), and the reference
classifier reads it from a release folder (`read_model_card`). Every problem is a
ModelCardError whose message names the key, so a phone never meets a card the server took.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from classifier.cells.model_framing import field_framing_of

FILE_NAME = "model.json"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,49}$")


class ModelCardError(ValueError):
    """model.json is not a card a client can use; the message says which key and why."""


def parse_model_card(data: bytes | str) -> dict[str, Any]:
    """The card as a dict, after checking what every client relies on: name and version,
    distinct labels, the framings it declares, and the model file's name, sha256 and size."""
    try:
        card = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelCardError(f"{FILE_NAME} is not valid JSON: {e}") from None
    if not isinstance(card, dict):
        raise ModelCardError(f"{FILE_NAME} must be a JSON object.")
    for key, pattern in (("name", NAME_PATTERN), ("version", VERSION_PATTERN)):
        if not isinstance(card.get(key), str) or not pattern.match(card[key]):
            raise ModelCardError(f"{FILE_NAME} '{key}' is missing or has characters not allowed.")
    labels = card.get("labels")
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) and x for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise ModelCardError(f"{FILE_NAME} 'labels' must be a non-empty list of distinct strings.")
    try:
        field_framing_of(card)  # checks both framings: phones would refuse a malformed one
    except (ValueError, AttributeError) as e:
        raise ModelCardError(f"{FILE_NAME} {e}") from None
    file_facts(card)
    input_batch(card)
    class_activation_output(card)
    view_check_output(card)
    return card


def model_card_text(card: dict[str, Any]) -> str:
    """The card as model.json's text, after the same check every reader makes: a card that the
    server or a phone would refuse is never written."""
    text = json.dumps(card, indent=2) + "\n"
    parse_model_card(text)
    return text


def read_model_card(folder: str | Path) -> dict[str, Any]:
    """The parsed card of a release folder; OSError when there is none."""
    return parse_model_card((Path(folder) / FILE_NAME).read_bytes())


def file_facts(card: dict[str, Any]) -> tuple[str, str, int | None]:
    """(file name, sha256, size) of the model file: training writes
    "file": {"name", "bytes", "sha256"}; flat "file"/"sha256"/"size_bytes" keys also work."""
    entry = card.get("file")
    if isinstance(entry, dict):
        name, sha, size = entry.get("name"), entry.get("sha256"), entry.get("bytes")
    else:
        name, sha, size = entry, card.get("sha256"), card.get("size_bytes")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
        raise ModelCardError(f"{FILE_NAME} must give the file's SHA-256 in hex (file.sha256).")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise ModelCardError(f"{FILE_NAME} file size must be an integer number of bytes.")
    name = Path(name).name if isinstance(name, str) and name else "model.tflite"
    return name, sha.lower(), size


MAX_BATCH = 64


def input_batch(card: dict[str, Any]) -> int:
    """How many images the model file takes per run: `input.shape[0]`, 1 when the card does not
    say. A file exported with a batch of N (the browser runtime needs a fixed one) runs N cells
    of a field at once; a single image is run with the rest of the batch left black."""
    entry = card.get("input")
    shape = entry.get("shape") if isinstance(entry, dict) else None
    if shape is None:
        return 1
    batch = shape[0] if isinstance(shape, list) and shape else None
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise ModelCardError(
            f"{FILE_NAME} 'input.shape' must start with the batch, an integer from 1 to "
            f"{MAX_BATCH}."
        )
    return batch


def class_activation_output(card: dict[str, Any]) -> dict | None:
    """The `outputs` entry of the class-activation map that `class_activation` declares, checked
    (shape [batch, rows, cols, len(labels)], rows and cols 1..64); None for a card without one."""
    declared = card.get("class_activation")
    if declared is None:
        return None
    where = f"{FILE_NAME} 'class_activation'"
    if not isinstance(declared, dict):
        raise ModelCardError(f"{where} must be an object.")
    rows, cols = declared.get("rows"), declared.get("cols")
    for value in (rows, cols):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
            raise ModelCardError(f"{where} rows and cols must be integers from 1 to 64.")
    outputs = card.get("outputs")
    entries = [
        o for o in outputs or [] if isinstance(o, dict) and o.get("name") == declared.get("output")
    ]
    shape = [input_batch(card), rows, cols, len(card["labels"])]
    if len(entries) != 1 or entries[0].get("shape") != shape:
        raise ModelCardError(
            f"{where} names output {declared.get('output')!r}, which 'outputs' must list once "
            f"with shape {shape}."
        )
    return entries[0]


def view_check_output(card: dict[str, Any]) -> dict | None:
    """The `outputs` entry of the view check's `views` that `view_check` declares, checked
    (shape [batch, number of views, len(labels)], 1..8 views); None for a card without one."""
    declared = card.get("view_check")
    if declared is None:
        return None
    where = f"{FILE_NAME} 'view_check'"
    if not isinstance(declared, dict) or not isinstance(declared.get("views"), list):
        raise ModelCardError(f"{where} must be an object with a list 'views'.")
    count = len(declared["views"])
    if not 1 <= count <= 8:
        raise ModelCardError(f"{where} must name 1 to 8 views.")
    entries = [
        o
        for o in card.get("outputs") or []
        if isinstance(o, dict) and o.get("name") == declared.get("output")
    ]
    shape = [input_batch(card), count, len(card["labels"])]
    if len(entries) != 1 or entries[0].get("shape") != shape:
        raise ModelCardError(
            f"{where} names output {declared.get('output')!r}, which 'outputs' must list once "
            f"with shape {shape}."
        )
    return entries[0]
