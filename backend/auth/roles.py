"""The one role check of the API: a decorator that also logs every refusal."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_jwt_extended import current_user, jwt_required

from backend.audit.log import record_now
from backend.errors import ApiError
from backend.models import ROLES


def role_gate(authenticate: Callable, user: Any, refuse: Callable[[str], None]) -> Callable:
    """Builds a `roles_required(*roles)` decorator: `authenticate` wraps the view and `user` is
    its current-user proxy (JWT for the API, a Flask-Login session for the dashboard);
    `refuse(reason)` logs and refuses."""

    def roles_required(*roles: str) -> Callable:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {unknown}")

        def decorator(view: Callable) -> Callable:
            @wraps(view)
            @authenticate
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                if user.role not in roles:
                    refuse(f"needs role {' or '.join(roles)}")
                return view(*args, **kwargs)

            return wrapper

        return decorator

    return roles_required


roles_required = role_gate(jwt_required(), current_user, lambda reason: deny(reason))


def any_role(view: Callable) -> Callable:
    return roles_required(*ROLES)(view)


def deny(reason: str, status: int = 403) -> None:
    """Logs an authorisation failure of the current user, then refuses the request."""
    record_now(
        "authz.denied",
        current_user,
        outcome="failure",
        target=f"{request.method} {request.path}",
        details={"reason": reason, "role": current_user.role},
    )
    if status == 404:
        raise ApiError(404, "not_found", _("No such record."))
    # the reason ("needs role admin") is a detail in English, as in the audit log
    message = _("Your role (%(role)s) may not do this.", role=current_user.role)
    raise ApiError(403, "forbidden", message, {"reason": reason})
