"""How the pages say things to a customer: times, sign-in factors and durations in plain words.

Protocol values stay out of the pages: ``amr`` codes (RFC 8176) become the names a customer
knows ("Password and authenticator app"), seconds become "an hour" or "12 hours", and times
are marked up for local display (``<time datetime>``, rendered in the browser's time zone by
static/local-time.js, with the UTC text as the fallback without JavaScript). Every word is in
the page's language (portal/i18n.py), and so is the way a date is written (CLDR, via Babel):
"Nov 28, 2026, 14:05 UTC", "28 nov. 2026, 14:05 UTC".
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_skeleton
from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext
from flask_babel import lazy_gettext
from flask_babel import ngettext
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from portal.device_info import UNKNOWN_BROWSER
from portal.i18n import current_language
from portal.settings import SOURCE_LANGUAGE

#: How many texts each of the memos below keeps. Their functions are pure: each computes in
#: the language of its key (``force_locale``), from catalogues read once per process, so a
#: page shows the same words either way;
#: the memo saves Babel's date formatting and the catalogue lookups on every page that shows
#: the same session's times again (a profile of /account, bench/profile_pages.py).
MEMO_SIZE = 4096

#: What the pages call the portal.
PORTAL_NAME = lazy_gettext("Customer Portal")

#: RFC 8176 authentication method references a customer can recognise, in the order shown.
FACTOR_NAMES = {
    "pwd": lazy_gettext("password"),
    "pin": lazy_gettext("PIN"),
    "otp": lazy_gettext("authenticator app"),
    "sms": lazy_gettext("text message code"),
    "tel": lazy_gettext("phone call"),
    "hwk": lazy_gettext("security key"),
    "swk": lazy_gettext("software key"),
    "sc": lazy_gettext("smart card"),
    "fpt": lazy_gettext("fingerprint"),
    "face": lazy_gettext("face recognition"),
    "iris": lazy_gettext("iris scan"),
    "retina": lazy_gettext("retina scan"),
    "vbm": lazy_gettext("voice recognition"),
    "kba": lazy_gettext("security questions"),
}
#: ``mfa`` says "more than one factor" without naming the second one (authentik sends
#: ``["pwd", "mfa"]`` after a TOTP code).
UNNAMED_SECOND_FACTOR = lazy_gettext("a second factor")


def factors(amr: Iterable[str]) -> str:
    """``["pwd", "otp", "mfa"]`` -> "Password and authenticator app"; "" when none is known."""
    codes = list(amr)
    names = [str(name) for code, name in FACTOR_NAMES.items() if code in codes]
    if "mfa" in codes and len(names) < 2:
        names.append(str(UNNAMED_SECOND_FACTOR))
    if not names:
        return ""
    if len(names) == 1:
        text = names[0]
    else:
        # "a, b and c": the last two joined by the language's "and"
        text = gettext("%(items)s and %(last)s", items=", ".join(names[:-1]), last=names[-1])
    return text[0].upper() + text[1:]


def duration(seconds: float) -> str:
    """A setting in seconds as words, in the page's language (see :func:`_duration`)."""
    return _duration(seconds, current_language())


def _memoised_in_language(words: Callable[[Any], str]) -> Callable[[Any, str], str]:
    """``words(value)`` as a function of ``(value, language)``, memoised, and computed in
    that language whatever the request's (so the memo holds one language per key)."""

    @lru_cache(maxsize=MEMO_SIZE)
    def in_language(value: Any, language: str) -> str:
        with force_locale(language):
            return words(value)

    return in_language


def _duration_words(seconds: float) -> str:
    """A setting in seconds as words: 3600 -> "an hour", 43200 -> "12 hours", 600 -> "10
    minutes". Whole hours or minutes read best; anything else is said in seconds."""
    whole = int(seconds)
    if whole >= 3600 and whole % 3600 == 0:
        hours = whole // 3600
        return (
            gettext("an hour") if hours == 1 else ngettext("%(num)d hour", "%(num)d hours", hours)
        )
    if whole >= 60 and whole % 60 == 0:
        minutes = whole // 60
        if minutes == 1:
            return gettext("a minute")
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    return (
        gettext("a second") if whole == 1 else ngettext("%(num)d second", "%(num)d seconds", whole)
    )


