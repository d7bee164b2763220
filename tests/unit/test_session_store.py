"""Sessions in a real Redis and in the filesystem: expiry, fixation, the sid/sub index."""

from __future__ import annotations

import pytest
import redis

from portal import create_app
from portal.session_store import SID_FIRST_PREFIX
from portal.session_store import sid_key
from portal.session_store import storage_ttl
from portal.session_store import store_key
from portal.session_store import sub_key
from portal.session_store import subject_tag
from tests.support.portal_env import idp_env
from tests.support.session_app import backchannel
from tests.support.session_app import login
from tests.support.session_app import signed_in


@pytest.fixture(params=["redis", "filesystem"])
def backend(request):
    return request.param


@pytest.fixture
def idp(mock_idp):
    return mock_idp


@pytest.fixture
def make_app(tmp_path, backend, idp, request):
    def make(clock=None, **env):
        extra = {"PORTAL_SESSION_BACKEND": backend, **env}
        if backend == "redis":
            extra["PORTAL_REDIS_URL"] = request.getfixturevalue("redis_url")
        return create_app(idp_env(idp, tmp_path, **extra), clock=clock)

    return make


def redis_app(idp, tmp_path, redis_url, clock=None, **env):
    env = {"PORTAL_SESSION_BACKEND": "redis", "PORTAL_REDIS_URL": redis_url, **env}
    return create_app(idp_env(idp, tmp_path, **env), clock=clock)


def test_storage_ttl_follows_the_sooner_bound():
    state = {"portal": {"ends_at": 1000.0}}
    assert storage_ttl(state, now=0, idle_timeout=3600, login_timeout=600) == 1000
    assert storage_ttl(state, now=0, idle_timeout=300, login_timeout=600) == 300
    assert storage_ttl({}, now=0, idle_timeout=3600, login_timeout=600) == 600


def test_redis_key_expiry_follows_the_session(redis_url, tmp_path, idp, portal_clock):
    clock = portal_clock
    app = redis_app(idp, tmp_path, redis_url, clock, PORTAL_IDLE_TIMEOUT="1800")
    client = app.test_client()
    # signed in 11h50 ago at the IdP: the portal session may live only 10 more minutes
    login(client, idp, auth_time=int(clock.now()) - (12 * 3600 - 600))
    store = redis.Redis.from_url(redis_url)
    sid = client.get_cookie("portal_session").value
    ttl = store.ttl(store_key(sid))
    assert 590 <= ttl <= 600
    assert store.hexists(sid_key("sid-1", subject_tag("user-123")), sid)
    assert store.hexists(sub_key("user-123"), sid)
    assert 0 < store.ttl(sid_key("sid-1", subject_tag("user-123"))) <= 600
    # the first auth_time of the sid is remembered beside the index, with the same expiry
    tag, first = store.get(SID_FIRST_PREFIX + "sid-1").decode().split(" ")
    assert (tag, float(first)) == (subject_tag("user-123"), int(clock.now()) - (12 * 3600 - 600))
    assert 590 <= store.ttl(SID_FIRST_PREFIX + "sid-1") <= 600


def test_redis_key_expiry_is_the_idle_timeout_for_fresh_logins(redis_url, tmp_path, idp):
    app = redis_app(idp, tmp_path, redis_url, PORTAL_IDLE_TIMEOUT="1800")
    client = app.test_client()
    login(client, idp)
    store = redis.Redis.from_url(redis_url)
    ttl = store.ttl(store_key(client.get_cookie("portal_session").value))
    assert 1790 <= ttl <= 1800


def test_pre_login_id_is_discarded(make_app, idp):
    client = make_app().test_client()
    params = idp.begin(client)
    before = client.get_cookie("portal_session").value
    idp.callback(client, params)
    assert client.get_cookie("portal_session").value != before
    client.set_cookie("portal_session", before)
    assert not signed_in(client)


def test_cookie_flags(make_app, idp):
    client = make_app().test_client()
    idp.begin(client)
    jar = client.get_cookie("portal_session")
    assert jar.http_only
    assert jar.same_site == "Lax"
    assert not jar.secure  # http base URL on loopback


def test_local_logout_ends_only_this_session(make_app, idp):
    app = make_app()
    one, two = app.test_client(), app.test_client()
    login(one, idp)
    login(two, idp)
    from bs4 import BeautifulSoup

    page = one.get("/account").get_data(as_text=True)
    token = BeautifulSoup(page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]
    response = one.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/logged-out?scope=portal"
    text = one.get("/logged-out?scope=portal").get_data(as_text=True)
    assert "You are still signed in to 127.0.0.1, so Login will take you straight back in." in text
    assert not signed_in(one)
    assert signed_in(two)


def test_logout_without_csrf_token_is_refused(make_app, idp):
    client = make_app().test_client()
    login(client, idp)
    assert client.post("/logout").status_code == 400
    assert client.post("/logout/everywhere").status_code == 400
    assert client.get("/logout").status_code == 405
    assert signed_in(client)


