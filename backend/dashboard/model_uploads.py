"""A model release uploaded on the models page: a zip of the release folder, or the .tflite
with its model.json. Read in memory with size caps and checked by the API's own release check."""

import io
import json
import zipfile
from pathlib import PurePosixPath

from flask import current_app

from backend.dashboard.forms import ModelUploadForm
from backend.errors import ApiError
from backend.model_delivery.release import Release, check_release


def _read_upload(storage, what: str) -> bytes:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    data = storage.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "file_too_large", f"The {what} is larger than {limit} bytes.")
    if not data:
        raise ApiError(400, "empty_file", f"The {what} is empty.")
    return data


def release_from_zip(data: bytes) -> Release:
    """model.json and the file it names, at the top of the zip or in one folder; members are
    read into memory with a size cap (a zip bomb is refused), never extracted to disk."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ApiError(400, "invalid_model", "The upload is not a valid .zip file.") from None
    names = {PurePosixPath(i.filename).name: i for i in archive.infolist() if not i.is_dir()}
    if "model.json" not in names:
        raise ApiError(400, "invalid_model", "The zip has no model.json.")
    meta = _member(archive, names["model.json"])
    try:
        file_name = json.loads(meta).get("file") or "model.tflite"
    except (ValueError, AttributeError):
        raise ApiError(
            400, "invalid_model", "model.json in the zip is not a JSON object."
        ) from None
    model_name = PurePosixPath(str(file_name)).name
    if model_name not in names:
        raise ApiError(400, "invalid_model", f"The zip has no {model_name} (model.json 'file').")
    return check_release(meta, _member(archive, names[model_name]))


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if info.file_size > limit:
        raise ApiError(
            413, "file_too_large", f"{info.filename} unpacks to more than {limit} bytes."
        )
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise ApiError(
            413, "file_too_large", f"{info.filename} unpacks to more than {limit} bytes."
        )
    return data


def release_from_form(form: ModelUploadForm) -> Release:
    if form.release_zip.data:
        return release_from_zip(_read_upload(form.release_zip.data, "zip"))
    if form.model_file.data and form.meta_file.data:
        meta = _read_upload(form.meta_file.data, "model.json")
        return check_release(meta, _read_upload(form.model_file.data, "model file"))
    raise ApiError(400, "missing_file", "Choose a release .zip, or the .tflite and its model.json.")
