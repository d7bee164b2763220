"""The development IdP over HTTP, as a browser and a relying party see it.

Every test starts its own ``devidp`` process (fresh database) whose ``portal`` client points at
a local back-channel logout receiver. Time never passes for real: the IdP's clock moves through
its clock file.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
import requests
from authlib.integrations.base_client import OAuthError

from tests.support.devidp import ACR_MFA
from tests.support.devidp import ACR_PASSWORD
from tests.support.devidp import AMR_MFA
from tests.support.devidp import BRAND
from tests.support.devidp import CLIENT_ID
from tests.support.devidp import DEFAULT_USERS
from tests.support.devidp import DEMO_USERNAME
from tests.support.devidp import MESSAGE_LOCKED
from tests.support.devidp import MESSAGE_REUSED_CODE
from tests.support.devidp import MESSAGE_WRONG_CODE
from tests.support.devidp import MESSAGE_WRONG_PASSWORD

from .helpers import Browser
from .helpers import Journey
from .helpers import Tokens

EVENT = "http://schemas.openid.net/event/backchannel-logout"


# --- discovery --------------------------------------------------------------------------------


def test_discovery_names_every_endpoint_and_capability(idp, rp):
    meta = rp.metadata
    assert meta["issuer"] == idp.url
    for key, path in {
        "authorization_endpoint": "/authorize",
        "token_endpoint": "/token",
        "userinfo_endpoint": "/userinfo",
        "jwks_uri": "/jwks",
        "end_session_endpoint": "/end-session",
    }.items():
        assert meta[key] == idp.url + path
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert meta["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert meta["subject_types_supported"] == ["public"]
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email"} <= set(meta["scopes_supported"])
    assert {"sid", "amr", "acr", "auth_time", "nonce"} <= set(meta["claims_supported"])
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"]
    assert "d" not in key and "p" not in key


def test_healthz(idp):
    response = requests.get(idp.url + "/healthz", timeout=10)
    assert response.status_code == 200
    assert response.text == "ok"


# --- first login and later logins -------------------------------------------------------------


def test_first_login_shows_the_documented_screens_and_enrols_totp(journey, browser, rp, idp):
    landing, auth = journey.start()
    soup = landing.soup
    assert soup.html["lang"]
    assert f"Welcome to {BRAND} Auth!" in soup.find(class_="welcome").get_text()
    assert soup.h1.get_text() == "Log in"  # the page's heading is the task
    assert landing.field_names() == ["username"]
    assert landing.button_labels() == ["Log in"]
    assert soup.find("label", attrs={"for": "username"})

    landing = browser.submit(landing, username=DEMO_USERNAME)
    assert f"Welcome to {BRAND} Auth!" in landing.text and DEMO_USERNAME in landing.text
    assert landing.soup.find("a", string="Not you?")
    assert landing.field_names() == ["password"]
    assert landing.button_labels() == ["Continue"]

    landing = browser.submit(landing, password="demo-password-2fa")
    setup = landing.soup
    assert setup.h1.get_text() == "Set up two-factor authentication"
    key = setup.find("code", id="totp-secret")
    secret = key.get_text(strip=True)
    assert [len(group.get_text()) for group in key.find_all("span")] == [4] * 8  # in fours
    link = setup.find("a", id="otpauth-link")  # tap to add, on the phone with the app
    assert link.get_text(strip=True) == "Add to authenticator app"
    assert link["href"] == (
        f"otpauth://totp/Example%20Business:demo?secret={secret}&issuer=Example%20Business"
        "&algorithm=SHA1&digits=6&period=30"
    )
    assert setup.find("figure", id="totp-qr").find("svg") is not None
    copy = setup.find("button", id="copy-secret")  # copies the key alone
    assert copy["type"] == "button" and copy["data-copy-text"] == secret
    assert copy.get_text(strip=True) == "Copy key"
    assert setup.find("label", attrs={"for": "code"}).get_text(strip=True) == "TOTP code"
    assert landing.button_labels() == ["Continue"]  # the copy button is outside the form
    script = setup.find("script", src=True)
    assert requests.get(idp.url + script["src"], timeout=10).status_code == 200
    assert setup.find("script", src=False) is None  # no inline script (CSP)

    journey.secret = secret
    landing = browser.submit(landing, code=journey.code())
    tokens = rp.finish(landing, auth)

    claims = tokens.claims
    assert tokens.id_token_header["alg"] == "RS256"
    assert tokens.id_token_header["kid"] == rp.key_set().keys[0].kid
    assert claims["aud"] == CLIENT_ID
    assert claims["exp"] == claims["iat"] + 300
    assert claims["amr"] == AMR_MFA
    assert claims["acr"] == ACR_MFA
    assert claims["sid"]
    assert abs(claims["auth_time"] - idp.now()) < 30
    assert claims["preferred_username"] == "demo"
    assert claims["name"] == "Demo Customer"
    assert claims["email"] == "demo@example.com"
    assert "nonce" in claims and claims["nonce"] == auth.nonce

    info = rp.userinfo(tokens.access_token)
    assert info.status_code == 200
    assert info.json() == {
        "sub": claims["sub"],
        "preferred_username": "demo",
        "name": "Demo Customer",
        "email": "demo@example.com",
        "groups": [],  # sent even when empty, as authentik does with the profile scope
    }


def test_wrong_code_at_setup_keeps_the_device_unsaved(journey, browser, idp):
    landing, _ = journey.start()
    landing = journey.enter_credentials(landing)
    secret = journey.setup_secret(landing)
    wrong = str((int(journey.code(secret)) + 1) % 1_000_000).zfill(6)
    landing = browser.submit(landing, code=wrong)
    assert MESSAGE_WRONG_CODE in landing.text
    assert journey.setup_secret(landing) == secret  # same QR code on the next try
    with sqlite3.connect(idp.db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM totp_devices").fetchone()[0] == 0


def test_second_login_asks_for_a_code_not_the_setup(journey, browser, rp):
    first = journey.first_login()
    browser.session.cookies.clear()  # a new browser: no SSO session
    landing, auth = journey.start()
    landing = journey.enter_credentials(landing)
    assert landing.soup.find(id="totp-secret") is None
    assert landing.field_names() == ["code"]
    assert landing.button_labels() == ["Continue"]
    landing = browser.submit(landing, code=journey.next_code())
    tokens = rp.finish(landing, auth)
    assert tokens.claims["amr"] == AMR_MFA
    assert tokens.claims["sub"] == first.claims["sub"]
    assert tokens.claims["sid"] != first.claims["sid"]


def test_silent_login_repeats_the_sso_session(journey, idp):
    first = journey.first_login()
    idp.advance_clock(600)
    again = journey.silent_login()
    for claim in ("sid", "auth_time", "amr", "acr", "sub"):
        assert again.claims[claim] == first.claims[claim]
    assert again.claims["iat"] >= first.claims["iat"] + 600
    assert again.claims["nonce"] == again.auth.nonce


# --- prompt and max_age -----------------------------------------------------------------------


def test_prompt_none_without_sso_answers_login_required(journey, idp):
    landing, auth = journey.start(prompt="none")
    params = landing.params()
    assert params == {"error": "login_required", "state": auth.state, "iss": idp.url}


def test_prompt_none_with_sso_answers_silently(journey):
    first = journey.first_login()
    again = journey.silent_login(prompt="none")
    assert again.claims["sid"] == first.claims["sid"]


def test_prompt_login_asks_again_and_replaces_the_sso_session(journey, browser, rp, receiver):
    first = journey.first_login()
    landing, auth = journey.start(prompt="login")
    assert landing.field_names() == ["username"]
    landing = journey.enter_credentials(landing)
    landing = browser.submit(landing, code=journey.next_code())
    second = rp.finish(landing, auth)
    assert second.claims["sid"] != first.claims["sid"]
    assert second.claims["auth_time"] > first.claims["auth_time"]

    header, claims = rp.verify_logout_token(receiver.wait_for_token())
    assert claims["sid"] == first.claims["sid"]
    assert header["typ"] == "logout+jwt"
    # The new session is the one the browser now holds.
    assert journey.silent_login().claims["sid"] == second.claims["sid"]


def test_max_age_older_than_auth_time_asks_for_a_login(journey, idp):
    first = journey.first_login()
    idp.advance_clock(120)
    assert journey.silent_login(max_age="600").claims["sid"] == first.claims["sid"]
    landing, _ = journey.start(max_age="60")
    assert landing.redirect is None
    assert landing.field_names() == ["username"]


# --- wrong input, reuse, lockout --------------------------------------------------------------


@pytest.mark.parametrize("username", ["demo", "nobody"])
def test_wrong_password_reveals_nothing_about_the_user(journey, browser, username):
    landing, _ = journey.start()
    landing = journey.enter_credentials(landing, username=username, password="wrong-password")
    assert landing.status == 200
    assert MESSAGE_WRONG_PASSWORD in landing.text
    assert landing.field_names() == ["password"]


def test_not_you_goes_back_to_the_username_step(journey, browser, idp):
    landing, _ = journey.start()
    landing = browser.submit(landing, username="someone-else")
    link = landing.soup.find("a", string="Not you?")
    landing = browser.open(idp.url + link["href"])
    assert landing.field_names() == ["username"]
    assert landing.button_labels() == ["Log in"]


def test_wrong_code_and_reused_code_are_refused(journey, browser, rp, idp):
    journey.first_login()
    browser.session.cookies.clear()
    landing, auth = journey.start()
    landing = journey.enter_credentials(landing)
    with sqlite3.connect(idp.db_path) as conn:
        [(used_step,)] = conn.execute("SELECT last_used_step FROM totp_devices").fetchall()
    code = pyotp.TOTP(journey.secret).at(used_step * 30)  # the code entered at enrolment
    landing = browser.submit(landing, code=code)
    assert MESSAGE_REUSED_CODE in landing.text
    landing = browser.submit(landing, code="000000" if code != "000000" else "111111")
    assert MESSAGE_WRONG_CODE in landing.text
    landing = browser.submit(landing, code=journey.next_code())
    assert rp.finish(landing, auth).claims["amr"] == AMR_MFA


def test_five_failures_lock_the_user_for_a_growing_time(journey, browser, idp, rp):
    landing, auth = journey.start()
    landing = browser.submit(landing, username=DEMO_USERNAME)
    for _ in range(4):
        landing = browser.submit(landing, password="wrong")
        assert MESSAGE_WRONG_PASSWORD in landing.text
    landing = browser.submit(landing, password="wrong")
    assert landing.status == 429
    assert MESSAGE_LOCKED in landing.text and "30 seconds" in landing.text
    # Even the right password is refused while locked.
    landing = browser.submit(landing, password="demo-password-2fa")
    assert MESSAGE_LOCKED in landing.text

    idp.advance_clock(31)
    for _ in range(5):
        landing = browser.submit(landing, password="wrong")
    assert MESSAGE_LOCKED in landing.text and "60 seconds" in landing.text

    idp.advance_clock(61)
    landing = browser.submit(landing, password="demo-password-2fa")
    journey.secret = journey.setup_secret(landing)
    landing = browser.submit(landing, code=journey.code())
    assert rp.finish(landing, auth).claims["amr"] == AMR_MFA


def test_wrong_codes_count_towards_the_lockout(journey, browser, idp):
    journey.first_login()
    browser.session.cookies.clear()
    landing, _ = journey.start()
    landing = journey.enter_credentials(landing)
    for _ in range(5):
        landing = browser.submit(landing, code="000000")
    assert MESSAGE_LOCKED in landing.text
    assert landing.response.headers["Retry-After"] == "30"


def test_unknown_usernames_are_locked_too(journey, browser):
    landing, _ = journey.start()
    landing = browser.submit(landing, username="nobody")
    for _ in range(5):
        landing = browser.submit(landing, password="guess")
    assert MESSAGE_LOCKED in landing.text


def test_forms_without_the_csrf_token_are_refused(idp, browser):
    response = browser.session.post(idp.url + "/login", data={"username": "demo"}, timeout=10)
    assert response.status_code == 400


# --- persistence and expiry -------------------------------------------------------------------


def test_restart_keeps_the_enrolment_the_sso_session_and_the_key(journey, browser, idp, rp):
    first = journey.first_login()
    kid = first.tokens.id_token_header["kid"]
    idp.restart()

    again = journey.silent_login()
    assert again.claims["sid"] == first.claims["sid"]
    assert again.tokens.id_token_header["kid"] == kid

    browser.session.cookies.clear()
    landing, auth = journey.start()
    landing = journey.enter_credentials(landing)
    assert landing.soup.find(id="totp-secret") is None  # no second enrolment
    landing = browser.submit(landing, code=journey.next_code())
    assert rp.finish(landing, auth).claims["amr"] == AMR_MFA


def test_sso_session_ends_12_hours_after_sign_in(journey, idp):
    journey.first_login()
    idp.advance_clock(12 * 3600 - 60)
    journey.silent_login()
    idp.advance_clock(61)
    landing, auth = journey.start(prompt="none")
    assert landing.params()["error"] == "login_required"
    landing, _ = journey.start()
    assert landing.field_names() == ["username"]


# --- the token endpoint -----------------------------------------------------------------------


def test_pkce_is_required_at_the_authorization_endpoint(journey, rp, idp):
    auth = rp.authorization_request(pkce=False)
    landing = journey.browser.open(auth.url)
    params = landing.params()
    assert params["error"] == "invalid_request"
    assert params["state"] == auth.state
    assert params["iss"] == idp.url


def test_plain_pkce_is_refused(journey, rp):
    auth = rp.authorization_request(pkce=False, code_challenge="x" * 43)
    landing = journey.browser.open(auth.url + "&code_challenge_method=plain")
    assert landing.params()["error"] == "invalid_request"


def _code_for(journey, first=True):
    """A fresh authorization response for a signed-in browser."""
    if first:
        journey.first_login()
    landing, auth = journey.start()
    assert landing.redirect is not None
    return landing, auth


@pytest.mark.parametrize(
    ("verifier", "error"),
    [(None, "invalid_request"), ("w" * 64, "invalid_grant")],
    ids=["missing", "wrong"],
)
def test_token_request_without_the_right_verifier_is_refused(journey, rp, verifier, error):
    landing, auth = _code_for(journey)
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(landing.redirect, auth, code_verifier=verifier)
    assert caught.value.error == error


def test_code_is_single_use_and_a_replay_revokes_its_tokens(journey, rp):
    landing, auth = _code_for(journey)
    tokens = rp.fetch_token(landing.redirect, auth)
    assert rp.userinfo(tokens["access_token"]).status_code == 200
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(landing.redirect, auth)
    assert caught.value.error == "invalid_grant"
    assert rp.userinfo(tokens["access_token"]).status_code == 401


def test_code_expires_after_60_seconds(journey, rp, idp):
    landing, auth = _code_for(journey)
    idp.advance_clock(61)
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(landing.redirect, auth)
    assert caught.value.error == "invalid_grant"


def test_code_is_bound_to_the_redirect_uri(journey, rp, idp):
    landing, auth = _code_for(journey)
    params = landing.params()
    response = requests.post(
        rp.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": rp.redirect_uri + "/other",
            "code_verifier": auth.code_verifier,
        },
        auth=(CLIENT_ID, rp.client_secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(journey, rp):
    landing, auth = _code_for(journey)
    rp.client_secret = "not-the-secret"
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(landing.redirect, auth)
    assert caught.value.error == "invalid_client"


def test_client_secret_post_is_accepted(journey, rp):
    landing, auth = _code_for(journey)
    tokens = rp.fetch_token(landing.redirect, auth, auth_method="client_secret_post")
    assert tokens["token_type"] == "Bearer" and tokens["id_token"]


def test_userinfo_needs_a_bearer_token(idp, rp):
    assert rp.userinfo("not-a-token").status_code == 401
    assert requests.get(rp.metadata["userinfo_endpoint"], timeout=10).status_code == 401


# --- requests that cannot be redirected ---------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [{"client_id": "unknown-client"}, {"redirect_uri": "https://attacker.example/cb"}],
    ids=["unknown-client", "unregistered-redirect-uri"],
)
def test_bad_client_or_redirect_uri_gets_an_error_page_not_a_redirect(journey, rp, change):
    auth = rp.authorization_request(**change)
    landing = journey.browser.open(auth.url)
    assert landing.redirect is None
    assert landing.status == 400
    assert "attacker.example" not in landing.response.headers.get("Location", "")


# --- consent ----------------------------------------------------------------------------------


@pytest.mark.parametrize("idp_options", [{"clients_extra": {"require_consent": True}}])
def test_consent_page_when_the_client_requires_it(journey, browser, rp, idp_options):
    landing, auth = journey.start()
    landing = journey.enter_credentials(landing)
    journey.secret = journey.setup_secret(landing)
    landing = browser.submit(landing, code=journey.code())
    assert "You're being redirected to Customer Portal" in landing.text
    assert landing.button_labels() == ["Continue"]
    landing = browser.submit(landing)
    first = rp.finish(landing, auth)

    landing, auth = journey.start()  # silent login still shows the redirection page
    assert "redirected to" in landing.text
    assert rp.finish(browser.submit(landing), auth).claims["sid"] == first.claims["sid"]


# --- IdP modes for relying-party tests ----------------------------------------------------------


@pytest.mark.parametrize("idp_options", [{"idp": {"enrolment_amr": "authentik"}}])
def test_authentik_mode_reports_only_pwd_on_the_enrolment_login(journey, browser, rp, idp_options):
    first = journey.first_login()
    assert first.claims["amr"] == ["pwd"]
    assert first.claims["acr"] == ACR_PASSWORD
    browser.session.cookies.clear()
    assert journey.code_login().claims["amr"] == AMR_MFA


@pytest.mark.parametrize("idp_options", [{"idp": {"skip_totp": True}}])
def test_skip_totp_mode_logs_in_with_the_password_only(journey, rp, idp_options):
    landing, auth = journey.start()
    landing = journey.enter_credentials(landing)
    tokens = rp.finish(landing, auth)
    assert tokens.claims["amr"] == ["pwd"]
    assert tokens.claims["acr"] == ACR_PASSWORD


# --- logout -----------------------------------------------------------------------------------


def test_end_session_redirects_ends_sso_and_sends_backchannel_logout(journey, rp, receiver):
    first = journey.first_login()
    landing = journey.end_session(first.tokens)
    assert landing.redirect == rp.post_logout_redirect_uri + "?state=logout-state"
    assert journey.browser.cookie("devidp_sso") is None

    header, claims = rp.verify_logout_token(receiver.wait_for_token())
    assert header["typ"] == "logout+jwt"
    assert header["alg"] == "RS256"
    assert claims["sid"] == first.claims["sid"]
    assert claims["sub"] == first.claims["sub"]
    assert claims["events"] == {EVENT: {}}
    assert claims["exp"] == claims["iat"] + 120
    assert "nonce" not in claims

    assert rp.userinfo(first.tokens.access_token).status_code == 401
    landing, _ = journey.start()
    assert landing.field_names() == ["username"]


def test_end_session_accepts_an_expired_id_token_hint(journey, rp, idp, receiver):
    first = journey.first_login()
    idp.advance_clock(3600)
    landing = journey.end_session(first.tokens)
    assert landing.redirect == rp.post_logout_redirect_uri + "?state=logout-state"
    assert rp.verify_logout_token(receiver.wait_for_token())[1]["sid"] == first.claims["sid"]


def test_end_session_refuses_an_unregistered_redirect_uri(journey):
    first = journey.first_login()
    landing = journey.end_session(
        first.tokens, post_logout_redirect_uri="https://attacker.example/logged-out"
    )
    assert landing.status == 400
    assert landing.redirect is None
    journey.silent_login()  # the SSO session is still there


def test_end_session_without_a_redirect_uri_shows_the_logged_out_page(journey):
    first = journey.first_login()
    landing = journey.end_session(first.tokens, post_logout_redirect_uri=None, state=None)
    assert landing.status == 200
    assert "You are logged out" in landing.text


def test_end_session_without_id_token_hint_asks_for_confirmation(journey, browser, rp, receiver):
    first = journey.first_login()
    landing = journey.end_session(first.tokens, id_token_hint=None)
    assert landing.redirect is None
    assert landing.button_labels() == ["Log out"]
    journey.silent_login()  # nothing ended yet
    landing = browser.submit(landing)
    assert landing.redirect == rp.post_logout_redirect_uri + "?state=logout-state"
    assert rp.verify_logout_token(receiver.wait_for_token())[1]["sid"] == first.claims["sid"]


def test_end_sessions_cli_sends_backchannel_logout(journey, idp, rp, receiver):
    first = journey.first_login()
    result = idp.cli("end-sessions", "demo")
    assert result.returncode == 0, result.stderr
    assert "ended SSO session" in result.stdout
    assert f"back-channel logout to {CLIENT_ID}" in result.stdout and "delivered" in result.stdout
    # The CLI delivered before exiting: the token is already here.
    token = receiver.tokens.get_nowait()
    assert rp.verify_logout_token(token)[1]["sid"] == first.claims["sid"]
    landing, _ = journey.start()
    assert landing.field_names() == ["username"]


def test_backchannel_delivery_is_retried(journey, idp, rp, receiver):
    first = journey.first_login()
    receiver.failures_to_send = 2
    result = idp.cli("end-sessions", "demo")
    assert result.returncode == 0, result.stderr
    assert "delivered after 3 tries" in result.stdout
    assert receiver.attempts == 3
    assert rp.verify_logout_token(receiver.tokens.get_nowait())[1]["sid"] == first.claims["sid"]


def test_backchannel_failure_is_reported_by_the_cli(journey, idp, receiver):
    journey.first_login()
    receiver.failures_to_send = 3
    result = idp.cli("end-sessions", "demo")
    assert result.returncode == 1
    assert "FAILED after 3 tries (HTTP 500)" in result.stdout
    assert "logout_token" not in result.stderr  # tokens are never logged


OTHER_CLIENT = {
    "client_id": "other-app",
    "client_secret": "other-secret",
    "redirect_uris": ["http://127.0.0.1:1/cb"],
    "backchannel_logout_uri": "http://127.0.0.1:1/backchannel-logout",
}


@pytest.mark.parametrize("idp_options", [{"extra_clients": [OTHER_CLIENT]}])
def test_backchannel_logout_only_goes_to_clients_of_the_session(
    journey, idp, receiver, rp, idp_options
):
    first = journey.first_login()
    result = idp.cli("end-sessions", "demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("back-channel logout to") == 1
    assert "other-app" not in result.stdout
    assert rp.verify_logout_token(receiver.tokens.get_nowait())[1]["sid"] == first.claims["sid"]


# --- logout links with an ID token of another session ---------------------------------------

OTHER_USER = {
    "username": "other",
    "password": "other-password-2fa",
    "name": "Other Customer",
    "email": "other@example.com",
}
TWO_USERS = {"users": [*DEFAULT_USERS, OTHER_USER]}


def _first_login_in_new_browser(idp, rp, username: str, password: str) -> tuple[Journey, Tokens]:
    journey = Journey(idp, Browser(idp.url), rp)
    landing, auth = journey.start()
    landing = journey.enter_credentials(landing, username=username, password=password)
    journey.secret = journey.setup_secret(landing)
    landing = journey.browser.submit(landing, code=journey.code())
    return journey, rp.finish(landing, auth)


@pytest.mark.parametrize("idp_options", [TWO_USERS])
def test_end_session_with_another_users_hint_asks_for_confirmation(
    journey, idp, rp, receiver, idp_options
):
    a = journey.first_login()
    other, b_tokens = _first_login_in_new_browser(
        idp, rp, OTHER_USER["username"], OTHER_USER["password"]
    )
    try:
        # A's browser follows a link carrying B's (valid) ID token: nothing ends without asking.
        landing = journey.end_session(b_tokens)
        assert landing.redirect is None
        assert landing.button_labels() == ["Log out"]
        assert journey.browser.cookie("devidp_sso") is not None
        assert journey.silent_login(prompt="none").claims["sid"] == a.claims["sid"]
        assert other.silent_login(prompt="none").claims["sid"] == b_tokens.claims["sid"]
        assert receiver.pending() == []

        # B's own hint in B's browser logs out at once and goes back to the client.
        landing = other.end_session(b_tokens)
        assert landing.redirect == rp.post_logout_redirect_uri + "?state=logout-state"
        assert rp.verify_logout_token(receiver.wait_for_token())[1]["sid"] == b_tokens.claims["sid"]
        assert journey.silent_login(prompt="none").claims["sid"] == a.claims["sid"]
    finally:
        other.browser.close()


def test_end_session_with_a_hint_of_an_earlier_session_asks_for_confirmation(journey, browser, rp):
    old = journey.first_login()
    landing, auth = journey.start(prompt="login")
    landing = journey.enter_credentials(landing)
    current = rp.finish(browser.submit(landing, code=journey.next_code()), auth)
    landing = journey.end_session(old.tokens)
    assert landing.button_labels() == ["Log out"]
    assert journey.silent_login(prompt="none").claims["sid"] == current.claims["sid"]
    # Confirming logs this browser out and still redirects to the client's registered URI.
    landing = browser.submit(landing)
    assert landing.redirect == rp.post_logout_redirect_uri + "?state=logout-state"
    landing, _ = journey.start(prompt="none")
    assert landing.params()["error"] == "login_required"


def test_end_session_without_sso_cookie_ends_only_the_hinted_session(journey, idp, rp, receiver):
    first = journey.first_login()
    stranger = Browser(idp.url)
    try:
        landing = Journey(idp, stranger, rp).end_session(first.tokens)
    finally:
        stranger.close()
    assert landing.redirect == rp.post_logout_redirect_uri + "?state=logout-state"
    assert rp.verify_logout_token(receiver.wait_for_token())[1]["sid"] == first.claims["sid"]
    landing, _ = journey.start(prompt="none")
    assert landing.params()["error"] == "login_required"


def test_concurrent_wrong_passwords_cannot_pass_the_lockout(journey, browser, idp):
    landing, _ = journey.start()
    landing = browser.submit(landing, username=DEMO_USERNAME)
    form = landing.form()
    data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
    data["password"] = "wrong"
    cookies = browser.session.cookies.get_dict()
    barrier = threading.Barrier(20)

    def guess(_: int) -> str:
        with requests.Session() as session:
            session.cookies.update(cookies)
            barrier.wait(timeout=30)
            response = session.post(landing.url, data=data, allow_redirects=False, timeout=30)
        return response.text

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(20)))
    checked = sum(MESSAGE_WRONG_PASSWORD in answer for answer in answers)
    locked = sum(MESSAGE_LOCKED in answer for answer in answers)
    assert checked <= 5
    assert checked + locked == 20


def test_a_second_setup_flow_cannot_replace_the_enrolled_device(journey, browser, idp, rp):
    landing, auth = journey.start()
    first_setup = journey.enter_credentials(landing)
    other = Journey(idp, Browser(idp.url), rp)
    try:
        landing, other_auth = other.start()
        second_setup = other.enter_credentials(landing)
        first_secret = journey.setup_secret(first_setup)
        second_secret = other.setup_secret(second_setup)
        assert first_secret != second_secret  # each flow has its own pending secret

        journey.secret = first_secret
        rp.finish(browser.submit(first_setup, code=journey.code()), auth)

        # The other flow's setup page is gone: GET and POST lead to the code step.
        landing = other.browser.submit(second_setup, code=other.code(second_secret))
        assert landing.soup.find(id="totp-secret") is None
        assert landing.field_names() == ["code"]
        again = other.browser.open(idp.url + "/login/totp-setup")
        assert again.field_names() == ["code"]
        with sqlite3.connect(idp.db_path) as conn:
            [(secret,)] = conn.execute("SELECT secret FROM totp_devices").fetchall()
        assert secret == first_secret

        # The enrolled device's codes still work, in the other flow too.
        landing = other.browser.submit(landing, code=journey.next_code())
        assert rp.finish(landing, other_auth).claims["amr"] == AMR_MFA
    finally:
        other.browser.close()


@pytest.mark.parametrize("how", ["cli", "end_session", "expiry"])
def test_code_of_an_ended_sso_session_is_refused(journey, rp, idp, how):
    first = journey.first_login()
    if how == "expiry":
        idp.advance_clock(43200 - first.claims["iat"] + first.claims["auth_time"] - 30)
    landing, auth = _code_for(journey, first=False)
    if how == "cli":
        result = idp.cli("end-sessions", DEMO_USERNAME)
        assert result.returncode == 0, result.stdout + result.stderr
    elif how == "end_session":
        assert journey.end_session(first.tokens).redirect is not None
    else:
        idp.advance_clock(31)  # the code is 31 s old: alive, but its SSO session has expired
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(landing.redirect, auth)
    assert caught.value.error == "invalid_grant"


@pytest.mark.parametrize("idp_options", [{"extra_clients": [OTHER_CLIENT]}])
def test_code_is_bound_to_the_client(journey, rp, idp, idp_options):
    landing, auth = _code_for(journey)
    params = landing.params()
    response = requests.post(
        rp.metadata["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": auth.code_verifier,
        },
        auth=(OTHER_CLIENT["client_id"], OTHER_CLIENT["client_secret"]),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "id_token" not in response.json()
