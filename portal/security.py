"""Browser-facing defences: CSRF, security headers, proxy trust and rate limits.

Each is a library where one exists (Flask-WTF for CSRF, werkzeug's ProxyFix, Flask-Limiter);
the headers are a few lines of policy, set on every response.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.settings import Settings

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

#: Pages that show a signed-in customer's data must never be cached by browsers or proxies.
NO_STORE_PREFIXES = ("/account", "/auth/", "/logout", "/logged-out", "/login")


def init_app(app: Flask, settings: Settings) -> None:
    app.config.update(
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session it belongs to
        WTF_CSRF_SSL_STRICT=True,
        RATELIMIT_STORAGE_URI=(
            settings.redis_url if settings.session_backend == "redis" else "memory://"
        ),
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,  # a Redis outage must not turn into rate-limit 500s
    )
    csrf.init_app(app)
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
        if request.path.startswith(NO_STORE_PREFIXES):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        return response
