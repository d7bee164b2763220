"""The first login works with JavaScript off: the key can be read and typed (the copy button,
which needs JavaScript, is not shown), and times read in UTC."""

from __future__ import annotations

import pytest

from .helpers import Authenticator
from .helpers import to_totp_setup
from .test_walkthrough import DEVICES

pytestmark = pytest.mark.e2e


def test_first_login_without_javascript(stack, new_page):
    from playwright.sync_api import expect

    user = stack.user()
    page = new_page(**DEVICES["phone"], java_script_enabled=False)
    to_totp_setup(page, stack, user)

    expect(page.get_by_role("link", name="Add to authenticator app")).to_be_visible()
    expect(page.locator("#copy-secret")).to_be_hidden()
    secret = "".join(page.locator("#totp-secret span").all_inner_texts())
    page.get_by_label("TOTP code").fill(Authenticator(stack.idp, secret).code())
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("link", name="Continue", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    expect(page.locator("#signed-in-at")).to_contain_text(" UTC")
