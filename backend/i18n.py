"""The languages the server speaks (Flask-Babel; catalogues in backend/translations/) and how
a request's language is chosen: the dashboard's remembered choice (a cookie), else the best
match of the browser's or the phone's Accept-Language, else English."""

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, get_locale, gettext, lazy_gettext

# English is the source language (the msgids); the others have a catalogue each.
LANGUAGES = {"en": "English", "fr": "Français", "es": "Español", "pt": "Português"}
DEFAULT_LANGUAGE = "en"
COOKIE = "hv_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600  # a choice is remembered for a year
COOKIE_PATH = "/dashboard"  # the API follows each client's own Accept-Language, never this

babel = Babel()
# Flask-Login flashes this English text through localize_callback; listed here so that the
# catalogues carry it.
LOGIN_MESSAGE = lazy_gettext("Please log in to access this page.")


def select_language() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE  # CLI commands and logs speak English
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES and request.path.startswith(COOKIE_PATH):
        return chosen  # an unknown value is ignored, never an error
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def current_language() -> str:
    """'en', 'fr', 'es' or 'pt': the request's language (English outside a request)."""
    return get_locale().language if has_request_context() else DEFAULT_LANGUAGE


def init_app(app: Flask) -> None:
    from backend import login

    babel.init_app(app, default_locale=DEFAULT_LANGUAGE, locale_selector=select_language)
    login.localize_callback = gettext

    @app.context_processor
    def _language() -> dict:
        return {"html_lang": current_language(), "languages": LANGUAGES}


def remember_language(response, language: str) -> None:
    response.set_cookie(
        COOKIE,
        language,
        max_age=COOKIE_MAX_AGE,
        path=COOKIE_PATH,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
