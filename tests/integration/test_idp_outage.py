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

    # a login already under way when the IdP goes down: its callback cannot redeem the code
    other, late = stack.journey(), stack.user()
    stack.idp.start()
    other.login(late)
    other.logout()
    callback = _callback_url_of_a_silent_login(other, stack)
    stack.idp.stop()
    started = time.monotonic()
    page = other.browser.get(callback)
    assert time.monotonic() - started < 10
    assert page.status == 503
    assert "The sign-in service is not reachable right now" in page.text
    assert "token request failed" in stack.portal.log_text()
    assert other.browser.get(stack.portal.url + "/account", follow=False).status == 302

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


def _callback_url_of_a_silent_login(journey, stack) -> str:
    """Follow Login until the IdP sends the browser back with a code; do not deliver it."""
    from urllib.parse import urljoin

    url = stack.portal.url + "/login"
    for _ in range(5):
        page = journey.browser.get(url, follow=False)
        url = urljoin(url, page.response.headers["Location"])
        if url.startswith(stack.portal.url + "/auth/callback"):
            return url
    raise AssertionError("no callback URL")
