"""devidp/__init__.py and the screens through Flask's test client, with a hand-set clock."""

from __future__ import annotations

import re
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pyotp

from devidp import db
from devidp import lockout
from devidp import sso
from devidp import users

from .conftest import PORTAL

AUTHORIZE = {
    "response_type": "code",
    "client_id": "portal",
    "redirect_uri": PORTAL + "/auth/callback",
    "scope": "openid profile email",
    "state": "st",
    "nonce": "n",
    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "code_challenge_method": "S256",
}


def csrf(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))[1]


def test_healthz_and_discovery(client):
    assert client.get("/healthz").get_data(as_text=True) == "ok"
    meta = client.get("/.well-known/openid-configuration").get_json()
    assert meta["issuer"] == "http://127.0.0.1:9000"
    assert meta["end_session_endpoint"] == "http://127.0.0.1:9000/end-session"


def test_pages_carry_security_headers_and_lang(client):
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert '<html lang="en">' in response.get_data(as_text=True)


def test_posts_without_the_csrf_token_are_refused(client):
    client.get("/login")
    assert client.post("/login", data={"username": "demo"}).status_code == 400
    assert client.post("/login", data={"username": "demo", "csrf_token": "x"}).status_code == 400


def test_unknown_client_gets_a_400_page(client):
    response = client.get("/authorize", query_string={**AUTHORIZE, "client_id": "nope"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "not registered" in response.get_data(as_text=True)


def test_a_scope_without_openid_is_refused(client):
    response = client.get("/authorize", query_string={**AUTHORIZE, "scope": "profile"})
    params = parse_qs(urlsplit(response.location).query)
    assert params["error"] == ["invalid_scope"]
    assert params["iss"] == ["http://127.0.0.1:9000"]


def test_a_bad_max_age_is_an_invalid_request(client):
    response = client.get("/authorize", query_string={**AUTHORIZE, "max_age": "soon"})
    assert parse_qs(urlsplit(response.location).query)["error"] == ["invalid_request"]


def login(client, fake_clock) -> str:
    """Log in through the screens; return the authorization response location."""
    response = client.get("/authorize", query_string=AUTHORIZE)
    token = csrf(client.get(response.location))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    client.post("/login/password", data={"csrf_token": token, "password": "demo-password-2fa"})
    page = client.get("/login/totp-setup").get_data(as_text=True)
    secret = "".join(re.findall(r"<span>([A-Z2-7]{1,4})</span>", page))  # the key, in fours
    code = pyotp.TOTP(secret).at(int(fake_clock()))
    response = client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
    return client.get(response.location).location


def test_cookies_are_named_for_the_idp_and_locked_down(client, fake_clock):
    client.get("/authorize", query_string=AUTHORIZE)
    flow_cookie = client.get_cookie("devidp_flow")
    assert flow_cookie is not None and flow_cookie.http_only and flow_cookie.same_site == "Lax"
    login(client, fake_clock)
    sso_cookie = client.get_cookie(sso.COOKIE_NAME)
    assert sso_cookie.http_only and sso_cookie.same_site == "Lax" and sso_cookie.path == "/"
    assert not sso_cookie.secure  # http issuer on loopback


def test_login_sets_sso_and_later_requests_are_silent(client, fake_clock):
    location = login(client, fake_clock)
    assert location.startswith(PORTAL + "/auth/callback?code=")
    fake_clock.advance(3600)
    again = client.get("/authorize", query_string={**AUTHORIZE, "nonce": "n2"})
    assert again.location.startswith(PORTAL + "/auth/callback?code=")


def test_sso_expires_by_the_idp_clock(client, fake_clock):
    login(client, fake_clock)
    fake_clock.advance(43200)
    response = client.get("/authorize", query_string={**AUTHORIZE, "nonce": "n3"})
    assert response.location == "/login"


def test_login_pages_without_a_flow_go_back_to_the_username(client):
    for path in ("/login/password", "/login/totp", "/login/totp-setup", "/login/done"):
        assert client.get(path).location == "/login"


def test_the_flow_expires(client, fake_clock):
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    assert client.get("/login/password").status_code == 200
    fake_clock.advance(31 * 60)
    assert client.get("/login/password").location == "/login"


def test_a_login_without_an_authorization_request_shows_signed_in(client, fake_clock):
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    client.post("/login/password", data={"csrf_token": token, "password": "demo-password-2fa"})
    page = client.get("/login/totp-setup").get_data(as_text=True)
    secret = "".join(re.findall(r"<span>([A-Z2-7]{1,4})</span>", page))  # the key, in fours
    response = client.post(
        "/login/totp-setup",
        data={"csrf_token": token, "code": pyotp.TOTP(secret).at(int(fake_clock()))},
    )
    assert response.location == "/login/done"
    assert "You are signed in" in client.get("/login/done").get_data(as_text=True)


def test_non_ascii_digits_are_a_wrong_code_not_an_error(client, app):
    token = csrf(client.get("/login"))
    client.post("/login", data={"csrf_token": token, "username": "demo"})
    client.post("/login/password", data={"csrf_token": token, "password": "demo-password-2fa"})
    for code in ("١٢٣٤٥٦", "１２３４５６"):
        response = client.post("/login/totp-setup", data={"csrf_token": token, "code": code})
        assert response.status_code == 200
        assert "code is not valid" in response.get_data(as_text=True)
    with app.app_context():
        conn = db.get_db()
        demo = users.find_by_username(conn, "demo")
        key = lockout.account_for(demo.id, "demo")
        row = conn.execute("SELECT failures FROM lockouts WHERE key = ?", (key,)).fetchone()
    assert row["failures"] == 2  # counted as failed attempts
