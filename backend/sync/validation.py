"""Checking what a phone syncs (a prediction record, a correction event, a slide) and reducing
it to a canonical form, with a hash where a re-send must be told from a conflicting one.

The checks raise RecordError with the reason (in the request's language) and its code;
`checked` turns that, and any failure nobody foresaw, into the item's `invalid` result, so
whatever one item holds, the other items of the batch are still stored."""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from backend.models.slide import (
    MALARIA,
    SLIDE_KINDS,
    SLIDE_STATES,
    SLIDE_TARGETS,
    WBC_DIFFERENTIAL,
)
from backend.request_input import NUL_PROBLEM, text_problem
from backend.sync.item_results import CHECK_FAILED, INVALID_FIELD, INVALID_ITEM, refused
from classifier.classify import REASON_STATUS, STATUS_REASONS

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
    """An item that cannot be stored: the message tells the technician what is wrong, the
    code (backend.sync.item_results) tells the phone."""

    def __init__(self, message: str, code: str = INVALID_FIELD) -> None:
        super().__init__(message)
        self.code = code


T = TypeVar("T")
UNCHECKABLE = _l("the server could not check this item, so it was not stored")


def checked(clean: Callable[[Any], T], raw: Any) -> T | dict[str, Any]:
    """`clean(raw)`, or the item's `invalid` result: one item can never fail its batch."""
    try:
        return clean(raw)
    except RecordError as e:
        return invalid(raw, e.code, str(e))
    except Exception:
        # A case the checks above do not foresee: a bug to fix, not a reason to lose the batch.
        log.exception("checking a synced item failed unexpectedly (id %r)", raw_id(raw))
        return invalid(raw, CHECK_FAILED, UNCHECKABLE)


def invalid(raw: Any, code: str, error: Any) -> dict[str, Any]:
    return refused(raw_id(raw), "invalid", code, error)


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
        raise RecordError(_("a record must be a JSON object"), INVALID_ITEM)
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
    # Likewise the reason (null for a confident call): absent, the record hashes as before.
    if raw.get("status_reason") is not None:
        fields["status_reason"] = _status_reason(raw["status_reason"], fields["status"])
    return CleanRecord(record_id, fields, content_hash(record_id, fields))


def content_hash(record_id: str, fields: dict[str, Any]) -> str:
    return _sha256(dict(fields, id=record_id, captured_at=fields["captured_at"].isoformat()))


def _cam(value: Any) -> dict[str, Any]:
    """The map of the model's call (docs/backend.md): {label, rows, cols, values}, the values
    0..255 row-major; stored in this canonical form, keys the contract does not name dropped."""
    if not isinstance(value, dict):
        raise RecordError(_("'cam' must be an object {label, rows, cols, values}"))
    label = value.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_CAM_LABEL:
        raise RecordError(
            _("'cam.label' must be a class name of 1 to %(num)s characters", num=MAX_CAM_LABEL)
        )
    _storable(label, "cam.label")
    rows, cols = (_cam_side(value.get(key), key) for key in ("rows", "cols"))
    values = value.get("values")
    if (
        not isinstance(values, list)
        or len(values) != rows * cols
        or not all(type(v) is int and 0 <= v <= 255 for v in values)
    ):
        raise RecordError(
            _(
                "'cam.values' must be a list of %(num)s integers from 0 to 255 (rows x cols)",
                num=rows * cols,
            )
        )
    return {"label": label, "rows": rows, "cols": cols, "values": values}


def _cam_side(value: Any, key: str) -> int:
    if type(value) is not int or not 1 <= value <= MAX_CAM_SIDE:
        field = f"cam.{key}"
        message = _(
            "'%(field)s' must be an integer from 1 to %(num)s", field=field, num=MAX_CAM_SIDE
        )
        raise RecordError(message)
    return value


def _sha256(canonical: dict[str, Any]) -> str:
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _uuid(value: Any, key: str = "id") -> str:
    if not isinstance(value, str):
        raise RecordError(_("'%(field)s' must be a UUID string", field=key))
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise RecordError(_("'%(field)s' is not a valid UUID", field=key)) from None


