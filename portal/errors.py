"""Friendly error pages (HTML) and JSON errors: a clear message, the right status, no traceback.

Each handler logs the reason on the server; the page shows only what helps the customer: what
happened in plain words, a Login button when trying again makes sense, and the support contact.
The words are in the page's language (lazy strings, translated when the page is rendered); the
log lines stay in English.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import jsonify
from flask import render_template
from flask import request
from flask import session
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal import metrics
from portal.session_store import REDIS_ERRORS
from portal.session_store import StoreUnavailable

log = logging.getLogger("portal.errors")

MESSAGES = {
    "failed": (
        _l("Sign-in failed, try again"),
        _l("We could not complete your sign-in. Please try again."),
    ),
    "denied": (
        _l("Sign-in was cancelled"),
        _l("The sign-in service did not let you in. Please try again."),
    ),
    "unreachable": (
        _l("The sign-in service is not reachable right now"),
        _l("Please try again in a few minutes."),
    ),
    "misconfigured": (
        _l("Sign-in is not available"),
        _l("The sign-in service is not set up correctly. Please contact our customer support."),
    ),
    "mfa": (
        _l("Your second factor was not confirmed"),
        _l(
            "The sign-in service did not confirm a second factor (your authenticator app code). "
            "For your protection you are not signed in. Please contact our customer support."
        ),
    ),
    "group": (
        _l("Your account does not have access to the Customer Portal"),
        _l(
            "You signed in, but your account is not one of those allowed to use the Customer "
            "Portal. You have not been signed in to the portal. If you think you should have "
            "access, please contact our customer support."
        ),
    ),
    "unavailable": (
        _l("The portal is temporarily unavailable"),
        _l("Please try again in a few minutes."),
    ),
}


def error_page(kind: str, status: int, *, login: bool = True) -> Response:
    title, message = MESSAGES[kind]
    response = render_error(title, message, status, login=login)
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def render_error(title: object, message: object, status: int, *, login: bool = False) -> Response:
    """The error page; plain text when the page itself cannot be rendered (a broken
    install), so the customer still gets an answer with the right status."""
    try:
        page = render_template(
            "error.html", title=title, message=message, show_login=login, status=status
        )
    except Exception:
        log.exception("the error page could not be rendered")
        return Response(f"{title}. {message}\n", status=status, mimetype="text/plain")
    return Response(page, status=status)


def json_error(error: str, description: str, status: int) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/auth/backchannel-logout") or request.path in (
        "/healthz",
        "/readyz",
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        if getattr(session, "store_unavailable", False):
            # the token could not be checked because the session store is down
            return store_unavailable(StoreUnavailable("session store unavailable"))
        log.warning(
            "refused %s %s: CSRF check failed (%s)", request.method, request.path, exc.description
        )
        return render_error(
            _l("This form has expired"),
            _l("For your security the form could not be accepted. Please go back and try again."),
            400,
        )

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable) -> Response:
        log.error("session store unavailable: %s", exc)
        metrics.store_error()
        if _wants_json():
            return json_error("temporarily_unavailable", "session store unavailable", 503)
        return error_page("unavailable", 503, login=False)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status >= 500:
            return internal_error(exc)
        if status == 429:
            log.warning("rate limit hit: %s %s", request.method, request.path)
        if _wants_json():
            return json_error(exc.name.lower().replace(" ", "_"), exc.description or "", status)
        return render_error(TITLES.get(status, exc.name), _plain(status), status)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        original = getattr(exc, "original_exception", None) or exc
        if isinstance(original, StoreUnavailable):
            return store_unavailable(original)
        if isinstance(original, REDIS_ERRORS):
            # Redis was called outside the session store's wrappers (e.g. by the rate limiter)
            return store_unavailable(StoreUnavailable(type(original).__name__))
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=original)
        if _wants_json():
            return json_error("server_error", "unexpected error", 500)
        return render_error(
            _l("Something went wrong"), _l("An unexpected error occurred. Please try again."), 500
        )


#: The titles of HTTP errors a page can meet (werkzeug's names, in the page's language).
TITLES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    413: _l("Request Entity Too Large"),
    429: _l("Too Many Requests"),
}

PLAIN = {
    404: _l("There is no page at this address."),
    405: _l("This address does not accept that kind of request."),
    429: _l("Too many requests from your address. Please wait a minute and try again."),
}


def _plain(status: int) -> object:
    return PLAIN.get(status, _l("The request could not be handled."))
