"""One loaded classifier.classify.Classifier per published model version, shared by requests.
The TFLite interpreter is not re-entrant, so each classifier is used under its own lock."""

import threading

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from backend import db
from backend.errors import ApiError
from backend.model_delivery import store
from backend.models import ModelVersion
from backend.storage import blobs
from classifier.classify import Classifier

_loaded: dict[tuple[str, str, str], tuple[Classifier, threading.Lock]] = {}
_loading = threading.Lock()


def choose_model(name: str | None) -> ModelVersion:
    """The active version of `name`, or the only active model when no name is given."""
    query = sa.select(ModelVersion).where(ModelVersion.active).order_by(ModelVersion.name)
    active = list(db.session.scalars(query))
    if name is not None:
        for model in active:
            if model.name == name:
                return model
        raise ApiError(
            404, "model_not_found", _("No active model named '%(name)s'.", name=name[:100])
        )
    default = current_app.config.get("PREDICT_DEFAULT_MODEL")
    if len(active) == 1 or (default and any(m.name == default for m in active)):
        return active[0] if len(active) == 1 else next(m for m in active if m.name == default)
    if not active:
        raise ApiError(503, "no_model", _("No model is published and active on this server."))
    names = ", ".join(m.name for m in active)
    message = _("Several models are active; send 'model' (%(names)s).", names=names)
    raise ApiError(400, "model_required", message)


def classifier_for(model: ModelVersion) -> tuple[Classifier, threading.Lock]:
    """The version's files are copied from the database into the local cache on first use
    (checked against their sha256), so a server that never saw the model classifies with it."""
    key = (str(blobs.cache_root()), model.sha256, model.meta_sha256)
    with _loading:
        if key not in _loaded:
            folder = store.local_folder(model)
            _loaded[key] = (Classifier(folder, num_threads=1), threading.Lock())
        return _loaded[key]