_duration = _memoised_in_language(_duration_words)


def when(timestamp: float) -> str:
    """A time as the page's language writes it, in UTC (see :func:`_when`)."""
    return _when(timestamp, current_language())


@lru_cache(maxsize=MEMO_SIZE)
def _when(timestamp: float, language: str) -> str:
    """A time as the page's language writes it, in UTC: "Nov 28, 2026, 14:05 UTC" (English),
    "28 nov. 2026, 14:05 UTC" (French). The text without JavaScript, and the tooltip with it."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    locale = Locale.parse(language or SOURCE_LANGUAGE)
    date = format_skeleton("yMMMd", moment, tzinfo=UTC, locale=locale)
    time = format_skeleton("Hm", moment, tzinfo=UTC, locale=locale)
    pattern = str(locale.datetime_formats["medium"]).replace("'", "")
    return pattern.replace("{0}", time).replace("{1}", date) + " UTC"


def device(label: str) -> str:
    """A signed-in device's label in the page's language (see :func:`_device`)."""
    return _device(label, current_language())


def _device_words(label: str) -> str:
    """A signed-in device's label (portal/device_info.py keeps it in English, "Firefox on
    Windows") in the page's language; the browser and system names stay as they are."""
    if label == UNKNOWN_BROWSER:
        return gettext("Unknown browser")
    browser, on, system = label.rpartition(" on ")
    if not on:
        return label
    return gettext("%(browser)s on %(system)s", browser=browser, system=system)


_device = _memoised_in_language(_device_words)


def local_time(timestamp: float) -> Markup:
    """A time for people: ``<time>`` with the UTC text in the page (the fallback without
    JavaScript), which static/local-time.js shows in the customer's own time zone."""
    return _local_time(timestamp, current_language())


@lru_cache(maxsize=MEMO_SIZE)
def _local_time(timestamp: float, language: str) -> Markup:
    return Markup('<time datetime="{}" data-local-time>{}</time>').format(
        iso_time(timestamp), _when(timestamp, language)
    )


def portal_name() -> str:
    """What the pages call the portal, in the page's language."""
    return _portal_name(None, current_language())


_portal_name = _memoised_in_language(lambda _nothing: str(PORTAL_NAME))


def _page_filter(memoised: Callable[[Any, str], Any]) -> Callable[..., Any]:
    """A template filter for ``memoised(value, language)`` in the page's language, which the
    template context already holds (``page_language``): Flask-Babel's lookup of the locale
    was a tenth of the account page's rendering, asked once per time and duration."""

    @pass_context
    def page_filter(context: Context, value: Any) -> Any:
        language = context.get("page_language")
        return memoised(value, language if isinstance(language, str) else current_language())

    return page_filter


def iso_time(timestamp: float) -> str:
    """The machine-readable form of a time for ``<time datetime>``: ``2026-11-28T14:05:00Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def init_app(app: Flask) -> None:
    settings = app.extensions["portal.settings"]

    @app.context_processor
    def session_limits() -> dict[str, int]:
        """The session bounds, and the age of a sign-in the sensitive pages accept, for
        pages that explain them in words."""
        return {
            "sso_max_age": settings.sso_max_age,
            "idle_timeout": settings.idle_timeout,
            "fresh_auth_max_age": settings.fresh_auth_max_age,
        }

    app.jinja_env.filters["factors"] = factors
    app.jinja_env.filters["duration"] = _page_filter(_duration)
    app.jinja_env.filters["iso_time"] = iso_time
    app.jinja_env.filters["when"] = _page_filter(_when)
    app.jinja_env.filters["local_time"] = _page_filter(_local_time)
    app.jinja_env.filters["device"] = _page_filter(_device)
