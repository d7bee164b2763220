"""The 12-hour bound across a re-authentication, with the IdP behaving as Keycloak or authentik.

At hour 11 the customer opens the sign-in details page, which asks for a sign-in within the
last 10 minutes, so the portal sends them to the IdP with ``max_age`` and the IdP asks for the
password and the code again. Then the IdPs differ (the dev IdP's ``reauth`` setting):

- Keycloak (``keep-session``) keeps its session and ``sid``, resets ``auth_time``, still ends
  the session 12 hours after its first sign-in, and sends no logout: the portal session must
  end at that same moment, bounded by the first ``auth_time`` seen for the ``sid``;
- authentik (``new-session``, the dev IdP's default) starts a new session with a new ``sid``
  (12 more hours) and back-channels the old one: the portal session lives on with the new one.
"""

from __future__ import annotations

import sqlite3

HOUR = 3600
MINUTE = 60
LIVE = 200
ENDED = 302
#: No idle timeout in the way: only the 12-hour bound may end a session here.
NO_IDLE = {"PORTAL_IDLE_TIMEOUT": str(13 * HOUR)}
FULL_LOGIN = ["username", "password", "totp-code"]
MAX_AGE_REACHED = "session ended: SSO max age reached"


def idp_sessions(stack, user) -> list[dict]:
    """The user's SSO sessions in the IdP's own record, ended ones included, oldest first."""
    with sqlite3.connect(stack.idp.db_path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT s.sid, s.auth_time, s.expires_at, s.ended_at FROM sso_sessions s"
            " JOIN users u ON u.id = s.user_id WHERE u.username = ? ORDER BY s.rowid",
            (user.username,),
        ).fetchall()
    return [dict(row) for row in rows]


def account_status(stack, journey) -> int:
    return journey.browser.get(stack.portal.url + "/account", follow=False).status


def sign_in_then_confirm_at_hour_11(stack, journey, user) -> dict:
    """First login at t0, then the sign-in details page at t0 + 11 h; the first IdP session."""
    journey.first_login(user)
    [first] = idp_sessions(stack, user)
    stack.advance_clocks(11 * HOUR)
    confirm = journey.open("/account/security")
    assert "Confirm your sign-in" in confirm.text
    page = confirm.submit(button="Confirm your sign-in")
    assert page.url.startswith(stack.idp.url)  # max_age=600: the IdP asks again
    details = journey.login(user, page)
    assert journey.seen_idp_screens == FULL_LOGIN
    assert details.path == "/account/security"
    return first


def test_keycloak_like_idp_keeps_the_sid_and_the_portal_ends_at_its_first_sign_in_plus_12h(
    own_stack,
):
    stack = own_stack(idp_options={"idp": {"reauth": "keep-session"}}, portal_env=NO_IDLE)
    user = stack.user()
    journey = stack.journey()
    first = sign_in_then_confirm_at_hour_11(stack, journey, user)

    [kept] = idp_sessions(stack, user)
    assert kept["sid"] == first["sid"] and kept["ended_at"] is None
    assert kept["auth_time"] >= first["auth_time"] + 11 * HOUR  # reset by the re-authentication
    assert kept["expires_at"] == first["expires_at"]  # still first sign-in + 12 h
    assert "replaced by a new login" not in stack.idp.log_text()  # no back-channel logout

    stack.advance_clocks(59 * MINUTE)  # t0 + 11 h 59 min
    assert account_status(stack, journey) == LIVE
    assert MAX_AGE_REACHED not in stack.portal.log_text()
    stack.advance_clocks(2 * MINUTE)  # t0 + 12 h + 1 min: the IdP session has ended, silently
    assert account_status(stack, journey) == ENDED
    assert MAX_AGE_REACHED in stack.portal.log_text()
    journey.login(user)
    assert journey.seen_idp_screens == FULL_LOGIN


def test_authentik_like_idp_starts_a_new_sid_and_the_portal_session_lives_on_with_it(
    own_stack,
):
    stack = own_stack(portal_env=NO_IDLE)  # the dev IdP's default: reauth = "new-session"
    user = stack.user()
    journey = stack.journey()
    first = sign_in_then_confirm_at_hour_11(stack, journey, user)

    old, new = idp_sessions(stack, user)
    assert old["sid"] == first["sid"] and old["ended_at"] is not None
    assert new["sid"] != first["sid"] and new["ended_at"] is None
    assert new["expires_at"] == new["auth_time"] + 12 * HOUR
    assert "replaced by a new login); back-channel logout to 1 client(s)" in stack.idp.log_text()

    stack.advance_clocks(59 * MINUTE)  # t0 + 11 h 59 min
    assert account_status(stack, journey) == LIVE
    stack.advance_clocks(2 * MINUTE)  # t0 + 12 h + 1 min: the new sid has 11 hours to go
    assert account_status(stack, journey) == LIVE
    stack.advance_clocks(11 * HOUR)  # t0 + 23 h + 1 min: the new sign-in + 12 h is past
    assert account_status(stack, journey) == ENDED
    assert MAX_AGE_REACHED in stack.portal.log_text()
    journey.login(user)
    assert journey.seen_idp_screens == FULL_LOGIN
