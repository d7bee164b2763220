"""Your portal: the customer portal with your own pages added.

Production runs it as the stock portal runs, pointing gunicorn at this factory:
``gunicorn --config python:portal.gunicorn_conf "my_portal:create_app()"``; the tests build it
through the same function (see conftest.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import invoices
from flask import Flask

from portal import create_app as create_portal


def create_app(settings: Mapping[str, str] | None = None, **kwargs: Any) -> Flask:
    """The portal (settings from the environment, as always) plus the invoices pages."""
    app = create_portal(settings, **kwargs)
    app.register_blueprint(invoices.bp)
    return app
