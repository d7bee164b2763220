"""The portal's OpenID provider, reached through Authlib's Flask client.

Authlib does what it is good at: discovery, the authorization URL with PKCE (S256), state and
nonce kept in the session, the token request with client authentication, userinfo, and the
end-session URL. The ID token itself is checked by :mod:`portal.oidc`, with keys from
:mod:`portal.jwks`, because the portal's rules are stricter than Authlib's defaults (see
portal/oidc.py). This module turns every failure into :class:`LoginFailed` with a status and
a loggable reason, so routes stay thin.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import Response
from flask import current_app
from flask import redirect
from flask import session

from portal import i18n
from portal import metrics
from portal import oidc
from portal.clock import Clock
from portal.fetch_gate import Busy
from portal.fetch_gate import FetchGate
from portal.jwks import JwksCache
from portal.settings import Settings

log = logging.getLogger("portal.oidc")

PROVIDER_NAME = "idp"
SCOPE = "openid profile email"
MAX_PARAM_LENGTH = 2048
PROFILE_CLAIMS = ("preferred_username", "name", "email")


class LoginFailed(Exception):
    """A sign-in that cannot complete. ``reason`` is for the log, ``kind`` picks the page,
    ``cause`` is the refusal's name in the metrics and the audit trail (one of
    :data:`portal.metrics.LOGIN_RESULTS`; derived from ``kind`` when not given)."""

    def __init__(
        self, reason: str, *, status: int = 400, kind: str = "failed", cause: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.kind = kind
        self.cause = cause or _CAUSE_OF_KIND.get(kind, "token")


_CAUSE_OF_KIND = {
    "unreachable": "idp_unreachable",
    "misconfigured": "idp_misconfigured",
    "denied": "idp_error",
    "mfa": "mfa",
    "group": "group",
}


class ProviderUnreachable(LoginFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(reason, status=503, kind="unreachable")


@dataclass
class LoginResult:
    claims: dict[str, Any]
    profile: dict[str, Any]
    next_target: str
    flow: dict[str, Any] = field(default_factory=dict)
    #: The IdP asked for a password or a code during this login (see
    #: :func:`portal.oidc.signed_in_during_login`); False when it passed through a live SSO.
    interactive: bool = True


class PortalOAuth2App(FlaskOAuth2App):
    """Authlib's Flask client with the discovery document checked and cached once.

    While discovery cannot be loaded, the fetch is not repeated for every request, nor queued
    for: see :class:`~portal.fetch_gate.FetchGate` (``gate`` is set by :func:`init_app`).
    """

    expected_issuer: str = ""
    gate: FetchGate

    def load_server_metadata(self) -> dict[str, Any]:
        if "_loaded_at" in self.server_metadata:
            return self.server_metadata
        try:
            return self.gate.run(self._fetch_server_metadata, done=self._loaded_metadata)
        except Busy:
            raise ProviderUnreachable("discovery under way in another request") from None

    def _loaded_metadata(self) -> dict[str, Any] | None:
        return self.server_metadata if "_loaded_at" in self.server_metadata else None

    def _fetch_server_metadata(self) -> dict[str, Any]:
        # Fetched into a local dict and published only after the issuer check, so another
        # thread never sees a document that is about to be refused.
        try:
            with metrics.idp_request("discovery"), self._get_session() as http:
                resp = http.request("GET", self._server_metadata_url, withhold_token=True)
                resp.raise_for_status()
                metadata = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnreachable(f"discovery failed: {type(exc).__name__}") from None
        if not isinstance(metadata, dict):
            raise LoginFailed("discovery document is not a JSON object", status=502)
        # Discovery 1.0, Section 4.3: the document's issuer must be the one we asked for.
        if metadata.get("issuer") != self.expected_issuer:
            raise LoginFailed(
                f"discovery issuer {metadata.get('issuer')!r} differs from PORTAL_OIDC_ISSUER "
                f"{self.expected_issuer!r}",
                status=502,
                kind="misconfigured",
            )
        self.server_metadata.update(metadata)
        self.server_metadata["_loaded_at"] = time.time()
        return self.server_metadata


class PortalOAuth(OAuth):
    oauth2_client_cls = PortalOAuth2App


@dataclass
class Provider:
    """One configured provider: the Authlib client plus the portal's key cache and rules."""

    settings: Settings
    clock: Clock
    client: PortalOAuth2App
    jwks: JwksCache = field(init=False)

    def __post_init__(self) -> None:
        self.jwks = JwksCache(self._fetch_jwks, self.clock)

    @property
    def expected(self) -> oidc.Expected:
        return oidc.Expected(
            issuer=self.settings.issuer,
            client_id=self.settings.client_id,
            algorithms=self.settings.id_token_algorithms,
            clock_skew=self.settings.clock_skew,
        )

    def metadata(self) -> dict[str, Any]:
        return self.client.load_server_metadata()

    def _fetch_jwks(self) -> dict[str, Any]:
        uri = self.metadata().get("jwks_uri")
        if not uri:
            raise LoginFailed("discovery has no jwks_uri", status=502, kind="misconfigured")
        try:
            with metrics.idp_request("jwks"):
                resp = requests.get(uri, timeout=self.settings.http_timeout)
                resp.raise_for_status()
                return resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnreachable(f"JWKS fetch failed: {type(exc).__name__}") from None

    def begin_login(
        self,
        next_target: str,
        *,
        prompt: str | None = None,
        max_age: int | None = None,
        flow: dict[str, Any] | None = None,
    ) -> Response:
        """Redirect to the IdP: code flow, PKCE S256, state and nonce kept server-side, and the
        page's language as ``ui_locales``."""
        # Without a stricter max_age, ask for a sign-in no older than the portal will keep a
        # session for: an IdP whose SSO session outlives PORTAL_SSO_MAX_AGE re-authenticates
        # instead of handing over a sign-in the portal would end at once.
        if max_age is None:
            max_age = self.settings.sso_max_age
        params: dict[str, Any] = {"nonce": generate_token(24), "max_age": max_age}
        # the IdP's screens in the page's language (OpenID Connect Core 1.0 §3.1.2.1)
        params["ui_locales"] = i18n.current_language()
        if prompt:
            params["prompt"] = prompt
        rv = self.client.create_authorization_url(self.settings.redirect_uri, **params)
        self.client.save_authorize_data(
            redirect_uri=self.settings.redirect_uri,
            next=next_target,
            max_age=max_age,
            flow=flow or {},
            started_at=self.clock.now(),
            **rv,
        )
        return redirect(rv["url"])

    def finish_login(self, args: dict[str, str]) -> LoginResult:
        """Validate the authorization response, redeem the code, check the ID token."""
        for name, value in args.items():
            if len(name) > 64 or len(value) > MAX_PARAM_LENGTH:
                raise LoginFailed("oversized callback parameter", cause="bad_request")
        state = args.get("state")
        if not state:
            raise LoginFailed("callback without state", cause="state")
        framework = self.client.framework
        data = framework.get_state_data(session, state)
        framework.clear_state_data(session, state)
        if not data or "nonce" not in data:
            raise LoginFailed(
                "state unknown to this browser session (expired, replayed or forged)",
                cause="state",
            )
        # Authlib keeps an expiry beside the state but does not check it when reading.
        if self.clock.now() - float(data.get("started_at", 0)) > self.settings.login_timeout:
            raise LoginFailed(
                "login took longer than PORTAL_LOGIN_TIMEOUT (state expired)", cause="state"
            )
        metadata = self.metadata()
        try:
            oidc.check_response_issuer(
                args.get("iss"),
                self.settings.issuer,
                bool(metadata.get("authorization_response_iss_parameter_supported")),
            )
        except oidc.TokenError as exc:
            raise LoginFailed(exc.reason) from None
        if "error" in args:
            kind = "denied" if args["error"] == "access_denied" else "failed"
            raise LoginFailed(
                f"IdP returned error={args['error'][:64]!r}", kind=kind, cause="idp_error"
            )
        code = args.get("code")
        if not code:
            raise LoginFailed("callback without code", cause="bad_request")

        token = self._redeem(code, data)
        raw_id_token = token.get("id_token")
        if not isinstance(raw_id_token, str):
            raise LoginFailed("token response has no id_token", status=502)
        now = self.clock.now()
        try:
            claims = oidc.validate_id_token(
                raw_id_token,
                find_key=self.jwks.find_key,
                expected=self.expected,
                nonce=data.get("nonce", ""),
                now=now,
                max_age=data.get("max_age"),
            )
        except Busy:
            raise ProviderUnreachable("JWKS fetch under way in another request") from None
        except oidc.SymmetricSignature as exc:
            raise LoginFailed(
                f"IdP misconfigured: {exc.reason}", status=502, kind="misconfigured"
            ) from None
        except oidc.TokenError as exc:
            raise LoginFailed(f"ID token refused: {exc.reason}", status=502) from None
        if float(claims["auth_time"]) + self.settings.sso_max_age <= now:
            raise LoginFailed("sign-in at the IdP is older than PORTAL_SSO_MAX_AGE", status=502)
        profile = self._profile(claims, token)
        result = LoginResult(
            claims=claims,
            profile=profile,
            next_target=data.get("next") or "/account",
            flow=dict(data.get("flow") or {}),
            interactive=oidc.signed_in_during_login(
                claims, login_started_at=float(data.get("started_at", 0)), now=now
            ),
        )
        if self.settings.require_mfa:
            try:
                oidc.check_mfa_evidence(claims, self.settings.mfa_amr, self.settings.mfa_acr)
            except oidc.MissingMfaEvidence as exc:
                raise MfaEvidenceMissing(exc.reason, result) from None
        try:
            oidc.check_groups(
                result.profile.get("groups"),
                self.settings.allowed_groups,
                self.settings.groups_claim,
            )
        except oidc.NotInAllowedGroup as exc:
            raise GroupRefused(exc.reason, result) from None
        return result

    def _redeem(self, code: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            with metrics.idp_request("token"):
                return dict(
                    self.client.fetch_access_token(
                        redirect_uri=data.get("redirect_uri"),
                        code=code,
                        code_verifier=data.get("code_verifier"),
                    )
                )
        except OAuthError as exc:
            raise LoginFailed(f"token request refused: {exc.error}") from None
        except ValueError as exc:
            raise LoginFailed(
                f"token response unreadable: {type(exc).__name__}", status=502
            ) from None
        except requests.RequestException as exc:
            raise ProviderUnreachable(f"token request failed: {type(exc).__name__}") from None

    def _profile(self, claims: dict[str, Any], token: dict[str, Any]) -> dict[str, Any]:
        """Profile claims from the ID token; userinfo only when some are missing there.

        ``groups`` is the PORTAL_GROUPS_CLAIM claim (absent when the IdP sent none): from the
        ID token, else from userinfo, which is asked for it too when PORTAL_ALLOWED_GROUPS
        needs it (Keycloak's mapper may be set for userinfo only).
        """
        claim = self.settings.groups_claim
        profile = {k: claims[k] for k in PROFILE_CLAIMS if k in claims}
        groups = oidc.groups_in(claims, claim)
        endpoint = self.metadata().get("userinfo_endpoint")
        needs_groups = bool(self.settings.allowed_groups) and groups is None
        if endpoint and (len(profile) < len(PROFILE_CLAIMS) or needs_groups):
            userinfo = self._userinfo(endpoint, token, claims["sub"])
            profile = {**{k: userinfo[k] for k in PROFILE_CLAIMS if k in userinfo}, **profile}
            if groups is None:
                groups = oidc.groups_in(userinfo, claim)
        if groups is not None:
            profile["groups"] = list(groups)
        return profile

    def _userinfo(self, endpoint: str, token: dict[str, Any], sub: str) -> dict[str, Any]:
        try:
            with metrics.idp_request("userinfo"):
                resp = requests.get(
                    endpoint,
                    headers={"Authorization": f"Bearer {token.get('access_token', '')}"},
                    timeout=self.settings.http_timeout,
                )
                resp.raise_for_status()
                userinfo = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnreachable(f"userinfo failed: {type(exc).__name__}") from None
        if not isinstance(userinfo, dict):
            raise LoginFailed("userinfo is not a JSON object", status=502)
        try:
            oidc.check_userinfo_subject(userinfo, sub)
        except oidc.TokenError as exc:
            raise LoginFailed(exc.reason, status=502) from None
        return userinfo

    def logout_redirect(self) -> Response | None:
        """RP-initiated logout with ``client_id``, ``post_logout_redirect_uri`` and ``state``
        only (never a token in the URL); None when the provider has no end_session_endpoint."""
        if not self.metadata().get("end_session_endpoint"):
            return None
        return self.client.logout_redirect(
            post_logout_redirect_uri=self.settings.post_logout_redirect_uri,
            client_id=self.settings.client_id,
        )

    def logout_confirmed(self, state: str | None) -> bool:
        """True when the browser came back from end-session with the state we sent."""
        if not state or len(state) > MAX_PARAM_LENGTH:
            return False
        framework = self.client.framework
        data = framework.get_state_data(session, state)
        framework.clear_state_data(session, state)
        # a login state must not pass for a logout confirmation: same store, other purpose
        return bool(data) and "post_logout_redirect_uri" in data

    def validate_logout_token(self, raw: str) -> dict[str, Any]:
        """Back-channel logout token checks (the jti replay check is the caller's).

        What needs no key is checked first (the token's form and algorithm), so junk from
        anyone gets its 400 without the portal asking the IdP anything: while the IdP is
        down, it would otherwise be a 503, an error line and an ``idp_unreachable`` count."""
        oidc.check_algorithm(oidc.read_header(raw), self.expected.algorithms)
        self.metadata()
        try:
            return oidc.validate_logout_token(
                raw, find_key=self.jwks.find_key, expected=self.expected, now=self.clock.now()
            )
        except Busy:
            raise ProviderUnreachable("JWKS fetch under way in another request") from None

    def jti_memory(self, claims: dict[str, Any]) -> int:
        """How long to remember a logout token's jti: as long as the token could be accepted."""
        window = self.expected.max_token_age + 2 * self.expected.clock_skew
        exp = claims.get("exp")
        if isinstance(exp, int | float):
            window = max(window, int(exp - self.clock.now()) + self.expected.clock_skew)
        return window


class MfaEvidenceMissing(LoginFailed):
    """The sign-in is valid but shows no second factor; carries the result for the retry."""

    def __init__(self, reason: str, result: LoginResult) -> None:
        super().__init__(reason, status=403, kind="mfa")
        self.result = result


class GroupRefused(LoginFailed):
    """The sign-in is valid but the customer is in none of PORTAL_ALLOWED_GROUPS."""

    def __init__(self, reason: str, result: LoginResult) -> None:
        super().__init__(reason, status=403, kind="group")
        self.result = result


def init_app(app: Flask, settings: Settings, clock: Clock) -> None:
    oauth = PortalOAuth(app)
    client = oauth.register(
        PROVIDER_NAME,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=settings.discovery_url,
        client_kwargs={
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "default_timeout": settings.http_timeout,
        },
    )
    client.expected_issuer = settings.issuer
    client.gate = FetchGate(clock)
    app.extensions["portal.provider"] = Provider(settings=settings, clock=clock, client=client)


def get() -> Provider:
    return current_app.extensions["portal.provider"]
