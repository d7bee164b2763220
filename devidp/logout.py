"""The end_session endpoint (OpenID Connect RP-Initiated Logout 1.0 §2-§4).

Authlib's :class:`~devidp.oauth2.EndSessionEndpoint` validates ``id_token_hint``, ``client_id``
and ``post_logout_redirect_uri`` and ends the SSO session; this module adds the browser side:
a request without ``id_token_hint``, or whose hint does not name this browser's SSO session
(its ``sid``, else its ``sub``), is confirmed by the user first (§6: such requests could
otherwise log people out from anywhere), the SSO cookie is deleted, and the answer is a redirect
to the registered URI with ``state`` or the "You are logged out" page. Invalid requests get a
400 page and no redirect (§4).
"""

from __future__ import annotations

import logging

from authlib.oauth2 import OAuth2Error
from flask import Response
from flask import g
from flask import render_template
from flask import request
from flask_babel import gettext

from . import csrf
from . import oauth2
from . import sso

log = logging.getLogger(__name__)

FORWARDED_FIELDS = ("client_id", "post_logout_redirect_uri", "state")


def handle() -> Response:
    """Answer one request to ``/end-session`` (GET or POST)."""
    server = oauth2.server()
    try:
        validated = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        log.warning("end_session refused: %s", error.description)
        return Response(
            render_template(
                "error.html",
                title=gettext("This sign-out request cannot be processed"),
                message=error.description,
            ),
            status=400,
        )
    confirmed = request.method == "POST" and csrf.is_valid()
    session = sso.current()
    hint_matches = (
        oauth2.hint_names_session(validated.id_token_claims, session) if session else False
    )
    if session is not None and not confirmed and not hint_matches:
        # No hint, or a hint for another session (old, foreign): ask this browser's user (§6).
        fields = {k: request.values[k] for k in FORWARDED_FIELDS if request.values.get(k)}
        if validated.client is not None and "client_id" not in fields:
            fields["client_id"] = validated.client.get_client_id()
        return Response(
            render_template("logout_confirm.html", fields=fields),
            headers={"Cache-Control": "no-store"},
        )
    g.setdefault(oauth2.LOGOUT_CONFIRMED, confirmed)
    response = server.create_endpoint_response("end_session", validated)
    if response is None:
        response = Response(render_template("logged_out.html"))
    response.headers["Cache-Control"] = "no-store"
    sso.clear_cookie(response)
    return response
