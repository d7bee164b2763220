"""The login flow against the mock IdP of ``portal.testing``: each refusal leaves no session."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlencode

import pytest
from joserfc.jwk import OctKey
from werkzeug.wrappers import Response

from portal import create_app
from tests.support.payloads import open_redirect_payloads
from tests.support.portal_env import idp_env
from tests.support.tokens import sign
from tests.support.tokens import unsigned


@pytest.fixture
def idp(mock_idp):
    return mock_idp


@pytest.fixture
def app(tmp_path, idp):
    return create_app(idp_env(idp, tmp_path))


@pytest.fixture
def client(app):
    return app.test_client()


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_login_request_uses_pkce_state_nonce_and_scope(client, idp):
    params = idp.begin(client)
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) >= 43
    assert params["state"] and params["nonce"]
    assert params["scope"] == "openid profile email"
    assert params["redirect_uri"] == "http://127.0.0.1:8888/auth/callback"


def test_successful_login_shows_redirect_page_then_account(client, idp):
    params = idp.begin(client)
    response = idp.callback(client, params)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/signed-in"
    page = client.get("/auth/signed-in").get_data(as_text=True)
    assert "You're signed in as Alice Example" in page
    assert 'href="/account"' in page
    account = client.get("/account").get_data(as_text=True)
    assert "alice@example.com" in account and "alice" in account
    # the token request carried the PKCE verifier
    [token_request] = [seen for seen in idp.requests if seen.endpoint == "token"]
    assert "code_verifier" in token_request.form


def test_session_id_changes_at_login(client, idp):
    params = idp.begin(client)
    before = client.get_cookie("portal_session").value
    idp.callback(client, params)
    after = client.get_cookie("portal_session").value
    assert before != after
    # the pre-login id no longer works
    client.set_cookie("portal_session", before)
    assert client.get("/account").status_code == 302


def test_next_target_is_followed_only_when_local(client, idp):
    params = idp.begin(client, "/login?next=/account/security")
    idp.callback(client, params)
    assert 'href="/account/security"' in client.get("/auth/signed-in").get_data(as_text=True)


def test_account_requires_login_and_returns_there(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account"


def refuse(client, idp, caplog, *, status: int, log: str, claims=None, **extra):
    params = idp.begin(client)
    with caplog.at_level(logging.INFO, logger="portal"):
        response = idp.callback(client, params, claims=claims, **extra)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert "Traceback" not in page
    assert log in caplog.text
    assert not signed_in(client)
    return page


def test_refused_token_alg_none(client, idp, caplog):
    idp.id_token_factory = unsigned
    page = refuse(client, idp, caplog, status=502, log="not allowed")
    assert "Sign-in failed, try again" in page
    assert 'href="/login"' in page


def test_refused_hs256_even_when_discovery_advertises_it(client, idp, caplog):
    idp.metadata["id_token_signing_alg_values_supported"] = ["RS256", "HS256"]
    secret = OctKey.import_key(idp.client_secret)
    idp.id_token_factory = lambda claims: sign(claims, secret, "HS256")
    page = refuse(client, idp, caplog, status=502, log="Signing Key")
    assert "not set up correctly" in page


@pytest.mark.parametrize(
    ("override", "log"),
    [
        (lambda idp: {"iss": idp.issuer + "/"}, "iss"),  # authentik's issuer ends with "/"
        (lambda idp: {"aud": "someone-else"}, "aud"),
        (lambda idp: {"aud": ["portal", "other"]}, "azp"),
        (lambda idp: {"nonce": "replayed-nonce"}, "nonce"),
        (lambda idp: {"sub": None}, "sub"),
        (lambda idp: {"exp": 1000}, "expired"),
    ],
    ids=["iss", "aud", "azp", "nonce", "sub", "exp"],
)
def test_refused_id_token_claims(client, idp, caplog, override, log):
    refuse(client, idp, caplog, status=502, log=log, claims=override(idp))


def test_missing_mfa_evidence_offers_one_confirmation_then_refuses(client, idp, caplog):
    idp.claims.update(amr=["pwd"], acr="goauthentik.io/providers/oauth2/default")
    params = idp.begin(client)
    first = idp.callback(client, params)
    assert first.status_code == 200
    assert "Confirm your authenticator app" in first.get_data(as_text=True)
    assert not signed_in(client)
    # Continue sends the customer through the IdP again with prompt=login
    from bs4 import BeautifulSoup

    form = BeautifulSoup(first.get_data(as_text=True), "html.parser").find(
        "form", action="/login/confirm-authenticator"
    )
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    again = client.post("/login/confirm-authenticator", data={"csrf_token": token})
    assert again.status_code == 302
    params2 = idp.authorization_params(again)
    assert params2["prompt"] == "login"
    with caplog.at_level(logging.INFO, logger="portal"):
        second = idp.callback(client, params2)
    assert second.status_code == 403
    assert "did not confirm a second factor" in second.get_data(as_text=True)
    assert "configuration problem" in caplog.text
    assert not signed_in(client)


def test_mfa_not_required_accepts_password_only(tmp_path, idp):
    app = create_app(idp_env(idp, tmp_path, PORTAL_REQUIRE_MFA="false"))
    client = app.test_client()
    idp.callback(client, idp.begin(client), claims={"amr": ["pwd"]})
    assert signed_in(client)


def test_missing_state_is_refused(client, idp, caplog):
    idp.begin(client)
    with caplog.at_level(logging.INFO, logger="portal"):
        response = client.get("/auth/callback", query_string={"code": "c", "iss": idp.issuer})
    assert response.status_code == 400
    assert "without state" in caplog.text
    assert not signed_in(client)


def test_tampered_state_is_refused(client, idp, caplog):
    params = idp.begin(client)
    refuse(client, idp, caplog, status=400, log="state unknown", state=params["state"] + "x")


def test_state_from_another_browser_is_refused(app, idp, caplog):
    victim, attacker = app.test_client(), app.test_client()
    params = idp.begin(attacker)
    with caplog.at_level(logging.INFO, logger="portal"):
        response = idp.callback(victim, params)
    assert response.status_code == 400
    assert "state unknown" in caplog.text
    assert not signed_in(victim)


def test_replayed_callback_is_refused(client, idp, caplog):
    params = idp.begin(client)
    assert idp.callback(client, params).status_code == 302
    # the first login worked; replaying the same callback URL must not work again
    with caplog.at_level(logging.INFO, logger="portal"):
        response = idp.callback(client, params)
    assert response.status_code == 400
    assert "state unknown" in caplog.text


def test_idp_error_access_denied(client, idp, caplog):
    page = refuse(
        client, idp, caplog, status=400, log="access_denied", error="access_denied", code=None
    )
    assert "Sign-in was cancelled" in page


def test_missing_code_is_refused(client, idp, caplog):
    refuse(client, idp, caplog, status=400, log="without code", code=None)


def test_oversized_parameter_is_refused(client, idp, caplog):
    refuse(client, idp, caplog, status=400, log="oversized", code="x" * 5000)


def test_rfc9207_iss_mismatch_is_refused(client, idp, caplog):
    refuse(client, idp, caplog, status=400, log="mix-up", iss="https://attacker.example.com/")


def test_rfc9207_iss_missing_when_advertised_is_refused(client, idp, caplog):
    refuse(client, idp, caplog, status=400, log="lacks the iss", iss=None)


def test_token_endpoint_refusal(client, idp, caplog):
    idp.respond("token", status=400, json={"error": "invalid_grant"})
    refuse(client, idp, caplog, status=400, log="invalid_grant")


def test_userinfo_with_other_sub_is_refused(client, idp, caplog):
    idp.respond("userinfo", json={"sub": "someone-else", "email": "evil@example.com"})
    refuse(client, idp, caplog, status=502, log="userinfo sub", claims={"email": None})


def test_userinfo_fills_missing_profile_claims(client, idp):
    idp.respond("userinfo", json={"sub": "user-123", "email": "from-userinfo@example.com"})
    idp.callback(client, idp.begin(client), claims={"email": None})
    assert "from-userinfo@example.com" in client.get("/account").get_data(as_text=True)


def test_discovery_with_other_issuer_is_refused(tmp_path, idp, caplog):
    idp.respond(
        "discovery",
        json={"issuer": "https://evil.example.com/", "authorization_endpoint": "https://evil/a"},
    )
    app = create_app(idp_env(idp, tmp_path))
    with caplog.at_level(logging.INFO, logger="portal"):
        response = app.test_client().get("/login")
    assert response.status_code == 502
    assert "differs from PORTAL_OIDC_ISSUER" in caplog.text


def test_no_token_or_code_in_logs(client, idp, caplog):
    params = idp.begin(client)
    answer = idp.authorize(params)  # the browser's part: not the portal's log
    with caplog.at_level(logging.DEBUG):
        assert client.get("/auth/callback", query_string=answer).status_code == 302
    assert answer["code"] not in caplog.text
    assert idp.access_tokens[0] not in caplog.text
    assert "eyJ" not in caplog.text
    assert params["state"] not in caplog.text
    assert params["code_challenge"] not in caplog.text


def test_session_ends_after_sso_max_age_even_when_active(tmp_path, idp, portal_clock, caplog):
    clock = portal_clock
    app = create_app(idp_env(idp, tmp_path, PORTAL_IDLE_TIMEOUT="7200"), clock=clock)
    client = app.test_client()
    idp.callback(client, idp.begin(client), claims={"auth_time": int(clock.now()) - 10})
    for _ in range(11):  # active every hour: the idle rule never ends it
        assert signed_in(client)
        clock.advance(3600)
    clock.advance(3600 - 70)  # 11 h 59 min after sign-in
    assert signed_in(client)
    clock.advance(120)  # 12 h 01 min
    with caplog.at_level(logging.INFO, logger="portal"):
        assert not signed_in(client)
    assert "SSO max age reached" in caplog.text


def test_session_ends_after_idle_timeout(tmp_path, idp, portal_clock):
    clock = portal_clock
    app = create_app(idp_env(idp, tmp_path), clock=clock)
    client = app.test_client()
    idp.callback(client, idp.begin(client))
    clock.advance(3599)
    assert signed_in(client)
    clock.advance(3600)
    assert not signed_in(client)


def test_key_rotation_keeps_logins_working(client, idp):
    idp.callback(client, idp.begin(client))
    assert signed_in(client)
    idp.rotate_key()  # the IdP rotates: new kid, old key gone
    other = client.application.test_client()
    response = idp.callback(other, idp.begin(other))
    assert response.status_code == 302
    assert signed_in(other)
    assert idp.calls("jwks") == 2  # once at start, once for the new kid


def test_slow_idp_gives_a_clear_page(tmp_path, idp, caplog):
    """The token endpoint accepts the request and never answers: PORTAL_HTTP_TIMEOUT ends
    the wait (its minimum, 0.1 s, is the only real time this test spends)."""
    client = create_app(idp_env(idp, tmp_path, PORTAL_HTTP_TIMEOUT="0.1")).test_client()
    release = threading.Event()

    def never_answers(request):
        release.wait(30)
        return Response(status=504)

    idp.respond("token", handler=never_answers)
    try:
        page = refuse(client, idp, caplog, status=503, log="token request failed: ReadTimeout")
    finally:
        release.set()
    assert "The sign-in service is not reachable right now" in page


def test_outbound_calls_have_a_timeout(app):
    from portal import provider

    with app.app_context():
        client = provider.get().client
        assert client.client_kwargs["default_timeout"] == 5.0


def test_state_older_than_the_login_timeout_is_refused(tmp_path, idp, portal_clock, caplog):
    clock = portal_clock
    app = create_app(idp_env(idp, tmp_path), clock=clock)
    client = app.test_client()
    params = idp.begin(client)
    clock.advance(601)
    with caplog.at_level(logging.INFO, logger="portal"):
        response = idp.callback(client, params)
    assert response.status_code == 400
    assert "state expired" in caplog.text
    assert not signed_in(client)


def test_non_json_token_response_is_a_clear_502(client, idp, caplog):
    idp.respond("token", json=["not", "an", "object"])
    page = refuse(client, idp, caplog, status=502, log="token response unreadable")
    assert "Sign-in failed, try again" in page


def test_every_login_asks_for_a_sign_in_within_the_sso_max_age(client, idp):
    assert idp.begin(client)["max_age"] == "43200"


def test_sign_in_older_than_sso_max_age_does_not_create_a_dead_session(client, idp, caplog):
    old = {"auth_time": int(idp.clock()) - 43230}
    refuse(client, idp, caplog, status=502, log="older than PORTAL_SSO_MAX_AGE", claims=old)


def test_login_state_is_no_logout_confirmation(client, idp):
    params = idp.begin(client)
    page = client.get("/logged-out", query_string={"state": params["state"]})
    assert "logged out everywhere" not in page.get_data(as_text=True)


def test_discovery_with_wrong_issuer_is_never_published(tmp_path, idp):
    idp.respond(
        "discovery",
        json={"issuer": "https://evil.example.com/", "authorization_endpoint": "https://evil/a"},
    )
    app = create_app(idp_env(idp, tmp_path))
    app.test_client().get("/login")
    from portal import provider

    with app.app_context():
        assert "authorization_endpoint" not in provider.get().client.server_metadata


def test_refused_callback_consumes_the_state(client, idp, caplog):
    idp.respond("token", status=400, json={"error": "invalid_grant"})
    params = idp.begin(client)
    assert idp.callback(client, params).status_code == 400
    idp.reset("token")  # the IdP would now answer; the state must be gone all the same
    with caplog.at_level(logging.INFO, logger="portal"):
        again = idp.callback(client, params)
    assert again.status_code == 400
    assert "state unknown" in caplog.text
    assert not signed_in(client)


def test_confirm_authenticator_needs_a_csrf_token(client, idp):
    first = idp.callback(client, idp.begin(client), claims={"amr": ["pwd"]})
    assert "Confirm your authenticator app" in first.get_data(as_text=True)
    assert client.post("/login/confirm-authenticator").status_code == 400


PAYLOADS = open_redirect_payloads()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_login_next_never_leaves_the_portal(client, idp, payload):
    # before login: the target kept for after the IdP is the default
    params = idp.begin(client, "/login?" + urlencode({"next": payload}))
    idp.callback(client, params)
    page = client.get("/auth/signed-in").get_data(as_text=True)
    assert 'href="/account"' in page
    # already signed in: /login redirects at once, and only to a local path
    response = client.get("/login", query_string={"next": payload})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
