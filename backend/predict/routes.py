"""POST /predict: multipart image -> label, confidence, status, probabilities (the seed's API),
and status_reason: why the call is not confident (classifier.classify.STATUS_REASONS; null when
it is).

With ``mode=field`` the image is a field photo: every white cell found is framed and classified,
and the answer lists them (box, label, confidence, status, probabilities) instead; for a model
that declares red-cell field mode (a malaria screen) every red cell, each also marked ``edge``
(cut by the photo's edge: never counted) and ``clump``, with ``cell_type`` and ``diameter``.
A model whose card declares ``class_activation`` adds each call's ``cam`` (the answer's, and
every cell's in field mode): {"label", "rows", "cols", "values"}, see classifier.classify."""

import io
import uuid
from collections import Counter

import sqlalchemy as sa
from flask import current_app, jsonify, request, send_file
from flask_babel import gettext as _
from flask_jwt_extended import current_user

from backend import db
from backend.audit.log import record
from backend.auth.roles import deny, roles_required
from backend.errors import ApiError
from backend.models import AuditEntry
from backend.models.types import utcnow
from backend.predict import bp
from backend.predict.classifiers import choose_model, classifier_for
from backend.predict.images import CheckedImage, check_image, read_limited
from backend.storage import blobs
from classifier.classify import UnreadableImageError

MODES = ("single", "field")
UPLOAD_PREFIX = "uploads/"  # blob key of an upload: this + the answer's image_path
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_KEY = 255


@bp.post("/predict")
@roles_required("technician", "admin")
def predict():
    upload = request.files.get("image") or request.files.get("file")
    if upload is None:
        raise ApiError(400, "missing_file", _("Send the image as multipart field 'image'."))
    mode = request.form.get("mode", "single")
    if mode not in MODES:
        raise ApiError(
            400, "invalid_mode", _("'mode' must be one of %(modes)s.", modes=", ".join(MODES))
        )
    cfg = current_app.config
    image = check_image(
        read_limited(upload.stream, cfg["PREDICT_MAX_BYTES"]), cfg["PREDICT_MAX_PIXELS"]
    )
    model = choose_model(request.form.get("model"))
    classifier, lock = classifier_for(model)
    with lock:
        try:
            classify = classifier.classify_field if mode == "field" else classifier.classify
            result = classify(io.BytesIO(image.encoded))
        except UnreadableImageError as error:  # e.g. too small to search for a cell
            raise ApiError(400, "unreadable_image", str(error)) from None
    path = _store(image)
    details = {"model": model.name, "version": model.version, "mode": mode}
    if mode == "field" and result.get("cell_type") == "rbc":
        # a thin film has a hundred red cells or more: the audit keeps the counts
        details["label_counts"] = dict(Counter(cell["label"] for cell in result["cells"]))
    elif mode == "field":
        details["labels"] = [cell["label"] for cell in result["cells"]]
    else:
        details["label"] = result["label"]
    record("predict", current_user, target=path, details=details)
    db.session.commit()  # the upload and its audit entry together, or neither
    model_ref = {"name": model.name, "version": model.version}
    if mode == "field":
        return jsonify(mode="field", **result, model=model_ref, image_path=path)
    # "cam": the why-this-call map, only from a model whose card declares one
    extra = {key: result[key] for key in ("reason", "cam") if key in result}
    return jsonify(
        predicted_label=result["label"],
        confidence=result["confidence"],
        status=result["status"],
        status_reason=result["status_reason"],
        probabilities=result["probabilities"],
        model=model_ref,
        image_path=path,
        **extra,
    )


def _store(image: CheckedImage) -> str:
    """Stores the checked image under a new server-made name (never the client's), as a blob
    ("uploads/" + the answer's image_path) in this request's transaction."""
    relative = f"{utcnow():%Y/%m/%d}/{uuid.uuid4().hex}.{image.extension}"
    blobs.put(UPLOAD_PREFIX + relative, image.encoded, CONTENT_TYPES[image.format])
    return relative


@bp.get("/predict/uploads/<path:image_path>")
@roles_required("technician", "admin")
def uploaded_image(image_path: str):
    """An image sent to /predict, by the `image_path` of its answer: for admins, and for the
    technician who sent it (the `predict` audit entry says who did)."""
    key = UPLOAD_PREFIX + image_path
    stored = blobs.info(key) if len(key) <= MAX_KEY else None
    if stored is not None and current_user.role != "admin":
        sender = sa.select(AuditEntry.id).where(
            AuditEntry.action == "predict",
            AuditEntry.target == image_path,
            AuditEntry.user_id == current_user.id,
        )
        if db.session.scalar(sender.limit(1)) is None:  # another person's: as if not there
            deny("another technician's upload", status=404)
    if stored is None:
        raise ApiError(404, "not_found", _("No such upload."))
    response = send_file(
        io.BytesIO(blobs.read(key)),
        mimetype=stored.content_type,
        etag=stored.sha256,
        last_modified=stored.created_at,
        conditional=True,
        max_age=0,
    )
    response.cache_control.private = True
    return response
