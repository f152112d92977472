"""Reading what a client sends (JSON bodies, query strings) with errors that say exactly what
is wrong: nothing a client sends is answered with a 500."""

from datetime import UTC, datetime
from typing import Any

from flask import Flask, abort, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from backend.errors import ApiError
from backend.models.types import MAX_ID


def init_app(app: Flask) -> None:
    """Before the blueprints are registered: their rules take the `int` converter from here."""
    app.json = JSONProvider(app)
    app.url_map.converters["int"] = DatabaseIntConverter
    app.before_request(refuse_nul_characters)


class DatabaseIntConverter(IntegerConverter):
    """`<int:...>` in a URL: a number no id column holds matches no route and is a 404, where
    the query would fail (SQLite cannot bind 2**63, PostgreSQL's integer ends at 2**31 - 1)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a document nested too deeply to parse is invalid JSON like any other
    (the parser raises RecursionError, which request.get_json would let through as a 500)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def refuse_nul_characters() -> None:
    """A NUL is no character of a path, a query or a form field: the OS cannot open a file
    named with one and PostgreSQL cannot store or compare one. Refused before any view."""
    fields = [("path", request.path), *request.args.items(multi=True)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields += request.form.items(multi=True)
    for name, value in fields:
        if "\x00" in name or "\x00" in value:
            abort(400, description=_("The request contains a NUL character."))


# English on purpose: sync's per-record errors carry them, and the phone reads those
# (string_field below says them in the request's language).
NUL_PROBLEM = "contains a NUL character"
SURROGATE_PROBLEM = "is not valid Unicode text (a lone surrogate)"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text (None when it can): a NUL, or a lone surrogate
    (JSON can carry "\\ud800"; it is no character and cannot be encoded as UTF-8)."""
    if "\x00" in value:
        return NUL_PROBLEM
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_PROBLEM
    return None


def json_object() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(
            400, "invalid_json", _("The body must be valid JSON sent as application/json.")
        )
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_json",
            _("The body must be a JSON object, not %(kind)s.", kind=_kind(data)),
        )
    return data


def string_field(data: dict[str, Any], key: str, max_len: int, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise ApiError(
                400, "invalid_field", _("'%(field)s' is required.", field=key), {"field": key}
            )
        return None
    if not isinstance(value, str):
        raise ApiError(
            400,
            "invalid_field",
            _("'%(field)s' must be a string, not %(kind)s.", field=key, kind=_kind(value)),
            {"field": key},
        )
    if len(value) > max_len:
        raise ApiError(
            400,
            "invalid_field",
            _("'%(field)s' is longer than %(num)s characters.", field=key, num=max_len),
            {"field": key},
        )
    if problem := text_problem(value):
        if problem == NUL_PROBLEM:
            message = _("'%(field)s' contains a NUL character.", field=key)
        else:
            message = _("'%(field)s' is not valid Unicode text (a lone surrogate).", field=key)
        raise ApiError(400, "invalid_field", message, {"field": key})
    return value


def _kind(value: Any) -> str:
    names = {dict: _("an object"), list: _("an array"), str: _("a string")}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, int | float):
        return _("a number")
    return names.get(type(value), type(value).__name__)


def query_int(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_query", _("'%(name)s' must be an integer.", name=name)
        ) from None
    if not minimum <= value <= maximum:
        raise ApiError(
            400,
            "invalid_query",
            _(
                "'%(name)s' must be between %(min)s and %(max)s.",
                name=name,
                min=minimum,
                max=maximum,
            ),
        )
    return value


def query_moment(name: str) -> datetime | None:
    """An ISO-8601 date or date-time query parameter, in UTC; naive values are taken as UTC."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_query", _("'%(name)s' must be an ISO-8601 date-time.", name=name)
        ) from None
    try:
        # e.g. 0001-01-01T00:00:00+01:00 is a moment before the first one a datetime can hold
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise ApiError(400, "invalid_query", _("'%(name)s' is out of range.", name=name)) from None
