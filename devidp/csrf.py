"""CSRF protection of the IdP's own forms (synchroniser token, OWASP CSRF cheat sheet).

Each browser gets a random token in its flow session; every form carries it in the hidden field
``csrf_token`` and POSTs are refused unless the two match (compared in constant time). Endpoints
called by relying parties (``/token``, ``/end-session`` with an ``id_token_hint``) do not use it.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Flask
from flask import request
from flask import session

FIELD = "csrf_token"
_SESSION_KEY = "csrf"


def token() -> str:
    """The browser's token, created on first use."""
    value = session.get(_SESSION_KEY)
    if not value:
        value = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = value
    return value


def is_valid() -> bool:
    """True when the POSTed form carries this browser's token."""
    expected = session.get(_SESSION_KEY)
    sent = request.form.get(FIELD, "")
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = token
