"""Checking that an uploaded release is a real TFLite model that matches its model.json."""

import hashlib
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from backend.errors import ApiError
from classifier.model_card import ModelCardError, file_facts, input_batch, parse_model_card

TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier at bytes 4..8 of every .tflite


@dataclass(frozen=True)
class Release:
    card: dict[str, Any]
    card_bytes: bytes
    model_bytes: bytes

    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def version(self) -> str:
        return self.card["version"]

    @property
    def sha256(self) -> str:
        return file_facts(self.card)[1]

    @property
    def card_sha256(self) -> str:
        return hashlib.sha256(self.card_bytes).hexdigest()


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_model", message)


def model_file_name(card: dict[str, Any]) -> str:
    """The name of the model file a card describes, read before the file itself is."""
    try:
        return file_facts(card)[0]
    except ModelCardError as e:
        raise invalid(str(e)) from None


def check_release(card_bytes: bytes, model_bytes: bytes) -> Release:
    try:
        card = parse_model_card(card_bytes)
    except ModelCardError as e:
        raise invalid(str(e)) from None
    if model_bytes[4:8] != TFLITE_IDENTIFIER:
        raise invalid(_("The model file is not a TFLite flatbuffer (no TFL3 identifier)."))
    _file, expected_sha, expected_size = file_facts(card)
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest != expected_sha:
        message = _(
            "model.json sha256 %(expected)s does not match the file (%(digest)s).",
            expected=expected_sha,
            digest=digest,
        )
        raise invalid(message)
    if expected_size is not None and expected_size != len(model_bytes):
        message = _(
            "model.json gives %(expected)s bytes; the file has %(size)s.",
            expected=expected_size,
            size=len(model_bytes),
        )
        raise invalid(message)
    _check_loads(model_bytes, len(card["labels"]), input_batch(card))
    return Release(card, card_bytes, model_bytes)


def _check_loads(model_bytes: bytes, n_labels: int, batch: int) -> None:
    """Loads the model in the TFLite runtime: a corrupt file, a label count that does not
    match the output tensor or a batch other than the card's is refused here, not on the
    phones."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=model_bytes)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise invalid(_("The TFLite runtime cannot load the model: %(error)s", error=e)) from None
    found = int(interpreter.get_input_details()[0]["shape"][0])
    if found != batch:
        message = _(
            "The model file takes %(found)s images per run, model.json says %(batch)s "
            "(input.shape).",
            found=found,
            batch=batch,
        )
        raise invalid(message)
    widths = [int(d["shape"][-1]) for d in interpreter.get_output_details() if len(d["shape"])]
    if n_labels not in widths:
        message = _(
            "No model output has %(num)s classes (output widths %(widths)s) as the labels in "
            "model.json need.",
            num=n_labels,
            widths=widths,
        )
        raise invalid(message)
