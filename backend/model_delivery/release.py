"""Checking that an uploaded release is a real TFLite model that matches its model.json."""

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.cells.model_framing import field_framing_of
from backend.errors import ApiError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,49}$")
TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier at bytes 4..8 of every .tflite


@dataclass(frozen=True)
class Release:
    meta: dict[str, Any]
    meta_bytes: bytes
    model_bytes: bytes

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def sha256(self) -> str:
        return file_facts(self.meta)[1]


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_model", message)


def file_facts(meta: dict[str, Any]) -> tuple[str, str, int | None]:
    """(file name, sha256, size) from model.json: the training package writes
    "file": {"name", "bytes", "sha256"}; flat "file"/"sha256"/"size_bytes" keys also work."""
    entry = meta.get("file")
    if isinstance(entry, dict):
        name, sha, size = entry.get("name"), entry.get("sha256"), entry.get("bytes")
    else:
        name, sha, size = entry, meta.get("sha256"), meta.get("size_bytes")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
        raise invalid("model.json must give the file's SHA-256 in hex (file.sha256).")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise invalid("model.json file size must be an integer number of bytes.")
    name = Path(name).name if isinstance(name, str) and name else "model.tflite"
    return name, sha.lower(), size


def check_release(meta_bytes: bytes, model_bytes: bytes) -> Release:
    meta = _parse_meta(meta_bytes)
    if model_bytes[4:8] != TFLITE_IDENTIFIER:
        raise invalid("The model file is not a TFLite flatbuffer (no TFL3 identifier).")
    _, expected_sha, expected_size = file_facts(meta)
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest != expected_sha:
        raise invalid(f"model.json sha256 {expected_sha} does not match the file ({digest}).")
    if expected_size is not None and expected_size != len(model_bytes):
        raise invalid(f"model.json gives {expected_size} bytes; the file has {len(model_bytes)}.")
    _check_loads(model_bytes, len(meta["labels"]))
    return Release(meta, meta_bytes, model_bytes)


def _parse_meta(meta_bytes: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(meta_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise invalid(f"model.json is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise invalid("model.json must be a JSON object.")
    for key, pattern in (("name", NAME_PATTERN), ("version", VERSION_PATTERN)):
        if not isinstance(meta.get(key), str) or not pattern.match(meta[key]):
            raise invalid(f"model.json '{key}' is missing or has characters not allowed.")
    labels = meta.get("labels")
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) and x for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise invalid("model.json 'labels' must be a non-empty list of distinct strings.")
    try:
        field_framing_of(meta)  # checks both framings: phones would refuse a malformed one
    except (ValueError, AttributeError) as e:
        raise invalid(f"model.json {e}") from None
    file_facts(meta)
    return meta


def _check_loads(model_bytes: bytes, n_labels: int) -> None:
    """Loads the model in the TFLite runtime: a corrupt file or a label count that does not
    match the output tensor is refused here, not on the phones."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=model_bytes)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise invalid(f"The TFLite runtime cannot load the model: {e}") from None
    widths = [int(d["shape"][-1]) for d in interpreter.get_output_details() if len(d["shape"])]
    if n_labels not in widths:
        raise invalid(
            f"No model output has {n_labels} classes (output widths {widths}) "
            "as the labels in model.json need."
        )
