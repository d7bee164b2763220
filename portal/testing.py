"""pytest plugin: test pages you add to the portal, signed in, against a mock IdP.

Install the portal with its testing extra (``pip install 'customer-portal[testing]'``) and
the plugin loads itself (entry point ``pytest11``); otherwise enable it with
``pytest -p portal.testing``. It needs no running IdP, no network and no Redis::

    def test_invoices_need_a_login(portal_app):
        response = portal_app.test_client().get("/invoices")
        assert response.headers["Location"] == "/login?next=/invoices"

    @pytest.mark.claims(groups=["billing"])
    def test_invoices_page(signed_in_client):
        assert signed_in_client.get("/invoices").status_code == 200

Fixtures (each function-scoped, so every test starts from nothing):

- ``mock_idp``: a real OpenID provider on 127.0.0.1 (:class:`portal.mock_idp.MockIdP`, whose
  module docstring says why it is a server and not a mock of ``requests``).
- ``portal_app``: the portal configured against it, sessions in files under ``tmp_path``.
- ``signed_in_client``: a Flask test client that went through the real login flow.

and what they are built from, each replaceable the pytest way, by a fixture of the same name
in your conftest.py or by ``@pytest.mark.parametrize`` on the name:

- ``portal_factory``: the app factory (``portal.create_app``, or yours that adds blueprints).
- ``portal_settings``: extra ``PORTAL_*`` settings (a dict; empty by default).
- ``portal_redis_url``: a Redis for sessions instead of files (None by default).
- ``portal_clock``: the clock the portal and the mock IdP share; ``advance(seconds)`` it.

The marker ``@pytest.mark.claims(**claims)`` chooses the customer ``signed_in_client`` signs
in as. The module imports pytest; ``portal`` itself never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.clock import FixedClock
from portal.mock_idp import DEFAULT_CLAIMS
from portal.mock_idp import MockIdP
from portal.mock_idp import SeenRequest

__all__ = ["DEFAULT_CLAIMS", "FixedClock", "MockIdP", "SeenRequest", "claims_of"]

#: The signature ``portal_factory`` must have: ``portal.create_app``'s.
PortalFactory = Callable[..., Flask]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "claims(**claims): the ID token claims signed_in_client signs in with "
        "(sub, email, name, preferred_username, groups, amr, acr, auth_time ...; "
        "None leaves a claim out). From portal.testing.",
    )


@pytest.fixture
def portal_clock() -> FixedClock:
    """The time of the portal and of the mock IdP: ``now()``, and ``advance(seconds)``.

    It starts at the real time and moves only when told, so a test of the 12-hour bound,
    the idle timeout or a fresh-sign-in page advances it instead of sleeping.
    """
    return FixedClock()


@pytest.fixture
def mock_idp(portal_clock: FixedClock) -> Iterator[MockIdP]:
    """A running OpenID provider on 127.0.0.1 and a free port, stopped after the test.

    It serves discovery, JWKS, authorize, token, userinfo and end-session, and signs RS256
    ID tokens with the claims the test chooses: ``mock_idp.claims`` for every login, or a
    login's own (``mock_idp.sign_in(client, groups=["billing"])``). To misbehave:
    ``mock_idp.sign_in(client, amr=["pwd"])`` (no second factor), ``groups=[]``,
    ``mock_idp.down()`` (unreachable; ``up()`` again), ``mock_idp.respond("token",
    status=400, json={"error": "invalid_grant"})``. The test fails if the mock itself broke.
    """
    with MockIdP(clock=portal_clock.now) as idp:
        yield idp
    if idp.errors:
        raise AssertionError("the mock IdP failed while serving:\n" + "\n".join(idp.errors))


@pytest.fixture
def portal_factory() -> PortalFactory:
    """The app factory ``portal_app`` calls as ``factory(settings, clock=clock)``.

    ``portal.create_app`` by default. Return your own from a fixture of this name to test
    the app you deploy, blueprints included (see examples/invoices/conftest.py).
    """
    return create_app


@pytest.fixture
def portal_settings() -> Mapping[str, str]:
    """Extra ``PORTAL_*`` settings for ``portal_app``, over the mock IdP's; none by default.

    Override it to change one: ``@pytest.mark.parametrize("portal_settings",
    [{"PORTAL_FRESH_AUTH_MAX_AGE": "60"}])``.
    """
    return {}


@pytest.fixture
def portal_redis_url() -> str | None:
    """A Redis URL for the sessions, or None for files under ``tmp_path`` (the default).

    Return one from a fixture of this name when a test needs Redis, e.g. a CI service:
    ``return os.environ["TEST_REDIS_URL"]``. Give the tests a database they may write to.
    """
    return None


@pytest.fixture
def portal_app(
    mock_idp: MockIdP,
    portal_factory: PortalFactory,
    portal_settings: Mapping[str, str],
    portal_redis_url: str | None,
    portal_clock: FixedClock,
    tmp_path: Path,
) -> Flask:
    """The portal, configured against ``mock_idp``, ready for ``portal_app.test_client()``.

    Built by ``portal_factory`` with the mock IdP's issuer and client, base URL
    ``http://localhost`` (the test client's), a fresh secret key, sessions in files under
    ``tmp_path`` (or in ``portal_redis_url``), ``portal_settings`` on top, and
    ``portal_clock``. Everything else is the portal's production default, security headers,
    CSRF and rate limits included: one address may start 30 logins a minute, so a test
    that signs in more customers raises ``PORTAL_RATE_LIMIT`` through ``portal_settings``.
    """
    store: dict[str, str] = {}
    if portal_redis_url:
        store = {"PORTAL_SESSION_BACKEND": "redis", "PORTAL_REDIS_URL": portal_redis_url}
    env = mock_idp.portal_env(tmp_path / "portal-sessions", **{**store, **portal_settings})
    return portal_factory(env, clock=portal_clock)


@pytest.fixture
def signed_in_client(
    portal_app: Flask, mock_idp: MockIdP, request: pytest.FixtureRequest
) -> FlaskClient:
    """A test client of ``portal_app`` whose customer signed in through ``mock_idp``.

    The real login flow ran: ``/login``, the IdP's authorization endpoint, ``/auth/callback``
    with the code redeemed at the token endpoint and the ID token checked, as in production;
    no session was forged. The customer is ``mock_idp.claims`` with the test's
    ``@pytest.mark.claims(...)`` on top (closest marker wins). For a second customer in the
    same test: ``mock_idp.sign_in(portal_app.test_client(), sub="bob")``.
    """
    client = portal_app.test_client()
    mock_idp.sign_in(client, **claims_of(request.node))
    return client


def claims_of(node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    """The claims of the ``claims`` markers on a test, module ones first, its own last."""
    claims: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("claims"))):
        for value in marker.args:
            claims.update(value)
        claims.update(marker.kwargs)
    return claims
