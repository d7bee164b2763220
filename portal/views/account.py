"""Signed-in pages. Written against the public API (``portal.login_required``,
``portal.fresh_login_required``, ``portal.current_customer``), as a deployer's pages are."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import render_template
from flask import request

from portal import current_customer
from portal import fresh_login_required
from portal import login_required
from portal import provider
from portal import sessions
from portal.errors import error_page
from portal.redirects import safe_target

bp = Blueprint("account", __name__)


@bp.get("/account")
@login_required
def account() -> str:
    return render_template("account.html", customer=current_customer(), active=sessions.current())


@bp.get("/account/security")
@fresh_login_required()
def security() -> str:
    """A sensitive page: it needs a sign-in within PORTAL_FRESH_AUTH_MAX_AGE seconds."""
    max_age = current_app.extensions["portal.settings"].fresh_auth_max_age
    return render_template(
        "security.html", customer=current_customer(), active=sessions.current(), max_age=max_age
    )


@bp.post("/account/confirm-sign-in")
@login_required
def confirm_sign_in() -> Response:
    """Re-authenticate at the IdP with ``max_age``, then come back to the sensitive page.

    The "Confirm your sign-in" form of :func:`portal.fresh_login_required` posts here with
    the page to come back to (``next``, a local path only) and the page's ``max_age``. A
    customer who alters either only changes their own round trip: the page checks the
    sign-in's age again on return.

    IdPs differ in what a re-authentication does to their session. authentik starts a new
    one (new sid) on prompt=login, the dev IdP on max_age too, and both send a back-channel
    logout for the old sid, which deletes the portal session of that sid. Keycloak keeps its
    user session and sid through prompt=login or max_age, resets ``auth_time`` and sends no
    logout (the portal keeps that sid's first bound, see ``sessions.start``). The login state
    must not live in a session that may be deleted meanwhile, so it starts from a fresh one.
    """
    settings = current_app.extensions["portal.settings"]
    target = safe_target(request.form.get("next"))
    max_age = _max_age(
        request.form.get("max_age"), settings.fresh_auth_max_age, ceiling=settings.sso_max_age
    )
    sessions.end()
    try:
        return provider.get().begin_login(target, max_age=max_age)
    except provider.LoginFailed as exc:
        return error_page(exc.kind, exc.status)


def _max_age(value: str | None, default: int, *, ceiling: int) -> int:
    """The form's max_age when it is a plain number of seconds, else ``default``."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 6:
        return default
    return min(int(value), ceiling)
