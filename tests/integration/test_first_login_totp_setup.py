"""Journey steps 1-5: Login, username, password, TOTP setup (first login), redirect page, portal."""

from __future__ import annotations

from tests.support.journey import User


def test_first_login_enrols_totp_and_lands_in_the_portal(stack):
    user = stack.user()
    journey = stack.journey()
    landing = journey.open("/")
    assert "Login" in landing.text

    username_page = landing.click("Login")
    assert username_page.url.startswith(stack.idp.url)
    assert "Welcome to Example Business Auth!" in username_page.text
    password_page = username_page.submit({"username": user.username}, button="Log in")
    assert user.username in password_page.text
    assert "Not you?" in password_page.text

    account = journey.login(
        user, password_page.submit({"password": user.password}, button="Continue")
    )
    assert journey.seen_idp_screens == ["totp-setup"]
    assert account.path == "/account"
    assert user.name in account.text
    assert user.email in account.text
    assert user.username in account.text
    assert "Session ends" in account.text


def test_redirect_page_then_continue(stack):
    user = stack.user()
    journey = stack.journey()
    page = journey.through_idp(user)
    assert page.path == "/auth/signed-in"
    assert f"You're signed in as {user.name}" in page.text
    assert "code=" not in page.url and "state=" not in page.url
    account = page.click("Continue")
    assert account.path == "/account"


def test_second_login_asks_for_a_code_not_the_setup(stack):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    journey.logout_everywhere()
    account = journey.login(user)
    assert journey.seen_idp_screens == ["username", "password", "totp-code"]
    assert user.name in account.text


def test_wrong_password_keeps_the_customer_at_the_idp(stack):
    user = stack.user()
    journey = stack.journey()
    page = journey.press_login().submit({"username": user.username}, button="Log in")
    page = page.submit({"password": "wrong"}, button="Continue")
    assert "Incorrect username or password" in page.text
    assert page.url.startswith(stack.idp.url)
    assert journey.open("/account").url.startswith(stack.idp.url)  # still not signed in


def test_wrong_code_is_refused(stack):
    user: User = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    journey.logout_everywhere()
    page = journey.press_login().submit({"username": user.username}, button="Log in")
    page = page.submit({"password": user.password}, button="Continue")
    refused = page.submit({"code": "000000" if page.soup else ""}, button="Continue")
    assert "code is not valid" in refused.text or "already been used" in refused.text
    assert refused.url.startswith(stack.idp.url)


def test_restart_of_the_idp_keeps_enrolment_and_sso(stack):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    journey.logout()
    stack.idp.restart()
    journey.silent_login()  # the SSO session survived the restart
    journey.logout_everywhere()
    journey.login(user)
    assert "totp-code" in journey.seen_idp_screens  # the enrolment survived too
    assert "totp-setup" not in journey.seen_idp_screens
