"""A portal session is bounded by the first ``auth_time`` seen for its IdP session (sid).

Keycloak keeps the user session, and so the sid, through a re-authentication (prompt=login
or max_age) but resets ``auth_time``; its session still ends 12 hours after it began, and no
logout token comes on expiry. authentik starts a new sid instead (and back-channels the old).
"""

from __future__ import annotations

import logging

import pytest

from tests.support.session_app import login
from tests.support.session_app import session_app
from tests.support.session_app import signed_in

HOUR = 3600


@pytest.fixture(params=["redis", "filesystem"])
def backend(request):
    return request.param


@pytest.fixture
def make(tmp_path, backend, mock_idp, portal_clock, request):
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    return session_app(mock_idp, tmp_path, backend, url, clock=portal_clock), portal_clock


def sign_in(app, clock, idp, sid: str):
    """A sign-in at the IdP right now (a fresh auth_time), in a new browser."""
    now = int(clock.now())
    client = app.test_client()
    login(client, idp, sid=sid, auth_time=now, iat=now, exp=now + 300)
    return client


def stay_active_until(client, clock, seconds: int) -> None:
    """Requests every half hour, so that only the SSO bound can end the session."""
    for _ in range(seconds // 1800):
        clock.advance(1800)
        assert signed_in(client)


def test_reauthentication_in_the_same_idp_session_keeps_the_first_bound(make, mock_idp, caplog):
    app, clock = make
    idp = mock_idp
    sign_in(app, clock, idp, sid="kc-user-session")
    clock.advance(11 * HOUR)
    # hour 11: a re-authentication (e.g. /account/security) in the same Keycloak session
    client = sign_in(app, clock, idp, sid="kc-user-session")
    stay_active_until(client, clock, 1800)  # hour 11.5: still signed in
    clock.advance(1800)  # hour 12: Keycloak's session is over, so is the portal's
    with caplog.at_level(logging.INFO, logger="portal.sessions"):
        assert not signed_in(client)
    assert "SSO max age reached" in caplog.text


def test_a_new_idp_session_gets_its_own_bound(make, mock_idp):
    """authentik: the re-authentication starts a new sid, bounded by its own auth_time."""
    app, clock = make
    idp = mock_idp
    sign_in(app, clock, idp, sid="ak-session-1")
    clock.advance(11 * HOUR)
    client = sign_in(app, clock, idp, sid="ak-session-2")
    stay_active_until(client, clock, 2 * HOUR)  # hour 13: still signed in
    assert signed_in(client)


def test_the_account_page_still_shows_the_latest_sign_in(make, mock_idp):
    """Fresh sign-in checks (sensitive pages) use the latest auth_time, not the first."""
    app, clock = make
    idp = mock_idp
    sign_in(app, clock, idp, sid="kc-user-session")
    clock.advance(11 * HOUR)
    client = sign_in(app, clock, idp, sid="kc-user-session")
    page = client.get("/account/security").get_data(as_text=True)
    assert "Sign-in details" in page
    assert "Confirm your sign-in" not in page
