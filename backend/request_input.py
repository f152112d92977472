"""Reading JSON request bodies with errors that say exactly what is wrong."""

from datetime import UTC, datetime
from typing import Any

from flask import request

from backend.errors import ApiError


def json_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "invalid_json", "The body must be valid JSON sent as application/json.")
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", f"The body must be a JSON object, not {_kind(data)}.")
    return data


def string_field(data: dict[str, Any], key: str, max_len: int, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ApiError(400, "invalid_field", f"'{key}' is required.", {"field": key})
        return None
    if not isinstance(value, str):
        raise ApiError(
            400, "invalid_field", f"'{key}' must be a string, not {_kind(value)}.", {"field": key}
        )
    if len(value) > max_len:
        raise ApiError(
            400, "invalid_field", f"'{key}' is longer than {max_len} characters.", {"field": key}
        )
    return value


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return names.get(type(value), type(value).__name__)


def query_int(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"'{name}' must be an integer.") from None
    if not minimum <= value <= maximum:
        raise ApiError(400, "invalid_query", f"'{name}' must be between {minimum} and {maximum}.")
    return value


def query_moment(name: str) -> datetime | None:
    """An ISO-8601 date or date-time query parameter; naive values are taken as UTC."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"'{name}' must be an ISO-8601 date-time.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
