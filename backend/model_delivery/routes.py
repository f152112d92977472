"""Phones fetch the active models (public, cacheable forever: URLs carry the version);
admins publish, activate and roll back."""

import sqlalchemy as sa
from flask import jsonify, request, send_file
from flask_babel import gettext as _
from flask_jwt_extended import current_user

from backend import db
from backend.audit.log import record
from backend.auth.roles import roles_required
from backend.errors import ApiError
from backend.model_delivery import bp, store
from backend.model_delivery.release import check_release
from backend.models import ModelVersion
from backend.storage import blobs

ONE_YEAR = 365 * 24 * 3600


@bp.get("")
def list_active_models():
    query = sa.select(ModelVersion).where(ModelVersion.active).order_by(ModelVersion.name)
    response = jsonify(models=[m.to_dict() for m in db.session.scalars(query)])
    response.cache_control.no_cache = True  # the listing changes; the versioned files do not
    return response


@bp.get("/versions")
@roles_required("admin")
def list_all_versions():
    query = sa.select(ModelVersion).order_by(ModelVersion.name, ModelVersion.published_at)
    return jsonify(models=[m.to_dict() for m in db.session.scalars(query)])


@bp.get("/<name>/<version>/model.tflite")
def download_model(name: str, version: str):
    return _immutable(_download(name, version, "model.tflite"), "application/octet-stream")


@bp.get("/<name>/<version>/model.json")
def download_card(name: str, version: str):
    return _immutable(_download(name, version, "model.json"), "application/json")


def _get(name: str, version: str) -> ModelVersion:
    model = store.find(name, version)
    if model is None:
        raise _not_found(name, version)
    return model


def _download(name: str, version: str, file: str) -> store.Download:
    found = store.download(name, version, file)
    if found is None:
        raise _not_found(name, version)
    return found


def _not_found(name: str, version: str) -> ApiError:
    return ApiError(
        404, "not_found", _("No published model %(name)s %(version)s.", name=name, version=version)
    )


def _immutable(download: store.Download, mimetype: str):
    """Sent from the server's local cache, or from the bytes just read from the database
    (blobs.download), which go into the cache once they are sent. ETag and Last-Modified come
    from the database, not the file: every server answers the same, whichever way it sends."""
    content, sha256 = download.content, download.sha256
    response = send_file(
        blobs.CachedOnClose(sha256, content) if isinstance(content, bytes) else content,
        mimetype=mimetype,
        etag=sha256,
        last_modified=download.published_at,
        conditional=True,
        max_age=ONE_YEAR,
    )
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


@bp.post("")
@roles_required("admin")
def upload_model():
    """multipart: `model` (.tflite), `meta` (its model.json), optional `activate=true`."""
    files = {k: request.files.get(k) for k in ("model", "meta")}
    missing = [k for k, f in files.items() if f is None]
    if missing:
        raise ApiError(
            400,
            "missing_file",
            _("Send the files as multipart fields: %(fields)s.", fields=missing),
        )
    release = check_release(files["meta"].read(), files["model"].read())
    version, created = store.publish(release, current_user)
    if created:
        record("model.publish", current_user, target=f"{version.name} {version.version}")
    if request.form.get("activate", "").lower() in ("1", "true", "yes"):
        _activate(version)
    db.session.commit()
    return jsonify(model=version.to_dict(), created=created), 201 if created else 200


@bp.post("/<name>/<version>/activate")
@roles_required("admin")
def activate_model(name: str, version: str):
    model = _get(name, version)
    _activate(model)
    db.session.commit()
    return jsonify(model=model.to_dict())


def _activate(model: ModelVersion) -> None:
    store.activate(model)
    record("model.activate", current_user, target=f"{model.name} {model.version}")


@bp.post("/<name>/rollback")
@roles_required("admin")
def rollback_model(name: str):
    model = store.rollback(name)
    record("model.rollback", current_user, target=f"{model.name} {model.version}")
    db.session.commit()
    return jsonify(model=model.to_dict())
