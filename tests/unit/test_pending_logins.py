"""Pending logins (one per ``GET /login``) are capped per browser session, oldest dropped.

Before the cap, 300 unfinished logins made one stored session of 177 KB.
"""

from __future__ import annotations

import pytest

from portal.session_store import SESSION_PREFIX
from portal.sessions import MAX_PENDING_LOGINS
from tests.support.session_app import session_app
from tests.support.session_app import signed_in

LOGINS = 60


@pytest.fixture(params=["redis", "filesystem"])
def app(tmp_path, mock_idp, request):
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return session_app(mock_idp, tmp_path, request.param, url, PORTAL_RATE_LIMIT="1000 per minute")


def stored(app, client) -> dict:
    store_id = SESSION_PREFIX + client.get_cookie("portal_session").value
    record = app.session_interface._retrieve_session_data(store_id)
    assert isinstance(record, dict)
    return record


def test_only_the_last_few_pending_logins_are_kept(app, mock_idp):
    idp = mock_idp
    client = app.test_client()
    started = [idp.begin(client) for _ in range(LOGINS)]
    record = stored(app, client)
    pending = [key for key in record if key.startswith("_state_")]
    assert len(pending) == MAX_PENDING_LOGINS
    assert {key.rsplit("_", 1)[-1] for key in pending} == {
        params["state"] for params in started[-MAX_PENDING_LOGINS:]
    }
    # the oldest is gone: its callback is refused as an unknown state
    assert idp.callback(client, started[0]).status_code == 400
    # the newest still completes
    assert idp.callback(client, started[-1]).status_code == 302
    assert signed_in(client)


def test_the_stored_session_stays_small(app, mock_idp):
    idp = mock_idp
    client = app.test_client()
    for _ in range(LOGINS):
        idp.begin(client)
    from portal.session_serializer import encode

    assert len(encode(stored(app, client))) < 4096
