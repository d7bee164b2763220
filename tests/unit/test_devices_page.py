"""The signed-in devices page and the previous sign-in, on both session backends.

The live journeys (two portal processes, a Cluster) are in
tests/integration/test_signed_in_devices.py; here the edges: what is listed and kept, who may
end what, bad input, and the record of the previous sign-in.
"""

from __future__ import annotations

import logging

import pytest
import redis
from bs4 import BeautifulSoup

from portal import sessions
from portal.session_store import last_sign_in_key
from tests.support.session_app import login
from tests.support.session_app import session_app
from tests.support.session_app import signed_in
from tests.support.stored_records import StoredRecords
from tests.support.user_agents import CHROME_WINDOWS
from tests.support.user_agents import SAFARI_IPHONE


@pytest.fixture(params=["redis", "filesystem"])
def backend(request):
    return request.param


@pytest.fixture
def app(mock_idp, tmp_path, backend, request, portal_clock):
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else None
    return session_app(mock_idp, tmp_path, backend, redis_url, portal_clock)


@pytest.fixture
def stored(app, backend, tmp_path, request):
    if backend == "redis":
        return StoredRecords(redis_url=request.getfixturevalue("redis_url"))
    return StoredRecords(folder=tmp_path / "sessions")


def browser(app, user_agent: str, address: str = "127.0.0.1"):
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    return client


def devices_page(client) -> BeautifulSoup:
    response = client.get("/account/sessions")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def rows(page: BeautifulSoup) -> list[dict[str, str]]:
    return [
        {
            "name": " ".join(row.find("h2").get_text(" ").split()),
            "origin": row.select_one("dd.origin").get_text(strip=True),
            "end": row.find("form") is not None,
        }
        for row in page.select("li.device")
    ]


def end(client, page: BeautifulSoup, index: int = 0, **override: str):
    """Press End on the ``index``-th row that has one."""
    form = [row.find("form") for row in page.select("li.device") if row.find("form")][index]
    data = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    data.update(override)
    return client.post(form["action"], data=data)


@pytest.fixture
def two_devices(app, mock_idp):
    laptop = browser(app, CHROME_WINDOWS, "203.0.113.77")
    phone = browser(app, SAFARI_IPHONE, "2001:db8:1234:5678::9")
    login(laptop, mock_idp, sid="sid-laptop")
    login(phone, mock_idp, sid="sid-phone")
    return laptop, phone


def test_the_page_lists_every_session_of_the_customer(two_devices, app, mock_idp, stored):
    laptop, phone = two_devices
    stranger = browser(app, CHROME_WINDOWS, "192.0.2.1")
    login(stranger, mock_idp, sub="someone-else", sid="sid-stranger")
    assert rows(devices_page(laptop)) == [
        {"name": "Chrome on Windows (This device)", "origin": "203.0.113.0/24", "end": False},
        {"name": "Mobile Safari on iOS", "origin": "2001:db8:1234::/48", "end": True},
    ]
    assert rows(devices_page(phone))[0]["name"] == "Mobile Safari on iOS (This device)"
    # Neither the raw User-Agent nor the full address is kept anywhere, nor shown.
    for needle in ("Chrome/131", "AppleWebKit", "203.0.113.77", "5678"):
        assert stored.holding(needle) == [], needle
        assert needle not in laptop.get("/account/sessions").get_data(as_text=True)


def test_a_page_never_holds_a_session_id(two_devices):
    laptop, phone = two_devices
    html = laptop.get("/account/sessions").get_data(as_text=True)
    for client in (laptop, phone):
        cookie = client.get_cookie("portal_session").value
        assert cookie not in html
        assert cookie.split(".", 1)[1] not in html


def test_end_signs_the_other_device_out_at_once(two_devices, caplog):
    laptop, phone = two_devices
    caplog.set_level(logging.INFO, logger="portal")
    response = end(laptop, devices_page(laptop))
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/sessions"
    assert not signed_in(phone)
    assert signed_in(laptop)
    page = devices_page(laptop)
    assert page.find(id="device-ended").get_text() == (
        "Ended the portal session on Mobile Safari on iOS."
    )
    assert [r["name"] for r in rows(page)] == ["Chrome on Windows (This device)"]
    lines = [r for r in caplog.records if r.name == "portal.audit"]
    assert [r.event for r in lines][-1] == "session.ended.device"
    assert lines[-1].fields["sub"] == "user-123"
    assert lines[-1].fields["user_agent"] == "Chrome"  # who pressed End


