"""Issuing tokens, and the Flask-JWT-Extended callbacks: user lookup, revocation (the blocklist
and the account's credential epoch) and JSON errors for bad tokens."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_jwt_extended import create_access_token, create_refresh_token

from backend import db, jwt
from backend.errors import error_response
from backend.models import TokenBlocklist, User
from backend.models.upsert import insert


def access_token(user: User) -> str:
    return create_access_token(identity=str(user.id), additional_claims=_claims(user))


def refresh_token(user: User, expires: timedelta | None = None) -> str:
    """`expires`: what is left of the refresh token it replaces (None: a full lifetime)."""
    return create_refresh_token(
        identity=str(user.id),
        additional_claims=_claims(user),
        expires_delta=expires,
    )


def _claims(user: User) -> dict:
    return {"role": user.role, "ver": user.credential_epoch}


@jwt.user_lookup_loader
def load_user(_header: dict, payload: dict) -> User | None:
    # The role is read from the database on every request, so a role change or a
    # disabled account takes effect at once, not when the token expires.
    try:
        user = db.session.get(User, int(payload["sub"]))
    except (TypeError, ValueError):
        return None
    return user if user is not None and user.active else None


@jwt.token_in_blocklist_loader
def is_revoked(_header: dict, payload: dict) -> bool:
    """Revoked: logged out or already used for a refresh (its id is in the blocklist), or
    issued before the account's password, role or state last changed (its epoch is older).
    Tokens from before epochs existed carry no "ver" and count as epoch 0."""
    try:
        user = db.session.get(User, int(payload["sub"]))
    except (TypeError, ValueError):
        user = None  # the user lookup refuses it
    if user is not None and payload.get("ver", 0) != user.credential_epoch:
        return True
    return revoked_id(payload["jti"])


def revoked_id(jti: str | None) -> bool:
    """True for a token id (or dashboard session id) in the blocklist, and for None."""
    if jti is None:
        return True
    query = sa.select(TokenBlocklist.id).where(TokenBlocklist.jti == jti)
    return db.session.scalar(query) is not None


def revoke(payload: dict) -> bool:
    """Adds a decoded token to the blocklist; False when it was there already. One atomic
    statement, so of two requests revoking the same token at once exactly one gets True."""
    expires_at = datetime.fromtimestamp(payload["exp"], UTC)
    return revoke_id(payload["jti"], payload["type"], int(payload["sub"]), expires_at)


def revoke_id(jti: str, kind: str, user_id: int, expires_at: datetime) -> bool:
    values = {"jti": jti, "token_type": kind, "user_id": user_id, "expires_at": expires_at}
    statement = insert(TokenBlocklist).values(**values)
    statement = statement.on_conflict_do_nothing(index_elements=["jti"])
    return db.session.scalar(statement.returning(TokenBlocklist.id)) is not None


@jwt.unauthorized_loader
def _missing(reason: str):
    return error_response(
        401, "missing_token", _("Authentication required: %(reason)s.", reason=reason)
    )


@jwt.invalid_token_loader
def _invalid(reason: str):
    return error_response(
        401, "invalid_token", _("The token is not valid: %(reason)s.", reason=reason)
    )


@jwt.expired_token_loader
def _expired(_header: dict, payload: dict):
    if payload.get("type") == "refresh":
        return error_response(401, "token_expired", _("The refresh token has expired."))
    return error_response(401, "token_expired", _("The access token has expired."))


@jwt.revoked_token_loader
def _revoked(_header: dict, _payload: dict):
    return error_response(
        401,
        "token_revoked",
        _(
            "The token has been revoked (logged out, already used, or the account's password, "
            "role or state changed): log in again."
        ),
    )


@jwt.user_lookup_error_loader
def _unknown_user(_header: dict, _payload: dict):
    return error_response(
        401, "unknown_user", _("The token's account does not exist or is disabled.")
    )


@jwt.needs_fresh_token_loader
def _needs_fresh(_header: dict, _payload: dict):
    return error_response(401, "fresh_token_required", _("Log in again to do this."))


@jwt.token_verification_failed_loader
def _verification_failed(_header: dict, _payload: dict):
    return error_response(401, "invalid_token", _("The token's claims were refused."))
