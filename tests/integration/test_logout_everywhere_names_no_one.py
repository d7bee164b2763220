"""A shared browser after "Log out": no trace of the customer in the store or in the history.

"Log out everywhere" on the logged-out page reaches the live dev IdP without ``id_token_hint``
(only client_id, post_logout_redirect_uri and state); the IdP asks the customer to confirm,
ends the SSO session and sends the browser back, where the portal confirms with the state.
"""

from __future__ import annotations

import re

from tests.support.stored_records import StoredRecords

#: An ID token as text, or as earlier versions kept it (its parts as raw bytes, so its
#: header's JSON shows as is).
JWT = re.compile(rb"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*|\"alg\"\s*:")


def test_log_out_then_log_out_everywhere_leaves_no_trace(stack, redis_url):
    user = stack.user()
    journey = stack.journey()
    journey.first_login(user)
    records = StoredRecords(redis_url=redis_url)  # emptied for this test
    signed_in = records.values()
    assert [k for k, v in signed_in.items() if user.email.encode() in v]  # the live session
    assert [k for k, v in signed_in.items() if JWT.search(v)] == []  # never its ID token

    logged_out = journey.logout()
    assert logged_out.path == "/logged-out"
    stored = records.values()
    assert [key for key, value in stored.items() if JWT.search(value)] == []
    assert [key for key, value in stored.items() if user.email.encode() in value] == []

    seen_before = len(journey.browser.history)
    confirm = logged_out.submit(button="Log out everywhere")
    assert confirm.url.startswith(stack.idp.url + "/end-session?")
    assert confirm.find_form(button="Log out") is not None  # the IdP asks the customer
    done = confirm.submit(button="Log out")
    assert done.path == "/logged-out"
    assert "You are logged out everywhere" in done.text

    visited = journey.browser.history[seen_before:]
    for url in visited:
        assert "id_token_hint" not in url, url
        assert not JWT.search(url.encode()), url
        for trace in (user.username, user.email, user.name):
            assert trace not in url, url

    journey.login(user)
    assert journey.seen_idp_screens[0] == "username"  # the SSO session really ended
