"""The portal's notion of "now", injectable so that tests move time instead of sleeping.

Every lifetime rule (12-hour SSO bound, idle timeout, token exp/iat, JWKS refetch rate) asks
a :class:`Clock`. Production uses :class:`SystemClock`; unit tests pass a
:class:`FixedClock`; live test servers read an offset from a file named by
``PORTAL_TEST_CLOCK_FILE`` (accepted only with a loopback base URL, see settings).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float | None = None) -> None:
        self.current = time.time() if start is None else start

    def now(self) -> float:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += seconds


class FileOffsetClock:
    """System time plus an offset read from a file on every call (test servers only)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> float:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            text = ""
        return time.time() + (float(text) if text else 0.0)
