"""A small but real OpenID provider for tests: HTTP on 127.0.0.1, a free port, in a thread.

It is what ``portal.testing`` gives a test as ``mock_idp``, and it is the only IdP double of
the project's own tests. It serves discovery, JWKS, authorize, token, userinfo and
end-session (OpenID Connect Core 1.0 Section 3.1, Discovery 1.0, RP-Initiated Logout 1.0),
signs ID tokens with RS256, and is strict where a relying party could go wrong: a registered
redirect URI, PKCE S256 (RFC 7636), a single-use code bound to its client and redirect URI,
client authentication, the nonce and ``iss`` (RFC 9207) in the answer.

Why a server on a loopback port rather than ``responses`` (which mocks ``requests`` inside
the process): the portal then talks to it exactly as to authentik or Keycloak, through its
real HTTP client, timeouts and connection errors included; nothing in ``requests`` is
patched, so a deployer's own HTTP calls in the same test are untouched; and ``responses``
would have to become a runtime dependency of the plugin. A loopback issuer needs no TLS: the
portal accepts http on loopback hosts only. It is built on werkzeug (already a dependency,
through Flask) rather than Authlib's server side, because a test double must also be able to
misbehave on demand (:meth:`MockIdP.down`, :meth:`MockIdP.respond`, claims without a second
factor), which a complete provider framework makes awkward. The development IdP in devidp/
is the complete provider, for the demo and the integration tests.

The customer a login signs in is chosen by the test, as claims (``sub``, ``email``, ``name``,
``groups``, ``amr``, ``acr``, ``auth_time`` ...): :meth:`MockIdP.sign_in` drives a Flask test
client of the portal through ``/login``, this provider's authorization endpoint (over HTTP,
as a browser would) and ``/auth/callback``, where the portal redeems the code here.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json as jsonlib
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote
from urllib.parse import urlencode
from urllib.parse import urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from werkzeug.test import TestResponse

#: The endpoints, by the names :meth:`MockIdP.down` and :meth:`MockIdP.respond` take.
ENDPOINTS = ("discovery", "jwks", "authorize", "token", "userinfo", "end_session")
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Claims that userinfo answers with, when the ID token carried them.
PROFILE_CLAIMS = ("preferred_username", "name", "email", "email_verified", "groups")
CODE_LIFETIME = 60
TOKEN_LIFETIME = 300

#: The customer every login signs in unless the test says otherwise: password and TOTP.
DEFAULT_CLAIMS: dict[str, Any] = {
    "sub": "user-123",
    "preferred_username": "alice",
    "name": "Alice Example",
    "email": "alice@example.com",
    "amr": ["pwd", "otp", "mfa"],
    "acr": "urn:mock-idp:mfa",
}

_UNSET: Any = object()


@lru_cache(maxsize=16)
def _signing_key(kid: str) -> RSAKey:
    """An RSA key per kid, made once per process: 2048-bit generation costs ~0.1 s a key."""
    return RSAKey.generate_key(
        2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True
    )


@dataclass(frozen=True)
class SeenRequest:
    """One request the provider received (for tests that count or inspect calls)."""

    endpoint: str | None
    method: str
    path: str
    args: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    dropped: bool = False


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    claims: dict[str, Any]
    issued_at: float
    used: bool = False


class MockIdP:
    """An OpenID provider for tests; see the module docstring.

    Use it as a context manager (``with MockIdP() as idp:``) or through the ``mock_idp``
    fixture of ``portal.testing``, which starts and stops it around each test.

    What a test may change at any time:

    - ``claims``: the claims every login's ID token carries (``DEFAULT_CLAIMS`` to begin
      with); a login's own claims (``sign_in(client, groups=["billing"])``) come on top, and
      a claim set to None is left out (``amr=None``).
    - ``metadata``: the discovery document as served; a key set to None is left out.
    - ``id_token_factory``: a function from claims to the ID token string, to forge tokens
      (unsigned, wrong key, HS256); None signs them properly.
    - ``clock``: the time the provider issues tokens at (the ``portal_clock`` fixture's).

    What a test may read: ``issuer`` and ``origin``; ``requests`` (every request received,
    as :class:`SeenRequest`; ``calls(endpoint)`` counts them); ``id_tokens`` and
    ``access_tokens`` issued; ``last_sid`` and ``last_sub`` of the last ID token; ``key``
    (the signing key, a joserfc ``RSAKey``); ``errors`` (failures inside the mock itself).
    """

    def __init__(
        self,
        *,
        issuer_path: str = "",
        client_id: str = "portal",
        client_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer_path = issuer_path
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.clock = clock
        self.claims: dict[str, Any] = dict(DEFAULT_CLAIMS)
        self.metadata: dict[str, Any] = {}
        self.id_token_factory: Callable[[dict[str, Any]], str] | None = None
        self.key = _signing_key("mock-1")
        self.keys: list[RSAKey] = [self.key]
        self.requests: list[SeenRequest] = []
        self.id_tokens: list[str] = []
        self.access_tokens: list[str] = []
        self.errors: list[str] = []
        self.redirect_uris: set[str] = set()
        self.post_logout_redirect_uris: set[str] = set()
        self.last_sid: str | None = None
        self.last_sub: str | None = None
        self._key_numbers = itertools.count(2)
        self._sid_numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._grants: dict[str, _Grant] = {}
        self._access_tokens: dict[str, dict[str, Any]] = {}
        self._login_claims: dict[str, dict[str, Any]] = {}
        self._down: set[str] = set()
        self._answers: dict[str, Callable[[Request], Response]] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.origin = ""
        self.issuer = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MockIdP:
        """Listen on 127.0.0.1 and a port the system picks (never a fixed one)."""
        server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Handler)
        server.mock_idp = self  # type: ignore[attr-defined]
        self._server = server
        self.origin = f"http://127.0.0.1:{server.server_port}"
        path = self.issuer_path
        self.issuer = self.origin + (("/" + path.lstrip("/")) if path else "")
        self.metadata = self._default_metadata() | self.metadata
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and wait for the server thread."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None

    def __enter__(self) -> MockIdP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- registration and portal settings --------------------------------------------------

    def register_portal(self, base_url: str) -> None:
        """Register the portal at ``base_url``: its callback and logged-out URIs."""
        base = base_url.rstrip("/")
        self.redirect_uris.add(f"{base}/auth/callback")
        self.post_logout_redirect_uris.add(f"{base}/logged-out")

    def portal_env(self, session_dir: Path | str, **overrides: str) -> dict[str, str]:
        """``PORTAL_*`` settings of a portal registered here, sessions in ``session_dir``.

        Pass the result to ``portal.create_app``. ``overrides`` win (PORTAL_BASE_URL too: the
        portal is registered at whatever base URL the result names).
        """
        env = {
            "PORTAL_OIDC_ISSUER": self.issuer,
            "PORTAL_OIDC_CLIENT_ID": self.client_id,
            "PORTAL_OIDC_CLIENT_SECRET": self.client_secret,
            "PORTAL_BASE_URL": "http://localhost",
            "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
            "PORTAL_SESSION_BACKEND": "filesystem",
            "PORTAL_SESSION_DIR": str(session_dir),
            **overrides,
        }
        self.register_portal(env["PORTAL_BASE_URL"])
        return env

    # -- misbehaviour ----------------------------------------------------------------------

    def down(self, *endpoints: str) -> None:
        """Drop every connection to ``endpoints`` (all when none named) without an answer,
        as an IdP that is down or unreachable does; the portal sees a connection error."""
        self._down.update(self._check(endpoints) or {"*"})

    def up(self, *endpoints: str) -> None:
        """Answer again on ``endpoints`` (all when none named)."""
        if endpoints:
            self._down.difference_update(self._check(endpoints))
        else:
            self._down.clear()

    def respond(
        self,
        endpoint: str,
        *,
        status: int = 200,
        json: Any = _UNSET,
        body: str | bytes = "",
        content_type: str | None = None,
        handler: Callable[[Request], Response] | None = None,
    ) -> None:
        """Answer ``endpoint`` with a canned response instead of the real one.

        ``json`` (any JSON value) or ``body``; or ``handler``, a function from the werkzeug
        request to a werkzeug response (for an answer that must wait, or look at the request).
        :meth:`reset` restores the real answer.
        """
        (name,) = self._check((endpoint,))
        if handler is None:
            if json is not _UNSET:
                payload: str | bytes = jsonlib.dumps(json)
                mimetype = content_type or "application/json"
            else:
                payload, mimetype = body, content_type or "text/html"

            def handler(request: Request) -> Response:
                return Response(payload, status=status, content_type=mimetype)

        self._answers[name] = handler

    def reset(self, *endpoints: str) -> None:
        """Undo :meth:`respond` and :meth:`down` for ``endpoints`` (all when none named)."""
        names = self._check(endpoints) or set(ENDPOINTS)
        for name in names:
            self._answers.pop(name, None)
        self._down.difference_update(names | ({"*"} if not endpoints else set()))

    def rotate_key(self) -> RSAKey:
        """Sign with a new key (new ``kid``) and stop publishing the old one."""
        self.key = _signing_key(f"mock-{next(self._key_numbers)}")
        self.keys = [self.key]
        return self.key

    def calls(self, endpoint: str) -> int:
        """How many requests ``endpoint`` received (dropped ones included)."""
        return sum(1 for seen in self.requests if seen.endpoint == endpoint)

    # -- tokens ----------------------------------------------------------------------------

    def sign(
        self, claims: Mapping[str, Any], key: Any = None, alg: str = "RS256", **header: Any
    ) -> str:
        """A JWT of ``claims`` signed with this provider's key (or ``key``)."""
        key = self.key if key is None else key
        protected = {"alg": alg, **header}
        if "kid" not in protected and getattr(key, "kid", None):
            protected["kid"] = key.kid
        return jwt.encode(protected, dict(claims), key, algorithms=[alg])

    def logout_token(self, *, key: Any = None, **claims: Any) -> str:
        """A back-channel logout token (Back-Channel Logout 1.0, Section 2.4).

        ``sid`` and ``sub`` default to those of the last ID token issued; None leaves one
        out. Other claims (``jti``, ``iat`` ...) may be overridden the same way.
        """
        now = int(self.clock())
        values: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
            "events": {BACKCHANNEL_EVENT: {}},
            "sid": self.last_sid,
            "sub": self.last_sub or self.claims.get("sub"),
            **claims,
        }
        values = {k: v for k, v in values.items() if v is not None}
        return self.sign(values, key, typ="logout+jwt")

    # -- the portal's side of a login, driven through a Flask test client ------------------

    def begin(self, client: FlaskClient, path: str = "/login", **request: Any) -> dict[str, str]:
        """GET ``path`` on the portal; return the authorization request it sends here."""
        response = client.get(path, **request)
        return self.authorization_params(response)

    def authorization_params(self, response: TestResponse) -> dict[str, str]:
        """The parameters of the authorization request a portal response redirects to."""
        location = response.headers.get("Location", "")
        endpoint = str(self.metadata.get("authorization_endpoint"))
        if response.status_code not in (302, 303) or not location.startswith(endpoint + "?"):
            raise AssertionError(
                f"the portal did not send the browser to the mock IdP: {response.status_code} "
                f"Location={location!r} {response.get_data(as_text=True)[:300]}"
            )
        return dict(parse_qsl(urlsplit(location).query))

    def authorize(self, params: Mapping[str, str], **claims: Any) -> dict[str, str]:
        """Send the authorization request here over HTTP, as the browser would, signing in
        the customer ``claims`` describe; return the parameters of the redirect back."""
        state = params.get("state", "")
        with self._lock:
            self._login_claims[state] = claims
        url = str(self.metadata.get("authorization_endpoint"))
        with requests.Session() as http:
            http.trust_env = False  # no proxy between a test and a loopback server
            answer = http.get(url, params=dict(params), allow_redirects=False, timeout=10)
        if answer.status_code not in (302, 303):
            raise AssertionError(
                f"the mock IdP refused the authorization request: {answer.status_code} "
                f"{answer.text[:300]}"
            )
        return dict(parse_qsl(urlsplit(answer.headers["Location"]).query))

    def callback(
        self,
        client: FlaskClient,
        params: Mapping[str, str],
        *,
        claims: Mapping[str, Any] | None = None,
        base_url: str | None = None,
        **query: str | None,
    ) -> TestResponse:
        """Authorize ``params`` here, then GET the portal's callback with the answer.

        ``query`` changes the callback's parameters (None removes one), to play an attacker
        or a broken IdP: ``callback(client, params, state="forged", iss=None)``.
        """
        answer: dict[str, str | None] = {**self.authorize(params, **(claims or {})), **query}
        sent = {k: v for k, v in answer.items() if v is not None}
        extra = {"base_url": base_url} if base_url else {}
        return client.get(urlsplit(params["redirect_uri"]).path, query_string=sent, **extra)

    def login(self, client: FlaskClient, *, next: str | None = None, **claims: Any) -> TestResponse:
        """The whole login with ``claims``; return the portal's answer to the callback,
        whatever it is (a redirect when signed in, an error page when refused)."""
        path = "/login" + ("?" + urlencode({"next": next}) if next else "")
        return self.callback(client, self.begin(client, path), claims=claims)

    def sign_in(
        self, client: FlaskClient, *, next: str | None = None, **claims: Any
    ) -> TestResponse:
        """Like :meth:`login`, and fail the test unless the portal signed the customer in."""
        response = self.login(client, next=next, **claims)
        # the redirection page after a sign-in; the page itself when auth_time says the
        # sign-in is older than this login (a silent login through the SSO session)
        landed = {"/auth/signed-in", next or "/account"}
        if response.status_code != 302 or response.headers.get("Location") not in landed:
            raise AssertionError(
                f"the portal did not sign in the mock IdP's customer: {response.status_code} "
                f"{response.get_data(as_text=True)[:500]}"
            )
        return response

    def backchannel_logout(self, client: FlaskClient, **claims: Any) -> TestResponse:
        """POST a logout token (:meth:`logout_token` with ``claims``) to the portal, as the
        IdP does when its session ends."""
        token = self.logout_token(**claims)
        return client.post("/auth/backchannel-logout", data={"logout_token": token})

    # -- the server ------------------------------------------------------------------------

    def _default_metadata(self) -> dict[str, Any]:
        origin = self.origin
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{origin}/authorize",
            "token_endpoint": f"{origin}/token",
            "userinfo_endpoint": f"{origin}/userinfo",
            "jwks_uri": f"{origin}/jwks",
            "end_session_endpoint": f"{origin}/end-session",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "grant_types_supported": ["authorization_code"],
            "scopes_supported": ["openid", "profile", "email"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "name", "preferred_username", "email", "groups"],
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
        }

    def _endpoint_of(self, path: str) -> str | None:
        discovery = urlsplit(self.issuer).path.rstrip("/") + "/.well-known/openid-configuration"
        if path == discovery:
            return "discovery"
        return {
            "/jwks": "jwks",
            "/authorize": "authorize",
            "/token": "token",
            "/userinfo": "userinfo",
            "/end-session": "end_session",
        }.get(path)

    def _is_down(self, endpoint: str | None) -> bool:
        return "*" in self._down or endpoint in self._down

    def _check(self, endpoints: tuple[str, ...]) -> set[str]:
        unknown = [e for e in endpoints if e not in ENDPOINTS]
        if unknown:
            raise ValueError(f"unknown endpoint(s) {unknown}; the endpoints are {ENDPOINTS}")
        return set(endpoints)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        endpoint = self._endpoint_of(request.path)
        form = dict(request.form) if request.method == "POST" else {}
        self.requests.append(
            SeenRequest(endpoint, request.method, request.path, dict(request.args), form)
        )
        try:
            if endpoint in self._answers:
                response = self._answers[endpoint](request)
            elif endpoint is None:
                response = Response("not found", status=404)
            else:
                response = getattr(self, f"_serve_{endpoint}")(request)
        except Exception:
            self.errors.append(traceback.format_exc())
            response = Response("mock IdP error", status=500)
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def _serve_discovery(self, request: Request) -> Response:
        return _json({k: v for k, v in self.metadata.items() if v is not None})

    def _serve_jwks(self, request: Request) -> Response:
        return _json({"keys": [k.as_dict(private=False) for k in self.keys]})

    def _serve_authorize(self, request: Request) -> Response:
        """Core 1.0, Section 3.1.2: the customer is signed in at once, with the test's claims."""
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("unknown client_id", status=400)
        redirect_uri = args.get("redirect_uri", "")
        if redirect_uri not in self.redirect_uris:
            return Response(f"redirect_uri not registered: {redirect_uri}", status=400)
        state = args.get("state")

        def back(**answer: str) -> Response:
            query = {**answer, "iss": self.issuer}
            if state is not None:
                query["state"] = state
            return Response(status=302, headers={"Location": f"{redirect_uri}?{urlencode(query)}"})

        if args.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "openid" not in args.get("scope", "").split():
            return back(error="invalid_scope", error_description="openid scope missing")
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE S256 required")
        with self._lock:
            claims = self._login_claims.pop(state or "", {})
        code = secrets.token_urlsafe(24)
        grant = _Grant(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            code_challenge=args["code_challenge"],
            nonce=args.get("nonce"),
            claims=claims,
            issued_at=self.clock(),
        )
        with self._lock:
            self._grants[code] = grant
        return back(code=code)

    def _client_authenticated(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode()
            except ValueError:
                return False
            client_id, _, secret = decoded.partition(":")
        else:
            client_id = request.form.get("client_id", "")
            secret = request.form.get("client_secret", "")
        return unquote(client_id) == self.client_id and secrets.compare_digest(
            unquote(secret), self.client_secret
        )

    def _serve_token(self, request: Request) -> Response:
        """Core 1.0, Section 3.1.3 and RFC 7636 Section 4.6."""
        if request.method != "POST":
            return _json({"error": "invalid_request"}, 405)
        if not self._client_authenticated(request):
            return _json({"error": "invalid_client"}, 401)
        form = request.form
        if form.get("grant_type") != "authorization_code":
            return _json({"error": "unsupported_grant_type"}, 400)
        with self._lock:
            grant = self._grants.get(form.get("code", ""))
            fresh = grant is not None and not grant.used
            if grant is not None:
                grant.used = True
        now = self.clock()
        if grant is None or not fresh or now - grant.issued_at > CODE_LIFETIME:
            return _json({"error": "invalid_grant", "error_description": "code unknown"}, 400)
        if form.get("redirect_uri") != grant.redirect_uri:
            return _json({"error": "invalid_grant", "error_description": "redirect_uri"}, 400)
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if not verifier or not secrets.compare_digest(challenge, grant.code_challenge):
            return _json({"error": "invalid_grant", "error_description": "PKCE verifier"}, 400)
        claims = self._id_token_claims(grant, now)
        raw = self.id_token_factory(claims) if self.id_token_factory else self.sign(claims)
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens[access_token] = {
                k: claims[k] for k in ("sub", *PROFILE_CLAIMS) if k in claims
            }
            self.id_tokens.append(raw)
            self.access_tokens.append(access_token)
            self.last_sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
            self.last_sub = claims.get("sub") if isinstance(claims.get("sub"), str) else None
        return _json(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "scope": "openid profile email",
                "id_token": raw,
            }
        )

    def _id_token_claims(self, grant: _Grant, now: float) -> dict[str, Any]:
        issued = int(now)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
            "auth_time": issued,
            "nonce": grant.nonce,
            **self.claims,
            **grant.claims,
        }
        if "sid" not in self.claims and "sid" not in grant.claims:
            claims["sid"] = f"sid-{next(self._sid_numbers)}"
        return {k: v for k, v in claims.items() if v is not None}

    def _serve_userinfo(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        with self._lock:
            claims = self._access_tokens.get(header.removeprefix("Bearer "))
        if not header.startswith("Bearer ") or claims is None:
            return _json({"error": "invalid_token"}, 401)
        return _json(claims)

    def _serve_end_session(self, request: Request) -> Response:
        """RP-Initiated Logout 1.0, Section 2-3: back to a registered URI with the state."""
        values = request.values
        target = values.get("post_logout_redirect_uri")
        if target is None:
            return Response("You are logged out.", status=200, content_type="text/plain")
        if target not in self.post_logout_redirect_uris:
            return Response(f"post_logout_redirect_uri not registered: {target}", status=400)
        query = {"state": values["state"]} if "state" in values else {}
        location = target + ("?" + urlencode(query) if query else "")
        return Response(status=302, headers={"Location": location})


def _json(value: Any, status: int = 200) -> Response:
    return Response(jsonlib.dumps(value), status=status, content_type="application/json")


class _Handler(WSGIRequestHandler):
    """werkzeug's handler, quiet, and able to drop a connection as a dead IdP would."""

    def run_wsgi(self) -> None:
        idp: MockIdP = self.server.mock_idp  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        endpoint = idp._endpoint_of(path)
        if idp._is_down(endpoint):
            idp.requests.append(SeenRequest(endpoint, self.command, path, {}, dropped=True))
            self.close_connection = True
            return
        super().run_wsgi()

    def log(self, type: str, message: str, *args: Any) -> None:
        """No access log: the test's log capture must hold only what the portal logs."""
