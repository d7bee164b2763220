"""One signature per session's CSRF token, instead of one per page view.

Flask-WTF keeps a random token in the session and, on every request that renders a form,
signs it anew (itsdangerous: JSON, a zlib attempt and an HMAC), then caches the result in
``g`` for that request only. With ``WTF_CSRF_TIME_LIMIT = None`` (the portal's setting: the
token lives as long as its session) a signed token never expires, so the one made for the
first page of a session is as good for every later one; signing again was a tenth of the time
of a signed-in page view (a profile of ``/account``, README "Performance").

This keeps the signed form per raw token in a small per-process cache and hands it to
Flask-WTF through ``g`` before the view runs, which is where Flask-WTF looks first. Nothing
is stored in the session (its Redis budget is 2 KB), and validation is Flask-WTF's own,
unchanged: a signed token is still checked against the session's raw one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import session

#: Signed tokens kept per process (least recently used dropped): about 150 bytes each.
CACHE_SIZE = 4096


class SignedTokenCache:
    """raw token → signed token, bounded, shared by a process's threads."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, raw: str) -> str | None:
        with self._lock:
            signed = self._items.get(raw)
            if signed is not None:
                self._items.move_to_end(raw)
            return signed

    def put(self, raw: str, signed: str) -> None:
        with self._lock:
            self._items[raw] = signed
            self._items.move_to_end(raw)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def init_app(app: Flask) -> None:
    """Install the two hooks; call after Flask-WTF's ``CSRFProtect.init_app``."""
    cache = SignedTokenCache()
    app.extensions["portal.csrf_tokens"] = cache

    def field() -> str:
        return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")

    @app.before_request
    def reuse_signed_token() -> None:
        raw = session.get(field())
        if isinstance(raw, str) and (signed := cache.get(raw)) is not None:
            setattr(g, field(), signed)

    @app.after_request
    def remember_signed_token(response: Response) -> Response:
        raw, signed = session.get(field()), g.get(field())
        if isinstance(raw, str) and isinstance(signed, str):
            cache.put(raw, signed)
        return response
