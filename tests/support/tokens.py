"""Sign test tokens the way an IdP would, with keys made for the test."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey
from joserfc.jwk import RSAKey

ISSUER = "https://idp.example.com/application/o/portal/"
CLIENT_ID = "portal"


def rsa_key(kid: str = "key-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


def ec_key(kid: str = "ec-1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig"}, private=True)


def jwks_of(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def id_token_claims(now: float | None = None, **overrides: Any) -> dict[str, Any]:
    now = time.time() if now is None else now
    claims = {
        "iss": ISSUER,
        "sub": "user-123",
        "aud": CLIENT_ID,
        "exp": int(now) + 300,
        "iat": int(now),
        "auth_time": int(now) - 5,
        "nonce": "nonce-abc",
        "sid": "sid-1",
        "amr": ["pwd", "otp", "mfa"],
        "acr": "urn:test:mfa",
        "preferred_username": "alice",
        "name": "Alice Example",
        "email": "alice@example.com",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def logout_claims(now: float | None = None, **overrides: Any) -> dict[str, Any]:
    now = time.time() if now is None else now
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": int(now),
        "exp": int(now) + 120,
        "jti": f"jti-{now}",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        "sid": "sid-1",
        "sub": "user-123",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(
    claims: dict[str, Any], key: RSAKey | ECKey | OctKey, alg: str = "RS256", **header: Any
) -> str:
    hdr = {"alg": alg, **header}
    if "kid" not in hdr and getattr(key, "kid", None):
        hdr["kid"] = key.kid
    return jwt.encode(hdr, claims, key, algorithms=[alg])


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token, built by hand since no library will sign one."""
    import base64
    import json

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
