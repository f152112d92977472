"""The optional cell image a phone sends with a synced record: `"image"` is a base64 JPEG of the
classified cell. It is checked like any upload (type by content, byte and pixel limits, full
decode), re-encoded without metadata and stored under a server-made name, as a blob in the
database ("cells/<name>") in the same transaction as its record. With CELL_IMAGES_ENABLED off
the field is ignored and nothing is stored."""

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from backend.errors import ApiError
from backend.predict.images import check_image
from backend.storage import blobs
from backend.sync.item_results import INVALID_IMAGE
from backend.sync.validation import RecordError


@dataclass(frozen=True)
class CellImage:
    jpeg: bytes  # the re-encoded image that is stored
    sha256: str  # of the bytes the phone sent: a re-send of the same image is a duplicate
    name: str  # server-made file name: the record's image_path; blob key "cells/<name>"


KEY_PREFIX = "cells/"


def blob_key(name: str) -> str:
    return KEY_PREFIX + Path(name).name


def image_folder() -> Path:
    """Where an older installation kept cell images on disk (`flask storage import-files`
    reads it); nothing is written there any more."""
    configured = current_app.config.get("CELL_IMAGE_FOLDER")
    return Path(configured or Path(current_app.config["UPLOAD_FOLDER"]) / "cells")


def take_image(raw: Any) -> CellImage | None:
    """Checks the record's image, if it has one and images are enabled; RecordError if bad."""
    if not isinstance(raw, dict) or raw.get("image") is None:
        return None
    if not current_app.config["CELL_IMAGES_ENABLED"]:
        return None
    data = _decode(raw["image"])
    try:
        checked = check_image(data, current_app.config["CELL_IMAGE_MAX_PIXELS"])
    except ApiError as e:
        raise RecordError(
            _("%(field)s: %(error)s", field="'image'", error=e.message), INVALID_IMAGE
        ) from None
    if checked.format != "JPEG":
        raise RecordError(_("'image' must be a JPEG"), INVALID_IMAGE)
    return CellImage(checked.encoded, hashlib.sha256(data).hexdigest(), f"{uuid.uuid4().hex}.jpg")


def _decode(value: Any) -> bytes:
    if not isinstance(value, str):
        raise RecordError(_("'image' must be a base64 string of a JPEG"), INVALID_IMAGE)
    if value.startswith("data:"):
        value = value.partition(",")[2]  # a data URL as a canvas makes it
    limit = current_app.config["CELL_IMAGE_MAX_BYTES"]
    too_large = _("'image' is larger than %(num)s bytes", num=limit)
    if len(value) > (limit + 2) // 3 * 4 + 4:
        raise RecordError(too_large, INVALID_IMAGE)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise RecordError(_("'image' is not valid base64"), INVALID_IMAGE) from None
    if len(data) > limit:
        raise RecordError(too_large, INVALID_IMAGE)
    if not data:
        raise RecordError(_("'image' is empty"), INVALID_IMAGE)
    return data


def store(images: list[CellImage]) -> None:
    """In the caller's transaction: each image commits (or not) with its record."""
    blobs.put_new([(blob_key(image.name), image.jpeg, "image/jpeg") for image in images])


def exists(name: str) -> bool:
    return blobs.exists(blob_key(name))


def read(name: str) -> bytes | None:
    """The stored JPEG for a prediction's image_path, or None if there is none."""
    return blobs.read(blob_key(name))
