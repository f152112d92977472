"""GET /api/openapi.json: the OpenAPI 3.1 description of the JSON API, kept in openapi.yaml
(YAML reads and reviews better than JSON) and served as JSON."""

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask import Response, request

from backend.api_description import bp

SOURCE = Path(__file__).with_name("openapi.yaml")


@cache
def description() -> dict[str, Any]:
    """The parsed document; read once per process (it changes only with a release)."""
    return yaml.safe_load(SOURCE.read_text(encoding="utf-8"))


@cache
def _served() -> tuple[bytes, str]:
    body = json.dumps(description(), ensure_ascii=False, indent=1).encode()
    return body, hashlib.sha256(body).hexdigest()


@bp.get("/openapi.json")
def openapi_json():
    body, digest = _served()
    response = Response(body, mimetype="application/json")
    response.set_etag(digest)
    # Public and cacheable, but revalidated: a new release may describe new routes.
    response.cache_control.public = True
    response.cache_control.no_cache = True
    return response.make_conditional(request)
