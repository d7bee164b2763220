"""Error pages and errors on forms, at phone and desktop size: plain words, the error at its
field, and no WCAG 2.1 A/AA violation (axe-core)."""

from __future__ import annotations

import pytest

from .helpers import Camera
from .helpers import assert_accessible
from .helpers import assert_fits
from .test_walkthrough import DEVICES

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("device", list(DEVICES))
def test_error_pages(device, stack, new_page, artifacts):
    from playwright.sync_api import expect

    page = new_page(**DEVICES[device])
    camera = Camera(page, artifacts)
    heading = page.get_by_role("heading", level=1)

    page.goto(stack.portal.url + "/no-such-page")
    expect(heading).to_have_text("Not Found")
    assert_fits(page, page.get_by_role("link", name="Back to the start page"))
    assert_accessible(page, "the portal's 404 page")
    camera.shot("portal-not-found")

    page.goto(stack.portal.url + "/auth/callback?state=forged&code=forged")
    expect(heading).to_have_text("Sign-in failed, try again")
    expect(page.get_by_role("alert")).to_contain_text("We could not complete your sign-in")
    assert_fits(page, page.get_by_role("link", name="Login", exact=True))
    assert_accessible(page, "the portal's sign-in error page")
    camera.shot("portal-sign-in-failed")

    # the IdP: a username refused is said at its field, and what was typed stays there
    user = stack.user()
    page.goto(stack.portal.url + "/login")
    too_long = "x" * 151
    page.get_by_label("Username").fill(too_long)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator("#username-error")).to_contain_text("at most 150 characters")
    expect(page.get_by_label("Username")).to_have_value(too_long)
    expect(page.get_by_label("Username")).to_have_attribute("aria-describedby", "username-error")
    assert_accessible(page, "the IdP's username page with an error")
    camera.shot("idp-username-too-long")

    # a wrong password is said at the password field, the username stays in view
    page.get_by_label("Username").fill(user.username)
    page.get_by_role("button", name="Log in", exact=True).click()
    field = page.get_by_label("Password")
    field.fill("not the password")
    page.get_by_role("button", name="Continue", exact=True).click()
    error = page.locator("#password-error")
    expect(error).to_contain_text("Incorrect username or password")
    expect(field).to_have_attribute("aria-describedby", "password-error")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".who")).to_contain_text(f"Logging in as {user.username}")
    error_box, field_box = error.bounding_box(), field.bounding_box()
    assert 0 <= field_box["y"] - (error_box["y"] + error_box["height"]) < 20
    assert_fits(page, error, field)
    assert_accessible(page, "the IdP's password page with an error")
    camera.shot("idp-wrong-password")

    page.goto(stack.idp.url + "/no-such-page")
    expect(heading).to_have_text("Not Found")
    assert_accessible(page, "the IdP's 404 page")
