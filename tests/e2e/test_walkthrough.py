"""The customer journey of the user guide, in a real Chromium, on a desktop and on a phone.

Live portal (gunicorn) + live dev IdP + real Redis. Every step asserts on what a person sees,
checks the page fits the screen (no sideways scrolling, fields and buttons inside the viewport),
has axe-core find no WCAG 2.1 A/AA violation, and leaves a full-page screenshot in
test-artifacts/e2e/<test>/.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.devidp import BRAND
from tests.support.journey import User
from tests.support.stack import Stack

from .helpers import Authenticator
from .helpers import Camera
from .helpers import IdpScreens
from .helpers import KeyUri
from .helpers import assert_accessible
from .helpers import assert_fits
from .helpers import scan_qr

pytestmark = pytest.mark.e2e

SSO_NAME = "Example Business Auth"
PORTAL_NAME = "Customer Portal"
TWELVE_HOURS = 12 * 3600
#: A person presses Login again some seconds after signing in (auth_time has whole seconds).
A_MOMENT = 5

DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}, "timezone_id": "Europe/Paris"},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
        "timezone_id": "Asia/Tokyo",
    },
}
PHONE_HEIGHT = DEVICES["phone"]["viewport"]["height"]
#: Chromium's unstyled links (blue, and purple once visited).
DEFAULT_LINK_COLOURS = ("rgb(0, 0, 238)", "rgb(85, 26, 139)")


class Walkthrough:
    """One customer in one browser tab; each method is a step of the user guide."""

    def __init__(self, page, stack: Stack, user: User, camera: Camera, device: str) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.page = page
        self.stack = stack
        self.user = user
        self.camera = camera
        self.device = device
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

    def check(self, step: str, *controls, doc: str | None = None) -> None:
        """What every page gets: it fits the screen, axe finds nothing, a screenshot."""
        assert_fits(self.page, *controls)
        assert_accessible(self.page, f"{step} on the {self.device}")
        self.camera.shot(step, doc=doc)

    def a_moment_later(self) -> None:
        self.stack.advance_clocks(A_MOMENT)

    # --- portal ----------------------------------------------------------------------------
    def open_portal(self) -> None:
        self.page.goto(self.stack.portal.url + "/")
        self.heading(f"Welcome to the {PORTAL_NAME}")
        self.expect(self.page.get_by_text(f"Sign in with your {SSO_NAME} account")).to_be_visible()
        self.check("landing", self.link("Login"), doc="1-landing")

    def press_login(self) -> None:
        self.idp_screens.clear()
        self.link("Login").click()

    def redirection_page(self, step: str, doc: str | None = None) -> None:
        self.on_portal("/auth/signed-in")
        self.heading(f"You're signed in as {self.user.name}")
        self.expect(self.page.get_by_text(f"{SSO_NAME} has confirmed your sign-in")).to_be_visible()
        self.check(step, self.link("Continue"), doc=doc)
        self.link("Continue").click()

    def account_page(self, step: str, doc: str | None = None) -> None:
        page = self.page
        self.on_portal("/account")
        self.heading("Your account")
        self.expect(page.locator("#username")).to_have_text(self.user.username)
        self.expect(page.locator("#name")).to_have_text(self.user.name)
        self.expect(page.locator("#email")).to_have_text(self.user.email)
        self.expect(page.get_by_text("Session ends", exact=True)).to_be_visible()
        self.expect(page.locator("#session-ends")).to_contain_text("at the latest")
        self.local_times()
        everywhere, local = self.button("Log out everywhere"), self.button("Log out")
        self.check(step, everywhere, local, doc=doc)
        # the safer choice on a shared computer carries the weight, as the page advises
        self.expect(page.locator("#everywhere-help")).to_contain_text("On a shared computer")
        link = page.get_by_role("link", name="Sign-in details")
        assert link.evaluate("el => getComputedStyle(el).color") not in DEFAULT_LINK_COLOURS
        assert filled(everywhere) and not filled(local), "Log out looks weightier"
        assert box(everywhere)["y"] < box(local)["y"], "Log out everywhere comes first"
        self.header_on_one_line()

    def local_times(self) -> None:
        """Times in the customer's time zone; the UTC text stays as the tooltip."""
        zone = ZoneInfo(self.page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
        for time in self.page.locator("time[data-local-time]").all():
            utc = datetime.fromisoformat(time.get_attribute("datetime").replace("Z", "+00:00"))
            local = utc.astimezone(zone)
            self.expect(time).to_contain_text(local.strftime("%H:%M"))
            self.expect(time).not_to_contain_text("UTC")
            assert time.get_attribute("title").endswith(" UTC")

    def header_on_one_line(self) -> None:
        header = self.page.locator(".site-header")
        items = header.locator("a, button").all()
        tops = {round(box(item)["y"] + box(item)["height"] / 2) for item in items}
        assert len(tops) == 1, f"the header's links wrap on {self.device}: {tops}"

    def sign_in_details(self, step: str) -> None:
        self.page.goto(self.stack.portal.url + "/account/security")
        self.heading("Sign-in details")
        self.expect(self.page.locator("#amr")).to_have_text("Password and authenticator app")
        self.local_times()
        self.header_on_one_line()
        self.check(step, self.link("Back to your account"), self.button("Log out"))
        self.link("Back to your account").click()

    def logged_out_page(self, step: str, message: str, doc: str | None = None) -> None:
        self.on_portal("/logged-out")
        self.expect(self.page.locator("#logout-scope")).to_contain_text(message)
        self.expect(self.button("Log out")).to_have_count(0)  # no session any more
        self.check(step, self.link("Login"), doc=doc)

    # --- IdP -------------------------------------------------------------------------------
    def logout_confirm_page(self, step: str) -> None:
        """ "Log out everywhere" sends no token naming the customer, so the IdP asks."""
        self.on_idp()
        self.heading(f"Log out of {SSO_NAME}?")
        self.check(step, self.button("Log out"))
        self.button("Log out").click()

    def welcome(self) -> None:
        self.on_idp()
        self.expect(self.page.get_by_text(f"Welcome to {SSO_NAME}!", exact=True)).to_be_visible()

    def username_page(self, step: str, doc: str | None = None) -> None:
        self.welcome()
        self.heading("Log in")
        field, button = self.page.get_by_label("Username"), self.button("Log in")
        self.check(step, field, button, doc=doc)
        field.fill(self.user.username)
        button.click()

    def password_page(self, step: str) -> None:
        self.welcome()
        self.heading("Enter your password")
        self.expect(self.page.locator(".who")).to_contain_text(
            f"Logging in as {self.user.username}"
        )
        not_you = self.link("Not you?")
        field, button = self.page.get_by_label("Password"), self.button("Continue")
        self.check(step, not_you, field, button)
        field.fill(self.user.password)
        button.click()

    def totp_setup_page(self, step: str, doc: str | None = None) -> None:
        page = self.page
        self.welcome()
        self.heading("Set up two-factor authentication")
        self.expect(
            page.get_by_text(f"It adds an entry named “{BRAND}: {self.user.username}”")
        ).to_be_visible()
        add, qr = self.link("Add to authenticator app"), page.locator("#totp-qr")
        copy, field = self.button("Copy key"), page.get_by_label("TOTP code")
        self.check(step, add, qr, copy, field, self.button("Continue"), doc=doc)

        # Tap to add: the otpauth:// link an authenticator app on the phone registers.
        key = KeyUri.parse(add.get_attribute("href"))
        assert key.kind == "totp", key
        assert key.label == f"{BRAND}:{self.user.username}", key
        assert key.issuer == BRAND, key
        assert (key.digits, key.period, key.algorithm) == (6, 30, "SHA1"), key
        # The QR code (a computer's screen, scanned by the phone) holds the same key.
        assert KeyUri.parse(scan_qr(self.camera.element(qr, "qr-code"))) == key
        # The key to type: in groups of four, and the copy button copies it alone.
        groups = page.locator("#totp-secret span").all_inner_texts()
        assert groups and all(len(group) == 4 for group in groups), groups
        assert "".join(groups) == key.secret
        copy.click()
        self.expect(page.locator("#copy-secret")).to_have_text("Copied")
        self.expect(page.get_by_role("status")).to_have_text("Key copied")
        assert page.evaluate("() => navigator.clipboard.readText()") == key.secret

        if self.device == "phone":
            # phone first: the tap-to-add link leads, in the first screen, the full width;
            # the code field and Continue follow without a long scroll
            assert box(add)["y"] + box(add)["height"] <= PHONE_HEIGHT
            assert box(add)["width"] >= 0.8 * box(page.locator("main"))["width"]
            assert box(qr)["width"] < 0.5 * box(page.locator("main"))["width"]
            bottom = box(self.button("Continue"))["y"] + box(self.button("Continue"))["height"]
            assert bottom <= 1.25 * PHONE_HEIGHT, f"Continue is {bottom}px down"
        else:
            assert box(qr)["width"] >= 180, "the QR code is for the computer's screen"

        # A wrong code: the error sits at the field and is tied to it; nothing else is lost.
        field.fill("000000")
        self.button("Continue").click()
        error = page.locator("#code-error")
        self.expect(error).to_contain_text("That code is not valid")
        self.expect(field).to_have_attribute("aria-describedby", "code-hint code-error")
        self.expect(field).to_have_attribute("aria-invalid", "true")
        self.expect(field).to_be_focused()
        gap = box(field)["y"] - (box(error)["y"] + box(error)["height"])
        assert 0 <= gap < 20, f"the error is {gap}px away from its field"
        self.expect(page.locator(".who")).to_contain_text(self.user.username)
        assert "".join(page.locator("#totp-secret span").all_inner_texts()) == key.secret
        self.check(f"{step}-wrong-code", field)

        self.phone = Authenticator(self.stack.idp, key.secret, period=key.period)
        field.fill(self.phone.code())
        self.button("Continue").click()

    def code_page(self, step: str) -> None:
        page = self.page
        self.welcome()
        self.heading("Enter your TOTP code")
        self.expect(page.locator("#totp-qr")).to_have_count(0)
        self.expect(page.get_by_text("Set up two-factor authentication")).to_have_count(0)
        field = page.get_by_label("TOTP code")
        self.check(step, field, self.button("Continue"))
        assert self.phone is not None, "no authenticator set up"
        field.fill(self.phone.code())
        self.button("Continue").click()


def filled(control) -> bool:
    """Whether a button is drawn filled (the weightier style) rather than outlined."""
    background = control.evaluate("el => getComputedStyle(el).backgroundColor")
    return background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")


def box(locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not on the page"
    return found


@pytest.mark.parametrize("device", list(DEVICES))
def test_walkthrough(device, stack, new_page, artifacts):
    user = stack.user()
    page = new_page(**DEVICES[device])
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.idp.url)
    walk = Walkthrough(page, stack, user, Camera(page, artifacts, docs=device == "phone"), device)

    # 1. Open the portal, press "Login".
    walk.open_portal()
    walk.press_login()
    # 2. Username, "Log in".  3. Password, "Continue".
    walk.username_page("idp-username", doc="2-idp-username")
    walk.password_page("idp-password")
    # 4. First login: add the authenticator app's entry, type its code.
    walk.totp_setup_page("idp-totp-setup", doc="3-idp-totp-setup")
    # 5. The redirection page after the sign-in, then the account page.
    walk.redirection_page("redirection", doc="4-redirection")
    walk.account_page("account", doc="5-account")
    assert walk.idp_screens.seen == [
        "/login",
        "/login/password",
        "/login/totp-setup",
        "/login/totp-setup",  # again after the wrong code
    ]
    walk.sign_in_details("sign-in-details")

    # 6. Log out of the portal: the SSO session lives on, Login gets straight back in, with
    #    no IdP screen and no redirection page.
    walk.button("Log out").click()
    walk.heading("You are logged out")
    walk.logged_out_page(
        "logged-out",
        f"You are logged out of the {PORTAL_NAME}. You are still signed in to {SSO_NAME},"
        " so Login will take you straight back in.",
        doc="6-logged-out",
    )
    walk.a_moment_later()
    walk.press_login()
    walk.account_page("account-again")
    assert walk.idp_screens.seen == [], f"the IdP asked again: {walk.idp_screens.seen}"

    # 7. Log out everywhere: Login asks for everything again, with a code (no setup this time).
    walk.button("Log out everywhere").click()
    walk.logout_confirm_page("idp-logout-confirm")
    walk.heading("You are logged out everywhere")
    walk.logged_out_page(
        "logged-out-everywhere",
        f"Your {SSO_NAME} session has ended too, so the next Login will ask for your username,"
        " password and TOTP code.",
    )
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


def test_the_accessibility_check_sees_violations(new_page):
    """axe is not vacuous either: a field without a label, low contrast, no lang."""
    page = new_page(**DEVICES["phone"])
    page.set_content(
        '<main><h1>Form</h1><input type="text"><p style="color: #ccc">faint</p></main>'
    )
    with pytest.raises(AssertionError, match="label"):
        assert_accessible(page, "a page built to fail")
