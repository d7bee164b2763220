"""The session cookie on https is ``__Host-portal_session``: it cannot be planted.

Login state (state, nonce, PKCE verifier) is bound to this cookie. Without the prefix, whoever
can set a cookie for the portal's host (a sibling subdomain with Domain=example.com, or a
plain-http answer on the network) can plant their own pre-login session and have the victim
finish the attacker's login: the victim then works in the attacker's account.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from portal.testing import MockIdP
from tests.support.session_app import session_app

HTTPS_BASE = "https://portal.example.com"


@pytest.fixture(params=["redis", "filesystem"])
def https_app(tmp_path, mock_idp, request):
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return session_app(mock_idp, tmp_path, request.param, url, PORTAL_BASE_URL=HTTPS_BASE)


def begin(client, idp: MockIdP) -> dict[str, str]:
    return idp.begin(client, base_url=HTTPS_BASE)


def finish(client, idp: MockIdP, params: dict[str, str]):
    """The IdP's answer to the attacker's authorization request, opened in ``client``."""
    return idp.callback(client, params, base_url=HTTPS_BASE)


def test_https_cookie_has_the_host_prefix_and_its_rules(https_app):
    client = https_app.test_client()
    response = client.get("/login", base_url=HTTPS_BASE)
    [header] = response.headers.getlist("Set-Cookie")
    cookie = SimpleCookie()
    cookie.load(header)
    assert list(cookie) == ["__Host-portal_session"]
    morsel = cookie["__Host-portal_session"]
    assert morsel["secure"] and morsel["httponly"]
    assert morsel["path"] == "/"
    assert not morsel["domain"]
    assert morsel["samesite"] == "Lax"


def test_a_planted_pre_login_session_cannot_log_the_victim_in(https_app, mock_idp):
    idp = mock_idp
    attacker = https_app.test_client()
    params = begin(attacker, idp)
    name = https_app.config["SESSION_COOKIE_NAME"]
    planted = attacker.get_cookie(name, domain="portal.example.com")
    assert planted is not None
    victim = https_app.test_client()
    # what a sibling subdomain can do: a cookie without the prefix, for the whole domain
    victim.set_cookie("portal_session", planted.value, domain="portal.example.com")
    response = finish(victim, idp, params)
    assert response.status_code == 400  # the victim's browser has no pending login
    assert victim.get("/account", base_url=HTTPS_BASE).status_code == 302
    # the attacker's own browser still finishes its login (the state was not consumed)
    assert finish(attacker, idp, params).status_code == 302


def test_plain_http_on_loopback_keeps_the_plain_name(tmp_path, mock_idp):
    client = session_app(mock_idp, tmp_path, "filesystem").test_client()
    client.get("/login")
    assert client.get_cookie("portal_session") is not None
    assert client.get_cookie("__Host-portal_session") is None