def _text(raw: dict, key: str, max_len: int, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise RecordError(_("'%(field)s' is required", field=key))
        return None
    if not isinstance(value, str):
        raise RecordError(_("'%(field)s' must be a string", field=key))
    if required and not value.strip():
        raise RecordError(_("'%(field)s' must not be empty", field=key))
    if len(value) > max_len:
        raise RecordError(
            _("'%(field)s' is longer than %(num)s characters", field=key, num=max_len)
        )
    _storable(value, key)
    return value


def _storable(value: str, key: str) -> None:
    if problem := text_problem(value):
        if problem == NUL_PROBLEM:
            raise RecordError(_("'%(field)s' contains a NUL character", field=key))
        raise RecordError(_("'%(field)s' is not valid Unicode text (a lone surrogate)", field=key))


def _unit_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(_("'%(field)s' must be a number", field=name))
    # Compared before any float(): exact for an int of 400 digits (which float() cannot
    # convert), and false for NaN and infinities.
    if not 0 <= value <= 1:
        raise RecordError(_("'%(field)s' must be between 0 and 1", field=name))
    return float(value)


def _status(value: Any) -> str:
    if not isinstance(value, str) or not STATUS_PATTERN.fullmatch(value):
        raise RecordError(_("'status' must be a lowercase word such as 'ok' or 'uncertain'"))
    return value


def _status_reason(value: Any, status: str) -> str:
    """Why the rule did not call it confident: one of STATUS_REASONS, and one that explains the
    record's status (a view_check beside `confident` is a bug on the phone, not a reason)."""
    if not isinstance(value, str) or value not in REASON_STATUS:
        choices = ", ".join(STATUS_REASONS)
        raise RecordError(
            _("'%(field)s' must be one of %(choices)s", field="status_reason", choices=choices)
        )
    if REASON_STATUS[value] != status:
        raise RecordError(
            _(
                "'status_reason' %(reason)s explains the status '%(expected)s', not '%(status)s'",
                reason=value,
                expected=REASON_STATUS[value],
                status=status,
            )
        )
    return value


def _probabilities(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise RecordError(_("'probabilities' must be a non-empty object of label: number"))
    if len(value) > MAX_CLASSES:
        raise RecordError(_("'probabilities' has more than %(num)s labels", num=MAX_CLASSES))
    clean = {}
    for label, p in value.items():
        if len(label) > 100:
            raise RecordError(_("a label in 'probabilities' is longer than 100 characters"))
        if problem := text_problem(label):
            if problem == NUL_PROBLEM:
                raise RecordError(_("a label in 'probabilities' contains a NUL character"))
            raise RecordError(
                _("a label in 'probabilities' is not valid Unicode text (a lone surrogate)")
            )
        clean[label] = _unit_number(p, f"probabilities.{label[:40]}")
    return clean


def _moment(value: Any, key: str, required: bool = True) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise RecordError(_("'%(field)s' must be an ISO-8601 date-time string", field=key))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(_("'%(field)s' is not an ISO-8601 date-time", field=key)) from None
    if moment.tzinfo is None:
        raise RecordError(_("'%(field)s' needs a time zone (e.g. ...Z or +01:00)", field=key))
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before the first datetime
        raise RecordError(_("'%(field)s' is out of range", field=key)) from None
    if moment > datetime.now(UTC) + MAX_CLOCK_AHEAD:
        raise RecordError(_("'%(field)s' lies in the future", field=key))
    if moment.year < 2000:
        raise RecordError(_("'%(field)s' is before the year 2000", field=key))
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
        raise RecordError(_("a correction must be a JSON object"), INVALID_ITEM)
    event_id = _uuid(raw.get("id"))
    prediction_id = _uuid(raw.get("prediction_id"), "prediction_id")
    label = _text(raw, "label", 100, required=False)
    if label is not None and not label.strip():
        raise RecordError(_("'label' must not be empty (null means back to the model's label)"))
    previous = _text(raw, "previous_label", 100, required=False)
    at = _moment(raw.get("at"), "at")
    fields = {"prediction_id": prediction_id, "label": label, "previous_label": previous, "at": at}
    canonical = dict(fields, id=event_id, at=at.isoformat())
    return CleanCorrection(event_id, prediction_id, label, previous, at, _sha256(canonical))


@dataclass(frozen=True)
class CleanSlide:
    id: str
    fields: dict[str, Any]  # the phone's columns of `slides`, as stored


def clean_slide(raw: Any) -> CleanSlide:
    if not isinstance(raw, dict):
        raise RecordError(_("a slide must be a JSON object"), INVALID_ITEM)
    slide_id = _uuid(raw.get("id"))
    # A phone older than malaria slides sends no kind: its slides count white cells.
    kind = _choice(raw, "kind", SLIDE_KINDS) if "kind" in raw else WBC_DIFFERENTIAL
    fields = {
        "sample_id": _text(raw, "sample_id", 120),
        "patient": _text(raw, "patient", 200, required=False),
        "specimen": _text(raw, "specimen", 200, required=False),
        "note": _text(raw, "note", MAX_NOTE, required=False),
        "kind": kind,
        "target": _choice(raw, "target", SLIDE_TARGETS[kind], kind),
        "state": _choice(raw, "state", SLIDE_STATES),
        "started_at": _moment(raw.get("started_at"), "started_at"),
        "updated_at": _moment(raw.get("updated_at"), "updated_at"),
        "finished_at": _moment(raw.get("finished_at"), "finished_at", required=False),
        "device_id": _text(raw, "device_id", 100),
    }
    if fields["state"] == "finished" and fields["finished_at"] is None:
        fields["finished_at"] = fields["updated_at"]  # the moment it became finished
    return CleanSlide(slide_id, fields)


def _choice(raw: dict, key: str, allowed: tuple, kind: str | None = None) -> Any:
    """`raw[key]` if it is one of `allowed`, those of a slide of `kind` where that is given."""
    value = raw.get(key)
    # The exact type: neither `true` nor `100.0` nor `"100"` passes for 100.
    if type(value) is not type(allowed[0]) or value not in allowed:
        words = {"field": key, "choices": ", ".join(map(str, allowed))}
        if kind == MALARIA:
            message = _("'%(field)s' must be one of %(choices)s for a malaria slide", **words)
        elif kind == WBC_DIFFERENTIAL:
            message = _(
                "'%(field)s' must be one of %(choices)s for a white-cell differential slide",
                **words,
            )
        else:
            message = _("'%(field)s' must be one of %(choices)s", **words)
        raise RecordError(message)
    return value
