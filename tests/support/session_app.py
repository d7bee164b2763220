"""A portal on either session backend against the mock IdP, and the steps tests take on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from portal import create_app
from portal.clock import Clock
from portal.testing import MockIdP
from tests.support.portal_env import idp_env


def session_app(
    idp: MockIdP,
    tmp_path: Path,
    backend: str,
    redis_url: str | None = None,
    clock: Clock | None = None,
    **env: str,
) -> Flask:
    """The portal with sessions in ``backend`` ("redis" needs ``redis_url``)."""
    extra = {"PORTAL_SESSION_BACKEND": backend, **env}
    if backend == "redis":
        assert redis_url, "the redis backend needs the redis_url fixture"
        extra["PORTAL_REDIS_URL"] = redis_url
    return create_app(idp_env(idp, tmp_path, **extra), clock=clock)


def login(client: Any, idp: MockIdP, **claims: Any) -> Any:
    """Login through the mock IdP, whose ID token carries ``claims``; must succeed."""
    return idp.sign_in(client, **claims)


def signed_in(client: Any) -> bool:
    return client.get("/account").status_code == 200


def backchannel(client: Any, idp: MockIdP, **claims: Any) -> Any:
    """POST a logout token signed by the provider, with ``claims`` over its defaults."""
    return idp.backchannel_logout(client, **claims)
