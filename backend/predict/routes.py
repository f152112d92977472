"""POST /predict: multipart image -> label, confidence, status, probabilities (the seed's API)."""

import io
import uuid
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


@bp.post("/predict")
@roles_required("technician", "admin")
def predict():
    upload = request.files.get("image") or request.files.get("file")
    if upload is None:
        raise ApiError(400, "missing_file", "Send the image as multipart field 'image'.")
    cfg = current_app.config
    image = check_image(
        read_limited(upload.stream, cfg["PREDICT_MAX_BYTES"]), cfg["PREDICT_MAX_PIXELS"]
    )
    model = choose_model(request.form.get("model"))
    classifier, lock = classifier_for(model)
    with lock:
        result = classifier.classify(io.BytesIO(image.encoded))
    path = _store(image)
    try:
        record(
            "predict",
            current_user,
            target=path,
            details={"model": model.name, "version": model.version, "label": result["label"]},
        )
        db.session.commit()
    except Exception:
        (Path(cfg["UPLOAD_FOLDER"]) / path).unlink(missing_ok=True)
        raise
    return jsonify(
        predicted_label=result["label"],
        confidence=result["confidence"],
        status=result["status"],
        probabilities=result["probabilities"],
        model={"name": model.name, "version": model.version},
        image_path=path,
    )


def _store(image: CheckedImage) -> str:
    """Saves under a new server-made name (never the client's); 'xb' never overwrites."""
    relative = Path(utcnow().strftime("%Y/%m/%d")) / f"{uuid.uuid4().hex}.{image.extension}"
    target = Path(current_app.config["UPLOAD_FOLDER"]) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as f:
        f.write(image.encoded)
    return relative.as_posix()
