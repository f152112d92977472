"""Admins manage accounts: create, disable/enable, change role, reset password."""

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_user

from backend import db
from backend.audit.log import record
from backend.dashboard import bp
from backend.dashboard.access import roles_required
from backend.dashboard.forms import (
    ActiveForm,
    CreateUserForm,
    PasswordResetForm,
    RoleForm,
    first_error,
)
from backend.errors import ApiError
from backend.models import User
from backend.users.accounts import change_password, create_user


def _users_page(create_form: CreateUserForm | None = None, status: int = 200):
    users = db.session.scalars(sa.select(User).order_by(User.username)).all()
    return render_template(
        "dashboard/admin_users.html",
        users=users,
        create_form=create_form or CreateUserForm(formdata=None),
        role_forms={u.id: RoleForm(formdata=None, role=u.role, prefix=f"u{u.id}") for u in users},
        active_form=ActiveForm(formdata=None),
        password_form=PasswordResetForm(formdata=None),
    ), status


@bp.get("/admin/users")
@roles_required("admin")
def admin_users():
    return _users_page()


@bp.post("/admin/users")
@roles_required("admin")
def admin_create_user():
    form = CreateUserForm()
    if not form.validate_on_submit():
        flash(f"The account was not created. {first_error(form)}", "error")
        return _users_page(form, 400)
    try:
        user = create_user(form.username.data, form.password.data, form.role.data)
    except ApiError as e:
        db.session.rollback()
        flash(f"The account was not created. {e.message}", "error")
        return _users_page(form, e.status)
    record("user.create", current_user, target=user.username, details={"role": user.role})
    db.session.commit()
    flash(f"Created {user.role} '{user.username}'.", "success")
    return redirect(url_for("dashboard.admin_users"))


def _target(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description="No such account.")
    return user


def _change(user: User, changes: dict, message: str):
    """Commits a change unless it leaves no active admin; every change is audited. Each one
    raises the account's credential epoch: its API tokens and dashboard sessions end."""
    db.session.flush()
    admins = sa.select(sa.func.count()).where(User.role == "admin", User.active.is_(True))
    if db.session.scalar(admins) == 0:
        db.session.rollback()
        flash("Refused: this would leave no active admin.", "error")
        return _users_page(status=409)
    own = user.id == current_user.id
    record("user.update", current_user, target=user.username, details=changes)
    db.session.commit()
    if own and user.active:  # admins changing themselves keep this session, the others end
        login_user(user)
    flash(message, "success")
    return redirect(url_for("dashboard.admin_users"))


@bp.post("/admin/users/<int:user_id>/role")
@roles_required("admin")
def admin_change_role(user_id: int):
    user = _target(user_id)
    form = RoleForm(prefix=f"u{user.id}")
    if not form.validate_on_submit():
        flash(f"The role was not changed. {first_error(form)}", "error")
        return _users_page(status=400)
    if form.role.data == user.role:
        flash(f"'{user.username}' is already {user.role}.", "info")
        return redirect(url_for("dashboard.admin_users"))
    changes = {"role": {"from": user.role, "to": form.role.data}}
    user.set_role(form.role.data)
    return _change(user, changes, f"'{user.username}' is now {user.role}.")


@bp.post("/admin/users/<int:user_id>/active")
@roles_required("admin")
def admin_set_active(user_id: int):
    user = _target(user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        flash(f"Nothing was changed. {first_error(form)}", "error")
        return _users_page(status=400)
    changes = {"active": {"from": user.active, "to": form.active.data}}
    user.set_active(form.active.data)
    state = "enabled" if user.active else "disabled (signed out everywhere)"
    return _change(user, changes, f"'{user.username}' is {state}.")


@bp.post("/admin/users/<int:user_id>/password")
@roles_required("admin")
def admin_reset_password(user_id: int):
    user = _target(user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        flash(f"The password was not changed. {first_error(form)}", "error")
        return _users_page(status=400)
    try:
        change_password(user, form.password.data)
    except ApiError as e:
        flash(f"The password was not changed. {e.message}", "error")
        return _users_page(status=e.status)
    return _change(user, {"password": "reset"}, f"The password of '{user.username}' was reset.")
