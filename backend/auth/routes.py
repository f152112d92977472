"""Login, token refresh, logout and the current account."""

import sqlalchemy as sa
from flask import current_app, jsonify, request
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    current_user,
    decode_token,
    get_jwt,
    jwt_required,
)
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError
from werkzeug.security import check_password_hash, generate_password_hash

from backend import db
from backend.audit.log import record, record_now
from backend.auth import bp, throttle
from backend.auth.roles import any_role
from backend.auth.tokens import revoke
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
    wait = throttle.seconds_locked(username, ip)
    if wait:
        record_now("auth.login", outcome="locked", username=username)
        return error_response(
            429,
            "too_many_attempts",
            f"Too many failed logins; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        _dummy_check(password)
    if user is None or not user.active or not user.check_password(password):
        locked = throttle.register_failure(username, ip)
        record("auth.login", outcome="failure", username=username, details={"locked": locked})
        db.session.commit()
        raise ApiError(401, "invalid_credentials", "Wrong username or password.")
    throttle.register_success(username)
    record("auth.login", user)
    db.session.commit()
    return jsonify(
        access_token=create_access_token(
            identity=str(user.id), additional_claims={"role": user.role}
        ),
        refresh_token=create_refresh_token(identity=str(user.id)),
        user={"id": user.id, "username": user.username, "role": user.role},
    )


def throttle_ip() -> str:
    return request.remote_addr or "unknown"


@bp.post("/refresh")
@jwt_required(refresh=True)
def refresh():
    token = create_access_token(
        identity=str(current_user.id), additional_claims={"role": current_user.role}
    )
    return jsonify(access_token=token)


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
        raise ApiError(400, "invalid_token", "refresh_token is not a valid token.") from None
    if payload.get("sub") != str(current_user.id):
        raise ApiError(403, "forbidden", "refresh_token belongs to another account.")
    return payload


@bp.get("/me")
@any_role
def me():
    return jsonify(user=current_user.to_dict())
