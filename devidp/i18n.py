"""The language of the IdP's screens: English or French, as the relying party asks.

A relying party names the languages it wants in ``ui_locales`` (OpenID Connect Core 1.0
§3.1.2.1 for the authorization request, RP-Initiated Logout 1.0 §2 for end-session): a
space-separated list of language tags, in order of preference. The first one the IdP has
screens in wins, as with authentik and Keycloak. The choice is remembered in a small cookie
(``devidp_lang``), like Keycloak's locale cookie, so that the screens that follow (password,
TOTP setup, the logout confirmation, which carry no ``ui_locales`` of their own) keep it.
Without either, the browser's Accept-Language decides, else English.

Flask-Babel picks the language once per request and keeps each catalogue once loaded. The
catalogues are ``devidp/translations/<lang>/LC_MESSAGES/messages.po``, compiled at build time.
"""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask_babel import Babel
from flask_babel import get_locale

#: The languages the screens are written in; the first is the fallback.
LANGUAGES = ("en", "fr")
PARAM = "ui_locales"
COOKIE_NAME = "devidp_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def pick(tag: str) -> str | None:
    """The language of one tag (``fr``, ``fr-CA``, ``FR``), when the IdP has it."""
    primary = tag.split("-", 1)[0].split("_", 1)[0].strip().lower()
    return primary if primary in LANGUAGES else None


def requested(ui_locales: str | None) -> str | None:
    """The first language of ``ui_locales`` that the IdP has screens in, or None."""
    if not ui_locales or len(ui_locales) > 200:
        return None
    for tag in ui_locales.split():
        language = pick(tag)
        if language is not None:
            return language
    return None


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else LANGUAGES[0]


def _select() -> str:
    remembered = request.cookies.get(COOKIE_NAME, "")
    return (
        requested(request.values.get(PARAM))
        or (pick(remembered) if len(remembered) <= 8 else None)
        or _browser_language()
        or LANGUAGES[0]
    )


def _browser_language() -> str | None:
    """The browser's most wanted language the IdP has (``fr-CA,en;q=0.5`` is French)."""
    for tag, quality in request.accept_languages:  # highest quality first
        language = pick(tag) if quality > 0 else None
        if language is not None:
            return language
    return None


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_select, default_locale=LANGUAGES[0])

    @app.after_request
    def remember(response: Response) -> Response:
        """Keep the language a relying party asked for, for this browser's next screens."""
        asked = requested(request.values.get(PARAM))
        if asked is not None and request.cookies.get(COOKIE_NAME) != asked:
            response.set_cookie(
                COOKIE_NAME,
                asked,
                max_age=COOKIE_MAX_AGE,
                path="/",
                secure=current_app.extensions["devidp.settings"].secure_cookies,
                httponly=True,
                samesite="Lax",
            )
        if response.mimetype == "text/html":
            response.vary.update(("Cookie", "Accept-Language"))
        return response

    @app.context_processor
    def page_language() -> dict[str, str]:
        return {"page_language": current_language()}
