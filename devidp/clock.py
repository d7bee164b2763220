"""The one clock of the IdP, which tests can move forward without sleeping.

Every expiry (SSO sessions, authorization codes, access tokens, lockouts, the TOTP time step,
``iat``/``exp``/``auth_time`` of tokens) reads :func:`now`. When ``test_hooks`` is on and the
environment variable ``DEVIDP_CLOCK_FILE`` names a file, ``now()`` is ``time.time()`` plus the
number of seconds written in that file (0 when it is empty or missing), re-read on every call, so
a test moves the IdP 12 hours ahead by writing ``43200`` into the file.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)

CLOCK_FILE_ENV = "DEVIDP_CLOCK_FILE"

_offset_file: Path | None = None


def configure(*, test_hooks: bool, clock_file: str | os.PathLike[str] | None) -> None:
    """Use ``clock_file`` as the offset source, but only when test hooks are enabled."""
    global _offset_file
    if clock_file and not test_hooks:
        log.warning("%s is set but test_hooks is off; using the real clock", CLOCK_FILE_ENV)
    _offset_file = Path(clock_file) if (clock_file and test_hooks) else None


def offset() -> float:
    """Seconds added to the real time (0 unless the clock file says otherwise)."""
    if _offset_file is None:
        return 0.0
    try:
        text = _offset_file.read_text().strip()
    except OSError:
        return 0.0
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        log.warning("clock file %s does not hold a number; ignoring it", _offset_file)
        return 0.0


def now() -> float:
    """The IdP's current time in seconds since the epoch."""
    return time.time() + offset()


def init_app(app: Flask) -> None:
    settings = app.extensions["devidp.settings"]
    configure(test_hooks=settings.test_hooks, clock_file=os.environ.get(CLOCK_FILE_ENV))
