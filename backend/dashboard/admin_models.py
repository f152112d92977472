"""Admins publish model releases (a zip, or the .tflite with its model.json), see their
metrics from model.json (and, for a release adapted to one laboratory, that lab's figures),
activate a version and roll back. Checks are the API's own."""

import json
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import roles_required
from backend.dashboard.forms import ConfirmForm, ModelUploadForm, first_error
from backend.dashboard.model_uploads import release_from_form
from backend.errors import ApiError
from backend.model_delivery import store
from backend.models import ModelVersion, Prediction

# training.site_release's rule, mirrored (the server does not import the training code; a test
# holds the two equal): a release it can adapt calls on the image's own view and a turned one,
# and each label the lab gives needs at least this many confirmed cells.
ADAPTABLE_FIRST_VIEW = "the image as given"
ADAPTATION_MIN_PER_LABEL = 5


def read_card(version: ModelVersion) -> dict[str, Any]:
    try:
        return json.loads(store.card_bytes(version) or b"{}")
    except ValueError:
        return {}


def metrics_of(card: dict[str, Any]) -> list[tuple[str, str]]:
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

    walk("", card.get("metrics") or {})
    return out


def site_adaptation_of(card: dict[str, Any]) -> dict[str, Any] | None:
    """What a release adapted to one laboratory (training.site_release) says of it, for the
    admin deciding where it goes: the lab, its confirmed cells and the cross-validated figures
    on them before and after. None for other releases and for an entry it cannot read."""
    adapted = card.get("site_adaptation")
    if not isinstance(adapted, dict):
        return None
    try:
        before, after = (adapted["cross_validated"][k] for k in ("before", "after"))
        return {
            "site": str(adapted["site"]),
            "cells": sum(int(n) for n in adapted["cells"].values()),
            **{
                key: tuple(f"{100 * float(f[key]):.1f}%" for f in (before, after))
                for key in ("right", "wrong_calls_confident")
            },
            "lab_familiarity": _lab_familiarity(adapted.get("familiarity")),
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _lab_familiarity(familiarity) -> tuple[str, str] | None:
    """The share of the lab's cells `unfamiliar` before and after (out of fold) when the release
    learned them as a familiarity component; None otherwise (or for older cards)."""
    if not isinstance(familiarity, dict) or familiarity.get("site_component") is not True:
        return None
    before, after = familiarity["unfamiliar"]["lab_cells_out_of_fold"]
    return f"{100 * float(before):.1f}%", f"{100 * float(after):.1f}%"


def adaptable(card: dict[str, Any]) -> bool:
    """Whether training.site_release can adapt this release to a laboratory."""
    views = (card.get("view_check") or {}).get("views") or [None]
    return views[0] == ADAPTABLE_FIRST_VIEW and "site_adaptation" not in card


def confirmed_cells(name: str, labels: list[str]) -> list[tuple[str, int, bool]]:
    """(label, cells, enough) for each of `labels`: the calls of model `name` that a doctor or
    admin reviewed as that label and whose cell image is stored, i.e. what `flask models
    export-confirmed-cells` writes for training.site_release. `enough`: none (the label keeps
    being called from the training images) or at least ADAPTATION_MIN_PER_LABEL."""
    query = (
        sa.select(Prediction.reviewed_label, sa.func.count())
        .where(
            Prediction.model_name == name,
            Prediction.reviewed_label.in_(labels),
            Prediction.image_path.is_not(None),
        )
        .group_by(Prediction.reviewed_label)
    )
    counts = dict(db.session.execute(query).all())
    return [
        (label, n := counts.get(label, 0), n == 0 or n >= ADAPTATION_MIN_PER_LABEL)
        for label in labels
    ]


@bp.get("/admin/models")
@roles_required("admin")
def admin_models():
    return _models_page()


def _models_page(form: ModelUploadForm | None = None, status: int = 200):
    query = sa.select(ModelVersion).order_by(ModelVersion.name, ModelVersion.published_at.desc())
    versions = db.session.scalars(query).all()
    cards = {v.id: read_card(v) for v in versions}
    adaptable_labels = {}  # model name -> labels of its newest release site_release can adapt
    for v in versions:
        if v.name not in adaptable_labels and adaptable(cards[v.id]):
            adaptable_labels[v.name] = list(v.labels)
    return render_template(
        "dashboard/admin_models.html",
        versions=versions,
        confirmed={
            name: confirmed_cells(name, labels) for name, labels in adaptable_labels.items()
        },
        min_per_label=ADAPTATION_MIN_PER_LABEL,
        metrics={key: metrics_of(card) for key, card in cards.items()},
        sites={key: site_adaptation_of(card) for key, card in cards.items()},
        upload_form=form or ModelUploadForm(formdata=None),
        confirm_form=ConfirmForm(formdata=None),
    ), status


@bp.post("/admin/models")
@roles_required("admin")
def admin_publish_model():
    form = ModelUploadForm()
    if not form.validate_on_submit():
        flash(_("The upload was refused: reload the page and try again."), "error")
        return _models_page(form, 400)
    try:
        version, created = store.publish(release_from_form(form), current_user)
    except ApiError as e:
        db.session.rollback()
        flash(_("Nothing was published. %(why)s", why=e.message), "error")
        return _models_page(form, e.status)
    target = f"{version.name} {version.version}"
    if created:
        record("model.publish", current_user, target=target, details={"via": "dashboard"})
    if form.activate.data:
        store.activate(version)
        record("model.activate", current_user, target=target, details={"via": "dashboard"})
    db.session.commit()
    flash(_published_message(target, created, version.active), "success")
    return redirect(url_for("dashboard.admin_models"))


def _published_message(target: str, created: bool, active: bool) -> str:
    if created and active:
        return _("Published %(model)s (active).", model=target)
    if created:
        return _("Published %(model)s.", model=target)
    if active:
        return _("Already published: %(model)s (active).", model=target)
    return _("Already published: %(model)s.", model=target)


def _unconfirmed(what: str):
    """Every phone switches model on its next check, so the admin ticks a box to say so."""
    form = ConfirmForm()
    if form.validate_on_submit():
        return None
    flash(
        _(
            "Nothing was changed: %(what)s needs confirming. %(why)s",
            what=what,
            why=first_error(form),
        ),
        "error",
    )
    return _models_page(status=400)


@bp.post("/admin/models/<int:version_id>/activate")
@roles_required("admin")
def admin_activate_model(version_id: int):
    version = db.session.get(ModelVersion, version_id)
    if version is None:
        abort(404, description=_("No such model version."))
    if refused := _unconfirmed(_("activating a version")):
        return refused
    store.activate(version)
    target = f"{version.name} {version.version}"
    record("model.activate", current_user, target=target, details={"via": "dashboard"})
    db.session.commit()
    message = _(
        "%(model)s is now the active version; phones fetch it on their next check.", model=target
    )
    flash(message, "success")
    return redirect(url_for("dashboard.admin_models"))


@bp.post("/admin/models/<name>/rollback")
@roles_required("admin")
def admin_rollback_model(name: str):
    if refused := _unconfirmed(_("a rollback")):
        return refused
    try:
        version = store.rollback(name)
    except ApiError as e:
        flash(_("No rollback. %(why)s", why=e.message), "error")
        return _models_page(status=e.status)
    target = f"{version.name} {version.version}"
    record("model.rollback", current_user, target=target, details={"via": "dashboard"})
    db.session.commit()
    flash(_("Rolled back: %(model)s is active again.", model=target), "success")
    return redirect(url_for("dashboard.admin_models"))
