"""Security headers, proxy trust, rate limits and CSRF on every state-changing form."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from portal import create_app
from tests.support.portal_env import idp_env


@pytest.fixture
def idp(mock_idp):
    return mock_idp


@pytest.fixture
def make(tmp_path, idp):
    def make_app(**env):
        return create_app(idp_env(idp, tmp_path, **env))

    return make_app


@pytest.mark.parametrize("path", ["/", "/logged-out", "/healthz", "/no-such-page"])
def test_security_headers_on_every_page(make, path):
    response = make().test_client().get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # http on loopback


def test_hsts_when_https(make):
    app = make(PORTAL_BASE_URL="https://portal.example.com")
    response = app.test_client().get("/", base_url="https://portal.example.com")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_signed_in_pages_are_not_cached(make, idp):
    client = make().test_client()
    idp.callback(client, idp.begin(client))
    for path in ("/account", "/auth/signed-in"):
        assert client.get(path).headers["Cache-Control"] == "no-store"


def test_redirect_uri_comes_from_base_url_not_host_header(make, idp):
    client = make().test_client()
    response = client.get(
        "/login",
        headers={"Host": "evil.example.com", "X-Forwarded-Host": "evil.example.com"},
    )
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["redirect_uri"] == ["http://127.0.0.1:8888/auth/callback"]


def test_forwarded_for_is_ignored_without_trusted_proxies(make, idp):
    app = make(PORTAL_RATE_LIMIT="2 per minute")
    client = app.test_client()
    statuses = [
        client.get("/login", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
        for i in range(4)
    ]
    # spoofed client addresses do not escape the limit: all requests come from one peer
    assert statuses[:2] == [302, 302]
    assert statuses[2:] == [429, 429]


def test_forwarded_for_is_used_behind_a_trusted_proxy(make, idp):
    app = make(PORTAL_RATE_LIMIT="2 per minute", PORTAL_TRUSTED_PROXIES="1")
    client = app.test_client()
    statuses = [
        client.get("/login", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [302, 302, 302, 302]


def test_rate_limit_on_login_and_callback(make, idp):
    app = make(PORTAL_RATE_LIMIT="3 per minute")
    client = app.test_client()
    assert [client.get("/login").status_code for _ in range(4)] == [302, 302, 302, 429]
    limited = client.get("/auth/callback?state=x&code=y")
    assert limited.status_code in (400, 429)
    for _ in range(3):
        limited = client.get("/auth/callback?state=x&code=y")
    assert limited.status_code == 429
    assert "Too many requests" in limited.get_data(as_text=True)


def test_get_on_logout_does_nothing(make, idp):
    client = make().test_client()
    idp.callback(client, idp.begin(client))
    assert client.get("/logout").status_code == 405
    assert client.get("/logout/everywhere").status_code == 405
    assert client.get("/account").status_code == 200


def test_csrf_token_from_another_session_is_refused(make, idp):
    from bs4 import BeautifulSoup

    app = make()
    victim, attacker = app.test_client(), app.test_client()
    idp.callback(victim, idp.begin(victim))
    idp.callback(attacker, idp.begin(attacker))
    page = attacker.get("/account").get_data(as_text=True)
    token = BeautifulSoup(page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]
    assert victim.post("/logout", data={"csrf_token": token}).status_code == 400
    assert victim.get("/account").status_code == 200


def test_oversized_body_is_refused(make):
    client = make().test_client()
    response = client.post("/auth/backchannel-logout", data={"logout_token": "x" * 100_000})
    assert response.status_code == 413
    assert response.is_json


HTTPS_BASE = "https://portal.example.com"


def https_signed_in(make, idp):
    """A client signed in over https; returns it and the CSRF token of its account page."""
    from bs4 import BeautifulSoup

    client = make(PORTAL_BASE_URL=HTTPS_BASE).test_client()
    params = idp.begin(client, base_url=HTTPS_BASE)
    assert idp.callback(client, params, base_url=HTTPS_BASE).status_code == 302
    page = client.get("/account", base_url=HTTPS_BASE)
    assert page.headers["Referrer-Policy"] == "same-origin"  # browsers then send a Referer
    token = BeautifulSoup(page.get_data(as_text=True), "html.parser").find(
        "input", attrs={"name": "csrf_token"}
    )["value"]
    return client, token


def test_logout_works_over_https_with_the_referer_browsers_send(make, idp):
    """Flask-WTF's strict https check needs a same-origin Referer; the policy must allow it."""
    client, token = https_signed_in(make, idp)
    response = client.post(
        "/logout",
        data={"csrf_token": token},
        base_url=HTTPS_BASE,
        headers={"Referer": f"{HTTPS_BASE}/account"},
    )
    assert response.status_code == 302


@pytest.mark.parametrize("referer", [None, "https://evil.example.com/page"])
def test_https_logout_from_another_site_is_refused(make, idp, referer):
    client, token = https_signed_in(make, idp)
    headers = {"Referer": referer} if referer else {}
    response = client.post(
        "/logout", data={"csrf_token": token}, base_url=HTTPS_BASE, headers=headers
    )
    assert response.status_code == 400
    assert client.get("/account", base_url=HTTPS_BASE).status_code == 200
