"""Flask-JWT-Extended callbacks: user lookup, the blocklist and JSON errors for bad tokens."""

from datetime import UTC, datetime

import sqlalchemy as sa

from backend import db, jwt
from backend.errors import error_response
from backend.models import TokenBlocklist, User


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
    query = sa.select(TokenBlocklist.id).where(TokenBlocklist.jti == payload["jti"])
    return db.session.scalar(query) is not None


def revoke(payload: dict) -> None:
    """Adds a decoded token to the blocklist (idempotent)."""
    if is_revoked({}, payload):
        return
    db.session.add(
        TokenBlocklist(
            jti=payload["jti"],
            token_type=payload["type"],
            user_id=int(payload["sub"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    )


@jwt.unauthorized_loader
def _missing(reason: str):
    return error_response(401, "missing_token", f"Authentication required: {reason}.")


@jwt.invalid_token_loader
def _invalid(reason: str):
    return error_response(401, "invalid_token", f"The token is not valid: {reason}.")


@jwt.expired_token_loader
def _expired(_header: dict, payload: dict):
    return error_response(401, "token_expired", f"The {payload.get('type', '')} token has expired.")


@jwt.revoked_token_loader
def _revoked(_header: dict, _payload: dict):
    return error_response(401, "token_revoked", "The token has been revoked (logged out).")


@jwt.user_lookup_error_loader
def _unknown_user(_header: dict, _payload: dict):
    return error_response(401, "unknown_user", "The token's account does not exist or is disabled.")


@jwt.needs_fresh_token_loader
def _needs_fresh(_header: dict, _payload: dict):
    return error_response(401, "fresh_token_required", "Log in again to do this.")


@jwt.token_verification_failed_loader
def _verification_failed(_header: dict, _payload: dict):
    return error_response(401, "invalid_token", "The token's claims were refused.")
