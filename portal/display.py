"""How the pages say things to a customer: times, sign-in factors and durations in plain words.

Protocol values stay out of the pages: ``amr`` codes (RFC 8176) become the names a customer
knows ("Password and authenticator app"), seconds become "an hour" or "12 hours", and times
are marked up for local display (``<time datetime>``, rendered in the browser's time zone by
static/local-time.js, with the UTC text as the fallback without JavaScript).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from datetime import datetime

from flask import Flask

#: RFC 8176 authentication method references a customer can recognise, in the order shown.
FACTOR_NAMES: dict[str, str] = {
    "pwd": "password",
    "pin": "PIN",
    "otp": "authenticator app",
    "sms": "text message code",
    "tel": "phone call",
    "hwk": "security key",
    "swk": "software key",
    "sc": "smart card",
    "fpt": "fingerprint",
    "face": "face recognition",
    "iris": "iris scan",
    "retina": "retina scan",
    "vbm": "voice recognition",
    "kba": "security questions",
}
#: ``mfa`` says "more than one factor" without naming the second one (authentik sends
#: ``["pwd", "mfa"]`` after a TOTP code).
UNNAMED_SECOND_FACTOR = "a second factor"


def factors(amr: Iterable[str]) -> str:
    """``["pwd", "otp", "mfa"]`` -> "Password and authenticator app"; "" when none is known."""
    codes = list(amr)
    names = [name for code, name in FACTOR_NAMES.items() if code in codes]
    if "mfa" in codes and len(names) < 2:
        names.append(UNNAMED_SECOND_FACTOR)
    if not names:
        return ""
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return text[0].upper() + text[1:]


def duration(seconds: float) -> str:
    """A setting in seconds as words: 3600 -> "an hour", 43200 -> "12 hours", 600 -> "10
    minutes". Whole hours or minutes read best; anything else is said in seconds."""
    whole = int(seconds)
    for size, one, many in ((3600, "an hour", "hours"), (60, "a minute", "minutes")):
        if whole >= size and whole % size == 0:
            count = whole // size
            return one if count == 1 else f"{count} {many}"
    return "a second" if whole == 1 else f"{whole} seconds"


def iso_time(timestamp: float) -> str:
    """The machine-readable form of a time for ``<time datetime>``: ``2026-11-28T14:05:00Z``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def init_app(app: Flask) -> None:
    settings = app.extensions["portal.settings"]

    @app.context_processor
    def session_limits() -> dict[str, int]:
        """The two session bounds, for pages that explain them in words."""
        return {"sso_max_age": settings.sso_max_age, "idle_timeout": settings.idle_timeout}

    app.jinja_env.filters["factors"] = factors
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["iso_time"] = iso_time
