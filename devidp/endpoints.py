"""The protocol routes. Thin by design: each one hands over to Authlib or to one module.

Paths are fixed and published by discovery: ``/authorize``, ``/token``, ``/userinfo``, ``/jwks``,
``/end-session``, ``/.well-known/openid-configuration``, plus ``/healthz`` for process checks.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import jsonify

from . import authorize as authorize_endpoint
from . import config
from . import discovery
from . import keys
from . import logout
from . import oauth2

bp = Blueprint("protocol", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return Response("ok", mimetype="text/plain")


@bp.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return jsonify(discovery.metadata(config.settings().issuer))


@bp.get("/jwks")
def jwks() -> Response:
    return jsonify(keys.jwks())


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    return authorize_endpoint.handle()


@bp.post("/token")
def token() -> Response:
    return oauth2.server().create_token_response()


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    return oauth2.server().create_endpoint_response("userinfo")


@bp.route("/end-session", methods=["GET", "POST"])
def end_session() -> Response:
    return logout.handle()
