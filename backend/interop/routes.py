"""`GET /api/slides/<id>/fhir`: one slide as a FHIR Bundle, seen with the viewer's rights (a
technician: the slides they counted), audited."""

from flask import Response, request
from flask_babel import gettext as _
from flask_jwt_extended import current_user

from backend import db
from backend.audit.log import record
from backend.auth.roles import any_role, deny
from backend.dashboard.slides import Slide, build_slide, has_cells, slide_cells
from backend.errors import ApiError
from backend.interop import bp
from backend.interop.fhir import MIMETYPE, slide_bundle
from backend.models import Slide as SlideRecord
from backend.models import User


@bp.get("/slides/<path:slide_id>/fhir")  # an older app's slide id may hold a "/"
@any_role
def slide_fhir(slide_id: str):
    slide = visible_slide(slide_id, current_user)
    return fhir_response(slide, current_user, "api")


def visible_slide(slide_id: str, viewer: User) -> Slide:
    """The slide as `viewer` may see it. A slide synced without cells yet is exported too (as
    `registered`) to whoever may see it: its owner, a viewer or an admin."""
    cells = slide_cells(slide_id, viewer)
    record_ = db.session.get(SlideRecord, slide_id)
    if cells:
        return build_slide(slide_id, cells, record_)
    mine = record_ is not None and (viewer.role != "technician" or record_.owner_id == viewer.id)
    if mine and not has_cells(slide_id):
        return build_slide(slide_id, [], record_)
    if record_ is not None or has_cells(slide_id):
        deny("another technician's slide", status=404)
    raise ApiError(404, "not_found", _("No such slide."))


def fhir_response(slide: Slide, user: User, via: str) -> Response:
    """The Bundle as application/fhir+json, and its audit entry (committed with it)."""
    bundle = slide_bundle(slide, users_system=request.url_root + "api/users")
    body = bundle.model_dump_json()
    status = bundle.entry[0].resource.status
    details = {"via": via, "status": status, "entries": len(bundle.entry)}
    record("slide.fhir_export", user, target=slide.slide_id, details=details)
    db.session.commit()
    return Response(body, mimetype=MIMETYPE)
