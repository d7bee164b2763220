"""The signed-in devices page in a real Chromium: two browsers of one customer.

A desktop browser and a phone (two browser contexts, so two profiles with their own cookies
and their own SSO sessions) sign in as the same customer. Each sees both on the devices page,
itself marked "This device"; End on the desktop signs the phone out at its next page, and the
phone's Login gets back in without a password, as the page explains.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.support.journey import User
from tests.support.stack import Stack

from .helpers import Authenticator
from .helpers import Camera
from .helpers import assert_fits

pytestmark = pytest.mark.e2e

DESKTOP = {
    "viewport": {"width": 1280, "height": 800},
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    ),
}


class Customer:
    """One customer, with the authenticator app both browsers' sign-ins use."""

    def __init__(self, stack: Stack, user: User) -> None:
        self.stack = stack
        self.user = user
        self.phone_app: Authenticator | None = None

    def sign_in(self, page) -> None:
        """From the landing page through the IdP's screens to the account page."""
        from playwright.sync_api import expect

        page.goto(self.stack.portal.url + "/")
        page.get_by_role("link", name="Login", exact=True).click()
        page.locator("input[name=username]").fill(self.user.username)
        page.locator("input[name=username]").press("Enter")
        page.locator("input[name=password]").fill(self.user.password)
        page.locator("input[name=password]").press("Enter")
        code = page.locator("input[name=code]")
        expect(code).to_be_visible()
        if page.locator("#totp-secret").count():  # the first sign-in sets the app up
            secret = "".join(page.locator("#totp-secret").inner_text().split())
            self.phone_app = Authenticator(self.stack.idp, secret)
        assert self.phone_app is not None, "no authenticator set up"
        code.fill(self.phone_app.code())
        code.press("Enter")
        self.continue_to_account(page)

    def continue_to_account(self, page) -> None:
        from playwright.sync_api import expect

        continue_link = page.get_by_role("link", name="Continue", exact=True)
        if re.search(r"/auth/signed-in", page.url) or continue_link.count():
            continue_link.click()
        expect(page).to_have_url(re.compile(re.escape(self.stack.portal.url) + "/account$"))


def test_end_on_one_browser_signs_the_other_out(stack, new_page, artifacts):
    from playwright.sync_api import expect

    customer = Customer(stack, stack.user())
    desktop, phone = new_page(**DESKTOP), new_page(**PHONE)
    for name in ("desktop", "phone"):
        (artifacts / name).mkdir()
    customer.sign_in(desktop)
    customer.sign_in(phone)
    assert desktop.context is not phone.context

    # The account page shows the sign-in before this one, and links to the devices page.
    expect(phone.locator("#previous-sign-in")).to_contain_text("Firefox on Linux")
    phone.get_by_role("link", name="Signed-in devices").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Signed-in devices")
    rows = phone.locator("li.device")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).get_by_role("heading")).to_have_text("Mobile Safari on iOS (This device)")
    expect(rows.nth(1).get_by_role("heading")).to_have_text("Firefox on Linux")
    expect(rows.nth(0).get_by_role("button", name="End")).to_have_count(0)
    assert_fits(phone, rows.nth(1).get_by_role("button", name="End"))
    Camera(phone, artifacts / "phone").shot("devices")

    # End on the desktop: the phone's row goes, and the phone's next page is signed out.
    desktop.goto(stack.portal.url + "/account/sessions")
    desktop_rows = desktop.locator("li.device")
    expect(desktop_rows.nth(0).get_by_role("heading")).to_have_text(
        "Firefox on Linux (This device)"
    )
    end = desktop_rows.nth(1).get_by_role("button", name="End")
    expect(end).to_have_accessible_description(re.compile("^Mobile Safari on iOS End signs"))
    end.click()
    expect(desktop.get_by_role("status")).to_have_text(
        "Ended the portal session on Mobile Safari on iOS."
    )
    expect(desktop.locator("li.device")).to_have_count(1)
    Camera(desktop, artifacts / "desktop").shot("devices-after-end")

    phone.reload()
    expect(phone.get_by_role("heading", level=1)).not_to_have_text("Signed-in devices")
    assert urlsplit(phone.url).path == "/login", phone.url  # with the session-ended notice
    expect(phone.get_by_role("button", name="Log out")).to_have_count(0)

    # Still signed in at the IdP on the phone: Login gets straight back in, no password.
    phone.goto(stack.portal.url + "/")
    phone.get_by_role("link", name="Login", exact=True).click()
    customer.continue_to_account(phone)
    expect(phone.locator("input[name=password]")).to_have_count(0)
    expect(desktop.locator("li.device")).to_have_count(1)  # unchanged until reloaded
    desktop.reload()
    expect(desktop.locator("li.device")).to_have_count(2)
