"""Admins publish model releases (a zip, or the .tflite with its model.json), see their
metrics from model.json, activate a version and roll back. Checks are the API's own."""

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import roles_required
from backend.dashboard.forms import ActionForm, ModelUploadForm
from backend.errors import ApiError
from backend.model_delivery import store
from backend.model_delivery.release import Release, check_release
from backend.models import ModelVersion


def read_meta(version: ModelVersion) -> dict[str, Any]:
    try:
        return json.loads((store.store_root() / version.meta_path).read_bytes())
    except (OSError, ValueError):
        return {}


def metrics_of(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """The numbers of model.json's "metrics" (nested objects flattened as a.b)."""
    out: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, bool | str):
            out.append((prefix, str(value)))
        elif isinstance(value, int | float):
            out.append((prefix, f"{value:.4g}" if isinstance(value, float) else str(value)))

    walk("", meta.get("metrics") or {})
    return out


@bp.get("/admin/models")
@roles_required("admin")
def admin_models():
    return _models_page()


def _models_page(form: ModelUploadForm | None = None, status: int = 200):
    query = sa.select(ModelVersion).order_by(ModelVersion.name, ModelVersion.published_at.desc())
    versions = db.session.scalars(query).all()
    metrics = {v.id: metrics_of(read_meta(v)) for v in versions}
    return render_template(
        "dashboard/admin_models.html",
        versions=versions,
        metrics=metrics,
        upload_form=form or ModelUploadForm(formdata=None),
        action_form=ActionForm(formdata=None),
    ), status


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


def _release(form: ModelUploadForm) -> Release:
    if form.release_zip.data:
        return release_from_zip(_read_upload(form.release_zip.data, "zip"))
    if form.model_file.data and form.meta_file.data:
        meta = _read_upload(form.meta_file.data, "model.json")
        return check_release(meta, _read_upload(form.model_file.data, "model file"))
    raise ApiError(400, "missing_file", "Choose a release .zip, or the .tflite and its model.json.")


@bp.post("/admin/models")
@roles_required("admin")
def admin_publish_model():
    form = ModelUploadForm()
    if not form.validate_on_submit():
        flash("The upload was refused: reload the page and try again.", "error")
        return _models_page(form, 400)
    try:
        version, created = store.publish(_release(form), current_user)
    except ApiError as e:
        db.session.rollback()
        flash(f"Nothing was published. {e.message}", "error")
        return _models_page(form, e.status)
    target = f"{version.name} {version.version}"
    if created:
        record("model.publish", current_user, target=target, details={"via": "dashboard"})
    if form.activate.data:
        store.activate(version)
        record("model.activate", current_user, target=target, details={"via": "dashboard"})
    db.session.commit()
    state = "Published" if created else "Already published:"
    flash(f"{state} {target}{' (active)' if version.active else ''}.", "success")
    return redirect(url_for("dashboard.admin_models"))


def _checked_action() -> None:
    if not ActionForm().validate_on_submit():
        abort(400, description="The request was refused: reload the page and try again.")


@bp.post("/admin/models/<int:version_id>/activate")
@roles_required("admin")
def admin_activate_model(version_id: int):
    _checked_action()
    version = db.session.get(ModelVersion, version_id)
    if version is None:
        abort(404, description="No such model version.")
    store.activate(version)
    target = f"{version.name} {version.version}"
    record("model.activate", current_user, target=target, details={"via": "dashboard"})
    db.session.commit()
    flash(f"{target} is now the active version; phones fetch it on their next check.", "success")
    return redirect(url_for("dashboard.admin_models"))


@bp.post("/admin/models/<name>/rollback")
@roles_required("admin")
def admin_rollback_model(name: str):
    _checked_action()
    try:
        version = store.rollback(name)
    except ApiError as e:
        flash(f"No rollback. {e.message}", "error")
        return _models_page(status=e.status)
    target = f"{version.name} {version.version}"
    record("model.rollback", current_user, target=target, details={"via": "dashboard"})
    db.session.commit()
    flash(f"Rolled back: {target} is active again.", "success")
    return redirect(url_for("dashboard.admin_models"))
