"""`flask models publish DIR`, `publish-all ROOT`, `activate`, `rollback`, `list`,
`export-confirmed-cells NAME OUT`."""

import json
from collections import Counter
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from flask_babel import gettext as _

from backend import db
from backend.audit.log import record
from backend.errors import ApiError
from backend.model_delivery import store
from backend.model_delivery.release import check_release, model_file_name
from backend.models import ModelVersion, Prediction
from backend.sync import cell_images

models_cli = AppGroup("models", help="Publish and activate TFLite model versions.")


def _publish_dir(folder: Path, activate: bool | None, startup: bool = False) -> str:
    """`startup` (publish-all, run by `make run`): a release already published with the same
    model file but an edited card (e.g. a measurement added to it later) keeps its published
    card and does not stop the start; phones cached that card as immutable."""
    card_path = folder / "model.json"
    if not card_path.is_file():
        raise click.ClickException(f"{card_path} does not exist.")
    card_bytes = card_path.read_bytes()
    try:
        card = json.loads(card_bytes)
        if not isinstance(card, dict):
            raise ApiError(400, "invalid_model", _("model.json must be a JSON object."))
        model_path = folder / model_file_name(card)
        release = check_release(card_bytes, model_path.read_bytes())
        version, created = store.find(release.name, release.version), False
        edited = version is not None and version.meta_sha256 != release.card_sha256
        if not (startup and edited and version.sha256 == release.sha256):
            version, created = store.publish(release, None)
            edited = False
    except (ApiError, OSError, ValueError) as e:
        db.session.rollback()
        raise click.ClickException(f"{folder}: {getattr(e, 'message', e)}") from None
    if created:
        record("model.publish", None, username="cli", target=f"{version.name} {version.version}")
    if activate or (activate is None and store.active_version(version.name) is None):
        store.activate(version)
        record("model.activate", None, username="cli", target=f"{version.name} {version.version}")
    db.session.commit()
    state = "published" if created else "already published"
    if edited:
        state += " (its model.json was edited since; the published card is kept)"
    return f"{version.name} {version.version}: {state}{', active' if version.active else ''}"


@models_cli.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--activate/--no-activate",
    default=None,
    help="Default: activate only when the name has no active version.",
)
def publish_command(folder: Path, activate: bool | None) -> None:
    click.echo(_publish_dir(folder, activate))


@models_cli.command("publish-all")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def publish_all_command(root: Path) -> None:
    """Publishes every ROOT/<name>/<version>/model.json (idempotent, for `make run`). A name
    with no active version gets its newest one activated; an active one is left alone (a
    change of version is an admin's decision, and `rollback` undoes it)."""
    folders = sorted(root.glob("*/*/model.json"), key=lambda p: (p.parent.parent.name, _key(p)))
    newest = {card.parent.parent.name: card.parent for card in folders}.values()
    for card in folders:  # each name's versions oldest first: its newest comes last
        activate = None if card.parent in newest else False
        click.echo(_publish_dir(card.parent, activate, startup=True))
    if not folders:
        click.echo(f"No releases under {root}.")


def _key(card: Path) -> tuple:
    """Version folders in release order: 2.0.0 before 10.0.0."""
    return tuple(int(p) if p.isdigit() else -1 for p in card.parent.name.split("."))


@models_cli.command("activate")
@click.argument("name")
@click.argument("version")
def activate_command(name: str, version: str) -> None:
    model = store.find(name, version)
    if model is None:
        raise click.ClickException(f"No published model {name} {version}.")
    store.activate(model)
    record("model.activate", None, username="cli", target=f"{name} {version}")
    db.session.commit()
    click.echo(f"{name} {version} is active.")


@models_cli.command("rollback")
@click.argument("name")
def rollback_command(name: str) -> None:
    try:
        model = store.rollback(name)
    except ApiError as e:
        raise click.ClickException(e.message) from None
    record("model.rollback", None, username="cli", target=f"{name} {model.version}")
    db.session.commit()
    click.echo(f"{name} {model.version} is active again.")


@models_cli.command("export-confirmed-cells")
@click.argument("name")
@click.argument("out", type=click.Path(path_type=Path))
def export_confirmed_cells_command(name: str, out: Path) -> None:
    """Writes the cell images of NAME's synced calls that a doctor or admin has reviewed into
    OUT/<reviewed label>/<record id>.jpg: the confirmed cells `python -m training.site_release
    --cells OUT` adapts a release to this laboratory with. Calls without a stored image, and
    calls reviewed as something that is not one of the model's classes (artefact, other), are
    counted, not exported. OUT must not exist: an earlier export is never overwritten."""
    if out.exists():
        raise click.ClickException(f"{out} exists: export into a new folder.")
    query = (
        sa.select(Prediction)
        .where(Prediction.model_name == name, Prediction.reviewed_label.is_not(None))
        .order_by(Prediction.seq)
    )
    written, left_out = Counter(), Counter()
    for prediction in db.session.scalars(query):
        label = prediction.reviewed_label
        # A model's class names are its probabilities' keys; a folder name, never a path.
        if label not in prediction.probabilities or Path(label).name != label:
            left_out["reviewed as no class of the model"] += 1
            continue
        jpeg = cell_images.read(prediction.image_path) if prediction.image_path else None
        if jpeg is None:
            left_out["no stored image"] += 1
            continue
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{prediction.id}.jpg").write_bytes(jpeg)
        written[label] += 1
    details = {"folder": str(out), "cells": dict(written), "left_out": dict(left_out)}
    record("cells.export", None, username="cli", target=name, details=details)
    db.session.commit()
    counts = ", ".join(f"{label} {n}" for label, n in sorted(written.items())) or "none"
    skipped = "; ".join(f"{n} {why}" for why, n in sorted(left_out.items())) or "none"
    click.echo(
        f"{sum(written.values())} reviewed cells of {name} in {out}: {counts}. Left out: {skipped}."
    )


@models_cli.command("list")
def list_command() -> None:
    query = sa.select(ModelVersion).order_by(ModelVersion.name, ModelVersion.published_at)
    for m in db.session.scalars(query):
        click.echo(f"{m.name}\t{m.version}\t{m.sha256[:12]}\t{'active' if m.active else ''}")
