"""Session semantics: "Log out" ends the portal session only; Login is silent while SSO lives."""

from __future__ import annotations


def test_local_logout_explains_sso_and_login_is_silent(stack):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    logged_out = journey.logout()
    assert logged_out.path == "/logged-out"
    assert (
        "You are logged out of the Customer Portal. You are still signed in to "
        "Example Business Auth, so Login will take you straight back in." in logged_out.text
    )
    assert logged_out.find_form(button="Log out everywhere") is not None
    landing = journey.open("/")
    assert "Login" in landing.text  # the portal session is gone


def test_login_after_local_logout_shows_no_idp_screen(stack):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    journey.logout()
    account = journey.silent_login()
    assert account.path == "/account"
    assert user.name in account.text


def test_log_out_everywhere_then_login_asks_for_everything(stack):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    page = journey.logout_everywhere()
    assert page.path == "/logged-out"
    assert "You are logged out everywhere" in page.text
    account = journey.login(user)
    assert journey.seen_idp_screens == ["username", "password", "totp-code"]
    assert account.path == "/account"


def test_log_out_everywhere_from_the_logged_out_page(stack):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    confirm = journey.logout().submit(button="Log out everywhere")
    # no ID token is kept after "Log out", so the IdP asks before ending the SSO session
    assert confirm.url.startswith(stack.idp.url), confirm.url
    page = confirm.submit(button="Log out")
    assert "You are logged out everywhere" in page.text
    journey.login(user)
    assert journey.seen_idp_screens[0] == "username"
