"""The authorization endpoint's decisions (OpenID Connect Core 1.0 §3.1.2).

Authlib validates the request (client, exact redirect URI, response type, scope, PKCE, nonce,
``prompt=none`` without a user). This module adds what an IdP with SSO sessions decides:

- a live SSO session answers at once, with no screen (§3.1.2.3);
- no session, ``prompt=login``, or a ``max_age`` older than ``auth_time`` (§3.1.2.1) sends the
  browser through the login screens, then back here; the fresh-login marker lets that resumed
  request through once;
- ``prompt=none`` when a login would be needed answers ``login_required`` (§3.1.2.6);
- clients with ``require_consent`` get the "You're being redirected" page first;
- errors that cannot be sent to a validated redirect URI (unknown client, unregistered redirect
  URI) get a 400 page, never a redirect (RFC 6749 §4.1.2.1); redirected errors carry ``iss``
  (RFC 9207 §2) like successful responses.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.grants import BaseGrant
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from flask import Response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext

from . import clock
from . import csrf
from . import db
from . import flow
from . import oauth2
from . import sso
from . import users

log = logging.getLogger(__name__)


def handle() -> Response:
    """Answer one request to ``/authorize`` (GET, or POST from the consent page)."""
    server = oauth2.server()
    session = sso.current()
    user = users.find_by_id(db.get_db(), session.user_id) if session else None
    grantee = oauth2.Grantee.from_session(user, session) if (session and user) else None
    grant: BaseGrant | None = None
    try:
        grant = server.get_consent_grant(end_user=grantee)
        resume_url = _resume_url()
        prompts = set((request.values.get("prompt") or "").split())
        max_age = _max_age()
        fresh = grantee is not None and flow.is_fresh_login(resume_url, grantee.sid, clock.now())
        if grantee is None or (not fresh and _login_needed(prompts, max_age, grantee)):
            if "none" in prompts:
                raise LoginRequiredError()
            flow.remember_request(resume_url, clock.now())
            return redirect(url_for("login.username"))
        client = grant.request.client
        if client.require_consent or "consent" in prompts:
            if "none" in prompts:
                raise ConsentRequiredError()
            if not (request.method == "POST" and csrf.is_valid()):
                return Response(
                    render_template("consent.html", client_name=client.client_name),
                    headers={"Cache-Control": "no-store"},
                )
    except OAuth2Error as error:
        return _error_response(error, grant)

    assert grant is not None and grantee is not None  # every other path returned above
    flow.clear_fresh_login()
    log.info(
        "authorization code for client %s, user #%d, session %s…",
        grant.request.client.get_client_id(),
        grantee.user.id,
        grantee.sid[:8],
    )
    return server.create_authorization_response(grant_user=grantee, grant=grant)


def _max_age() -> int | None:
    value = request.values.get("max_age")
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise InvalidRequestError("Invalid 'max_age' parameter.")
    return int(value)


def _login_needed(prompts: set[str], max_age: int | None, grantee: oauth2.Grantee) -> bool:
    """``prompt=login``, or the last authentication is older than ``max_age`` (§3.1.2.1)."""
    if "login" in prompts:
        return True
    return max_age is not None and clock.now() - grantee.auth_time > max_age


def _resume_url() -> str:
    """This request as a canonical GET URL, to come back to after the login screens."""
    params = sorted(
        (key, value)
        for key in request.values
        if key != csrf.FIELD
        for value in request.values.getlist(key)
    )
    return url_for("protocol.authorize") + "?" + urlencode(params)


def _error_response(error: OAuth2Error, grant: BaseGrant | None) -> Response:
    server = oauth2.server()
    if error.redirect_uri is None and grant is not None and grant.redirect_uri:
        error.redirect_uri = grant.redirect_uri
    if error.state is None:
        error.state = request.values.get("state")
    if error.redirect_uri:
        log.info("authorization error %s sent to the client", error.error)
        response = server.handle_error_response(None, error)
        oauth2.issuer_parameter().add_issuer_parameter(server, response)
        return response
    log.warning("authorization request refused: %s (%s)", error.error, error.description)
    return Response(
        render_template(
            "error.html",
            title=gettext("This sign-in request cannot be processed"),
            message=_describe(error),
        ),
        status=400,
    )


def _describe(error: OAuth2Error) -> str:
    if error.error == "invalid_client":
        return gettext(
            "The application that sent you here is not registered with this sign-in service."
        )
    description = error.description or ""
    if "redirect" in description.lower():
        return gettext(
            "The application sent you here with a return address that is not registered."
        )
    return gettext(
        "The application sent an invalid sign-in request (%(error)s).", error=error.error
    )
