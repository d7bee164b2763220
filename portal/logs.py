"""Log set-up: one line per event, to stderr, with the reason; never a token or secret.

Log lines carry values that come from requests (a refused logout token's claimed ``sid``, a
path, an IdP's error code). A newline in such a value would let its sender write a line that
looks like an event of its own (log injection, CWE-117), so the one formatter every portal
line goes through escapes control characters in the message, whatever the call site does.

Also the one time format pages use, so the account page and the logs agree.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from datetime import UTC
from datetime import datetime

from flask import Flask

from portal.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional
#: overrides and isolates (which make a terminal show text in another order than it is).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ...)."""
    return _UNSAFE.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


class SafeFormatter(logging.Formatter):
    """A formatter whose every event is one line, however hostile its arguments.

    The message (``msg % args``) is escaped. A traceback keeps its lines, for readability,
    but every one of them is indented and has its control characters (other than the line
    breaks) escaped, so an exception message cannot start a line that passes for an event.
    """

    def format(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)  # other handlers (pytest's, gunicorn's) see the original
        safe.msg = escape_controls(record.getMessage())
        safe.args = None
        safe.exc_info = None
        safe.exc_text = None
        safe.stack_info = None
        line = super().format(safe)
        extra = []
        if record.exc_info:
            extra.append(self.formatException(record.exc_info))
        elif record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        for block in extra:
            for part in block.splitlines():
                line += "\n    " + escape_controls(part)
        return line


def init_app(app: Flask, settings: Settings) -> None:
    root = logging.getLogger("portal")
    root.setLevel(settings.log_level)
    if not any(getattr(h, "_portal", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(SafeFormatter(FORMAT))
        handler._portal = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # Authlib logs the PKCE code_verifier at DEBUG: keep it quiet whatever the root level.
    logging.getLogger("authlib").setLevel(logging.WARNING)
    app.logger.setLevel(settings.log_level)


def format_time(timestamp: float) -> str:
    """``2026-11-28 14:05 UTC``: unambiguous for customers in any time zone."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
