"""The customer journey of the user guide, in a real Chromium, on a desktop and on a phone.

Live portal (gunicorn) + live dev IdP + real Redis. Every step asserts on what a person sees,
checks the page fits the screen (no sideways scrolling, fields and buttons inside the viewport)
and leaves a full-page screenshot in test-artifacts/e2e/<test>/.
"""

from __future__ import annotations

import re

import pytest

from tests.support.devidp import BRAND
from tests.support.journey import User
from tests.support.stack import Stack

from .helpers import Authenticator
from .helpers import Camera
from .helpers import IdpScreens
from .helpers import KeyUri
from .helpers import assert_fits
from .helpers import scan_qr

pytestmark = pytest.mark.e2e

SSO_NAME = "Example Business Auth"
PORTAL_NAME = "Customer Portal"
TWELVE_HOURS = 12 * 3600

DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
    },
}


class Walkthrough:
    """One customer in one browser tab; each method is a step of the user guide."""

    def __init__(self, page, stack: Stack, user: User, camera: Camera) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.page = page
        self.stack = stack
        self.user = user
        self.camera = camera
        self.idp_screens = IdpScreens(page, stack.idp.url)
        self.phone: Authenticator | None = None

    # --- helpers ---------------------------------------------------------------------------
    def heading(self, text: str):
        heading = self.page.get_by_role("heading", level=1)
        self.expect(heading).to_have_text(text)
        return heading

    def button(self, name: str):
        return self.page.get_by_role("button", name=name, exact=True)

    def link(self, name: str):
        return self.page.get_by_role("link", name=name, exact=True)

    def on_portal(self, path: str) -> None:
        url = re.escape(self.stack.portal.url + path)
        self.expect(self.page).to_have_url(re.compile(f"^{url}(\\?.*)?$"))

    def on_idp(self) -> None:
        self.expect(self.page).to_have_url(re.compile("^" + re.escape(self.stack.idp.url)))

    # --- portal ----------------------------------------------------------------------------
    def open_portal(self) -> None:
        self.page.goto(self.stack.portal.url + "/")
        self.heading(f"Welcome to the {PORTAL_NAME}")
        self.expect(self.page.get_by_text(f"Sign in with your {SSO_NAME} account")).to_be_visible()
        assert_fits(self.page, self.link("Login"))
        self.camera.shot("landing", doc="1-landing")

    def press_login(self) -> None:
        self.idp_screens.clear()
        self.link("Login").click()

    def redirection_page(self, step: str, doc: str | None = None) -> None:
        self.on_portal("/auth/signed-in")
        self.heading(f"You're signed in as {self.user.name}")
        self.expect(self.page.get_by_text(f"{SSO_NAME} has confirmed your sign-in")).to_be_visible()
        assert_fits(self.page, self.link("Continue"))
        self.camera.shot(step, doc=doc)
        self.link("Continue").click()

    def account_page(self, step: str, doc: str | None = None) -> None:
        self.on_portal("/account")
        self.heading("Your account")
        self.expect(self.page.locator("#username")).to_have_text(self.user.username)
        self.expect(self.page.locator("#name")).to_have_text(self.user.name)
        self.expect(self.page.locator("#email")).to_have_text(self.user.email)
        self.expect(self.page.get_by_text("Session ends", exact=True)).to_be_visible()
        self.expect(self.page.locator("#session-ends")).to_contain_text("at the latest")
        assert_fits(self.page, self.button("Log out"), self.button("Log out everywhere"))
        self.camera.shot(step, doc=doc)

    def logged_out_page(self, step: str, message: str, doc: str | None = None) -> None:
        self.on_portal("/logged-out")
        self.expect(self.page.locator("#logout-scope")).to_contain_text(message)
        self.expect(self.button("Log out")).to_have_count(0)  # no session any more
        assert_fits(self.page, self.link("Login"))
        self.camera.shot(step, doc=doc)

    # --- IdP -------------------------------------------------------------------------------
    def username_page(self, step: str, doc: str | None = None) -> None:
        self.on_idp()
        self.heading(f"Welcome to {SSO_NAME}!")
        field, button = self.page.get_by_label("Username"), self.button("Log in")
        assert_fits(self.page, field, button)
        self.camera.shot(step, doc=doc)
        field.fill(self.user.username)
        button.click()

    def password_page(self, step: str) -> None:
        self.on_idp()
        self.heading(f"Welcome to {SSO_NAME}!")
        self.expect(self.page.locator(".who")).to_contain_text(
            f"Logging in as {self.user.username}"
        )
        not_you = self.link("Not you?")
        field, button = self.page.get_by_label("Password"), self.button("Continue")
        assert_fits(self.page, not_you, field, button)
        self.camera.shot(step)
        field.fill(self.user.password)
        button.click()

    def totp_setup_page(self, step: str, doc: str | None = None) -> None:
        page = self.page
        self.on_idp()
        self.expect(
            page.get_by_role("heading", name="Set up two-factor authentication")
        ).to_be_visible()
        self.expect(
            page.get_by_text(f"It adds an entry named “{BRAND}: {self.user.username}”")
        ).to_be_visible()
        qr = page.locator("#totp-qr")
        copy, field = self.button("Copy"), page.get_by_label("TOTP code")
        assert_fits(page, qr, copy, field, self.button("Continue"))
        self.camera.shot(step, doc=doc)

        # Scan the QR code as the phone would: a picture of what the screen shows.
        uri = scan_qr(self.camera.element(qr, "qr-code"))
        key = KeyUri.parse(uri)
        assert key.kind == "totp", uri
        assert key.label == f"{BRAND}:{self.user.username}", uri
        assert key.issuer == BRAND, uri
        assert (key.digits, key.period, key.algorithm) == (6, 30, "SHA1"), uri
        shown_secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        assert key.secret == shown_secret, "the QR code and the typed-in key differ"

        # The copy button puts the same URI on the clipboard.
        self.expect(page.locator("#otpauth-uri")).to_have_value(uri)
        copy.click()
        self.expect(page.locator("#copy-uri")).to_have_text("Copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == uri

        self.phone = Authenticator(self.stack.idp, key.secret, period=key.period)
        field.fill(self.phone.code())
        self.button("Continue").click()

    def code_page(self, step: str) -> None:
        page = self.page
        self.on_idp()
        self.heading(f"Welcome to {SSO_NAME}!")
        self.expect(page.locator("#totp-qr")).to_have_count(0)
        self.expect(page.get_by_text("Set up two-factor authentication")).to_have_count(0)
        field = page.get_by_label("Code from your authenticator app")
        assert_fits(page, field, self.button("Continue"))
        self.camera.shot(step)
        assert self.phone is not None, "no authenticator set up"
        field.fill(self.phone.code())
        self.button("Continue").click()


@pytest.mark.parametrize("device", list(DEVICES))
def test_walkthrough(device, stack, new_page, artifacts):
    user = stack.user()
    page = new_page(**DEVICES[device])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.idp.url)
    walk = Walkthrough(page, stack, user, Camera(page, artifacts, docs=device == "phone"))

    # 1. Open the portal, press "Login".
    walk.open_portal()
    walk.press_login()
    # 2. Username, "Log in".  3. Password, "Continue".
    walk.username_page("idp-username", doc="2-idp-username")
    walk.password_page("idp-password")
    # 4. First login: set up the authenticator app from the QR code.
    walk.totp_setup_page("idp-totp-setup", doc="3-idp-totp-setup")
    # 5. The redirection page, then the account page.
    walk.redirection_page("redirection", doc="4-redirection")
    walk.account_page("account", doc="5-account")
    assert walk.idp_screens.seen == ["/login", "/login/password", "/login/totp-setup"]

    # 6. Log out of the portal: the SSO session lives on, Login gets straight back in.
    walk.button("Log out").click()
    walk.heading("You are logged out")
    walk.logged_out_page(
        "logged-out",
        f"You are logged out of the {PORTAL_NAME}. You are still signed in to {SSO_NAME},"
        " so Login will take you straight back in.",
        doc="6-logged-out",
    )
    walk.press_login()
    walk.redirection_page("redirection-without-prompt")
    assert walk.idp_screens.seen == [], f"the IdP asked again: {walk.idp_screens.seen}"
    walk.account_page("account-again")

    # 7. Log out everywhere: Login asks for everything again, with a code (no setup this time).
    walk.button("Log out everywhere").click()
    walk.heading("You are logged out everywhere")
    walk.logged_out_page("logged-out-everywhere", "You are logged out everywhere.")
    walk.press_login()
    walk.username_page("idp-username-again")
    walk.password_page("idp-password-again")
    walk.code_page("idp-code")
    walk.redirection_page("redirection-after-code")
    walk.account_page("account-after-code")
    assert walk.idp_screens.seen == ["/login", "/login/password", "/login/totp"]

    # 8. 12 hours after sign-in the SSO session has ended by itself: the full login again.
    walk.button("Log out").click()
    walk.logged_out_page("logged-out-before-12h", "You are still signed in to")
    stack.advance_clocks(TWELVE_HOURS + 60)  # the IdP's and the portal's clocks
    walk.press_login()
    walk.username_page("idp-username-after-12h")
    walk.password_page("idp-password-after-12h")
    walk.code_page("idp-code-after-12h")
    walk.redirection_page("redirection-after-12h")
    walk.account_page("account-after-12h")
    assert walk.idp_screens.seen == ["/login", "/login/password", "/login/totp"]


def test_the_fit_check_sees_sideways_scrolling(new_page):
    """The phone check above is not vacuous: a page wider than the phone fails it."""
    page = new_page(**DEVICES["phone"])
    page.set_content(
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<div style="width: 600px">wide</div><button>Wide</button>'
    )
    with pytest.raises(AssertionError, match="scrolls sideways"):
        assert_fits(page)
    page.set_content(
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<div style="overflow: hidden"><button style="margin-left: 350px">Off</button></div>'
    )
    with pytest.raises(AssertionError, match="outside"):
        assert_fits(page, page.get_by_role("button", name="Off"))
