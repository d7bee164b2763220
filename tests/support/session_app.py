"""A portal on either session backend with the mocked provider, and the steps tests take on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from portal import create_app
from portal.clock import Clock
from tests.support.mock_idp import ISSUER
from tests.support.mock_idp import MockIdP
from tests.support.portal_env import portal_env
from tests.support.tokens import logout_claims
from tests.support.tokens import sign


def session_app(
    tmp_path: Path,
    backend: str,
    redis_url: str | None = None,
    clock: Clock | None = None,
    **env: str,
) -> Flask:
    """The portal with sessions in ``backend`` ("redis" needs ``redis_url``)."""
    extra = {"PORTAL_OIDC_ISSUER": ISSUER, "PORTAL_SESSION_BACKEND": backend, **env}
    if backend == "redis":
        assert redis_url, "the redis backend needs the redis_url fixture"
        extra["PORTAL_REDIS_URL"] = redis_url
    return create_app(portal_env(tmp_path, **extra), clock=clock)


def login(client: Any, idp: MockIdP, **claims: Any) -> Any:
    """Login through the mocked provider, whose ID token carries ``claims``; must succeed."""
    idp.claims_override = claims
    response = idp.callback(client, idp.begin(client))
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def signed_in(client: Any) -> bool:
    return client.get("/account").status_code == 200


def backchannel(client: Any, idp: MockIdP, **claims: Any) -> Any:
    """POST a logout token signed by the provider, with ``claims`` over the defaults."""
    token = sign(logout_claims(**claims), idp.key, typ="logout+jwt")
    return client.post("/auth/backchannel-logout", data={"logout_token": token})
