"""A model release uploaded on the models page: a zip of the release folder, the folder itself,
or the .tflite with its model.json. Read in memory with size caps, checked by the API's own
release check."""

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from backend.dashboard.forms import ModelUploadForm
from backend.errors import ApiError
from backend.model_delivery.release import Release, check_release, model_file_name


def _read_upload(storage, what: str) -> bytes:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    data = storage.read(limit + 1)
    if len(data) > limit:
        message = _("%(file)s is larger than %(limit)s bytes.", file=what, limit=limit)
        raise ApiError(413, "file_too_large", message)
    if not data:
        raise ApiError(400, "empty_file", _("%(file)s is empty.", file=what))
    return data


def release_from_zip(data: bytes) -> Release:
    """model.json and the file it names, at the top of the zip or in one folder; members are
    read into memory with a size cap (a zip bomb is refused), never extracted to disk."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ApiError(400, "invalid_model", _("The upload is not a valid .zip file.")) from None
    members = {PurePosixPath(i.filename).name: i for i in archive.infolist() if not i.is_dir()}
    return _pick_release(members, lambda info: _member(archive, info), _("The .zip"))


def release_from_folder(files: list) -> Release:
    """A release folder chosen in the browser (its files arrive as relative paths)."""
    named = {PurePosixPath(f.filename).name: f for f in files if f and f.filename}
    read = lambda f: _read_upload(f, PurePosixPath(f.filename).name)  # noqa: E731
    return _pick_release(named, read, _("The folder"))


def _pick_release(members: dict[str, Any], read: Callable[[Any], bytes], where: str) -> Release:
    """model.json, then the model file it names (read as `flask models publish` reads it)."""
    if "model.json" not in members:
        raise ApiError(400, "invalid_model", _("%(upload)s has no model.json.", upload=where))
    card_bytes = read(members["model.json"])
    try:
        card = json.loads(card_bytes)
    except ValueError:
        card = None
    if not isinstance(card, dict):
        message = _("model.json in %(upload)s is not a JSON object.", upload=where)
        raise ApiError(400, "invalid_model", message)
    model_name = PurePosixPath(model_file_name(card)).name
    if model_name not in members:
        message = _(
            "%(upload)s has no %(file)s (model.json 'file').", upload=where, file=model_name
        )
        raise ApiError(400, "invalid_model", message)
    return check_release(card_bytes, read(members[model_name]))


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if info.file_size > limit:
        raise _unpacks_too_large(info.filename, limit)
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise _unpacks_too_large(info.filename, limit)
    return data


def _unpacks_too_large(name: str, limit: int) -> ApiError:
    message = _("%(file)s unpacks to more than %(limit)s bytes.", file=name, limit=limit)
    return ApiError(413, "file_too_large", message)


def release_from_form(form: ModelUploadForm) -> Release:
    if form.release_zip.data:
        return release_from_zip(_read_upload(form.release_zip.data, _("The .zip")))
    if any(f and f.filename for f in form.release_folder.data or []):
        return release_from_folder(form.release_folder.data)
    if form.model_file.data and form.meta_file.data:
        card_bytes = _read_upload(form.meta_file.data, "model.json")
        return check_release(card_bytes, _read_upload(form.model_file.data, _("The model file")))
    raise ApiError(
        400,
        "missing_file",
        _("Choose a release .zip, a release folder, or the .tflite and its model.json."),
    )
