"""What a sync answer says about an item it did not store as sent: a `status`, a stable `code`
for programs (the phone decides by it) and an `error` for people, in the request's language
(docs/backend.md, "History sync")."""

from typing import Any

# The codes, the same in every language.
INVALID_ITEM = "invalid_item"  # not a JSON object
INVALID_FIELD = "invalid_field"  # a field fails its check; `error` names it
INVALID_IMAGE = "invalid_image"  # a record's cell image cannot be stored
UNKNOWN_RECORD = "unknown_record"  # a correction of a record the server does not have yet
CONFLICT_OTHER_ACCOUNT = "conflict_other_account"  # the id (or its record) is another account's
CONFLICT_DIFFERENT_CONTENT = "conflict_different_content"  # the id is stored with other content
CHECK_FAILED = "check_failed"  # the server could not check the item (its bug, logged)
CODES = (
    INVALID_ITEM,
    INVALID_FIELD,
    INVALID_IMAGE,
    UNKNOWN_RECORD,
    CONFLICT_OTHER_ACCOUNT,
    CONFLICT_DIFFERENT_CONTENT,
    CHECK_FAILED,
)


def refused(item_id: str | None, status: str, code: str, error: Any) -> dict[str, Any]:
    """`error` may be a lazy string: it is said now, in the request's language."""
    return {"id": item_id, "status": status, "code": code, "error": str(error)}
