"""The redirection page follows an interactive sign-in only; a silent Login goes straight in.

User guide: "you can click Login and get logged in". The page "You're signed in as ...,
Continue" is shown when the IdP asked for a password or a code during this login (its
``auth_time`` is newer than the moment the login started), not when Login passed silently
through the live SSO session. The IdP's clock may differ from the portal's.
"""

from __future__ import annotations

import pytest

from portal.oidc import signed_in_during_login

STARTED = 1_800_000_000.0


@pytest.mark.parametrize(
    ("auth_time", "iat", "now", "interactive"),
    [
        (STARTED + 20, STARTED + 21, STARTED + 21, True),  # signed in during the login
        (STARTED - 600, STARTED + 1, STARTED + 1, False),  # through the SSO session
        (STARTED, STARTED + 1, STARTED + 1.5, True),  # whole seconds: same second counts
        (STARTED - 3, STARTED, STARTED + 0.5, False),  # three seconds before: silent
        # the IdP's clock 5 minutes ahead: a silent login must not look interactive
        (STARTED + 300 - 120, STARTED + 300 + 1, STARTED + 1, False),
        # the IdP's clock 5 minutes behind: an interactive one must not look silent
        (STARTED - 300 + 15, STARTED - 300 + 16, STARTED + 16, True),
    ],
)
def test_sign_in_during_login_on_the_idp_clock(auth_time, iat, now, interactive):
    claims = {"auth_time": auth_time, "iat": iat}
    assert signed_in_during_login(claims, login_started_at=STARTED, now=now) is interactive


def test_first_login_shows_the_redirection_page(portal_app, mock_idp):
    client = portal_app.test_client()
    response = mock_idp.login(client, next="/account/security")
    assert response.headers["Location"] == "/auth/signed-in"
    page = client.get("/auth/signed-in").get_data(as_text=True)
    assert "You're signed in as" in page and 'href="/account/security"' in page


def test_silent_login_goes_straight_to_the_page(portal_app, mock_idp, portal_clock):
    client = portal_app.test_client()
    signed_in_at = int(portal_clock.now()) - 600  # the SSO session began 10 minutes ago
    response = mock_idp.login(client, next="/account/security", auth_time=signed_in_at)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/security"
    assert client.get("/account").status_code == 200


def test_silent_login_with_the_idp_clock_ahead(portal_app, mock_idp, portal_clock):
    """Compared on the portal's clock, this sign-in would look newer than the login."""
    client = portal_app.test_client()
    idp_now = int(portal_clock.now()) + 45  # within PORTAL_CLOCK_SKEW (60 s)
    response = mock_idp.login(client, auth_time=idp_now - 20, iat=idp_now, exp=idp_now + 300)
    assert response.headers["Location"] == "/account"


def test_interactive_login_with_the_idp_clock_behind(portal_app, mock_idp, portal_clock):
    """Compared on the portal's clock, this sign-in would look older than the login."""
    client = portal_app.test_client()
    idp_now = int(portal_clock.now()) - 30
    response = mock_idp.login(client, auth_time=idp_now, iat=idp_now, exp=idp_now + 300)
    assert response.headers["Location"] == "/auth/signed-in"
