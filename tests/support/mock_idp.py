"""A provider mocked with ``responses``, for unit tests of edge cases the live IdP won't produce.

It answers discovery, JWKS and the token endpoint; the test decides what the ID token says.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import responses

from tests.support.tokens import CLIENT_ID
from tests.support.tokens import id_token_claims
from tests.support.tokens import jwks_of
from tests.support.tokens import rsa_key
from tests.support.tokens import sign

ISSUER = "https://idp.example.com/application/o/portal/"


class MockIdP:
    def __init__(
        self, rsps: responses.RequestsMock, *, issuer: str = ISSUER, **metadata: Any
    ) -> None:
        self.rsps = rsps
        self.issuer = issuer
        self.key = rsa_key("k1")
        self.keys = [self.key]
        self.claims_override: dict[str, Any] = {}
        self.token_status = 200
        self.token_body: dict[str, Any] | None = None
        self.token_requests: list[dict[str, list[str]]] = []
        self.last_nonce = ""
        self.id_token_factory = None
        self.userinfo: dict[str, Any] | None = None
        base = "https://idp.example.com"
        self.metadata = {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "end_session_endpoint": f"{base}/end-session",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256", "HS256"],
            "authorization_response_iss_parameter_supported": True,
            "backchannel_logout_supported": True,
            **metadata,
        }
        discovery = issuer.rstrip("/") + "/.well-known/openid-configuration"
        rsps.add(responses.GET, discovery, json=self.metadata)
        rsps.add_callback(responses.GET, f"{base}/jwks", callback=self._jwks)
        rsps.add_callback(responses.POST, f"{base}/token", callback=self._token)
        rsps.add_callback(responses.GET, f"{base}/userinfo", callback=self._userinfo)

    def _jwks(self, request):
        return 200, {"Content-Type": "application/json"}, json.dumps(jwks_of(*self.keys))

    def _userinfo(self, request):
        body = self.userinfo or {"sub": "user-123"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _token(self, request):
        self.token_requests.append(parse_qs(request.body))
        if self.token_body is not None:
            return (
                self.token_status,
                {"Content-Type": "application/json"},
                json.dumps(self.token_body),
            )
        claims = id_token_claims(iss=self.issuer, nonce=self.last_nonce, aud=CLIENT_ID)
        claims.update(self.claims_override)
        claims = {k: v for k, v in claims.items() if v is not None}
        token = self.id_token_factory(claims) if self.id_token_factory else sign(claims, self.key)
        body = {
            "access_token": "at-1",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": token,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def begin(self, client, path: str = "/login") -> dict[str, str]:
        """GET /login on the portal; return the authorization request's parameters."""
        response = client.get(path)
        assert response.status_code == 302, response.get_data(as_text=True)
        params = {
            k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()
        }
        self.last_nonce = params.get("nonce", "")
        return params

    def callback(self, client, params: dict[str, str], **extra: str):
        query = {"code": "code-1", "state": params["state"], "iss": self.issuer, **extra}
        query = {k: v for k, v in query.items() if v is not None}
        return client.get("/auth/callback", query_string=query)
