"""Browser-facing defences: CSRF, security headers, proxy trust and rate limits.

Each is a library where one exists (Flask-WTF for CSRF, werkzeug's ProxyFix, Flask-Limiter);
the headers are a few lines of policy, set on every response.

Proxy trust has one switch, ``PORTAL_TRUSTED_PROXIES``: gunicorn is configured to ignore every
forwarded header (portal/gunicorn_conf.py), and ProxyFix here applies exactly that many hops.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import abort
from flask import request
from flask import session
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import csrf_tokens
from portal import rate_limit_storage
from portal.session_store import RATE_LIMIT_PREFIX
from portal.settings import Settings

log = logging.getLogger(__name__)


def client_address() -> str:
    """The client's address as the portal sees it: the socket peer, or the address the
    PORTAL_TRUSTED_PROXIES hops reported (ProxyFix). An IPv4-mapped address
    (``::ffff:192.0.2.1``, from a dual-stack socket) is its IPv4. The one notion of "the
    client" for rate limits, the audit trail and who may read /metrics; "unknown" on a unix
    socket without a trusted proxy."""
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def client_key() -> str:
    """The rate-limit key of the client: its address, or its /64 for IPv6.

    One IPv6 customer usually holds a whole /64 (RFC 6177 advice for end sites; SLAAC needs
    it), so keying by the full address would give such a client 2**64 fresh limits.
    """
    address = client_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class RouteLimiter(Limiter):
    """Flask-Limiter, checking limits only where a route declares them.

    Flask-Limiter also checks every request in a ``before_request`` hook, for default and
    application-wide limits. The portal has none: each limited route carries
    ``@limiter.limit``, whose wrapper checks on its own. That hook was a fifth of the time of
    a signed-in page view (a profile of ``/account``, README "Performance"), so it is skipped.
    """

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if in_middleware:
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


csrf = CSRFProtect()
limiter = RouteLimiter(key_func=client_key, default_limits=[])

#: Auth routes whose answers carry login or logout state are never cached, signed in or not.
NO_STORE_PREFIXES = ("/account", "/auth/", "/logout", "/logged-out", "/login")


#: Set in the WSGI environ by :class:`DropUndecodableQuery`.
UNDECODABLE_QUERY = "portal.undecodable_query"


class DropUndecodableQuery:
    """WSGI middleware: a query string that is not UTF-8 is dropped and the request marked.

    werkzeug decodes ``request.args`` strictly, so raw bytes such as ``?\xff`` (gunicorn
    refuses them; the development server and other WSGI servers pass them on) make every read
    of the query raise, the error pages' own (they read ``?lang=``) included: the exception
    would leave Flask. Dropped here, the request reaches the app and gets its 400 page
    (:func:`refuse_undecodable_query`). Percent-escapes (``%ff``) are decoded leniently by
    werkzeug and never reach this.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        query = environ.get("QUERY_STRING", "")
        try:
            query.encode("latin-1").decode("utf-8")  # PEP 3333: the raw bytes, as latin-1
        except UnicodeError:
            environ = {**environ, "QUERY_STRING": "", UNDECODABLE_QUERY: True}
        return self.app(environ, start_response)


def refuse_undecodable_query() -> None:
    if request.environ.get(UNDECODABLE_QUERY):
        log.warning("request refused: its query string is not UTF-8")
        abort(400)


def depends_on_session(app: Flask, response: Response) -> bool:
    """Whether a response may differ per browser session, so no cache may keep it.

    True when this response sets a cookie or changes the session (creates, writes or ends
    it), whatever was asked for, or when the request came with a session cookie (any page
    may then show the customer's name or carry their CSRF token: the landing page, a 404).
    Static files are the same for everyone, unless their response carries a session cookie:
    a signed-in browser's CSS request past its idle limit ends the session.
    """
    changes = "Set-Cookie" in response.headers or bool(getattr(session, "modified", False))
    if request.endpoint == "static":
        return changes
    cookie = app.session_interface.get_cookie_name(app)
    return changes or cookie in request.cookies or bool(session)


def _rate_limit_storage(app: Flask) -> dict[str, object]:
    """The counters go to the sessions' own Redis client (any mode), else process memory
    (the filesystem backend serves one process)."""
    client = app.extensions.get("portal.redis")
    if client is None:
        return {"RATELIMIT_STORAGE_URI": "memory://"}
    return {
        "RATELIMIT_STORAGE_URI": f"{rate_limit_storage.SCHEME}://",
        "RATELIMIT_STORAGE_OPTIONS": {"client": client, "key_prefix": RATE_LIMIT_PREFIX},
    }


def init_app(app: Flask, settings: Settings) -> None:
    app.config.update(
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it belongs to
        WTF_CSRF_SSL_STRICT=True,
        **_rate_limit_storage(app),
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,  # a Redis outage must not turn into rate-limit 500s
    )
    app.wsgi_app = DropUndecodableQuery(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_undecodable_query)
    csrf.init_app(app)
    csrf_tokens.init_app(app)
    limiter.init_app(app)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    idp = urlsplit(settings.issuer)
    idp_origin = f"{idp.scheme}://{idp.netloc}"
    # form-action must allow the IdP: Chromium applies it to the redirect that follows
    # "Log out everywhere" (a POST to the portal answered with a redirect to end-session).
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' {idp_origin}"
    )

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # same-origin, not no-referrer: Flask-WTF's CSRF check on https needs a same-origin
        # Referer, and nothing (such as the callback URL's code) is sent to other sites.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if settings.secure_cookies:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.path.startswith(NO_STORE_PREFIXES) or depends_on_session(app, response):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response
