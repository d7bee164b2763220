"""Prometheus metrics: how the portal is doing, at ``GET /metrics`` (text exposition format).

Only clients in PORTAL_METRICS_ALLOW may read them (the client address as the rate limits see
it, :func:`portal.security.client_address`); everyone else gets the ordinary 404 page, so
the endpoint does not even show that it exists.

Labels take only the fixed values listed below (a value outside a list is counted as
``other``): never a subject, an email, a sid or a token, which would leak them to whoever
reads the metrics and give Prometheus one series per customer.

Under gunicorn every worker counts for itself; prometheus_client's multiprocess mode sums
them. Each worker writes its figures to files in ``PROMETHEUS_MULTIPROC_DIR``, and a scrape,
whichever worker answers it, reads every file there, those of workers that have exited
included (their logins happened). The variable must be set before prometheus_client is first
imported in a worker, because that import chooses how values are stored: portal/gunicorn_conf.py
sets it (a private directory unless the deployer names one) and empties it when gunicorn
starts. Without it (``portal serve``, tests) the figures live in the process, per app.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from flask import Flask
from flask import Response
from flask import abort
from flask import current_app
from flask import g
from flask import request
from flask import session

from portal.security import client_address
from portal.settings import Settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# prometheus_client is imported only where it is used, never when the package is: its first
# import decides whether values go to files (multiprocess mode), and gunicorn's master imports
# this package (python:portal.gunicorn_conf) before it sets PROMETHEUS_MULTIPROC_DIR.

log = logging.getLogger("portal.metrics")

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: ``portal_logins_total{result}``: a login that ended in the portal, signed in or refused.
LOGIN_RESULTS = (
    "ok",
    "state",  # the callback's state is missing, unknown, replayed or expired
    "token",  # the code, the token response, the ID token or userinfo was refused
    "mfa",  # no evidence of a second factor
    "group",  # not in PORTAL_ALLOWED_GROUPS
    "idp_error",  # the IdP answered with an error (access_denied ...)
    "idp_unreachable",
    "idp_misconfigured",  # issuer mismatch, HS256 signing ...
    "store_unavailable",
    "ended",  # the IdP session ended while the login was finishing
    "bad_request",  # a malformed callback
    "other",
)
#: ``portal_logouts_total{kind}``.
LOGOUT_KINDS = ("portal", "everywhere", "other")
#: ``portal_backchannel_logouts_total{result}``.
BACKCHANNEL_RESULTS = ("ok", "refused", "replayed", "idp_unreachable", "store_unavailable", "other")
#: ``portal_sessions_ended_total{reason}``: portal sessions ended by something else than the
#: customer's own logout.
SESSION_END_REASONS = ("backchannel", "max_age", "idle", "device", "other")
#: ``portal_idp_request_duration_seconds{endpoint}`` and ``portal_idp_request_failures_total``.
IDP_ENDPOINTS = ("discovery", "jwks", "token", "userinfo", "other")
#: ``portal_readyz_failures_total{check}``.
READYZ_CHECKS = ("store", "idp", "other")

IDP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The portal's metrics, registered in one registry (one per app, so tests that build
    several apps in one process each count from zero)."""

    def __init__(self, registry: CollectorRegistry, multiprocess_path: str | None = None) -> None:
        from prometheus_client import Counter
        from prometheus_client import Histogram

        self.registry = registry
        #: Where every worker's figures are, when this process counts in multiprocess mode.
        self.multiprocess_path = multiprocess_path
        self.logins = Counter(
            "portal_logins",
            "Logins that ended in the portal, by result (ok, or why they were refused)",
            ["result"],
            registry=registry,
        )
        self.logouts = Counter(
            "portal_logouts", "Logouts by the customer, by kind", ["kind"], registry=registry
        )
        self.backchannel = Counter(
            "portal_backchannel_logouts",
            "Back-channel logout requests from the IdP, by result",
            ["result"],
            registry=registry,
        )
        self.sessions_ended = Counter(
            "portal_sessions_ended",
            "Portal sessions ended other than by the customer's logout, by reason",
            ["reason"],
            registry=registry,
        )
        self.idp_duration = Histogram(
            "portal_idp_request_duration_seconds",
            "Time taken by requests from the portal to the IdP, by endpoint",
            ["endpoint"],
            buckets=IDP_BUCKETS,
            registry=registry,
        )
        self.idp_failures = Counter(
            "portal_idp_request_failures",
            "Requests to the IdP that failed (no answer, an error status, an unreadable body)",
            ["endpoint"],
            registry=registry,
        )
        self.store_errors = Counter(
            "portal_session_store_errors",
            "Requests that met a session store error (Redis or the session folder)",
            registry=registry,
        )
        self.readyz_failures = Counter(
            "portal_readyz_failures",
            "GET /readyz answers that were not ready, by failed check",
            ["check"],
            registry=registry,
        )
        # Every series exists from the start, at 0: rate() and the dashboard need no first event.
        for counter, values in (
            (self.logins, LOGIN_RESULTS),
            (self.logouts, LOGOUT_KINDS),
            (self.backchannel, BACKCHANNEL_RESULTS),
            (self.sessions_ended, SESSION_END_REASONS),
            (self.idp_failures, IDP_ENDPOINTS),
            (self.readyz_failures, READYZ_CHECKS),
        ):
            for value in values:
                counter.labels(value)
        for endpoint in IDP_ENDPOINTS:
            self.idp_duration.labels(endpoint)


