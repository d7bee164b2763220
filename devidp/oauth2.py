"""Every Authlib customisation of the IdP, in one module, and ``config_oauth(app)``.

Shaped like authlib/example-oidc-server ``website/oauth2.py``: subclasses that implement the
"Developers MUST implement" methods of Authlib's server components.

- :class:`AuthorizationCodeGrant`: RFC 6749 §4.1 with codes that are single-use (a replay
  revokes the tokens issued from the code, §4.1.2), live ``CODE_LIFETIME_SECONDS`` (and no
  longer than their SSO session), and are bound to the client, the redirect URI and the PKCE
  challenge.
- :class:`S256CodeChallenge`: RFC 7636 with ``S256`` required on every request (RFC 9700 §2.1.1).
- :class:`OpenIDCode`: OpenID Connect Core 1.0 §3.1.3.6 ID tokens, RS256 with ``kid``, carrying
  ``auth_time``, ``amr``, ``acr`` and ``sid`` of the SSO session (via ``get_auth_time()``,
  ``get_amr()``, ``get_acr()`` of the code, see ``authlib/oidc/core/models.py``).
- :class:`IssuerParameter`: RFC 9207 ``iss`` in authorization responses.
- :class:`UserInfoEndpoint`: Core §5.3, Bearer tokens (RFC 6750) checked by
  :class:`BearerTokenValidator`.
- :class:`EndSessionEndpoint`: RP-Initiated Logout 1.0, with unregistered
  ``post_logout_redirect_uri`` values refused rather than ignored.
"""

from __future__ import annotations

import hmac
import json
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenValidator as _BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core import UserInfo
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode as _OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import Flask
from flask import current_app
from flask import g
from joserfc import jwt
from joserfc.errors import JoseError

from . import clock
from . import config
from . import db
from . import keys
from . import sso
from . import users
from .config import ClientConfig
from .users import User

log = logging.getLogger(__name__)

SCOPES = ("openid", "profile", "email")
CODE_LIFETIME_SECONDS = 60
ACCESS_TOKEN_SECONDS = 3600
ID_TOKEN_SECONDS = 300
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


# --- models -----------------------------------------------------------------------------------


class Client(ClientMixin):
    """A registered relying party, from the config file."""

    id_token_signed_response_alg = keys.ALGORITHM

    def __init__(self, cfg: ClientConfig) -> None:
        self.cfg = cfg
        self.client_id = cfg.client_id
        self.client_name = cfg.client_name
        self.require_consent = cfg.require_consent

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {
            "client_name": self.cfg.client_name,
            "redirect_uris": list(self.cfg.redirect_uris),
            "post_logout_redirect_uris": list(self.cfg.post_logout_redirect_uris),
            "backchannel_logout_uri": self.cfg.backchannel_logout_uri,
        }

    def get_client_id(self) -> str:
        return self.cfg.client_id

    def get_default_redirect_uri(self) -> None:
        # OpenID Connect Core §3.1.2.1: redirect_uri is REQUIRED, so there is no default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        requested = scope_to_list(scope) or []
        if "openid" not in requested:
            return None  # -> invalid_scope: this is an OpenID provider
        return " ".join(s for s in SCOPES if s in requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.cfg.redirect_uris  # exact match, RFC 9700 §4.1.3

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.cfg.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method in TOKEN_AUTH_METHODS
        return True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass(frozen=True)
class Grantee:
    """The end user as Authlib sees them: the user plus the SSO session that authenticated them."""

    user: User
    session_key: str
    sid: str
    auth_time: int
    amr: tuple[str, ...]
    acr: str

    @classmethod
    def from_session(cls, user: User, session: sso.SSOSession) -> Grantee:
        return cls(user, session.key, session.sid, session.auth_time, session.amr, session.acr)


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code_hash: str
    client_id: str
    redirect_uri: str
    scope: str
    user_id: int
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    session_key: str
    sid: str
    auth_time: int
    amr: list[str]
    acr: str
    expires_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AuthorizationCode:
        data = {k: row[k] for k in row.keys() if k != "used"}  # noqa: SIM118 - sqlite3.Row
        data["amr"] = json.loads(data["amr"])
        return cls(**data)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_amr(self) -> list[str]:
        return self.amr

    def get_acr(self) -> str:
        return self.acr


@dataclass
class AccessToken(TokenMixin):
    token_hash: str
    client_id: str
    user_id: int
    scope: str
    issued_at: float
    expires_at: float
    revoked: bool

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        return self.expires_at <= clock.now()

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> User | None:
        return users.find_by_id(db.get_db(), self.user_id)

    def get_client(self) -> Client | None:
        return query_client(self.client_id)


# --- storage callbacks ------------------------------------------------------------------------


def query_client(client_id: str) -> Client | None:
    cfg = config.settings().clients.get(client_id)
    return Client(cfg) if cfg else None


def save_token(token: dict[str, Any], request: OAuth2Request) -> None:
    """Store the access token's hash and record the client as a participant of the SSO session."""
    code: AuthorizationCode = request.authorization_code
    now = clock.now()
    conn = db.get_db()
    conn.execute(
        "INSERT INTO access_tokens (token_hash, client_id, user_id, scope, issued_at, expires_at,"
        " code_hash, session_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            db.digest(token["access_token"]),
            request.client.get_client_id(),
            code.user_id,
            token.get("scope", ""),
            now,
            now + int(token.get("expires_in", ACCESS_TOKEN_SECONDS)),
            code.code_hash,
            code.session_key,
        ),
    )
    conn.commit()
    sso.add_client(conn, code.session_key, request.client.get_client_id())