def test_end_leaves_no_index_entry_behind(two_devices, app, mock_idp, backend, request):
    """The session leaves its sub and sid hashes with its record: a later logout by sid
    finds nothing of it, and the page lists what is left."""
    laptop, phone = two_devices
    end(laptop, devices_page(laptop))
    if backend == "redis":
        from portal.session_store import sid_key
        from portal.session_store import sub_key
        from portal.session_store import subject_tag

        with redis.Redis.from_url(request.getfixturevalue("redis_url")) as store:
            assert store.hlen(sub_key("user-123")) == 1
            assert not store.exists(sid_key("sid-phone", subject_tag("user-123")))
    assert mock_idp.backchannel_logout(app.test_client(), sid="sid-phone").status_code == 200
    assert signed_in(laptop)


def test_end_needs_the_csrf_token(two_devices):
    laptop, phone = two_devices
    response = end(laptop, devices_page(laptop), csrf_token="")
    assert response.status_code == 400
    assert signed_in(phone)
    assert laptop.get("/account/sessions/end").status_code == 405


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        ("", "malformed device"),
        ("not-a-handle", "malformed device"),
        ("0" * 15 + "\n", "malformed device"),
        ("this", "this device's own session"),
    ],
)
def test_bad_end_requests_are_refused(two_devices, caplog, device, reason):
    laptop, phone = two_devices
    if device == "this":
        device = sessions_handle(laptop)
    caplog.set_level(logging.INFO, logger="portal")
    response = end(laptop, devices_page(laptop), device=device)
    assert response.status_code == 400
    assert "This device cannot be ended here" in response.get_data(as_text=True)
    assert f"device session not ended: {reason}" in caplog.text
    assert signed_in(laptop)
    assert signed_in(phone)


def sessions_handle(client) -> str:
    from portal import device_info

    return device_info.handle(client.get_cookie("portal_session").value)


def test_a_device_ended_meanwhile_is_said_so(two_devices):
    laptop, phone = two_devices
    page = devices_page(laptop)
    assert end(laptop, page).status_code == 302
    again = end(laptop, page)  # the same form, from a stale page or a second tab
    assert again.status_code == 302
    assert devices_page(laptop).find(id="device-gone").get_text() == (
        "That device was already signed out."
    )


def test_a_customer_cannot_end_another_customers_session(two_devices, app, mock_idp):
    laptop, _ = two_devices
    stranger = browser(app, CHROME_WINDOWS)
    login(stranger, mock_idp, sub="someone-else", sid="sid-stranger")
    token = devices_page(stranger).find("input", attrs={"name": "csrf_token"})["value"]
    response = stranger.post(
        "/account/sessions/end", data={"csrf_token": token, "device": sessions_handle(laptop)}
    )
    assert response.status_code == 302
    assert signed_in(laptop)
    assert "already signed out" in stranger.get("/account/sessions").get_data(as_text=True)


def test_the_pages_need_a_sign_in(app):
    client = app.test_client()
    response = client.get("/account/sessions")
    assert response.headers["Location"] == "/login?next=/account/sessions"
    # a POST without a session: the CSRF check refuses it before anything else
    assert client.post("/account/sessions/end", data={"device": "0" * 16}).status_code == 400


def test_a_request_in_flight_cannot_revive_an_ended_session(app, mock_idp):
    """The phone's request is running (it will save its session) while the laptop's End
    deletes it: the save only updates a record that still exists, as with a back-channel
    logout, so the session cannot come back (unindexed, out of any later End or logout)."""
    from flask import session as flask_session

    @app.get("/test-end-during-request")
    def end_during_request():
        flask_session["portal.noise"] = "x"  # this request modifies its session ...
        # ... while the laptop's End (sessions.end_device) deletes it
        sessions.index().end_one(flask_session.sid, sub="user-123", sid="sid-phone")
        return "ok"

    phone = browser(app, SAFARI_IPHONE)
    login(phone, mock_idp, sid="sid-phone")
    assert phone.get("/test-end-during-request").status_code == 200
    assert not signed_in(phone)


def test_idle_and_expired_sessions_are_not_listed(app, mock_idp, portal_clock):
    laptop = browser(app, CHROME_WINDOWS)
    old = browser(app, SAFARI_IPHONE)
    login(old, mock_idp, sid="sid-old")
    portal_clock.advance(1800)
    login(laptop, mock_idp, sid="sid-new")
    portal_clock.advance(1801)  # the first session has been idle for an hour
    assert [r["name"] for r in rows(devices_page(laptop))] == ["Chrome on Windows (This device)"]


