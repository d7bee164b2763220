"""The language of the pages: English and French (PORTAL_LANGUAGES), chosen per request.

DESIGN.md "Language": ``?lang=xx`` (then remembered in a cookie), else that cookie, else the
browser's Accept-Language, else the first of PORTAL_LANGUAGES. ``<html lang>`` says the choice,
the footer's switcher changes it, and the authorization request carries it as ``ui_locales``
(OpenID Connect Core 1.0 §3.1.2.1) so that the IdP's screens speak the same language.

The choice lives in a small cookie of its own, never in the session: the pages an anonymous
visitor reaches must create no server-side state, and a language is no secret. It is
HttpOnly, SameSite=Lax, a year long, and ``__Host-`` on https like the portal's other cookies.

Flask-Babel does the rest: the locale selector runs once per request, and each catalogue is
read once per process (Flask-Babel keeps the loaded translations per language). The catalogues
are ``portal/translations/<lang>/LC_MESSAGES/messages.po``, compiled at build time (setup.py).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask_babel import Babel
from flask_babel import get_locale
from flask_babel import get_translations
from werkzeug.datastructures import LanguageAccept

from portal.settings import SOURCE_LANGUAGE
from portal.settings import Settings

#: The query parameter that picks the language, on any page.
PARAM = "lang"
#: The cookie that remembers it (https, and http on loopback).
HOST_COOKIE_NAME = "__Host-portal_lang"
PLAIN_COOKIE_NAME = "portal_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
#: Each language named in itself, as a switcher must (a French reader looks for "Français").
NAMES = {"en": "English", "fr": "Français"}
#: Query parameters never repeated in a switcher link: one-time values of the sign-in.
NOT_REPEATED = frozenset({PARAM, "code", "iss", "session_state", "error", "error_description"})
#: Pages whose switcher goes to the start page instead of reloading: answers to the IdP.
NOT_RELOADED = frozenset({"auth.callback", "auth.end_sso_after_logout"})


@dataclass(frozen=True)
class Choice:
    """One entry of the language switcher."""

    code: str
    name: str
    href: str
    current: bool


def pick(value: str | None, offered: Iterable[str]) -> str | None:
    """The offered language ``value`` names (``fr``, ``FR``, ``fr-CA``), or None."""
    if not value or len(value) > 35:
        return None
    primary = value.split("-", 1)[0].split("_", 1)[0].strip().lower()
    return primary if primary in offered else None


def choose(
    offered: tuple[str, ...],
    *,
    asked: str | None,
    remembered: str | None,
    accept: LanguageAccept | Callable[[], LanguageAccept],
) -> str:
    """The page language: ``?lang=``, else the cookie, else Accept-Language, else the first
    offered. Values that name no offered language are ignored, never refused. ``accept`` may
    be a function, called only when neither ``?lang=`` nor the cookie decides (the header is
    then not parsed on every page of a customer who chose)."""
    chosen = pick(asked, offered) or pick(remembered, offered)
    if chosen is not None:
        return chosen
    header = accept() if callable(accept) else accept
    return browser_language(header, offered) or offered[0]


def browser_language(accept: LanguageAccept, offered: Iterable[str]) -> str | None:
    """The browser's most wanted language that is offered, a region counting as its language:
    ``fr-CA,en;q=0.5`` is French (werkzeug's ``best_match`` would prefer the exact ``en``)."""
    for tag, quality in accept:  # highest quality first
        language = pick(tag, offered) if quality > 0 else None
        if language is not None:
            return language
    return None


def cookie_name(settings: Settings) -> str:
    return HOST_COOKIE_NAME if settings.secure_cookies else PLAIN_COOKIE_NAME


def current_language() -> str:
    """The language of this request's page (``en``, ``fr``); the source language outside one.
    Under ``flask_babel.force_locale`` (an email in a customer's saved language, say), the
    forced one: the memos of portal/display.py are keyed by it."""
    locale = get_locale()
    return locale.language if locale is not None else SOURCE_LANGUAGE


def _settings() -> Settings:
    return current_app.extensions["portal.settings"]


def _select() -> str:
    settings = _settings()
    return choose(
        settings.languages,
        asked=request.args.get(PARAM),
        remembered=request.cookies.get(cookie_name(settings)),
        accept=lambda: request.accept_languages,
    )


def _switch_link(code: str) -> str:
    """This page in language ``code``: the same address with ``lang``, except for pages that
    must not be loaded twice (the IdP's answers), whose switcher leads to the start page."""
    if (
        request.method not in ("GET", "HEAD")
        or request.endpoint is None  # a 404: its path is whatever the visitor typed
        or request.endpoint in NOT_RELOADED
    ):
        return "/?" + urlencode({PARAM: code})
    # The path comes decoded: quoted again, and with one leading slash, so that "/\host" or
    # "//host" in a route's variable part cannot make the link leave the portal.
    path = "/" + quote(request.path.lstrip("/"))
    if not request.query_string:  # most pages: no query to parse and repeat
        return f"{path}?{PARAM}={code}"
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in NOT_REPEATED]
    return path + "?" + urlencode([*kept, (PARAM, code)])


def choices() -> list[Choice]:
    """The switcher's entries, the page's own language marked current."""
    now = current_language()
    return [
        Choice(code, NAMES.get(code, code), _switch_link(code), code == now)
        for code in _settings().languages
    ]


def _translations() -> Any:
    """This request's catalogue, looked up once: Flask-Babel's own template callables look it
    up again for every string (four context lookups each), which made the account page's
    twenty-odd strings cost more than its Redis read (a profile of ``/account``)."""
    found = g.get("_portal_translations")
    if found is None:
        found = g._portal_translations = get_translations()
    return found


def _translate_templates_once_per_request(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )


def init_app(app: Flask, settings: Settings) -> None:
    # One Babel per app: its loaded catalogues are cached on it, and the dev IdP or another
    # portal app in the same process has catalogues of its own.
    Babel(app, locale_selector=_select, default_locale=settings.languages[0])
    _translate_templates_once_per_request(app)
    name = cookie_name(settings)

    @app.after_request
    def remember(response: Response) -> Response:
        """Keep a ``?lang=`` choice in its cookie; say that pages vary with the language."""
        asked = pick(request.args.get(PARAM), settings.languages)
        if asked is not None and request.cookies.get(name) != asked:
            response.set_cookie(
                name,
                asked,
                max_age=COOKIE_MAX_AGE,
                path="/",
                secure=settings.secure_cookies,
                httponly=True,
                samesite="Lax",
            )
        if response.mimetype == "text/html":
            response.vary.update(("Cookie", "Accept-Language"))
        return response

    @app.context_processor
    def page_language() -> dict[str, object]:
        return {"page_language": current_language(), "language_choices": choices}