def user_claims(user: User) -> UserInfo:
    """The claims about the user in ID tokens and at the UserInfo endpoint.

    ``groups`` (the config file's, an empty list when it gives none) is sent as authentik
    sends it with the profile scope, so the portal's PORTAL_ALLOWED_GROUPS can be tried here.
    """
    return UserInfo(
        sub=user.sub,
        preferred_username=user.username,
        name=user.name,
        email=user.email,
        groups=list(config.settings().groups_of(user.username)),
    )


# --- grants and extensions --------------------------------------------------------------------


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_AUTH_METHODS)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        grantee: Grantee = request.user
        data = request.payload.data
        conn = db.get_db()
        conn.execute(
            "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, scope, user_id,"
            " nonce, code_challenge, code_challenge_method, session_key, sid, auth_time, amr, acr,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                db.digest(code),
                request.client.get_client_id(),
                request.payload.redirect_uri,
                request.scope,
                grantee.user.id,
                data.get("nonce"),
                data.get("code_challenge"),
                data.get("code_challenge_method"),
                grantee.session_key,
                grantee.sid,
                grantee.auth_time,
                json.dumps(list(grantee.amr)),
                grantee.acr,
                clock.now() + CODE_LIFETIME_SECONDS,
            ),
        )
        conn.commit()

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """Claim the code for this client, once, while its SSO session lives.

        A second use revokes what the first issued.
        """
        conn = db.get_db()
        code_hash = db.digest(code)
        now = clock.now()
        # The SSO session that authenticated the user must still be live: a code issued just
        # before a logout (or the session's expiry) must not yield tokens after it.
        claimed = conn.execute(
            "UPDATE authorization_codes SET used = 1 "
            "WHERE code_hash = ? AND client_id = ? AND used = 0 AND expires_at > ? "
            "AND EXISTS (SELECT 1 FROM sso_sessions s WHERE s.key = authorization_codes.session_key"
            " AND s.ended_at IS NULL AND s.expires_at > ?) RETURNING *",
            (code_hash, client.get_client_id(), now, now),
        ).fetchone()
        conn.commit()
        if claimed is not None:
            return AuthorizationCode.from_row(claimed)
        replayed = conn.execute(
            "SELECT 1 FROM authorization_codes WHERE code_hash = ? AND client_id = ? AND used = 1",
            (code_hash, client.get_client_id()),
        ).fetchone()
        if replayed:
            conn.execute("UPDATE access_tokens SET revoked = 1 WHERE code_hash = ?", (code_hash,))
            conn.commit()
            log.warning(
                "authorization code replayed by client %s; its tokens are revoked",
                client.get_client_id(),
            )
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Already marked used in query_authorization_code; the row stays until it expires so
        # that a replay is recognised and the nonce stays known.
        return None

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Grantee | None:
        user = users.find_by_id(db.get_db(), authorization_code.user_id)
        if user is None:
            return None
        code = authorization_code
        return Grantee(user, code.session_key, code.sid, code.auth_time, tuple(code.amr), code.acr)


