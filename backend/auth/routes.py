"""Login, token refresh, logout and the current account."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_jwt_extended import current_user, decode_token, get_jwt, jwt_required
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from werkzeug.security import check_password_hash, generate_password_hash

from backend import db
from backend.audit.log import record, record_now
from backend.auth import bp, throttle
from backend.auth.roles import any_role
from backend.auth.tokens import access_token, refresh_token, revoke
from backend.errors import ApiError, error_response
from backend.models import User
from backend.request_input import json_object, string_field

_dummy_hashes: dict[str, str] = {}


def _dummy_check(password: str) -> None:
    """Spends the same KDF time for an unknown username, so timing does not reveal it."""
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not-a-password", method=method)
    check_password_hash(_dummy_hashes[method], password)


@bp.post("/login")
def login():
    data = json_object()
    username = string_field(data, "username", 64).strip().lower()
    password = string_field(data, "password", 1024)
    ip = throttle_ip()
    wait = throttle.begin_attempt(username, ip)
    if wait:
        record_now("auth.login", outcome="locked", username=username)
        return error_response(
            429,
            "too_many_attempts",
            _("Too many failed logins; try again in %(num)s s.", num=wait),
            headers={"Retry-After": str(wait)},
        )
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        _dummy_check(password)
    if user is None or not user.active or not user.check_password(password):
        record("auth.login", outcome="failure", username=username)
        db.session.commit()
        raise ApiError(401, "invalid_credentials", _("Wrong username or password."))
    throttle.succeeded(username, ip)
    record("auth.login", user)
    db.session.commit()
    return jsonify(
        access_token=access_token(user),
        refresh_token=refresh_token(user),
        user={"id": user.id, "username": user.username, "role": user.role},
    )


def throttle_ip() -> str:
    """The client's address: the peer's, or with PROXY_COUNT set the one the trusted proxies
    saw (ProxyFix), never a header the client could forge."""
    return request.remote_addr or "unknown"


@bp.post("/refresh")
@jwt_required(refresh=True)
def refresh():
    """Rotates: the refresh token sent is used up and a new one comes back with the access
    token, ending when the old one would have (a refresh does not extend a login). A stolen
    refresh token is then good for one refresh, and the phone notices it was used."""
    used = get_jwt()
    if not revoke(used):  # another request used it first
        record_now("auth.refresh", current_user, outcome="failure", details={"reused": True})
        raise ApiError(
            401, "token_revoked", _("This refresh token was used already: log in again.")
        )
    left = datetime.fromtimestamp(used["exp"], UTC) - datetime.now(UTC)
    tokens = {
        "access_token": access_token(current_user),
        "refresh_token": refresh_token(current_user, max(left, timedelta(seconds=1))),
    }
    db.session.commit()
    return jsonify(tokens)


@bp.post("/logout")
@jwt_required(verify_type=False)
def logout():
    """Revokes the token sent in the header, and the refresh token in the body if given."""
    revoke(get_jwt())
    data = json_object() if _has_body() else {}
    refresh_token = string_field(data, "refresh_token", 4096, required=False)
    if refresh_token:
        revoke(_own_token(refresh_token))
    record("auth.logout", current_user)
    db.session.commit()
    return jsonify(revoked=True)


def _has_body() -> bool:
    return bool(request.get_data(cache=True))


def _own_token(encoded: str) -> dict:
    try:
        payload = decode_token(encoded, allow_expired=True)
    except (JWTExtendedException, PyJWTError):
        raise ApiError(400, "invalid_token", _("refresh_token is not a valid token.")) from None
    if payload.get("sub") != str(current_user.id):
        raise ApiError(403, "forbidden", _("refresh_token belongs to another account."))
    return payload


@bp.get("/me")
@any_role
def me():
    return jsonify(user=current_user.to_dict())