def test_backchannel_logout_by_sid_ends_all_sessions_of_that_sid(make_app, idp):
    app = make_app()
    a1, a2, other = app.test_client(), app.test_client(), app.test_client()
    login(a1, idp, sid="sid-A")
    login(a2, idp, sid="sid-A")
    login(other, idp, sid="sid-B")
    response = backchannel(app.test_client(), idp, sid="sid-A")
    assert response.status_code == 200
    assert not signed_in(a1)
    assert not signed_in(a2)
    assert signed_in(other)


def test_backchannel_logout_by_sub_without_sid(make_app, idp):
    app = make_app()
    mine, theirs = app.test_client(), app.test_client()
    login(mine, idp, sub="alice", sid="s1")
    login(theirs, idp, sub="bob", sid="s2")
    assert backchannel(app.test_client(), idp, sid=None, sub="alice").status_code == 200
    assert not signed_in(mine)
    assert signed_in(theirs)


def test_logout_with_sid_and_sub_ends_the_subjects_sessions_that_had_no_sid(make_app, idp):
    """The ID token had no sid, the logout token has sid and sub (Back-Channel Logout 1.0,
    Section 2.7: the sessions "identified by the iss and sub Claims and/or the sid Claim").
    A session without sid may be that IdP session, so it ends; one of another sid stays."""
    app = make_app()
    unknown_sid, other_sid, other_user = app.test_client(), app.test_client(), app.test_client()
    login(unknown_sid, idp, sub="alice", sid=None)
    login(other_sid, idp, sub="alice", sid="sid-other")
    login(other_user, idp, sub="bob", sid=None)
    response = backchannel(app.test_client(), idp, sid="sid-never-seen", sub="alice")
    assert response.status_code == 200
    assert not signed_in(unknown_sid)
    assert signed_in(other_sid)
    assert signed_in(other_user)


def test_file_index_keeps_the_later_expiry_of_a_subject(tmp_path, idp, portal_clock, monkeypatch):
    """A later login that ends sooner must not shorten the subject's set (EXPIRE GT in
    Redis); else a sub-only logout misses the session that ends later."""
    import cachelib.file

    clock = portal_clock
    app = create_app(idp_env(idp, tmp_path, PORTAL_SESSION_BACKEND="filesystem"), clock=clock)
    long_lived, short_lived = app.test_client(), app.test_client()
    login(long_lived, idp, sub="alice", sid="s-long")  # signed in just now: 1 h idle bound
    # signed in 11 h 50 min ago elsewhere: this one may live 10 more minutes
    login(short_lived, idp, sub="alice", sid="s-short", auth_time=int(clock.now()) - 42600)
    # 15 minutes later (the store's clock is the system's): the short session's bound passed
    later = cachelib.file.time() + 900
    monkeypatch.setattr(cachelib.file, "time", lambda: later)
    clock.advance(900)
    response = backchannel(app.test_client(), idp, sid=None, sub="alice")
    assert response.status_code == 200
    assert not signed_in(long_lived)


BAD = [
    ("nonce", {"nonce": "n"}),
    ("no events", {"events": None}),
    ("wrong aud", {"aud": "other-client"}),
]


@pytest.mark.parametrize(("case", "claims"), BAD, ids=[b[0] for b in BAD])
def test_bad_logout_token_keeps_the_session(make_app, idp, case, claims):
    app = make_app()
    client = app.test_client()
    login(client, idp)
    response = backchannel(app.test_client(), idp, **claims)
    assert response.status_code == 400
    assert response.is_json and response.json["error"] == "invalid_request"
    assert signed_in(client)


def test_logout_token_with_bad_signature_keeps_the_session(make_app, idp):
    from tests.support.tokens import rsa_key

    app = make_app()
    client = app.test_client()
    login(client, idp)
    forged = idp.logout_token(key=rsa_key(idp.key.kid))  # the IdP's kid, another key
    response = app.test_client().post("/auth/backchannel-logout", data={"logout_token": forged})
    assert response.status_code == 400
    assert signed_in(client)


def test_replayed_logout_token_is_refused(make_app, idp):
    app = make_app()
    # sub only: a sid, once ended, could not sign in again (tombstone) to show the replay
    # issued a moment before the login below: that login's ID token comes after it
    token = idp.logout_token(jti="once", sid=None, sub="user-123", iat=int(idp.clock()) - 1)
    first = app.test_client().post("/auth/backchannel-logout", data={"logout_token": token})
    assert first.status_code == 200
    client = app.test_client()
    login(client, idp, sid="sid-x")
    again = app.test_client().post("/auth/backchannel-logout", data={"logout_token": token})
    assert again.status_code == 400
    assert "replayed" in again.json["error_description"]
    assert signed_in(client)


