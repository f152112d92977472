"""POST /predict: multipart image -> label, confidence, status, probabilities (the seed's API).

With ``mode=field`` the image is a field photo: every white cell found is framed and classified,
and the answer lists them (box, label, confidence, status, probabilities) instead; for a model
that declares red-cell field mode (a malaria screen) every red cell, each also marked ``edge``
(cut by the photo's edge: never counted) and ``clump``, with ``cell_type`` and ``diameter``."""

import io
import uuid
from collections import Counter
from pathlib import Path

from flask import current_app, jsonify, request
from flask_jwt_extended import current_user

from backend import db
from backend.audit.log import record
from backend.auth.roles import roles_required
from backend.errors import ApiError
from backend.models.types import utcnow
from backend.predict import bp
from backend.predict.classifiers import choose_model, classifier_for
from backend.predict.images import CheckedImage, check_image, read_limited
from classifier.classify import UnreadableImageError

MODES = ("single", "field")


@bp.post("/predict")
@roles_required("technician", "admin")
def predict():
    upload = request.files.get("image") or request.files.get("file")
    if upload is None:
        raise ApiError(400, "missing_file", "Send the image as multipart field 'image'.")
    mode = request.form.get("mode", "single")
    if mode not in MODES:
        raise ApiError(400, "invalid_mode", f"'mode' must be one of {', '.join(MODES)}.")
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
    try:
        record("predict", current_user, target=path, details=details)
        db.session.commit()
    except Exception:
        (Path(cfg["UPLOAD_FOLDER"]) / path).unlink(missing_ok=True)
        raise
    model_ref = {"name": model.name, "version": model.version}
    if mode == "field":
        return jsonify(mode="field", **result, model=model_ref, image_path=path)
    extra = {"reason": result["reason"]} if "reason" in result else {}
    return jsonify(
        predicted_label=result["label"],
        confidence=result["confidence"],
        status=result["status"],
        probabilities=result["probabilities"],
        model=model_ref,
        image_path=path,
        **extra,
    )


def _store(image: CheckedImage) -> str:
    """Saves under a new server-made name (never the client's); 'xb' never overwrites."""
    relative = Path(utcnow().strftime("%Y/%m/%d")) / f"{uuid.uuid4().hex}.{image.extension}"
    target = Path(current_app.config["UPLOAD_FOLDER"]) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as f:
        f.write(image.encoded)
    return relative.as_posix()
