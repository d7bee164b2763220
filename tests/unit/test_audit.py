"""The audit trail: each event of the journey is one ``portal.audit`` line with its fields.

The event names are a contract with deployers' SIEMs (README "Audit trail"): a test checks
that the README lists exactly the names the portal emits. The whole journey through the live
dev IdP, in JSON: tests/integration/test_json_logs.py.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from portal import audit
from portal import metrics

README = Path(__file__).resolve().parents[2] / "README.md"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
EVENTS = (
    "login.ok",
    "login.refused",
    "logout.portal",
    "logout.everywhere",
    "session.ended.backchannel",
    "session.ended.max_age",
    "session.ended.idle",
    "session.ended.device",
)


@pytest.fixture
def trail(caplog):
    """The audit records written so far (structured: ``.event`` and ``.fields``)."""
    caplog.set_level(logging.INFO, logger="portal")
    return lambda: [r for r in caplog.records if r.name == "portal.audit"]


def client_of(app, user_agent: str | None = None):
    client = app.test_client()
    if user_agent:
        client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


@pytest.fixture
def browser(portal_app):
    return client_of(portal_app, CHROME)


def hashed(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()[:16]


def csrf(client) -> str:
    page = client.get("/account").get_data(as_text=True)
    return BeautifulSoup(page, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]


def test_login_ok_names_the_customer_the_hashed_sid_the_client_and_the_browser(
    browser, mock_idp, trail
):
    mock_idp.sign_in(browser, sub="cust-42", sid="idp-session-1")
    [line] = trail()
    assert line.event == "login.ok"
    assert line.levelname == "INFO"
    assert line.fields["sub"] == "cust-42"
    assert line.fields["sid_hash"] == hashed("idp-session-1")
    assert line.fields["client"] == "127.0.0.1"
    assert line.fields["user_agent"] == "Chrome"
    assert line.fields["amr"] == ["pwd", "otp", "mfa"]
    assert "idp-session-1" not in line.getMessage()
    assert line.getMessage().startswith("login.ok sub=cust-42 sid_hash=")


def test_logouts(portal_app, mock_idp, trail):
    first = client_of(portal_app, IPHONE)
    mock_idp.sign_in(first, sub="a", sid="s-a")
    first.post("/logout", data={"csrf_token": csrf(first)})
    second = portal_app.test_client()
    mock_idp.sign_in(second, sub="b", sid="s-b")
    second.post("/logout/everywhere", data={"csrf_token": csrf(second)})
    logouts = [r for r in trail() if r.event.startswith("logout.")]
    assert [(r.event, r.fields["sub"], r.fields["sid_hash"]) for r in logouts] == [
        ("logout.portal", "a", hashed("s-a")),
        ("logout.everywhere", "b", hashed("s-b")),
    ]
    assert logouts[0].fields["user_agent"] == "Mobile Safari"
    assert 'user_agent="Mobile Safari"' in logouts[0].getMessage()


def test_back_channel_logout_says_how_many_sessions_ended(portal_app, mock_idp, trail):
    for _ in range(2):
        mock_idp.sign_in(portal_app.test_client(), sub="c", sid="s-c")
    answer = portal_app.test_client().post(
        "/auth/backchannel-logout", data={"logout_token": mock_idp.logout_token()}
    )
    assert answer.status_code == 200
    [ended] = [r for r in trail() if r.event == "session.ended.backchannel"]
    assert ended.fields["sub"] == "c" and ended.fields["sid_hash"] == hashed("s-c")
    assert ended.fields["sessions"] == 2


def test_the_twelve_hour_bound_and_idle_timeout(portal_app, mock_idp, portal_clock, trail):
    bounded, idle = portal_app.test_client(), portal_app.test_client()
    mock_idp.sign_in(bounded, sub="bounded", sid="s-1")
    mock_idp.sign_in(idle, sub="idle", sid="s-2")
    for _ in range(24):  # the bounded one stays active, half an hour at a time
        portal_clock.advance(1800)
        bounded.get("/account")
        if _ == 1:
            idle.get("/account")  # an hour and a half after its last request: idle
    reasons = {r.fields["sub"]: r.event for r in trail() if r.event.startswith("session.ended")}
    assert reasons == {"idle": "session.ended.idle", "bounded": "session.ended.max_age"}


@pytest.mark.parametrize(
    ("portal_settings", "claims", "reason"),
    [
        ({"PORTAL_ALLOWED_GROUPS": "customers"}, {"groups": ["staff"]}, "group"),
        ({}, {"aud": "someone-else"}, "token"),
    ],
)
def test_a_refused_login_is_one_warning_with_its_reason(
    portal_app, mock_idp, trail, claims, reason
):
    response = mock_idp.login(portal_app.test_client(), sub="refused-1", **claims)
    assert response.status_code in (303, 502)
    [line] = trail()
    assert line.event == "login.refused" and line.levelname == "WARNING"
    assert line.fields["reason"] == reason
    assert line.fields["detail"]


def test_a_forged_state_is_refused_with_no_customer(portal_app, mock_idp, trail):
    client = portal_app.test_client()
    response = mock_idp.callback(client, mock_idp.begin(client), state="forged")
    assert response.status_code == 400
    [line] = trail()
    assert (line.event, line.fields["reason"], line.fields["sub"]) == (
        "login.refused",
        "state",
        None,
    )
    assert "sub=-" in line.getMessage()


def test_every_refusal_reason_is_a_metrics_label():
    for cause in ("state", "token", "mfa", "group", "idp_unreachable", "store_unavailable"):
        assert cause in metrics.LOGIN_RESULTS


@pytest.mark.parametrize(
    ("header", "family"),
    [
        (CHROME, "Chrome"),
        (IPHONE, "Mobile Safari"),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox"),
        ("curl/8.5.0", "curl"),
        ("", "Other"),
        ("x" * 10_000, "Other"),
    ],
)
def test_user_agent_family(header, family):
    assert audit.user_agent_family(header) == family


def test_the_readme_lists_exactly_the_events_the_portal_emits():
    section = README.read_text(encoding="utf-8").split("### Audit trail", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", section, re.MULTILINE))
    assert documented == set(EVENTS)
    emitted = {audit.LOGIN_OK, audit.LOGIN_REFUSED}
    emitted |= {audit.LOGOUT.format(kind=k) for k in ("portal", "everywhere")}
    reasons = ("backchannel", "max_age", "idle", "device")
    emitted |= {audit.SESSION_ENDED.format(reason=r) for r in reasons}
    assert emitted == set(EVENTS)
