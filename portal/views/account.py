"""Signed-in pages. Each needs a live portal session; one also needs a recent sign-in."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from portal import provider
from portal import sessions
from portal.errors import error_page

bp = Blueprint("account", __name__)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Without a session, go through Login and come back to the requested page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if sessions.store_unavailable():
            return error_page("unavailable", 503, login=False)
        if sessions.current() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


@bp.get("/account")
@login_required
def account() -> str:
    return render_template("account.html", active=sessions.current())


@bp.get("/account/security")
@login_required
def security() -> Response | str:
    """A sensitive page: it needs a sign-in within PORTAL_FRESH_AUTH_MAX_AGE seconds.

    With an older sign-in the page asks the customer to confirm (a POST, so that a link from
    another site cannot end the session) and the confirmation goes through the IdP again.
    """
    active = sessions.current()
    assert active is not None
    max_age = current_app.extensions["portal.settings"].fresh_auth_max_age
    now = current_app.extensions["portal.clock"].now()
    if now - active.auth_time > max_age:
        return render_template("confirm_sign_in.html", max_age=max_age)
    return render_template("security.html", active=active, max_age=max_age)


@bp.post("/account/security")
@login_required
def confirm_sign_in() -> Response:
    """Re-authenticate at the IdP with ``max_age``, then come back to the sensitive page.

    IdPs differ in what a re-authentication does to their session. authentik starts a new
    one (new sid) on prompt=login, the dev IdP on max_age too, and both send a back-channel
    logout for the old sid, which deletes the portal session of that sid. Keycloak keeps its
    user session and sid through prompt=login or max_age, resets ``auth_time`` and sends no
    logout (the portal keeps that sid's first bound, see ``sessions.start``). The login state
    must not live in a session that may be deleted meanwhile, so it starts from a fresh one.
    """
    max_age = current_app.extensions["portal.settings"].fresh_auth_max_age
    sessions.end()
    try:
        return provider.get().begin_login(url_for("account.security"), max_age=max_age)
    except provider.LoginFailed as exc:
        return error_page(exc.kind, exc.status)
