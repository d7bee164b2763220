"""Log set-up: one line per event, to stderr, with the reason; never a token or secret.

Also the one time format pages use, so the account page and the logs agree.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC
from datetime import datetime

from flask import Flask

from portal.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def init_app(app: Flask, settings: Settings) -> None:
    root = logging.getLogger("portal")
    root.setLevel(settings.log_level)
    if not any(getattr(h, "_portal", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._portal = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # Authlib logs the PKCE code_verifier at DEBUG: keep it quiet whatever the root level.
    logging.getLogger("authlib").setLevel(logging.WARNING)
    app.logger.setLevel(settings.log_level)


def format_time(timestamp: float) -> str:
    """``2026-11-28 14:05 UTC``: unambiguous for customers in any time zone."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")
