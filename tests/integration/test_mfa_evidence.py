"""MFA evidence: a misconfigured IdP (no TOTP stage) cannot sign anyone in; the authentik-like
enrolment login (amr ["pwd"] only) is confirmed once with prompt=login."""

from __future__ import annotations


def test_password_only_idp_is_refused(own_stack):
    stack = own_stack(idp_options={"idp": {"skip_totp": True}})
    user = stack.user()
    journey = stack.journey()
    page = journey.press_login()
    page = page.submit({"username": user.username}, button="Log in")
    page = page.submit({"password": user.password}, button="Continue")
    assert page.path == "/auth/callback"
    assert "Confirm your authenticator app" in page.text
    # Continue: the IdP is asked for a fresh login; still password only, so refused for good
    page = page.submit(button="Continue")
    page = page.submit({"username": user.username}, button="Log in")
    page = page.submit({"password": user.password}, button="Continue")
    assert page.status == 403
    assert "did not confirm a second factor" in page.text
    assert "support@example.com" in page.text
    assert journey.browser.get(stack.portal.url + "/account", follow=False).status == 302
    assert "configuration problem" in stack.portal.log_text()


def test_authentik_like_enrolment_login_is_confirmed_once(own_stack):
    stack = own_stack(idp_options={"idp": {"enrolment_amr": "authentik"}})
    user = stack.user()
    journey = stack.journey()
    page = journey.through_idp(user)
    assert "totp-setup" in journey.seen_idp_screens
    assert "Confirm your authenticator app" in page.text
    page = page.submit(button="Continue")
    account = journey.login(user, page)
    assert journey.seen_idp_screens == ["username", "password", "totp-code"]
    assert account.path == "/account"
    assert user.name in account.text


def test_fresh_sign_in_required_for_sign_in_details(own_stack):
    stack = own_stack()
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    recent = journey.open("/account/security")
    assert recent.path == "/account/security"
    assert "Password and authenticator app" in recent.text  # amr pwd, otp, mfa
    stack.advance_clocks(11 * 60)
    confirm = journey.open("/account/security")
    assert "Confirm your sign-in" in confirm.text
    assert journey.open("/account").path == "/account"  # merely viewing did not end anything
    page = confirm.submit(button="Confirm your sign-in")
    assert page.url.startswith(stack.idp.url)  # max_age=600 makes the IdP ask again
    journey.login(user, page)
    assert journey.seen_idp_screens[:2] == ["username", "password"]
    again = journey.open("/account/security")
    assert again.path == "/account/security"
