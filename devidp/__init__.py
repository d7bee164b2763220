"""The development identity provider: a real OpenID Provider for the demo and the tests.

It reproduces the customer journey of the production IdP (authentik): username, password, TOTP
setup on first login or a TOTP code later, an SSO session that makes later logins silent for 12
hours, RP-initiated and back-channel logout. Built on Authlib's server side (see
:mod:`devidp.oauth2`); relying parties talk to it only over HTTP, starting from discovery.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import Response
from flask import render_template
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import clock
from . import config
from . import csrf
from . import db
from . import endpoints
from . import i18n
from . import keys
from . import login
from . import oauth2
from . import users

SESSION_COOKIE_NAME = "devidp_flow"

#: HTTP errors a browser meets, titled and explained in the screen's language.
HTTP_ERRORS = {
    400: (_l("Bad Request"), _l("The request could not be handled.")),
    404: (_l("Not Found"), _l("There is no page at this address.")),
    405: (_l("Method Not Allowed"), _l("This address does not accept that kind of request.")),
}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the IdP: defaults, then the config file, then the environment, then ``test_config``.

    Raises :class:`devidp.config.ConfigError` when the configuration cannot be used.
    """
    app = Flask(__name__)
    app.config.from_mapping(config.DEFAULTS)
    path = config.config_path(test_config, os.environ)
    if path:
        app.config.update(config.read_file(path, os.environ))
    app.config.update(config.from_env(os.environ))
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if k != "DEVIDP_CONFIG"})
    settings = config.parse(app.config)
    app.extensions["devidp.settings"] = settings
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_PATH="/",
    )

    if settings.trusted_proxies:
        # Behind a proxy every client has the proxy's address: without this, five wrong
        # passwords from anyone would lock the account out for everyone (devidp/lockout.py).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]

    clock.init_app(app)
    i18n.init_app(app)
    db.init_app(app)
    keys.init_app(app)
    users.init_app(app)
    csrf.init_app(app)
    oauth2.config_oauth(app)
    app.register_blueprint(endpoints.bp)
    app.register_blueprint(login.bp)

    @app.context_processor
    def _branding() -> dict[str, str]:
        footer = settings.footer
        if footer == config.default_footer(settings.brand):  # not the deployer's own words
            footer = gettext(
                "%(brand)s Auth · Powered by the development IdP", brand=settings.brand
            )
        return {"brand": settings.brand, "footer": footer}

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        title, message = HTTP_ERRORS.get(error.code or 500, (error.name, error.description))
        return Response(
            render_template("error.html", title=title, message=message),
            status=error.code or 500,
        )

    return app
