"""The public API for pages added to the portal: the customer and the two sign-in decorators.

A company builds on the portal by registering its own Flask blueprints (invoices, contracts,
tickets) on the app that :func:`portal.create_app` returns. Such a blueprint inherits what is
app-wide: the base template (``{% extends "base.html" %}``), the security headers, CSRF
protection of every form, ``Cache-Control: no-store`` on signed-in pages, and the session
rules (12-hour bound, idle timeout, back-channel logout). What its views need on top is here,
and re-exported by ``portal`` (``from portal import login_required``)::

    bp = Blueprint("invoices", __name__)

    @bp.get("/invoices")
    @login_required
    def invoices():
        return render_template("invoices.html", customer=current_customer())

The portal's own pages (portal/views/account.py and public.py) use the same names, so they are
exercised on every request. They are a promise to deployers: tests/unit/test_public_api.py
fails when one disappears or changes shape. Everything else in the package is internal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec
from typing import TypeVar

from flask import Response
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from portal import sessions
from portal.errors import error_page
from portal.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Customer:
    """The signed-in customer, as the IdP described them at sign-in.

    Key your own records by ``sub``: it is the IdP's stable identifier for the customer,
    while email, name and username may change at the IdP.
    """

    #: The IdP's identifier of the customer (the ID token's ``sub``); never empty.
    sub: str
    #: The email address, or "" when the IdP sent none.
    email: str
    #: The full name, or "".
    name: str
    #: The login name (``preferred_username``), or "".
    username: str
    #: The customer's groups: the PORTAL_GROUPS_CLAIM claim (``groups`` by default; authentik
    #: sends it, Keycloak with a group mapper) of the ID token, else of userinfo; empty when
    #: the IdP sent none.
    groups: tuple[str, ...]
    #: When the customer last signed in at the IdP (``auth_time``), in seconds since the epoch.
    auth_time: float
    #: How they signed in (the ID token's ``amr``, e.g. ``("pwd", "otp")``); may be empty.
    amr: tuple[str, ...]

    @property
    def display_name(self) -> str:
        """The name to greet the customer with: name, else username, else sub."""
        return self.name or self.username or self.sub


def current_customer() -> Customer | None:
    """The customer signed in to this request's session, or None (e.g. on a public page).

    Inside a view decorated with :func:`login_required` it is never None. The session's
    lifetime rules have already been applied when the view runs.
    """
    active = sessions.current()
    if active is None:
        return None
    return Customer(
        sub=active.sub,
        email=active.email,
        name=active.name,
        username=active.username,
        groups=active.groups,
        auth_time=active.auth_time,
        amr=active.amr,
    )


def login_required(view: Callable[P, R]) -> Callable[P, R | Response]:
    """Decorate a view that needs a signed-in customer.

    Without a session the customer goes through Login and comes back to the requested page
    (``/login?next=/the/page``). While the session store is unreachable the answer is the
    portal's 503 page, never a traceback nor a login that could not be kept.
    """

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if sessions.store_unavailable():
            return error_page("unavailable", 503, login=False)
        if sessions.current() is None:
            return redirect(url_for("auth.login", next=_here()))
        return view(*args, **kwargs)

    return wrapped


def fresh_login_required(
    max_age: int | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Decorate a sensitive view that needs a sign-in at the IdP within ``max_age`` seconds.

    ``max_age`` defaults to PORTAL_FRESH_AUTH_MAX_AGE (600). Use it with parentheses:
    ``@fresh_login_required()`` or ``@fresh_login_required(300)``. It implies
    :func:`login_required`.

    With an older sign-in the view does not run; the customer sees "Confirm your sign-in",
    whose button (a POST with a CSRF token, so that a link from another site cannot end the
    session) sends them through the IdP again with ``max_age``, then back to this page. Merely
    viewing the confirmation page changes nothing.
    """
    if callable(max_age) or isinstance(max_age, bool):
        raise TypeError(
            "fresh_login_required takes max_age in seconds: write @fresh_login_required() "
            "or @fresh_login_required(300), with parentheses"
        )
    if max_age is not None and (not isinstance(max_age, int) or max_age < 0):
        raise ValueError(f"max_age must be a number of seconds >= 0, not {max_age!r}")

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @functools.wraps(view)
        def fresh(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            limit = max_age if max_age is not None else _settings().fresh_auth_max_age
            active = sessions.current()
            assert active is not None  # login_required ran first
            if _now() - active.auth_time > limit:
                page = render_template("confirm_sign_in.html", max_age=limit, next=_here())
                return Response(page, status=200)
            return view(*args, **kwargs)

        return login_required(fresh)

    return decorate


def _here() -> str:
    """This request's local path and query, the target to come back to after signing in."""
    return request.full_path.rstrip("?")


def _settings() -> Settings:
    return current_app.extensions["portal.settings"]


def _now() -> float:
    return current_app.extensions["portal.clock"].now()
