"""A back-channel logout that arrives while the same login's callback runs is not lost.

The IdP can end its session (and send the logout token) between issuing the code and the
portal saving the new session. The portal remembers ended sids until the SSO bound and checks
them when a session starts and after it is saved.
"""

from __future__ import annotations

import logging

import pytest

from portal import sessions
from portal.logs import sid_hash
from portal.provider import Provider
from tests.support.session_app import backchannel
from tests.support.session_app import login
from tests.support.session_app import session_app
from tests.support.session_app import signed_in

#: Logouts that end a login's session through its subject, not its own sid: the login's
#: sid (None: its ID token had none) and the logout token's claims over the defaults.
SUBJECT_LOGOUTS = [
    pytest.param("sid-kept", {"sid": None}, id="logout-by-sub"),
    pytest.param(None, {"sid": None}, id="logout-by-sub-of-a-login-without-sid"),
    pytest.param(None, {"sid": "sid-other"}, id="logout-by-sid-of-a-login-without-sid"),
]


@pytest.fixture(params=["redis", "filesystem"])
def app(tmp_path, mock_idp, request):
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return session_app(mock_idp, tmp_path, request.param, url)


def test_logout_between_session_start_and_save_ends_the_new_session(
    app, mock_idp, monkeypatch, caplog
):
    """The logout deletes the (not yet saved) session's index entry; the save comes after."""
    idp = mock_idp
    delivered = []
    real_start = sessions.start

    def start_then_logout_arrives(*args, **kwargs):
        started = real_start(*args, **kwargs)
        delivered.append(backchannel(app.test_client(), idp, sid="sid-race").status_code)
        return started

    monkeypatch.setattr(sessions, "start", start_then_logout_arrives)
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        idp.login(client, sid="sid-race")
    assert delivered == [200]
    assert not signed_in(client)
    assert f"back-channel logout for sid_hash={sid_hash('sid-race')}" in caplog.text
    assert "sid-race" not in caplog.text


def test_logout_before_the_session_starts_refuses_the_login(app, mock_idp, monkeypatch, caplog):
    """The code was redeemed, then the IdP ended that session: no portal session at all."""
    idp = mock_idp
    real_finish = Provider.finish_login

    def finish_then_logout_arrives(self, args):
        result = real_finish(self, args)
        assert backchannel(app.test_client(), idp, sid="sid-gone").status_code == 200
        return result

    monkeypatch.setattr(Provider, "finish_login", finish_then_logout_arrives)
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        response = idp.login(client, sid="sid-gone")
    assert response.status_code == 400
    assert "Sign-in failed, try again" in response.get_data(as_text=True)
    assert f"login refused: the IdP ended session sid_hash={sid_hash('sid-gone')}" in caplog.text
    assert "sid-gone" not in caplog.text  # the IdP's session id, in no line (README, Audit)
    assert "login ok" not in caplog.text
    assert not signed_in(client)


def test_other_sessions_of_the_subject_are_not_affected(app, mock_idp):
    idp = mock_idp
    assert backchannel(app.test_client(), idp, sid="sid-ended").status_code == 200
    client = app.test_client()
    login(client, idp, sid="sid-new")  # the next login at the IdP: a new sid
    assert signed_in(client)


@pytest.mark.parametrize(("login_sid", "logout"), SUBJECT_LOGOUTS)
def test_logout_of_the_subject_between_session_start_and_save_ends_the_new_session(
    app, mock_idp, monkeypatch, login_sid, logout
):
    """A logout token without sid (or a sid the login's ID token did not name) has no
    tombstone to leave: the new session notices that the logout took it out of the index."""
    idp = mock_idp
    delivered = []
    real_start = sessions.start

    def start_then_logout_arrives(*args, **kwargs):
        started = real_start(*args, **kwargs)
        delivered.append(backchannel(app.test_client(), idp, **logout).status_code)
        return started

    monkeypatch.setattr(sessions, "start", start_then_logout_arrives)
    client = app.test_client()
    idp.login(client, sid=login_sid)
    assert delivered == [200]
    assert not signed_in(client)


@pytest.mark.parametrize(("login_sid", "logout"), SUBJECT_LOGOUTS)
def test_logout_of_the_subject_during_the_code_exchange_refuses_the_login(
    app, mock_idp, monkeypatch, caplog, login_sid, logout
):
    """The ID token was issued, then the IdP logged the customer out, before the session
    started: nothing is indexed yet, so only the logout's marker can tell."""
    idp = mock_idp
    real_finish = Provider.finish_login

    def finish_then_logout_arrives(self, args):
        result = real_finish(self, args)
        assert backchannel(app.test_client(), idp, **logout).status_code == 200
        return result

    monkeypatch.setattr(Provider, "finish_login", finish_then_logout_arrives)
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        response = idp.login(client, sid=login_sid)
    assert response.status_code == 400
    assert "login refused: the IdP logged this customer out" in caplog.text
    assert not signed_in(client)


def test_a_login_after_a_logout_of_the_subject_is_kept(app, mock_idp, portal_clock):
    """Its ID token is issued after the logout token: the marker does not concern it."""
    idp = mock_idp
    first = app.test_client()
    login(first, idp, sid=None)
    assert backchannel(app.test_client(), idp, sid=None).status_code == 200
    assert not signed_in(first)
    portal_clock.advance(1)  # a person signs in again a moment later, not in the same second
    second = app.test_client()
    login(second, idp, sid=None)
    assert signed_in(second)
    other_sid = app.test_client()
    login(other_sid, idp, sid="sid-new")
    assert signed_in(other_sid)


def test_logout_of_the_subject_just_before_the_session_is_indexed_ends_it(
    app, mock_idp, monkeypatch
):
    """The logout finds no index entry (not added yet) and the login's first check came
    before the logout's marker: the check after the save sees the marker."""
    idp = mock_idp
    with app.app_context():
        index_class = type(sessions.index())
    real_add = index_class.add
    delivered = []

    def logout_arrives_then_add(self, *args, **kwargs):
        delivered.append(backchannel(app.test_client(), idp, sid=None).status_code)
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(index_class, "add", logout_arrives_then_add)
    client = app.test_client()
    idp.login(client, sid="sid-indexed-late")
    assert delivered == [200]
    assert not signed_in(client)
