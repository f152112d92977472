"""Checking one synced prediction record and reducing it to a canonical form and hash."""

import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

STATUS_PATTERN = re.compile(r"^[a-z][a-z_]{0,31}$")
MAX_CLASSES = 100
MAX_NOTE = 2000
# Phones' clocks drift; a capture time further ahead than this is a bug, not drift.
MAX_CLOCK_AHEAD = timedelta(days=1)


class RecordError(ValueError):
    """A record that cannot be stored; the message tells the phone what is wrong."""


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
        "captured_at": _captured_at(raw.get("captured_at")),
        "device_id": _text(raw, "device_id", 100),
        "slide_id": _text(raw, "slide_id", 100, required=False),
        "note": _text(raw, "note", MAX_NOTE, required=False),
    }
    return CleanRecord(record_id, fields, content_hash(record_id, fields))


def content_hash(record_id: str, fields: dict[str, Any]) -> str:
    canonical = dict(fields, id=record_id, captured_at=fields["captured_at"].isoformat())
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _uuid(value: Any) -> str:
    if not isinstance(value, str):
        raise RecordError("'id' must be a UUID string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise RecordError("'id' is not a valid UUID") from None


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
    return value


def _unit_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"'{name}' must be a number")
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise RecordError(f"'{name}' must be between 0 and 1")
    return float(value)


def _status(value: Any) -> str:
    if not isinstance(value, str) or not STATUS_PATTERN.match(value):
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
        clean[label] = _unit_number(p, f"probabilities.{label[:40]}")
    return clean


def _captured_at(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise RecordError("'captured_at' must be an ISO-8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError("'captured_at' is not an ISO-8601 date-time") from None
    if moment.tzinfo is None:
        raise RecordError("'captured_at' needs a time zone (e.g. ...Z or +01:00)")
    moment = moment.astimezone(UTC)
    if moment > datetime.now(UTC) + MAX_CLOCK_AHEAD:
        raise RecordError("'captured_at' lies in the future")
    if moment.year < 2000:
        raise RecordError("'captured_at' is before the year 2000")
    return moment
