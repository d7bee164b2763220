"""The portal's gunicorn access log: server-side time per request.

``portal/gunicorn_conf.py`` logs ``%(h)s "%(m)s %(U)s" %(s)s %(b)s %(D)sus``, e.g.
``127.0.0.1 "GET /account" 200 2039 3713us``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.logwindow import LogWindow

_LINE = re.compile(r'^\S+ "([A-Z]+) (\S+)" (\d{3}) \S+ (\d+)us\s*$', re.MULTILINE)
SENTINEL = "/healthz"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    micros: int


def requests_in(text: str) -> list[Request]:
    return [
        Request(m.group(1), m.group(2), int(m.group(3)), int(m.group(4)))
        for m in _LINE.finditer(text)
    ]


class PortalLog:
    """Requests the portal logged between ``mark()`` and ``read()`` (our sentinels left out)."""

    def __init__(self, portal) -> None:
        self.window = LogWindow(portal.log_text, portal.url + SENTINEL, f'"GET {SENTINEL}"')

    def mark(self) -> None:
        self.window.mark()

    def read(self) -> list[Request]:
        found = requests_in(self.window.read())
        # the closing sentinel is the last /healthz line; leave every sentinel out
        return [r for r in found if r.path != SENTINEL]