class S256CodeChallenge(CodeChallenge):
    """PKCE with ``S256`` required on every authorization request, public client or not."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: grants.BaseGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE 'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDCode(_OpenIDCode):
    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        row = (
            db.get_db()
            .execute(
                "SELECT 1 FROM authorization_codes WHERE client_id = ? AND nonce = ?",
                (request.payload.client_id, nonce),
            )
            .fetchone()
        )
        return row is not None

    def resolve_client_private_key(self, client: Client) -> Any:
        return keys.current().private

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return keys.current().header()

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        now = int(clock.now())
        return {
            "iss": config.settings().issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
        }

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode) -> dict:
        claims = super().get_authorization_code_claims(authorization_code)
        claims["sid"] = authorization_code.sid
        return claims

    def generate_user_info(self, user: Grantee, scope: str) -> UserInfo:
        return user_claims(user.user)


class IssuerParameter(_IssuerParameter):
    def get_issuer(self) -> str:
        return config.settings().issuer


class UserInfoEndpoint(_UserInfoEndpoint):
    def get_issuer(self) -> str:
        return config.settings().issuer

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        return user_claims(user)

    def resolve_private_key(self) -> Any:
        return keys.current().private

    def get_supported_algorithms(self) -> list[str]:
        return [keys.ALGORITHM]


class BearerTokenValidator(_BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> AccessToken | None:
        row = (
            db.get_db()
            .execute(
                "SELECT token_hash, client_id, user_id, scope, issued_at, expires_at, revoked "
                "FROM access_tokens WHERE token_hash = ?",
                (db.digest(token_string),),
            )
            .fetchone()
        )
        if row is None:
            return None
        return AccessToken(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - sqlite3.Row


class EndSessionEndpoint(_EndSessionEndpoint):
    def get_server_jwks(self) -> Any:
        return keys.public_key_set()

    def get_algorithms(self) -> list[str]:
        return [keys.ALGORITHM]

    def _validate_id_token_hint(self, id_token_hint: str) -> dict:
        """Check that this IdP issued the hint (§2); accept it expired.

        Authlib's version also refuses an ``iat`` ahead of the wall clock, which tokens issued
        while a test has moved the IdP clock forward have; here ``iss`` and the signature decide.
        """
        try:
            token = jwt.decode(id_token_hint, keys.public_key_set(), algorithms=[keys.ALGORITHM])
        except (JoseError, ValueError) as exc:
            raise InvalidRequestError("The 'id_token_hint' is not a valid ID token.") from exc
        if token.claims.get("iss") != config.settings().issuer:
            raise InvalidRequestError("The 'id_token_hint' was not issued by this provider.")
        return dict(token.claims)

    def validate_request(self, request: OAuth2Request) -> EndSessionRequest:
        data = request.payload.data
        client_id = data.get("client_id")
        if client_id and query_client(client_id) is None:
            raise InvalidRequestError("Unknown 'client_id'.")
        validated = super().validate_request(request)
        # §3: an unregistered post_logout_redirect_uri is an error, not a silent non-redirect.
        if data.get("post_logout_redirect_uri") and validated.redirect_uri is None:
            if validated.client is None:
                raise InvalidRequestError(
                    "A 'post_logout_redirect_uri' needs a 'client_id' or an 'id_token_hint'."
                )
            raise InvalidRequestError(
                "The 'post_logout_redirect_uri' is not registered for this client."
            )
        return validated

    def is_post_logout_redirect_uri_legitimate(
        self, request: OAuth2Request, post_logout_redirect_uri: str, client: Client, logout_hint
    ) -> bool:
        # The URI matched one registered for the client exactly, so it cannot redirect anywhere
        # the client did not choose; the request itself is confirmed by the user (see routes).
        return True

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        """End the browser's session if the hint names it (or the user confirmed), else nothing.

        With no SSO cookie, only the session named by the hint's ``sid`` ends. A hint for another
        session never ends the browser's one unless the user confirmed (``g`` flag set by the
        route), so an old or foreign ID token in a link cannot log anyone out.
        """
        claims = end_session_request.id_token_claims
        session = sso.current()
        if session is not None:
            if claims is None or hint_names_session(claims, session) or g.get(LOGOUT_CONFIRMED):
                sso.end(session, reason="end_session")
            return
        if claims and claims.get("sid"):
            named = sso.by_sid(db.get_db(), claims["sid"], clock.now())
            if named is not None:
                sso.end(named, reason="end_session")


LOGOUT_CONFIRMED = "devidp_logout_confirmed"


def hint_names_session(claims: dict | None, session: sso.SSOSession) -> bool:
    """Whether an ``id_token_hint``'s claims belong to ``session``: its ``sid``, else its ``sub``."""
    if not claims:
        return False
    if claims.get("sid"):
        return hmac.compare_digest(str(claims["sid"]), session.sid)
    user = users.find_by_id(db.get_db(), session.user_id)
    return user is not None and claims.get("sub") == user.sub


# --- wiring -----------------------------------------------------------------------------------


def server() -> AuthorizationServer:
    """The authorization server of the running app."""
    return current_app.extensions["devidp.authorization"]


def issuer_parameter() -> IssuerParameter:
    return current_app.extensions["devidp.issuer_parameter"]


def config_oauth(app: Flask) -> None:
    """Build the authorization server, its grants and endpoints for ``app``."""
    app.config.setdefault("OAUTH2_TOKEN_EXPIRES_IN", {"authorization_code": ACCESS_TOKEN_SECONDS})
    authorization = AuthorizationServer()
    authorization.init_app(app, query_client=query_client, save_token=save_token)
    authorization.register_grant(
        AuthorizationCodeGrant, [OpenIDCode(require_nonce=False), S256CodeChallenge(required=True)]
    )
    issuer = IssuerParameter()
    authorization.register_extension(issuer)

    require_oauth = ResourceProtector()
    require_oauth.register_token_validator(BearerTokenValidator())
    authorization.register_endpoint(UserInfoEndpoint(resource_protector=require_oauth))
    authorization.register_endpoint(EndSessionEndpoint)

    app.extensions["devidp.authorization"] = authorization
    app.extensions["devidp.issuer_parameter"] = issuer
