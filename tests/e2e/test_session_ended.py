"""A session that ends without the customer doing it is explained on the next page, on a phone.

The IdP ended it (the customer signed out there), the 12-hour bound, the idle timeout: the
next page of the portal says which, before anything else, with Login; no silent jump to the
IdP's username page. Each notice also passes axe (WCAG 2.1 A/AA) and fits the phone.
"""

from __future__ import annotations

import re

import pytest

from .helpers import Camera
from .helpers import assert_accessible
from .helpers import assert_fits
from .helpers import first_login
from .test_walkthrough import DEVICES
from .test_walkthrough import SSO_NAME

pytestmark = pytest.mark.e2e

HOUR = 3600


def notice(page, stack, camera: Camera, step: str, heading: str, *, doc: str | None = None):
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile("^" + re.escape(stack.portal.url)))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    login = page.get_by_role("link", name="Login", exact=True)
    assert_fits(page, login)
    assert_accessible(page, step)
    camera.shot(step, doc=doc)
    return login


@pytest.mark.parametrize("device", list(DEVICES))
def test_signed_out_at_the_idp(device, stack, new_page, artifacts):
    from playwright.sync_api import expect

    page = new_page(**DEVICES[device])
    camera = Camera(page, artifacts, docs=device == "phone")
    first_login(page, stack, stack.user())
    # the customer signs out at the IdP itself (another tab, another application)
    page.goto(stack.idp.url + "/end-session")
    assert_accessible(page, "the IdP's logout confirmation")
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are logged out")
    assert_accessible(page, "the IdP's logged-out page")
    # the back-channel logout reaches the portal from the IdP's background thread
    for _ in range(100):
        if stack.portal.log_text().count("back-channel logout: ended 1 session(s)"):
            break
        page.wait_for_timeout(100)
    page.goto(stack.portal.url + "/account")  # what was open in the portal's tab
    login = notice(
        page,
        stack,
        camera,
        "session-ended-idp",
        f"Your session ended because you signed out at {SSO_NAME}",
        doc="7-session-ended",
    )
    expect(page.locator("#session-ended-next")).to_contain_text("username, password and TOTP code")
    login.click()  # Login: now the IdP asks again, and brings the customer back to /account
    expect(page.get_by_label("Username")).to_be_visible()


def test_idle_timeout(stack, new_page, artifacts):
    from playwright.sync_api import expect

    page = new_page(**DEVICES["phone"])
    camera = Camera(page, artifacts)
    first_login(page, stack, stack.user())
    stack.advance_clocks(HOUR + 60)
    page.reload()  # the account page, an hour later
    login = notice(
        page,
        stack,
        camera,
        "session-ended-idle",
        "Your session ended after an hour without activity",
    )
    expect(page.get_by_role("button", name="Log out everywhere")).to_be_visible()
    login.click()  # the SSO session lives: straight back to the account, no redirection page
    expect(page).to_have_url(stack.portal.url + "/account")
    # shown once: the next page is the portal's own again
    page.goto(stack.portal.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to the Customer Portal")


def test_twelve_hours(stack, new_page, artifacts):
    from playwright.sync_api import expect

    page = new_page(**DEVICES["phone"])
    camera = Camera(page, artifacts)
    first_login(page, stack, stack.user())
    for _ in range(11):  # active all along: a page every 59 minutes
        stack.advance_clocks(HOUR - 60)
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    stack.advance_clocks(HOUR + 20 * 60)  # 12 h 4 min after the sign-in
    page.reload()
    notice(
        page, stack, camera, "session-ended-12h", "Your session ended 12 hours after you signed in"
    )
