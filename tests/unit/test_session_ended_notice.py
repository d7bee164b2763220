"""When a session ends without the customer doing it, the next page says why, with Login.

The three ends of DESIGN.md's session table that the customer did not ask for: the IdP ended
the SSO session (back-channel logout), the 12-hour bound, the idle timeout. The notice comes
"in the portal, before anything else": on the landing page, and on Login (where every
signed-in page sends a browser without a session) instead of the IdP's username page.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from portal import session_notice
from tests.support.stored_records import StoredRecords

HOUR = 3600
SSO = "Example Business Auth"


@pytest.fixture
def portal_settings():
    return {"PORTAL_SSO_NAME": SSO}


def notice(client, path: str = "/") -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200, response.headers.get("Location")
    assert response.headers["Cache-Control"] == "no-store"
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def heading(page: BeautifulSoup) -> str:
    return " ".join(page.h1.get_text().split())


def test_idle_timeout(signed_in_client, portal_clock):
    portal_clock.advance(HOUR + 1)
    response = signed_in_client.get("/account")
    assert response.headers["Location"] == "/login?next=/account"
    page = notice(signed_in_client, "/login?next=/account")
    assert heading(page) == "Your session ended after an hour without activity"
    assert "Login takes you straight back in" in page.get_text()
    login = page.find("a", string="Login")
    assert login["href"] == "/login?next=/account"
    # shown once: Login then goes on to the IdP, back to the page the customer wanted
    again = signed_in_client.get(login["href"])
    assert again.status_code == 302 and again.headers["Location"].startswith("http://127.0.0.1")


def test_twelve_hours_after_sign_in(portal_app, mock_idp, portal_clock):
    client = portal_app.test_client()
    mock_idp.sign_in(client, auth_time=int(portal_clock.now()) - (12 * HOUR - 600))
    portal_clock.advance(601)  # past auth_time + 12 h, though active minutes ago
    page = notice(client)
    assert heading(page) == "Your session ended 12 hours after you signed in"
    assert "username, password and TOTP code" in page.get_text()


def test_signed_out_at_the_idp(signed_in_client, mock_idp, portal_app):
    assert mock_idp.backchannel_logout(portal_app.test_client()).status_code == 200
    page = notice(signed_in_client)
    assert heading(page) == f"Your session ended because you signed out at {SSO}"
    assert page.find("a", string="Login")["href"] == "/login"
    # the landing page comes back once the notice was seen
    assert "Welcome to the" in signed_in_client.get("/").get_data(as_text=True)


def test_log_out_form_of_an_ended_session_leads_to_the_notice(signed_in_client, portal_clock):
    page = BeautifulSoup(
        signed_in_client.get("/account/security").get_data(as_text=True), "html.parser"
    )
    token = page.find("input", attrs={"name": "csrf_token"})["value"]
    portal_clock.advance(HOUR + 1)
    response = signed_in_client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert heading(notice(signed_in_client)).startswith("Your session ended after an hour")


def test_no_notice_after_the_customers_own_logout(signed_in_client):
    page = BeautifulSoup(signed_in_client.get("/account").get_data(as_text=True), "html.parser")
    form = page.find("form", action="/logout")
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    signed_in_client.post("/logout", data={"csrf_token": token})
    assert "Welcome to the" in signed_in_client.get("/").get_data(as_text=True)
    assert signed_in_client.get("/login").status_code == 302  # straight on to the IdP


def test_a_forged_marker_shows_nothing(portal_app):
    client = portal_app.test_client()
    forged = session_notice.URLSafeSerializer("not-the-key", salt=session_notice.SALT)
    client.set_cookie(session_notice.PLAIN_COOKIE_NAME, forged.dumps([1, 1, "sid-1"]))
    assert "Welcome to the" in client.get("/").get_data(as_text=True)
    assert client.get("/login").status_code == 302


def test_the_marker_names_no_one_and_is_locked_down(signed_in_client, mock_idp):
    cookie = signed_in_client.get_cookie(session_notice.PLAIN_COOKIE_NAME)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.expires is None  # a browser-session cookie, like the session's own
    for claim in ("sub", "email", "name", "preferred_username"):
        assert str(mock_idp.claims[claim]) not in cookie.value


def test_the_notice_stores_nothing_server_side(portal_app, mock_idp, tmp_path, portal_clock):
    client = portal_app.test_client()
    mock_idp.sign_in(client)
    portal_clock.advance(HOUR + 1)
    records = StoredRecords(folder=tmp_path / "portal-sessions")
    before = records.count()
    for _ in range(5):
        client.get("/")
    assert records.count() <= before


@pytest.mark.parametrize(
    ("now", "sid_ended", "expected"),
    [
        (10_000 + 12 * HOUR, False, session_notice.MAX_AGE),
        (10_000 + 12 * HOUR - 2, False, session_notice.MAX_AGE),  # the store's whole seconds
        (10_000 + HOUR, True, session_notice.IDLE),
        (10_000 + 60, True, session_notice.SIGNED_OUT_AT_IDP),
        (10_000 + 60, False, session_notice.ENDED),
    ],
)
def test_reason(now, sid_ended, expected):
    marker = session_notice.Marker(ends_at=10_000 + 12 * HOUR, last_seen=10_000, sid="sid-1")
    assert (
        session_notice.reason(marker, now=now, idle_timeout=HOUR, sid_ended=sid_ended) == expected
    )
