"""Checking what a phone syncs (a prediction record, a correction event, a slide) and reducing
it to a canonical form, with a hash where a re-send must be told from a conflicting one.

The checks raise RecordError with the reason; `checked` turns that, and any failure nobody
foresaw, into the item's `invalid` result, so whatever one item holds, the other items of the
batch are still stored."""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from backend.models.slide import (
    MALARIA,
    SLIDE_KINDS,
    SLIDE_STATES,
    SLIDE_TARGETS,
    WBC_DIFFERENTIAL,
)
from backend.request_input import text_problem

log = logging.getLogger(__name__)

STATUS_PATTERN = re.compile(r"[a-z][a-z_]{0,31}")  # the whole value (fullmatch): no "ok\n"
MAX_CLASSES = 100
MAX_NOTE = 2000
# A class-activation map ("cam", why the model made its call): at most 64 x 64 values 0..255.
MAX_CAM_SIDE = 64
MAX_CAM_LABEL = 64
# Phones' clocks drift; a capture time further ahead than this is a bug, not drift.
MAX_CLOCK_AHEAD = timedelta(days=1)


class RecordError(ValueError):
    """A record that cannot be stored; the message tells the phone what is wrong."""


T = TypeVar("T")
UNCHECKABLE = "the server could not check this item, so it was not stored"


def checked(clean: Callable[[Any], T], raw: Any) -> T | dict[str, Any]:
    """`clean(raw)`, or the item's `invalid` result: one item can never fail its batch."""
    try:
        return clean(raw)
    except RecordError as e:
        return invalid(raw, str(e))
    except Exception:
        # A case the checks above do not foresee: a bug to fix, not a reason to lose the batch.
        log.exception("checking a synced item failed unexpectedly (id %r)", raw_id(raw))
        return invalid(raw, UNCHECKABLE)


def invalid(raw: Any, error: str) -> dict[str, Any]:
    return {"id": raw_id(raw), "status": "invalid", "error": error}


def raw_id(raw: Any) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value[:64] if isinstance(value, str) else None


@dataclass(frozen=True)
class CleanRecord:
    id: str
    fields: dict[str, Any]
    content_hash: str


def clean_record(raw: Any) -> CleanRecord:
    if not isinstance(raw, dict):
        raise RecordError("a record must be a JSON object")
    record_id = _uuid(raw.get("id"))
    fields = {
        "model_name": _text(raw, "model_name", 100),
        "model_version": _text(raw, "model_version", 50),
        "label": _text(raw, "label", 100),
        "confidence": _unit_number(raw.get("confidence"), "confidence"),
        "status": _status(raw.get("status")),
        "probabilities": _probabilities(raw.get("probabilities")),
        "captured_at": _moment(raw.get("captured_at"), "captured_at"),
        "device_id": _text(raw, "device_id", 100),
        "slide_id": _text(raw, "slide_id", 100, required=False),
        "note": _text(raw, "note", MAX_NOTE, required=False),
    }
    # A phone older than the maps sends none: its records keep their fields and their hash.
    if raw.get("cam") is not None:
        fields["cam"] = _cam(raw["cam"])
    return CleanRecord(record_id, fields, content_hash(record_id, fields))


def content_hash(record_id: str, fields: dict[str, Any]) -> str:
    return _sha256(dict(fields, id=record_id, captured_at=fields["captured_at"].isoformat()))


def _cam(value: Any) -> dict[str, Any]:
    """The map of the model's call (docs/backend.md): {label, rows, cols, values}, the values
    0..255 row-major; stored in this canonical form, keys the contract does not name dropped."""
    if not isinstance(value, dict):
        raise RecordError("'cam' must be an object {label, rows, cols, values}")
    label = value.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_CAM_LABEL:
        raise RecordError(f"'cam.label' must be a class name of 1 to {MAX_CAM_LABEL} characters")
    if problem := text_problem(label):
        raise RecordError(f"'cam.label' {problem}")
    rows, cols = (_cam_side(value.get(key), key) for key in ("rows", "cols"))
    values = value.get("values")
    if (
        not isinstance(values, list)
        or len(values) != rows * cols
        or not all(type(v) is int and 0 <= v <= 255 for v in values)
    ):
        raise RecordError(
            f"'cam.values' must be a list of {rows * cols} integers from 0 to 255 (rows x cols)"
        )
    return {"label": label, "rows": rows, "cols": cols, "values": values}


