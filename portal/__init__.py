"""Customer portal: a thin OpenID Connect relying party; the IdP does both factors.

The public API is ``__all__`` below: the app factory, and what a deployer's own blueprint
needs for signed-in pages (see portal/api.py and the README's "Adding your own pages").
``portal.testing`` is the pytest plugin for testing such pages against a mock IdP.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from portal import audit
from portal import display
from portal import errors
from portal import i18n
from portal import logs
from portal import metrics
from portal import page_templates
from portal import provider
from portal import security
from portal import session_notice
from portal import sessions
from portal.api import Customer
from portal.api import current_customer
from portal.api import fresh_login_required
from portal.api import login_required
from portal.clock import Clock
from portal.clock import FileOffsetClock
from portal.clock import SystemClock
from portal.settings import Settings

__all__ = [
    "Customer",
    "create_app",
    "current_customer",
    "fresh_login_required",
    "login_required",
]


def create_app(
    settings: Settings | Mapping[str, str] | None = None, *, clock: Clock | None = None
) -> Flask:
    """The application factory.

    ``settings`` is a :class:`Settings`, a mapping of ``PORTAL_*`` variables (tests), or
    None to read the environment. ``clock`` lets tests move time instead of sleeping.
    """
    if settings is None:
        settings = Settings.from_env()
    elif not isinstance(settings, Settings):
        settings = Settings.from_env(settings)
    if clock is None:
        clock = (
            FileOffsetClock(settings.test_clock_file) if settings.test_clock_file else SystemClock()
        )

    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=64 * 1024)
    app.extensions["portal.settings"] = settings
    app.extensions["portal.clock"] = clock
    page_templates.init_app(
        app, settings.languages, i18n.current_language
    )  # first: the others add to jinja_env

    logs.init_app(app, settings)
    sessions.init_app(app, settings, clock)
    session_notice.init_app(app)  # after sessions, before the CSRF check of security
    provider.init_app(app, settings, clock)
    security.init_app(app, settings)
    i18n.init_app(app, settings)  # after security: a language cookie makes a page no-store
    errors.init_app(app)
    display.init_app(app)
    metrics.init_app(app, settings)
    audit.init_app(app)

    from portal.views import account
    from portal.views import auth
    from portal.views import devices
    from portal.views import public

    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(devices.bp)

    @app.context_processor
    def page_context() -> dict[str, object]:
        return {
            "sso_name": settings.sso_name,
            "support_contact": settings.support_contact,
            "portal_name": display.portal_name(),
            "current_session": sessions.current(),
        }

    return app