def multiprocess_dir() -> str | None:
    """The multiprocess directory when this process counts in that mode, else None.

    The mode is prometheus_client's choice at its first import (the variable set then); the
    variable set later changes nothing, and is then only reported.
    """
    from prometheus_client import values

    path = os.environ.get(MULTIPROC_DIR_ENV) or None
    if path and values.ValueClass is values.MutexValue:
        log.error(
            "%s is set but prometheus_client was imported before it was: each worker "
            "counts alone (is preload_app on, or prometheus_client imported by a hook?)",
            MULTIPROC_DIR_ENV,
        )
        return None
    return path


def exposition(metrics: Metrics) -> bytes:
    """The text exposition: every worker's figures in multiprocess mode, else this app's."""
    from prometheus_client import CollectorRegistry
    from prometheus_client import generate_latest
    from prometheus_client import multiprocess

    path = metrics.multiprocess_path
    if path is None:
        return generate_latest(metrics.registry)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def allowed(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a unix socket without a trusted proxy: no address
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)


def init_app(app: Flask, settings: Settings) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST
    from prometheus_client import CollectorRegistry

    metrics = Metrics(CollectorRegistry(auto_describe=True), multiprocess_dir())
    app.extensions["portal.metrics"] = metrics

    def serve_metrics() -> Response:
        # only clients in PORTAL_METRICS_ALLOW get here (hide_metrics, below)
        return Response(exposition(metrics), content_type=CONTENT_TYPE_LATEST)

    app.add_url_rule(
        "/metrics", "metrics", serve_metrics, methods=["GET"], provide_automatic_options=False
    )

    @app.before_request
    def hide_metrics() -> None:
        """A client outside PORTAL_METRICS_ALLOW gets the ordinary 404 whatever its method:
        routing alone would answer 405 (or 200 to OPTIONS) and so show that the page exists.
        Checked on the path, before the view, because routing fails first for other methods."""
        if request.path == "/metrics" and not allowed(client_address(), settings.metrics_allow):
            abort(404)

    @app.before_request
    def count_store_outage() -> None:
        # the session could not be opened (sessions.store_unavailable(), read here directly
        # because portal.sessions itself reports through this module)
        if getattr(session, "store_unavailable", False):
            store_error()


# --- what the rest of the portal calls; each is a no-op outside a portal app ----------------


def _metrics() -> Metrics | None:
    try:
        return current_app.extensions.get("portal.metrics")
    except RuntimeError:  # no app context
        return None


def _label(value: str, allowed_values: tuple[str, ...]) -> str:
    return value if value in allowed_values else "other"


def login(result: str) -> None:
    if (m := _metrics()) is not None:
        m.logins.labels(_label(result, LOGIN_RESULTS)).inc()


def logout(kind: str) -> None:
    if (m := _metrics()) is not None:
        m.logouts.labels(_label(kind, LOGOUT_KINDS)).inc()


def backchannel(result: str) -> None:
    if (m := _metrics()) is not None:
        m.backchannel.labels(_label(result, BACKCHANNEL_RESULTS)).inc()


def sessions_ended(reason: str, count: int = 1) -> None:
    if (m := _metrics()) is not None and count > 0:
        m.sessions_ended.labels(_label(reason, SESSION_END_REASONS)).inc(count)


def store_error() -> None:
    """Count a request that met a session store error, once however often it met it."""
    if (m := _metrics()) is not None and not g.get("_portal_store_error_counted"):
        g._portal_store_error_counted = True
        m.store_errors.inc()


def readyz_failure(check: str) -> None:
    if (m := _metrics()) is not None:
        m.readyz_failures.labels(_label(check, READYZ_CHECKS)).inc()


@contextmanager
def idp_request(endpoint: str) -> Iterator[None]:
    """Time one request to the IdP; a request that raises is also counted as failed."""
    m = _metrics()
    if m is None:
        yield
        return
    label = _label(endpoint, IDP_ENDPOINTS)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        m.idp_failures.labels(label).inc()
        raise
    finally:
        m.idp_duration.labels(label).observe(time.perf_counter() - started)
