"""The language switch of the dashboard's header and sign-in page: a plain form (no
JavaScript) that remembers the choice in a cookie and goes back to the page it came from."""

from flask import abort, redirect, request
from flask_babel import gettext as _

from backend.dashboard import bp
from backend.dashboard.sessions import safe_next
from backend.i18n import LANGUAGES, remember_language


@bp.post("/language")
def set_language():
    """CSRF-checked like every dashboard form; open to signed-out visitors (sign-in page)."""
    language = request.form.get("lang", "")
    if language not in LANGUAGES:
        abort(400, description=_("Unknown language: choose one of the languages offered."))
    response = redirect(safe_next(request.form.get("next")), code=303)
    remember_language(response, language)
    return response
