"""The IdP goes down: Login says so within a bounded time; signed-in pages keep working."""

from __future__ import annotations

import time


def test_idp_down_login_fails_cleanly_sessions_keep_working(own_stack):
    stack = own_stack(portal_env={"PORTAL_HTTP_TIMEOUT": "2"})
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    stack.idp.stop()

    # a signed-in page view never calls the IdP
    account = journey.open("/account")
    assert account.status == 200 and user.name in account.text

    # a login whose callback needs the token endpoint: reachable -> not; clear page, 503
    other = stack.journey()
    page = other.browser.get(stack.portal.url + "/auth/callback?code=x&state=y", follow=False)
    assert page.status == 400  # unknown state is refused before any IdP call

    fresh = own_stack(portal_env={"PORTAL_HTTP_TIMEOUT": "2"})
    fresh.idp.stop()  # discovery was never loaded by this portal
    started = time.monotonic()
    page = fresh.journey().open("/login")
    elapsed = time.monotonic() - started
    assert page.status == 503
    assert "The sign-in service is not reachable right now" in page.text
    assert elapsed < 10
    assert "discovery failed" in fresh.portal.log_text()
    assert "Traceback" not in page.text
    ready = fresh.journey().browser.get(fresh.portal.url + "/readyz")
    assert ready.status == 503

    stack.idp.start()
    journey.logout()
    journey.silent_login()  # the IdP's SSO session survived its restart
