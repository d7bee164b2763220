"""gunicorn settings for the portal: ``gunicorn --config python:portal.gunicorn_conf
'portal:create_app()'`` (the Procfile). A module of the package, so an installed wheel has it
too; values can be overridden on the command line."""

import multiprocessing
import os
import sys

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
# The filesystem session backend (and its sid/sub index) is for one process; several workers
# need PORTAL_SESSION_BACKEND=redis.
_default_workers = (
    max(2, multiprocessing.cpu_count())
    if os.environ.get("PORTAL_SESSION_BACKEND", "filesystem").lower() == "redis"
    else 1
)
workers = int(os.environ.get("PORTAL_WORKERS", _default_workers))
threads = int(os.environ.get("PORTAL_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
accesslog = "-"
# No query strings in the access log: /auth/callback carries the authorization code.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(D)sus'
# One setting decides which forwarded headers count: PORTAL_TRUSTED_PROXIES, applied by the
# portal (werkzeug's ProxyFix). gunicorn itself trusts none, from any address or unix socket;
# otherwise it would take X-Forwarded-Proto from 127.0.0.1 (its default) even with
# PORTAL_TRUSTED_PROXIES=0.
forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""


def on_starting(server):
    """Check the settings once in the master: one clear line instead of failing workers."""
    from portal.settings import Settings
    from portal.settings import SettingsError

    try:
        settings = Settings.from_env()
        if settings.session_backend == "filesystem":
            from portal.session_files import prepare_session_dir

            prepare_session_dir(settings.session_dir)
    except SettingsError as exc:
        print(f"portal: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