def test_the_list_is_bounded(app, mock_idp, monkeypatch, portal_clock):
    monkeypatch.setattr(sessions, "MAX_DEVICES_LISTED", 2)
    clients = [browser(app, CHROME_WINDOWS) for _ in range(4)]
    for n, client in enumerate(clients):
        login(client, mock_idp, sid=f"sid-{n}")
        portal_clock.advance(60)
    for client in clients:
        page = devices_page(client)
        assert "Only the 2 most recently active of your sessions are listed." in page.get_text()
        listed = rows(page)
        assert len(listed) == 2
        assert listed[0]["name"] == "Chrome on Windows (This device)"
        assert page.find("button", string="End every other device") is not None


def csrf_of(page: BeautifulSoup) -> str:
    return page.find("input", attrs={"name": "csrf_token"})["value"]


def index_size(app, sub: str = "user-123") -> int:
    with app.app_context():
        return sessions.index().records_of(sub, limit=10_000)[1]


def test_logged_out_sessions_leave_the_index(app, mock_idp, monkeypatch):
    """Before, Log out deleted the record only: ids piled up in the subject's index, and 60
    silent logins and logouts by someone holding the customer's SSO session pushed that
    person's live session out of the ids the devices page reads."""
    monkeypatch.setattr(sessions, "MAX_DEVICES_READ", 3)
    owner = browser(app, CHROME_WINDOWS)
    login(owner, mock_idp, sid="sid-owner")
    for _ in range(6):
        intruder = browser(app, SAFARI_IPHONE, "198.51.100.7")
        login(intruder, mock_idp, sid="sid-intruder")
        page = devices_page(intruder)
        assert intruder.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert index_size(app) == 1
    hidden = browser(app, SAFARI_IPHONE, "198.51.100.7")
    login(hidden, mock_idp, sid="sid-intruder")
    assert [r["name"] for r in rows(devices_page(owner))] == [
        "Chrome on Windows (This device)",
        "Mobile Safari on iOS",
    ]


