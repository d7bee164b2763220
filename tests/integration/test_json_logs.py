"""PORTAL_LOG_FORMAT=json under gunicorn, through the customer journey on the live dev IdP.

Every line the portal process writes (gunicorn's master and workers, the access lines, the
portal's own lines and its audit trail) is parsed on its own as one JSON object, and none of
them holds a token, a code, a secret or a query string. The audit trail of the journey is the
documented sequence of events.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.support.portal_server import CLIENT_SECRET
from tests.support.portal_server import SECRET_KEY
from tests.support.stack import Stack

AUDIT_DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_server):
    live = Stack(
        tmp_path_factory.mktemp("json-logs"),
        redis_url=redis_server.url,
        portal_env={"PORTAL_LOG_FORMAT": "json"},
    )
    try:
        yield live
    finally:
        live.stop()


def entries(stack: Stack) -> list[dict]:
    lines = stack.portal.log_text().splitlines()
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"line {number} of the portal's log is not JSON: {line!r}")
    return parsed


def audit_events(stack: Stack) -> list[dict]:
    return [e for e in entries(stack) if e["logger"] == "portal.audit"]


def wait_for_event(stack: Stack, name: str, count: int) -> list[dict]:
    """The audit events once ``count`` of ``name`` are written (the IdP's back-channel logout
    is sent in the background), polling with a deadline."""
    deadline = time.monotonic() + AUDIT_DEADLINE_S
    while True:
        events = audit_events(stack)
        if sum(1 for e in events if e["event"] == name) >= count:
            return events
        assert time.monotonic() < deadline, f"no {name} in {[e['event'] for e in events]}"
        time.sleep(0.05)  # polling a live process's log, not a test delay


def test_a_journey_writes_only_json_lines_with_its_audit_trail_and_no_secrets(stack):
    first, second = stack.user(), stack.user()
    journey = stack.journey()
    account = journey.first_login(first)
    request_ids = {account.response.headers["X-Request-ID"]}
    journey.logout()
    other = stack.journey()
    other.first_login(second)
    other.logout_everywhere()
    events = wait_for_event(stack, "session.ended.backchannel", 1)

    names = [e["event"] for e in events]
    assert names == [
        "login.ok",
        "logout.portal",
        "login.ok",
        "logout.everywhere",
        "session.ended.backchannel",
    ], names
    login, logout, _, everywhere, ended = events
    assert login["sub"] == logout["sub"] and login["sid_hash"] == logout["sid_hash"]
    assert login["client"] == "127.0.0.1"
    assert login["user_agent"] == "Python Requests"
    assert len(login["sid_hash"]) == 16
    assert ended["sid_hash"] == everywhere["sid_hash"] and "sessions" in ended

    lines = entries(stack)
    assert {"gunicorn.error", "gunicorn.access", "portal.audit"} <= {e["logger"] for e in lines}
    for entry in lines:
        assert list(entry)[:5] == ["time", "level", "logger", "event", "request_id"]
    access = [e for e in lines if e["event"] == "http.access"]
    assert any(e["path"] == "/auth/callback" for e in access)
    assert all("?" not in e["path"] for e in access)
    assert request_ids <= {e["request_id"] for e in access}

    text = stack.portal.log_text()
    for secret in (
        "eyJ",  # the start of every JWT: ID tokens, logout tokens
        "code=",
        "state=",
        "code_verifier",
        CLIENT_SECRET,
        SECRET_KEY,
        first.password,
        second.password,
        *stack.phone.secrets.values(),
    ):
        assert secret not in text, secret