def test_backchannel_without_token_is_a_json_400(make_app, idp):
    response = make_app().test_client().post("/auth/backchannel-logout", data={})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_request_in_flight_cannot_revive_a_backchannel_deleted_session(make_app, idp):
    """A save after the record was deleted must not re-create it (unindexed, immortal)."""
    from flask import session as flask_session

    from portal import sessions

    app = make_app()

    @app.get("/test-touch-during-logout")
    def touch_during_logout():
        flask_session["portal.noise"] = "x"  # this request modifies its session ...
        sessions.end_by_sid("sid-1")  # ... while a back-channel logout deletes it
        return "ok"

    client = app.test_client()
    login(client, idp, sid="sid-1")
    assert client.get("/test-touch-during-logout").status_code == 200
    assert not signed_in(client)


def test_logout_token_retry_after_store_failure_is_applied(make_app, idp, monkeypatch):
    from portal import sessions
    from portal.session_store import StoreUnavailable

    app = make_app()
    client = app.test_client()
    login(client, idp, sid="sid-r")
    token = idp.logout_token(jti="retry-me", sid="sid-r")
    real = sessions.end_by_sid
    calls = []

    def flaky(sid, **kwargs):
        calls.append(sid)
        if len(calls) == 1:
            raise StoreUnavailable("timeout")
        return real(sid, **kwargs)

    monkeypatch.setattr(sessions, "end_by_sid", flaky)
    first = app.test_client().post("/auth/backchannel-logout", data={"logout_token": token})
    assert first.status_code == 503
    retry = app.test_client().post("/auth/backchannel-logout", data={"logout_token": token})
    assert retry.status_code == 200
    assert not signed_in(client)


def test_jti_is_remembered_as_long_as_the_token_is_acceptable(redis_url, tmp_path, idp):
    app = redis_app(idp, tmp_path, redis_url)
    token = idp.logout_token(jti="long-lived", sid="sid-z")
    assert (
        app.test_client().post("/auth/backchannel-logout", data={"logout_token": token}).status_code
        == 200
    )
    with redis.Redis.from_url(redis_url) as store:
        ttl = store.ttl("portal:jti:long-lived")
    assert ttl >= 600 + 2 * 60 - 2  # iat may be up to max_token_age + skew old, plus skew ahead


def test_logout_token_with_non_string_sid_is_a_400(make_app, idp):
    response = backchannel(make_app().test_client(), idp, sid=12345)
    assert response.status_code == 400


def test_unreadable_jwks_on_backchannel_is_a_503(make_app, idp):
    idp.respond("jwks", json={"keys": [{"kty": "bogus"}]})
    response = backchannel(make_app().test_client(), idp)
    assert response.status_code == 503


def test_old_cookie_is_dead_after_logout(make_app, idp):
    from bs4 import BeautifulSoup

    client = make_app().test_client()
    login(client, idp)
    signed_in_cookie = client.get_cookie("portal_session").value
    page = client.get("/account").get_data(as_text=True)
    token = BeautifulSoup(page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]
    client.post("/logout", data={"csrf_token": token})
    client.set_cookie("portal_session", signed_in_cookie)  # a copy kept by someone else
    assert not signed_in(client)


@pytest.mark.parametrize("without_sid", [False, True], ids=["by-sub", "by-sid-without-sid"])
def test_an_older_logout_token_never_lowers_the_subjects_marker(make_app, without_sid):
    """Logout tokens may be processed out of order. A marker lowered by the older one would let
    a login whose ID token was issued between the two survive the newer logout."""
    app = make_app()
    index = app.extensions["portal.session_index"]
    with app.app_context():
        for issued_at in (105.0, 100.0):  # the newer token first, then the older one
            if without_sid:
                index.end_by_sid("sid-x", sub="user-123", issued_at=issued_at)
            else:
                index.end_by_sub("user-123", issued_at=issued_at)
        assert index.subject_ended_at("user-123", without_sid=without_sid) == 105.0
        index.end_by_sub("user-123", issued_at=110.0)  # a newer one still raises it
        assert index.subject_ended_at("user-123", without_sid=False) == 110.0


def test_a_sign_in_past_the_cap_ends_the_customers_oldest_sessions(make_app, idp, portal_clock):
    """Every login reads the customer's index entries; the cap keeps that read small however
    often a customer (or a script with their SSO session) signs in within 12 hours."""
    app = make_app(clock=portal_clock)
    index = app.extensions["portal.session_index"]
    index.max_sessions = 3
    browsers = []
    for n in range(5):
        browser = app.test_client()
        login(browser, idp, sid="sid-loop" if n % 2 else f"sid-{n}")
        browsers.append(browser)
        portal_clock.advance(60)  # later sign-ins end later
    assert [signed_in(b) for b in browsers] == [False, False, True, True, True]
    with app.app_context():
        records, listed = index.records_of("user-123", limit=100)
    assert listed == 3 and len(records) == 3


def test_below_the_cap_no_session_is_ended(make_app, idp):
    app = make_app()
    browsers = [app.test_client() for _ in range(4)]
    for n, browser in enumerate(browsers):
        login(browser, idp, sid=f"sid-{n}")
    assert all(signed_in(b) for b in browsers)