def test_end_every_other_device_ends_them_all_listed_or_not(app, mock_idp, monkeypatch, caplog):
    monkeypatch.setattr(sessions, "MAX_DEVICES_LISTED", 1)
    owner = browser(app, CHROME_WINDOWS)
    others = [browser(app, SAFARI_IPHONE) for _ in range(3)]
    for n, client in enumerate([owner, *others]):
        login(client, mock_idp, sid=f"sid-{n}")
    stranger = browser(app, CHROME_WINDOWS)
    login(stranger, mock_idp, sub="someone-else", sid="sid-stranger")
    page = devices_page(owner)
    assert len(rows(page)) == 1
    caplog.set_level(logging.INFO, logger="portal")
    response = owner.post("/account/sessions/end-others", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    assert [signed_in(c) for c in others] == [False, False, False]
    assert signed_in(owner)
    assert signed_in(stranger)
    assert index_size(app) == 1
    assert devices_page(owner).find(id="device-ended").get_text() == (
        "Ended the portal sessions on 3 other devices."
    )
    assert "other device sessions ended by the customer sub=user-123 count=3" in caplog.text


def test_end_every_other_device_needs_the_csrf_token(two_devices):
    laptop, phone = two_devices
    response = laptop.post("/account/sessions/end-others", data={"csrf_token": ""})
    assert response.status_code == 400
    assert signed_in(phone)
    assert laptop.get("/account/sessions/end-others").status_code == 405


def test_end_every_other_device_alone_ends_nothing(app, mock_idp):
    owner = browser(app, CHROME_WINDOWS)
    login(owner, mock_idp, sid="sid-alone")
    page = devices_page(owner)
    assert page.find("button", string="End every other device") is None
    response = owner.post("/account/sessions/end-others", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    assert signed_in(owner)
    assert devices_page(owner).find(id="device-ended").get_text() == (
        "No other device was signed in."
    )


def test_end_explains_that_the_sso_session_lives_on(two_devices):
    text = " ".join(devices_page(two_devices[0]).find(id="end-help").get_text().split())
    assert text == (
        "End signs that device out of the Customer Portal at once, but it stays signed in to "
        "127.0.0.1 until that sign-in ends (12 hours at most), so Login there gets back in "
        "without a password; to end that too, sign out of 127.0.0.1 on that device "
        "(“Log out everywhere”)."
    )


# --- the previous sign-in ------------------------------------------------------------------


def previous_sign_in(client) -> str:
    page = BeautifulSoup(client.get("/account").get_data(as_text=True), "html.parser")
    return " ".join(page.find(id="previous-sign-in").get_text().split())


def test_the_account_page_shows_the_previous_sign_in(app, mock_idp, portal_clock):
    laptop, phone = browser(app, CHROME_WINDOWS), browser(app, SAFARI_IPHONE)
    login(laptop, mock_idp, sid="sid-1")
    assert previous_sign_in(laptop) == "none in the last 90 days"
    first = portal_clock.now()
    portal_clock.advance(1800)
    login(phone, mock_idp, sid="sid-2")
    from portal.display import when

    assert previous_sign_in(phone) == f"{when(int(first))}, Chrome on Windows"
    # a page for the customer to act on it
    page = BeautifulSoup(phone.get("/account").get_data(as_text=True), "html.parser")
    assert page.find("a", string="Signed-in devices")["href"] == "/account/sessions"
    # the laptop's page is unchanged: it shows the sign-in before its own
    assert previous_sign_in(laptop) == "none in the last 90 days"


def test_the_previous_sign_in_stays_on_the_page_as_the_session_is_used(app, mock_idp, portal_clock):
    """Each activity write rebuilds the session from its own state (a tuple there, a list once
    stored): the previous sign-in must survive both, request after request."""
    laptop, phone = browser(app, CHROME_WINDOWS), browser(app, SAFARI_IPHONE)
    login(laptop, mock_idp, sid="sid-1")
    portal_clock.advance(1800)
    login(phone, mock_idp, sid="sid-2")
    shown = previous_sign_in(phone)
    assert shown.endswith("Chrome on Windows")
    for _ in range(3):
        portal_clock.advance(60)  # past the touch granularity: each view writes the session
        assert previous_sign_in(phone) == shown


def test_the_previous_sign_in_is_kept_90_days(app, mock_idp, backend, request, tmp_path):
    login(browser(app, CHROME_WINDOWS), mock_idp, sub="kept-90-days")
    if backend == "redis":
        with redis.Redis.from_url(request.getfixturevalue("redis_url")) as store:
            key = last_sign_in_key("kept-90-days")
            assert 90 * 86400 - 5 <= store.ttl(key) <= 90 * 86400
            when, label = store.get(key).decode().split(" ", 1)
            assert label == "Chrome on Windows" and when.isdigit()
    else:
        import time

        files = app.session_interface.cache
        expires = files.expires_at(last_sign_in_key("kept-90-days"))
        assert 90 * 86400 - 5 <= expires - time.time() <= 90 * 86400


def test_the_previous_sign_in_is_another_customers_never(app, mock_idp):
    login(browser(app, CHROME_WINDOWS), mock_idp, sub="alice")
    bob = browser(app, SAFARI_IPHONE)
    login(bob, mock_idp, sub="bob")
    assert previous_sign_in(bob) == "none in the last 90 days"


def test_end_every_other_device_counts_only_sessions_still_live(app, mock_idp):
    """A session that expired meanwhile leaves its id in the index: it goes, uncounted."""
    owner, live, expired = (browser(app, CHROME_WINDOWS) for _ in range(3))
    for n, client in enumerate([owner, live, expired]):
        login(client, mock_idp, sid=f"sid-{n}")
    gone = expired.get_cookie("portal_session").value
    interface = app.session_interface
    interface._delete_session(interface._get_store_id(gone))  # as its expiry would
    page = devices_page(owner)
    owner.post("/account/sessions/end-others", data={"csrf_token": csrf_of(page)})
    assert devices_page(owner).find(id="device-ended").get_text() == (
        "Ended the portal session on 1 other device."
    )
    assert not signed_in(live)
    assert index_size(app) == 1


def test_sessions_that_ran_out_leave_the_index_at_the_next_login(app, mock_idp, portal_clock):
    """A customer who signs in every 6 hours for three days, letting each session run out:
    the subject's index keeps what may still be live, not every id ever indexed (its expiry
    moves with each login, so it would never go as a whole)."""
    for _ in range(12):
        client = browser(app, CHROME_WINDOWS)
        now = int(portal_clock.now())
        login(client, mock_idp, sid=None, auth_time=now, iat=now, exp=now + 300)
        portal_clock.advance(6 * 3600)
    assert index_size(app) <= 3
    latest = browser(app, SAFARI_IPHONE)
    now = int(portal_clock.now())
    login(latest, mock_idp, sid=None, auth_time=now, iat=now, exp=now + 300)
    assert [r["name"] for r in rows(devices_page(latest))] == ["Mobile Safari on iOS (This device)"]
