"""Session semantics: the 12-hour bound and the idle bound, with injected clocks (no sleeping)."""

from __future__ import annotations

import redis

from portal.session_store import store_key

HOUR = 3600


def test_portal_session_ends_12h_after_sign_in_however_active(own_stack):
    stack = own_stack(portal_env={"PORTAL_IDLE_TIMEOUT": str(2 * HOUR)})
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    for _ in range(11):  # a request every hour keeps the idle rule happy
        stack.portal.advance_clock(HOUR)
        assert journey.browser.get(stack.portal.url + "/account", follow=False).status == 200
    stack.portal.advance_clock(HOUR + 60)
    assert journey.browser.get(stack.portal.url + "/account", follow=False).status == 302
    assert "SSO max age reached" in stack.portal.log_text()


def test_after_12h_login_asks_for_everything_again(own_stack):
    stack = own_stack()
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    journey.logout()
    stack.advance_clocks(12 * HOUR + 60)
    journey.login(user)
    assert journey.seen_idp_screens == ["username", "password", "totp-code"]


def test_sso_still_alive_after_11h_login_is_silent(own_stack):
    stack = own_stack()
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    journey.logout()
    stack.advance_clocks(11 * HOUR)
    journey.silent_login()


def test_idle_timeout_ends_portal_session_but_login_is_silent(own_stack):
    stack = own_stack(portal_env={"PORTAL_IDLE_TIMEOUT": "600"})
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    stack.advance_clocks(601)
    assert journey.browser.get(stack.portal.url + "/account", follow=False).status == 302
    assert "session ended: idle" in stack.portal.log_text()
    journey.silent_login()


def test_redis_key_expires_with_the_session(own_stack):
    stack = own_stack(portal_env={"PORTAL_IDLE_TIMEOUT": "900"})
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    cookie = journey.browser.cookie("portal_session")
    with redis.Redis.from_url(stack.portal.env["PORTAL_REDIS_URL"]) as store:
        ttl = store.ttl(store_key(cookie))
    assert 0 < ttl <= 900


def test_account_page_shows_when_the_session_ends(stack):
    user = stack.user()
    journey = stack.journey()
    account = journey.first_login(user)
    assert "Session ends" in account.text
    assert "at the latest" in account.text
