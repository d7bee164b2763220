"""Count requests at the IdP from its access log (werkzeug lines, query strings stripped).

A line looks like ``... "GET /jwks HTTP/1.1" 200 -``, sometimes wrapped in ANSI colour codes.
The portal's own calls to the IdP are server-to-server: discovery, JWKS, token and userinfo.
Everything else (authorize, the login screens) is the browser's.
"""

from __future__ import annotations

import re
from collections import Counter

from bench.logwindow import LogWindow
from tests.support.devidp import DevIdP

_ANSI = r"(?:\x1b\[[0-9;]*m)*"
_LINE = re.compile(_ANSI + r'"' + _ANSI + r"([A-Z]+) (\S+) HTTP/[0-9.]+" + _ANSI + r'" (\d{3})')

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/jwks"
TOKEN = "/token"
USERINFO = "/userinfo"
#: The requests the portal itself makes to the IdP (its back channel).
PORTAL_CALLS = (TOKEN, USERINFO, DISCOVERY, JWKS)
SENTINEL = "/healthz"


def paths_in(text: str) -> Counter[str]:
    """Request path -> count, for every request line in ``text``."""
    return Counter(m.group(2) for m in _LINE.finditer(text))


class IdpCounter:
    """Requests the IdP logged between ``mark()`` and ``read()`` (our sentinels left out)."""

    def __init__(self, idp: DevIdP) -> None:
        self.window = LogWindow(idp.log_text, idp.url + SENTINEL, f"GET {SENTINEL} HTTP")

    def mark(self) -> None:
        self.window.mark()

    def read(self) -> Counter[str]:
        paths = paths_in(self.window.read())
        paths.pop(SENTINEL, None)
        return paths