def _cam_side(value: Any, key: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_CAM_SIDE:
        raise RecordError(f"'cam.{key}' must be an integer from 1 to {MAX_CAM_SIDE}")
    return value


def _sha256(canonical: dict[str, Any]) -> str:
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _uuid(value: Any, key: str = "id") -> str:
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise RecordError(f"'{key}' is not a valid UUID") from None


def _text(raw: dict, key: str, max_len: int, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise RecordError(f"'{key}' is required")
        return None
    if not isinstance(value, str):
        raise RecordError(f"'{key}' must be a string")
    if required and not value.strip():
        raise RecordError(f"'{key}' must not be empty")
    if len(value) > max_len:
        raise RecordError(f"'{key}' is longer than {max_len} characters")
    if problem := text_problem(value):
        raise RecordError(f"'{key}' {problem}")
    return value


def _unit_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"'{name}' must be a number")
    # Compared before any float(): exact for an int of 400 digits (which float() cannot
    # convert), and false for NaN and infinities.
    if not 0 <= value <= 1:
        raise RecordError(f"'{name}' must be between 0 and 1")
    return float(value)


def _status(value: Any) -> str:
    if not isinstance(value, str) or not STATUS_PATTERN.fullmatch(value):
        raise RecordError("'status' must be a lowercase word such as 'ok' or 'uncertain'")
    return value


def _probabilities(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise RecordError("'probabilities' must be a non-empty object of label: number")
    if len(value) > MAX_CLASSES:
        raise RecordError(f"'probabilities' has more than {MAX_CLASSES} labels")
    clean = {}
    for label, p in value.items():
        if len(label) > 100:
            raise RecordError("a label in 'probabilities' is longer than 100 characters")
        if problem := text_problem(label):
            raise RecordError(f"a label in 'probabilities' {problem}")
        clean[label] = _unit_number(p, f"probabilities.{label[:40]}")
    return clean


def _moment(value: Any, key: str, required: bool = True) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise RecordError(f"'{key}' must be an ISO-8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"'{key}' is not an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        raise RecordError(f"'{key}' needs a time zone (e.g. ...Z or +01:00)")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before the first datetime
        raise RecordError(f"'{key}' is out of range") from None
    if moment > datetime.now(UTC) + MAX_CLOCK_AHEAD:
        raise RecordError(f"'{key}' lies in the future")
    if moment.year < 2000:
        raise RecordError(f"'{key}' is before the year 2000")
    return moment


# --- contract 2: correction events and slides -----------------------------------------------


@dataclass(frozen=True)
class CleanCorrection:
    id: str
    prediction_id: str
    label: str | None  # None: back to the model's label
    previous_label: str | None
    at: datetime
    content_hash: str


def clean_correction(raw: Any) -> CleanCorrection:
    if not isinstance(raw, dict):
        raise RecordError("a correction must be a JSON object")
    event_id = _uuid(raw.get("id"))
    prediction_id = _uuid(raw.get("prediction_id"), "prediction_id")
    label = _text(raw, "label", 100, required=False)
    if label is not None and not label.strip():
        raise RecordError("'label' must not be empty (null means back to the model's label)")
    previous = _text(raw, "previous_label", 100, required=False)
    at = _moment(raw.get("at"), "at")
    fields = {"prediction_id": prediction_id, "label": label, "previous_label": previous, "at": at}
    canonical = dict(fields, id=event_id, at=at.isoformat())
    return CleanCorrection(event_id, prediction_id, label, previous, at, _sha256(canonical))


KIND_WORDS = {WBC_DIFFERENTIAL: "white-cell differential slide", MALARIA: "malaria slide"}


@dataclass(frozen=True)
class CleanSlide:
    id: str
    fields: dict[str, Any]  # the phone's columns of `slides`, as stored


def clean_slide(raw: Any) -> CleanSlide:
    if not isinstance(raw, dict):
        raise RecordError("a slide must be a JSON object")
    slide_id = _uuid(raw.get("id"))
    # A phone older than malaria slides sends no kind: its slides count white cells.
    kind = _choice(raw, "kind", SLIDE_KINDS) if "kind" in raw else WBC_DIFFERENTIAL
    fields = {
        "sample_id": _text(raw, "sample_id", 120),
        "patient": _text(raw, "patient", 200, required=False),
        "specimen": _text(raw, "specimen", 200, required=False),
        "note": _text(raw, "note", MAX_NOTE, required=False),
        "kind": kind,
        "target": _choice(raw, "target", SLIDE_TARGETS[kind], f"for a {KIND_WORDS[kind]}"),
        "state": _choice(raw, "state", SLIDE_STATES),
        "started_at": _moment(raw.get("started_at"), "started_at"),
        "updated_at": _moment(raw.get("updated_at"), "updated_at"),
        "finished_at": _moment(raw.get("finished_at"), "finished_at", required=False),
        "device_id": _text(raw, "device_id", 100),
    }
    if fields["state"] == "finished" and fields["finished_at"] is None:
        fields["finished_at"] = fields["updated_at"]  # the moment it became finished
    return CleanSlide(slide_id, fields)


def _choice(raw: dict, key: str, allowed: tuple, context: str = "") -> Any:
    value = raw.get(key)
    # The exact type: neither `true` nor `100.0` nor `"100"` passes for 100.
    if type(value) is not type(allowed[0]) or value not in allowed:
        after = f" {context}" if context else ""
        raise RecordError(f"'{key}' must be one of {', '.join(map(str, allowed))}{after}")
    return value
