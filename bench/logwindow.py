"""A window on a server's log: the lines written between ``mark()`` and ``read()``.

Servers log a request after answering it, so the last lines of a window may still be on their
way when the client is done. Each end of the window is settled with one request of our own
(a "sentinel", e.g. ``GET /healthz``): once its line is in the log, the lines before it are too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests


class LogWindow:
    def __init__(self, log_text: Callable[[], str], sentinel_url: str, sentinel_line: str) -> None:
        self._log_text = log_text
        self._url = sentinel_url
        self._line = sentinel_line
        self._offset = 0

    def settled_text(self) -> str:
        before = self._log_text().count(self._line)
        requests.get(self._url, timeout=5)
        deadline = time.monotonic() + 5
        text = self._log_text()
        while text.count(self._line) <= before and time.monotonic() < deadline:
            time.sleep(0.02)
            text = self._log_text()
        return text

    def mark(self) -> None:
        self._offset = len(self.settled_text())

    def read(self) -> str:
        """The log text since ``mark()``, the closing sentinel's line included."""
        return self.settled_text()[self._offset :]
