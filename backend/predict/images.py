"""Checking an uploaded image before anything is classified or stored: type by content,
byte and pixel limits, full decode (truncation), then a clean re-encode without metadata."""

import io
import struct
from dataclasses import dataclass

from flask_babel import gettext as _
from PIL import Image, ImageOps

from backend.errors import ApiError

SIGNATURES = {"JPEG": (b"\xff\xd8\xff",), "PNG": (b"\x89PNG\r\n\x1a\n",)}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class CheckedImage:
    format: str
    width: int
    height: int
    encoded: bytes  # the re-encoded file: what is classified and stored

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def sniff(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for name, signatures in SIGNATURES.items():
        if head.startswith(signatures):
            return name
    return None


def read_limited(stream, max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(
            413, "file_too_large", _("The image is larger than %(num)s bytes.", num=max_bytes)
        )
    if not data:
        raise ApiError(400, "empty_file", _("The uploaded file is empty."))
    return data


def check_image(data: bytes, max_pixels: int) -> CheckedImage:
    kind = sniff(data[:16])
    if kind is None:
        raise ApiError(
            415,
            "unsupported_image_type",
            _("Only JPEG, PNG or WebP images are accepted (by content)."),
        )
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if image.width * image.height > max_pixels:
                raise ApiError(
                    413,
                    "too_many_pixels",
                    _(
                        "The image has %(width)sx%(height)s pixels; limit %(limit)s.",
                        width=image.width,
                        height=image.height,
                        limit=max_pixels,
                    ),
                )
            image.load()  # a truncated or corrupt file fails here, before anything is stored
            clean = ImageOps.exif_transpose(image).convert("RGB")
    except ApiError:
        raise
    except Image.DecompressionBombError as e:
        raise ApiError(
            413, "too_many_pixels", _("The image has too many pixels: %(error)s", error=e)
        ) from None
    # struct.error and EOFError: Pillow reading a malformed or truncated EXIF block (for
    # exif_transpose), e.g. a tag whose value has the wrong type.
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
        raise ApiError(
            400,
            "unreadable_image",
            _("The %(kind)s image cannot be decoded: %(error)s", kind=kind, error=e),
        ) from None
    return CheckedImage(kind, clean.width, clean.height, _encode(clean, kind))


def _encode(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    options = {"JPEG": {"quality": 95}, "PNG": {"optimize": False}, "WEBP": {"quality": 95}}[kind]
    image.save(out, format=kind, **options)
    return out.getvalue()
