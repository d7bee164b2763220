"""The whole first login with the keyboard only: every control reachable with Tab, in order,
with a visible focus, and no trap (Tab leaves each page after its last control)."""

from __future__ import annotations

import pytest

from .helpers import Authenticator
from .helpers import Camera
from .helpers import assert_keyboard_pass
from .helpers import focused
from .helpers import tab_to
from .test_walkthrough import DEVICES

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("device", list(DEVICES))
def test_first_login_with_the_keyboard_only(device, stack, new_page, artifacts):
    from playwright.sync_api import expect

    user = stack.user()
    page = new_page(**DEVICES[device])
    camera = Camera(page, artifacts)
    keys = page.keyboard

    def heading(text: str) -> None:
        expect(page.get_by_role("heading", level=1)).to_have_text(text)

    page.goto(stack.portal.url + "/")
    heading("Welcome to the Customer Portal")
    assert_keyboard_pass(page)
    tab_to(page, "Login")
    camera.shot("landing-login-focused")
    keys.press("Enter")

    heading("Log in")
    assert_keyboard_pass(page)
    tab_to(page, "username")
    keys.type(user.username)
    keys.press("Enter")

    heading("Enter your password")
    assert_keyboard_pass(page)
    tab_to(page, "password")
    keys.type(user.password)
    keys.press("Enter")

    heading("Set up two-factor authentication")
    assert_keyboard_pass(page)
    tab_to(page, "Copy key")
    camera.shot("totp-setup-copy-focused")
    secret = "".join(page.locator("#totp-secret span").all_inner_texts())  # read, as a person
    tab_to(page, "code")
    keys.type(Authenticator(stack.idp, secret).code())
    keys.press("Enter")

    heading(f"You're signed in as {user.name}")
    assert_keyboard_pass(page)
    tab_to(page, "Continue")
    keys.press("Enter")

    heading("Your account")
    assert_keyboard_pass(page)
    tab_to(page, "Log out")
    assert focused(page) == "button Log out"
    camera.shot("account-log-out-focused")
    keys.press("Enter")

    heading("You are logged out")
    assert_keyboard_pass(page)
