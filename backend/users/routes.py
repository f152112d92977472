"""Account administration (admins only)."""

import sqlalchemy as sa
from flask import jsonify
from flask_babel import gettext as _
from flask_jwt_extended import current_user

from backend import db
from backend.audit.log import record
from backend.auth.roles import roles_required
from backend.errors import ApiError
from backend.models import User
from backend.request_input import json_object, string_field
from backend.users import bp
from backend.users.accounts import change_password, check_role, create_user


@bp.get("")
@roles_required("admin")
def list_users():
    users = db.session.scalars(sa.select(User).order_by(User.username))
    return jsonify(users=[u.to_dict() for u in users])


@bp.post("")
@roles_required("admin")
def add_user():
    data = json_object()
    user = create_user(
        string_field(data, "username", 64),
        string_field(data, "password", 1024),
        string_field(data, "role", 16),
    )
    record("user.create", current_user, target=user.username, details={"role": user.role})
    db.session.commit()
    return jsonify(user=user.to_dict()), 201


@bp.patch("/<int:user_id>")
@roles_required("admin")
def update_user(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "not_found", _("No such user."))
    data = json_object()
    changes = _apply_changes(user, data)
    if not changes:
        raise ApiError(400, "invalid_json", _("Nothing to change: send role, active or password."))
    _keep_one_admin()
    record("user.update", current_user, target=user.username, details=changes)
    db.session.commit()
    return jsonify(user=user.to_dict())


def _apply_changes(user: User, data: dict) -> dict:
    """Any change ends the account's API tokens and dashboard sessions (credential epoch)."""
    changes: dict = {}
    role = string_field(data, "role", 16, required=False)
    if role is not None and role != user.role:
        changes["role"] = {"from": user.role, "to": check_role(role)}
        user.set_role(role)
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise ApiError(400, "invalid_field", _("'active' must be true or false."))
        if data["active"] != user.active:
            changes["active"] = {"from": user.active, "to": data["active"]}
            user.set_active(data["active"])
    password = string_field(data, "password", 1024, required=False)
    if password is not None:
        change_password(user, password)
        changes["password"] = "changed"
    return changes


def _keep_one_admin() -> None:
    db.session.flush()
    query = sa.select(sa.func.count()).where(User.role == "admin", User.active.is_(True))
    if db.session.scalar(query) == 0:
        db.session.rollback()
        raise ApiError(409, "last_admin", _("This would leave no active admin."))
