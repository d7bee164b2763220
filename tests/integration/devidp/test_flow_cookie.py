"""The live IdP: a copy of the flow cookie is worthless once the browser has moved on."""

from __future__ import annotations

from .helpers import Browser


def test_a_copied_flow_cookie_cannot_be_replayed_after_the_login(journey, browser, idp, rp):
    landing, auth = journey.start()
    setup = journey.enter_credentials(landing)  # the TOTP setup page: password checked
    copy = Browser(idp.url)
    try:
        copy.session.cookies.update(browser.session.cookies.get_dict())
        journey.secret = journey.setup_secret(setup)
        rp.finish(browser.submit(setup, code=journey.code()), auth)

        replay = copy.open(idp.url + "/login/totp-setup")
        assert replay.field_names() == ["username"]  # back to the start: nothing to resume
        answer = copy.submit(setup, code=journey.next_code())
        assert answer.field_names() == ["username"]
        assert copy.cookie("devidp_sso") is None
    finally:
        copy.close()
