"""Results that leave Hematovision in a laboratory system's formats: a slide as HL7 FHIR
(`GET /api/slides/<id>/fhir`; the dashboard offers the same file on the slide page)."""

from flask import Blueprint

bp = Blueprint("interop", __name__, url_prefix="/api")

from backend.interop import routes  # noqa: E402,F401
