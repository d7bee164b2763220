"""Session semantics: the IdP ends the SSO session, so every portal session of it ends at once.

Two portal processes share one Redis behind no sticky sessions; the IdP delivers the
back-channel logout to one of them, and the session dies on both.
"""

from __future__ import annotations

import time
from urllib.parse import urljoin

import pytest
import requests

from tests.support.idp_key import logout_token_claims
from tests.support.idp_key import sign_with_idp_key


def wait_until_signed_out(journey, deadline_s: float = 10) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if journey.browser.get(journey.portal.url + "/account", follow=False).status == 302:
            return True
        time.sleep(0.05)  # delivery runs in the IdP's background thread: poll with a deadline
    return False


@pytest.fixture(scope="module")
def pair(tmp_path_factory, redis_server):
    from tests.support.stack import Stack

    live = Stack(tmp_path_factory.mktemp("pair"), redis_url=redis_server.url, portals=2)
    yield live
    live.stop()


def test_admin_end_sessions_ends_the_session_in_the_other_process(pair):
    user = pair.user()
    other = pair.journey(pair.portals[1])  # logs in through the second process
    other.first_login(user)
    result = pair.idp.cli("end-sessions", user.username)
    assert result.returncode == 0, result.stderr
    # the IdP delivered the logout token to the first process's URI; the second sees it
    assert wait_until_signed_out(other)
    assert "back-channel logout: ended 1 session(s)" in pair.portals[0].log_text()
    # the SSO session is over too: Login asks for everything again
    other.login(user)
    assert other.seen_idp_screens[0] == "username"


def test_login_started_on_one_process_completes_on_the_other(pair):
    user = pair.user()
    journey = pair.journey(pair.portals[0])
    page = journey.through_idp(user)
    assert page.path == "/auth/signed-in"
    # the same session cookie is valid on the second process: one Redis, no stickiness
    second = journey.browser.get(pair.portals[1].url + "/account")
    assert second.path == "/account"
    assert user.name in second.text


def test_callback_handled_by_the_other_process(pair):
    user = pair.user()
    journey = pair.journey(pair.portals[0])
    page = journey.browser.get(pair.portals[0].url + "/login", follow=True)
    # answer the IdP's screens but stop before the browser reaches the callback
    for _ in range(6):
        soup = page.soup
        if soup.find(id="totp-secret") is not None or soup.find("input", attrs={"name": "code"}):
            form_page = page
            break
        page = journey.answer(user, page)
    else:
        pytest.fail("no code screen")
    if form_page.soup.find(id="totp-secret") is not None:
        journey.phone.secrets[user.username] = form_page.soup.find(id="totp-secret").get_text(
            strip=True
        )
    code = journey._code(user)
    redirect = form_page.submit({"code": code}, button="Continue", follow=False)
    callback = urljoin(redirect.url, redirect.response.headers["Location"])
    while not callback.startswith(pair.portals[0].url + "/auth/callback"):
        redirect = journey.browser.get(callback, follow=False)
        assert redirect.status in (302, 303), redirect.text[:500]
        callback = urljoin(redirect.url, redirect.response.headers["Location"])
    assert callback.startswith(pair.portals[0].url + "/auth/callback")
    # a load balancer without stickiness sends the callback to the other process
    moved = callback.replace(pair.portals[0].url, pair.portals[1].url)
    landed = journey.browser.get(moved)
    assert landed.path == "/auth/signed-in", landed.text[:500]
    assert f"You're signed in as {user.name}" in landed.text


BAD_TOKENS = [
    ("nonce", {"nonce": "n-1"}),
    ("no events", {"events": None}),
    ("wrong aud", {"aud": "someone-else"}),
]


@pytest.mark.parametrize(("case", "change"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS])
def test_forged_logout_token_keeps_the_session(stack, case, change):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    sid = _sid_of(stack, journey)
    claims = logout_token_claims(stack.idp.url, sid=sid, sub=None)
    claims.update(change)
    claims = {k: v for k, v in claims.items() if v is not None}
    token = sign_with_idp_key(stack.idp.db_path, claims, typ="logout+jwt")
    response = requests.post(
        stack.portal.url + "/auth/backchannel-logout", data={"logout_token": token}, timeout=5
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert journey.open("/account").path == "/account"


def test_logout_token_with_bad_signature_keeps_the_session(stack):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    claims = logout_token_claims(stack.idp.url, sid=_sid_of(stack, journey), sub=None)
    kid = requests.get(stack.idp.url + "/jwks", timeout=5).json()["keys"][0]["kid"]
    forged = jwt.encode({"alg": "RS256", "kid": kid}, claims, RSAKey.generate_key(2048))
    response = requests.post(
        stack.portal.url + "/auth/backchannel-logout", data={"logout_token": forged}, timeout=5
    )
    assert response.status_code == 400
    assert journey.open("/account").path == "/account"


def test_replayed_logout_token_is_refused(stack):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    # sub only: this token is the test's, the IdP session lives on, and a sid once ended by
    # a logout token could not sign in again (the portal remembers it for 12 hours)
    sub = _sub_of(stack, user)
    token = sign_with_idp_key(
        stack.idp.db_path, logout_token_claims(stack.idp.url, sid=None, sub=sub), typ="logout+jwt"
    )
    url = stack.portal.url + "/auth/backchannel-logout"
    assert requests.post(url, data={"logout_token": token}, timeout=5).status_code == 200
    assert journey.browser.get(stack.portal.url + "/account", follow=False).status == 302
    journey.login(user)  # signed in again (same SSO session, same sid)
    replay = requests.post(url, data={"logout_token": token}, timeout=5)
    assert replay.status_code == 400
    assert "replayed" in replay.json()["error_description"]
    assert journey.open("/account").path == "/account"


def _sid_of(stack, journey) -> str:
    """The IdP session id of this browser's portal session (read from Redis via the index)."""
    import redis

    from portal.session_store import SID_PREFIX

    cookie = journey.browser.cookie("portal_session")
    with redis.Redis.from_url(stack.portal.env["PORTAL_REDIS_URL"]) as store:
        for key in store.scan_iter(SID_PREFIX + "*"):
            if store.hexists(key, cookie):
                return key.decode().split("}", 1)[1]  # portal:sid:{<subject tag>}<sid>
    raise AssertionError("session not indexed by sid")


def _sub_of(stack, user) -> str:
    """The subject the dev IdP gives this user (its database is the IdP's own record)."""
    import sqlite3

    with sqlite3.connect(stack.idp.db_path) as db:
        (sub,) = db.execute("SELECT sub FROM users WHERE username = ?", (user.username,)).fetchone()
    return sub
