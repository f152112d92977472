"""Admins manage accounts: create, disable/enable, change role, reset password."""

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
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
from backend.dashboard.vocabulary import role_name
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
        flash(_("The account was not created. %(why)s", why=first_error(form)), "error")
        return _users_page(form, 400)
    try:
        user = create_user(form.username.data, form.password.data, form.role.data)
    except ApiError as e:
        db.session.rollback()
        flash(_("The account was not created. %(why)s", why=e.message), "error")
        return _users_page(form, e.status)
    record("user.create", current_user, target=user.username, details={"role": user.role})
    db.session.commit()
    flash(
        _("Created %(role)s '%(name)s'.", role=role_name(user.role), name=user.username), "success"
    )
    return redirect(url_for("dashboard.admin_users"))


def _target(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description=_("No such account."))
    return user


def _change(user: User, changes: dict, message: str):
    """Commits a change unless it leaves no active admin; every change is audited. Each one
    raises the account's credential epoch: its API tokens and dashboard sessions end."""
    db.session.flush()
    admins = sa.select(sa.func.count()).where(User.role == "admin", User.active.is_(True))
    if db.session.scalar(admins) == 0:
        db.session.rollback()
        flash(_("Refused: this would leave no active admin."), "error")
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
        flash(_("The role was not changed. %(why)s", why=first_error(form)), "error")
        return _users_page(status=400)
    if form.role.data == user.role:
        flash(
            _("'%(name)s' is already %(role)s.", name=user.username, role=role_name(user.role)),
            "info",
        )
        return redirect(url_for("dashboard.admin_users"))
    changes = {"role": {"from": user.role, "to": form.role.data}}
    user.set_role(form.role.data)
    message = _("'%(name)s' is now %(role)s.", name=user.username, role=role_name(user.role))
    return _change(user, changes, message)


@bp.post("/admin/users/<int:user_id>/active")
@roles_required("admin")
def admin_set_active(user_id: int):
    user = _target(user_id)
    form = ActiveForm()
    if not form.validate_on_submit():
        flash(_("Nothing was changed. %(why)s", why=first_error(form)), "error")
        return _users_page(status=400)
    changes = {"active": {"from": user.active, "to": form.active.data}}
    user.set_active(form.active.data)
    if user.active:
        message = _("'%(name)s' is enabled.", name=user.username)
    else:
        message = _("'%(name)s' is disabled (signed out everywhere).", name=user.username)
    return _change(user, changes, message)


@bp.post("/admin/users/<int:user_id>/password")
@roles_required("admin")
def admin_reset_password(user_id: int):
    user = _target(user_id)
    form = PasswordResetForm()
    if not form.validate_on_submit():
        flash(_("The password was not changed. %(why)s", why=first_error(form)), "error")
        return _users_page(status=400)
    try:
        change_password(user, form.password.data)
    except ApiError as e:
        flash(_("The password was not changed. %(why)s", why=e.message), "error")
        return _users_page(status=e.status)
    message = _("The password of '%(name)s' was reset.", name=user.username)
    return _change(user, {"password": "reset"}, message)
