"""The portal against node-oidc-provider, an OpenID Certified provider this project did not write.

Full login, silent login after a local logout, log out everywhere (through the provider's own
confirmation form), and a back-channel logout delivered by the provider ending the portal
session. The portal runs under gunicorn with its sessions in a real Redis.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pyotp
import pytest
import requests

from tests.support.browser import Browser
from tests.support.browser import Page
from tests.support.node_provider import ACR
from tests.support.node_provider import LOGIN_BUTTON
from tests.support.node_provider import LOGOUT_BUTTON
from tests.support.node_provider import NodeProvider
from tests.support.node_provider import node_toolchain_missing
from tests.support.node_provider import start_node_provider
from tests.support.portal_server import CLIENT_SECRET
from tests.support.portal_server import LivePortal
from tests.support.processes import free_port

pytestmark = pytest.mark.interop

ALICE = {
    "username": "alice",
    "password": "interop password for alice",
    "totp_secret": pyotp.random_base32(),
    "name": "Alice Interop",
    "email": "alice@example.com",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_server) -> Iterator[tuple[NodeProvider, LivePortal]]:
    missing = node_toolchain_missing()
    if missing:
        if os.environ.get("PORTAL_REQUIRE_INTEROP") == "1":
            pytest.fail(f"interop tests required but {missing}")
        pytest.skip(missing)
    workdir = tmp_path_factory.mktemp("interop")
    port = free_port()
    provider = start_node_provider(
        workdir,
        portal_base_url=f"http://127.0.0.1:{port}",
        client_id="customer-portal",
        client_secret=CLIENT_SECRET,
        users=[ALICE],
    )
    portal = LivePortal(
        workdir,
        issuer=provider.url,
        port=port,
        redis_url=redis_server.url,
        client_id="customer-portal",
        env={"PORTAL_SSO_NAME": "Interop provider"},
    )
    try:
        portal.start()
        yield provider, portal
    finally:
        portal.stop()
        provider.stop()


def provider_login(page: Page) -> Page:
    assert "Interop provider" in page.text, page.text[:500]
    code = pyotp.TOTP(ALICE["totp_secret"]).now()
    return page.submit(
        {"username": ALICE["username"], "password": ALICE["password"], "code": code},
        button=LOGIN_BUTTON,
    )


def full_login(browser: Browser, portal: LivePortal) -> Page:
    page = browser.get(f"{portal.url}/")
    page = page.click("Login")
    page = provider_login(page)
    assert page.path == "/auth/signed-in", page.text[:500]
    assert "You're signed in as Alice Interop" in page.text
    return page.click("Continue")


def test_full_login(stack):
    provider, portal = stack
    browser = Browser()
    account = full_login(browser, portal)
    assert account.path == "/account"
    assert "alice@example.com" in account.text
    assert "Alice Interop" in account.text
    assert "code=" not in account.url
    security = browser.get(f"{portal.url}/account/security")
    assert "Password and authenticator app" in security.text  # amr ["pwd", "otp"]


def test_silent_login_after_local_logout(stack):
    provider, portal = stack
    browser = Browser()
    full_login(browser, portal).submit(button="Log out")
    logged_out = browser.get(f"{portal.url}/logged-out?scope=portal")
    assert "You are still signed in to Interop provider" in logged_out.text
    page = logged_out.click("Login")
    # no form at the provider: straight back into the portal. The provider's clock cannot be
    # moved, and auth_time has whole seconds, so a Login this close to the sign-in may still
    # get the redirection page (tests/unit/test_redirection_page_after_sign_in_only.py and
    # the dev IdP journeys pin the rule with moved clocks).
    if page.path == "/auth/signed-in":
        assert "You're signed in as Alice Interop" in page.text
        page = page.click("Continue")
    assert page.path == "/account", page.url
    assert "Alice Interop" in page.text


def test_log_out_everywhere_then_login_asks_again(stack):
    provider, portal = stack
    browser = Browser()
    account = full_login(browser, portal)
    confirm = account.submit(button="Log out everywhere")
    assert confirm.url.startswith(provider.url)
    done = confirm.submit(button=LOGOUT_BUTTON)
    assert done.path == "/logged-out"
    assert "You are logged out everywhere" in done.text
    again = done.click("Login")
    assert again.url.startswith(provider.url)
    assert "Interop provider" in again.text
    assert again.find_form(button=LOGIN_BUTTON) is not None


def test_log_out_everywhere_from_the_logged_out_page_sends_no_token(stack):
    provider, portal = stack
    browser = Browser()
    logged_out = full_login(browser, portal).submit(button="Log out")
    assert logged_out.path == "/logged-out"
    seen = len(browser.history)
    confirm = logged_out.submit(button="Log out everywhere")
    assert confirm.url.startswith(provider.url)
    done = confirm.submit(button=LOGOUT_BUTTON)  # the provider asks, without a hint
    assert done.path == "/logged-out"
    assert "You are logged out everywhere" in done.text
    assert not [url for url in browser.history[seen:] if "id_token_hint" in url]
    again = done.click("Login")
    assert again.url.startswith(provider.url)
    assert again.find_form(button=LOGIN_BUTTON) is not None


def test_backchannel_logout_from_provider_ends_portal_session(stack):
    provider, portal = stack
    browser = Browser()
    full_login(browser, portal)
    assert browser.get(f"{portal.url}/account").path == "/account"
    # Another application ends the SSO session at the provider (no portal involved).
    end_session = requests.get(provider.discovery_url, timeout=5).json()["end_session_endpoint"]
    confirm = browser.get(end_session)
    confirm.submit(button=LOGOUT_BUTTON)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if browser.get(f"{portal.url}/account", follow=False).status == 302:
            break
        time.sleep(0.05)  # back-channel delivery is asynchronous: poll with a deadline
    assert browser.get(f"{portal.url}/account", follow=False).status == 302
    assert "back-channel logout: ended 1 session(s)" in portal.log_text()


def test_id_token_acr_reaches_the_portal(stack):
    provider, portal = stack
    browser = Browser()
    full_login(browser, portal)
    assert f"acr={ACR}" not in portal.log_text()  # acr is not logged; amr is
    assert "amr=pwd,otp" in portal.log_text()
