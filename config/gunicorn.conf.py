"""gunicorn settings for a checkout: the same as ``--config python:portal.gunicorn_conf``."""

from portal.gunicorn_conf import *  # noqa: F403
