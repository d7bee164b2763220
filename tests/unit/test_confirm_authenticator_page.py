"""The "Confirm your authenticator app" page tells the customer to wait for the next code.

The page follows an enrolment login without second-factor evidence (authentik's and Keycloak's
enrolment login both give amr ["pwd"]); its Continue asks the IdP for one more sign-in with
prompt=login. Both IdPs refuse a code that was already used (Keycloak with otpPolicyCodeReusable
false blocks it for period x (2 x look-ahead + 1) = 90 s; authentik refuses a code from a used
time step), and the code typed at enrolment is usually still on screen: without this advice the
customer types it again and is refused.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from portal import create_app
from tests.support.portal_env import idp_env


@pytest.fixture(params=["authentik", "keycloak"])
def confirm_page(request, tmp_path, mock_idp) -> BeautifulSoup:
    app = create_app(idp_env(mock_idp, tmp_path, PORTAL_PROVIDER_PRESET=request.param))
    client = app.test_client()
    response = mock_idp.login(client, amr=["pwd"])  # an enrolment login: password only
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text_of(page: BeautifulSoup) -> str:
    return " ".join(page.get_text(" ").split())


def test_page_tells_the_customer_to_wait_for_the_next_code(confirm_page):
    text = text_of(confirm_page)
    assert "Confirm your authenticator app" in text
    assert "Wait for the next code" in text
    assert "The code you just typed cannot be used a second time" in text
    assert "wait until the app shows a new code" in text


def test_page_says_what_the_idp_will_ask_without_promising_the_username(confirm_page):
    # authentik asks username, password and code; Keycloak shows "Please re-authenticate" and
    # asks password and code: the page must fit both.
    text = text_of(confirm_page)
    assert "your password (and perhaps your username) and a code from the app" in text


def test_the_wait_advice_comes_before_the_continue_button(confirm_page):
    form = confirm_page.find("form", action="/login/confirm-authenticator")
    assert form is not None and form.find("button").get_text(strip=True) == "Continue"
    advice = confirm_page.find(string=lambda s: "Wait for the next code" in s)
    assert advice is not None
    assert form in advice.find_all_next("form")
