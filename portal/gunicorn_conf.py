"""gunicorn settings for the portal: ``gunicorn --config python:portal.gunicorn_conf
'portal:create_app()'`` (the Procfile). A module of the package, so an installed wheel has it
too; values can be overridden on the command line.

Metrics: the workers count in prometheus_client's multiprocess mode, in PROMETHEUS_MULTIPROC_DIR
(the deployer's, emptied of its old files at start, or else a private temporary folder removed
at exit). ``on_starting`` sets it in the master before any worker starts, so before a worker
first imports prometheus_client; an app preloaded in the master (``--preload``) would import it
earlier, which is why the Procfile does not preload (see portal/metrics.py).

Logs: with PORTAL_LOG_FORMAT=json, gunicorn's own lines (the master's, the access lines) go
through the portal's JSON handler too, so every line of the process is one JSON object. In
text, they keep gunicorn's layout and handlers, with control characters escaped
(``logger_class``).
"""

import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path


def _environment() -> dict[str, str]:
    """The portal's variables, the env file's included (``portal.settings.environment``)."""
    from portal.settings import SettingsError
    from portal.settings import environment

    try:
        return environment()
    except SettingsError:
        return dict(os.environ)  # on_starting says what is wrong, in one line


def _session_backend() -> str:
    from portal.settings import Settings
    from portal.settings import SettingsError

    try:
        return Settings.from_env().session_backend
    except SettingsError:
        return "filesystem"  # on_starting stops gunicorn, naming the variable


def _count(env: dict[str, str], name: str, default: int) -> int:
    """A whole number of at least 1 from ``name``, or one line naming it and exit status 2."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        print(
            f"portal: configuration error: {name}: expected a whole number of at least 1 "
            f"(got {value!r})",
            file=sys.stderr,
        )
        sys.exit(2)
    return int(value)


_env = _environment()
bind = _env.get("PORTAL_BIND", "127.0.0.1:8000")
# The filesystem session backend (and its sid/sub index) is for one process; several workers
# need Redis (PORTAL_REDIS_URL).
_default_workers = max(2, multiprocessing.cpu_count()) if _session_backend() == "redis" else 1
workers = _count(_env, "PORTAL_WORKERS", _default_workers)
threads = _count(_env, "PORTAL_THREADS", 4)
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


#: The multiprocess folder of this gunicorn ("path"), and whether it made it ("own").
_metrics_folder: dict[str, object] = {}


def _prepare_metrics_dir() -> None:
    """Set PROMETHEUS_MULTIPROC_DIR for the workers, to an empty folder (in the master, from
    ``on_starting``: nothing is changed when this file is merely read)."""
    if "prometheus_client" in sys.modules:
        print(
            "portal: prometheus_client was imported before the workers started (--preload?): "
            "each worker would count alone",
            file=sys.stderr,
        )
    named = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not named:
        path = tempfile.mkdtemp(prefix="portal-metrics-")  # 0700: only the portal's user
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
        _metrics_folder.update(path=path, own=True)
        return
    folder = Path(named)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in folder.glob("*.db"):  # figures of a previous run are not this run's
        old.unlink()
    _metrics_folder.update(path=str(folder), own=False)


def _logconfig() -> dict | None:
    """gunicorn's logging configuration: its default for text, the portal's JSON handler
    on the root logger (where gunicorn's loggers propagate) for json."""
    from portal.settings import Settings
    from portal.settings import SettingsError

    try:
        fmt = Settings.from_env().log_format
    except SettingsError:
        return None  # on_starting says what is wrong, in one line
    if fmt != "json":
        return None
    passthrough = {"level": "INFO", "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "root": {"level": "WARNING", "handlers": ["portal"]},
        "loggers": {"gunicorn.error": passthrough, "gunicorn.access": dict(passthrough)},
        "handlers": {"portal": {"()": "portal.logs.make_handler", "fmt": "json"}},
        "formatters": {},
    }


logconfig_dict = _logconfig() or {}


def _escaping_logger_class() -> type:
    """gunicorn's logger, with every line of its own handlers escaped by the portal's
    formatter (``portal.logs.EscapingFormatter``) around gunicorn's layout. The handlers stay
    gunicorn's, so ``--access-logfile``, ``--error-logfile`` and syslog work as documented.
    In JSON mode gunicorn's loggers have no handler of their own (``logconfig_dict``) and the
    portal's JSON handler escapes by construction."""
    from gunicorn.glogging import Logger

    from portal.logs import EscapingFormatter

    class EscapingLogger(Logger):
        def setup(self, cfg):  # noqa: ANN001 - gunicorn's signature
            super().setup(cfg)  # also run again on a configuration reload, with new handlers
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    formatter = handler.formatter or logging.Formatter()
                    if not isinstance(formatter, EscapingFormatter):
                        handler.setFormatter(EscapingFormatter(formatter))

    return EscapingLogger


logger_class = _escaping_logger_class()


def on_starting(server):
    """Check the settings once in the master: one clear line instead of failing workers."""
    from portal.settings import Settings
    from portal.settings import SettingsError

    try:
        settings = Settings.from_env()
        if settings.session_backend == "filesystem":
            from portal.session_files import prepare_session_dir

            prepare_session_dir(settings.session_dir)
            # the file index's lock is per process: several workers would lose logouts.
            # gunicorn's own value, which its -w option may have changed from this file's
            running = getattr(getattr(server, "cfg", None), "workers", workers)
            if running > 1:
                raise SettingsError(
                    "PORTAL_WORKERS",
                    "1 with the filesystem session backend (several processes need Redis: "
                    "PORTAL_REDIS_URL)",
                    str(running),
                )
    except SettingsError as exc:
        print(f"portal: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    _prepare_metrics_dir()


def post_worker_init(worker):
    """Move what the worker has built so far (modules, the app, its compiled routes) out of
    the garbage collector's sight: those objects live as long as the worker, and without
    this every full collection walks them again. What a request allocates is collected as
    before. (Python's documentation of ``gc.freeze``; a profile of /account under gunicorn
    showed the collections in the pages that allocate most.)"""
    import gc

    gc.collect()  # what start-up left unreachable is freed first, not frozen with the rest
    gc.freeze()


def child_exit(server, worker):
    """prometheus_client's multiprocess mode: a worker that left has its live gauges dropped
    (its counters stay: what it counted happened)."""
    from prometheus_client import multiprocess

    if "path" in _metrics_folder:
        multiprocess.mark_process_dead(worker.pid, str(_metrics_folder["path"]))


def on_exit(server):
    if _metrics_folder.get("own"):
        shutil.rmtree(str(_metrics_folder["path"]), ignore_errors=True)
